import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLabSshd, type LabSshd } from '../../src/lab/sshd.js';
import type { SshTransport } from '../../src/transport/ssh.js';
import { labTransport } from '../helpers/sshLab.js';

let lab: LabSshd;
let ssh: SshTransport;
let sudo: SshTransport;

beforeAll(async () => {
  lab = await startLabSshd({ sudoShim: true });
  ssh = labTransport(lab);
  sudo = labTransport(lab, { sudo: true });
});

afterAll(async () => {
  await ssh?.close();
  await sudo?.close();
  await lab?.stop();
});

/** Is a pid still running on the (local, loopback) node? Zombies awaiting a reaper count as gone. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('ssh exec against a real sshd', () => {
  it('streams stdout and stderr as they arrive and reports the exit code', async () => {
    const seen: string[] = [];
    const result = await ssh.exec('echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; exit 7', {
      onStdout: (chunk) => seen.push(`out:${chunk.trim()}`),
      onStderr: (chunk) => seen.push(`err:${chunk.trim()}`),
    });
    expect(seen).toEqual(['out:one', 'err:two', 'out:three']);
    expect(result.exitCode).toBe(7);
    expect(result.stdout).toBe('one\nthree\n');
    expect(result.stderr).toBe('two\n');
    expect(result.timedOut).toBe(false);
  });

  it('passes stdin and keeps shell metacharacters inert in data', async () => {
    const result = await ssh.exec('cat; printf %s "$0"', { input: 'a;rm -rf /\n' });
    expect(result.stdout).toBe('a;rm -rf /\nsh');
    expect(result.exitCode).toBe(0);
  });

  it('reports a command killed by a signal', async () => {
    const result = await ssh.exec('kill -KILL $$');
    expect(result.exitCode).toBeNull();
    expect(result.signal).toBe('SIGKILL');
  });

  it('times out a command and kills everything it started on the node', async () => {
    const pidFile = join(lab.dir, 'timeout.pid');
    const started = Date.now();
    const result = await ssh.exec(`sh -c 'echo $$ > ${pidFile}; exec sleep 30' & wait`, { timeoutMs: 500 });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeNull();
    expect(Date.now() - started).toBeLessThan(5000);
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(1);
    expect(alive(pid)).toBe(false);
  });

  it('cancels a command through an AbortSignal', async () => {
    const controller = new AbortController();
    const pidFile = join(lab.dir, 'abort.pid');
    setTimeout(() => controller.abort(), 300);
    const result = await ssh.exec(`echo $$ > ${pidFile}; sleep 30; echo never`, { signal: controller.signal });
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBeNull();
    expect(result.stdout).toBe('');
    expect(alive(Number(await readFile(pidFile, 'utf8')))).toBe(false);
  });

  it('runs many commands in parallel over the one connection', async () => {
    const results = await Promise.all(Array.from({ length: 14 }, (_, index) => ssh.exec(`echo ${index}`)));
    expect(results.map((result) => result.stdout.trim())).toEqual(Array.from({ length: 14 }, (_, index) => String(index)));
  });

  it('runs commands through sudo -n when the inventory says sudo', async () => {
    expect(sudo.wireCommand('id -u', 'm')).toBe("sudo -n env ETCD_RUNBOOK_EXEC=m sh -c 'id -u'");
    // the lab has no real sudo, only its shim: this ran through "sudo -n"
    const result = await sudo.exec('id -u');
    expect(result).toMatchObject({ exitCode: 0, stdout: `${process.getuid?.()}\n` });
    expect((await sudo.exec('command -v sudo')).stdout.trim()).toBe(join(lab.dir, 'bin', 'sudo'));
  });
});

describe.each([
  ['SFTP', () => ssh],
  ['sudo shell', () => sudo],
])('file operations over %s', (_name, transport) => {
  it('writes, stats, lists, renames, reads and removes a file', async () => {
    const t = transport();
    const dir = join(lab.dir, `files-${_name.replace(' ', '-')}`);
    await t.mkdir(dir, 0o750);
    expect(await t.stat(dir)).toMatchObject({ type: 'directory', mode: 0o750 });
    const writer = await t.openWrite(join(dir, 'a.tmp'), 0o640);
    await new Promise<void>((resolve, reject) => writer.end(Buffer.from('hello\nworld\n'), () => resolve()).once('error', reject));
    await t.rename(join(dir, 'a.tmp'), join(dir, 'name with space;$x'));
    await t.chmod(join(dir, 'name with space;$x'), 0o600);
    expect(await t.stat(join(dir, 'name with space;$x'))).toMatchObject({ type: 'file', size: 12, mode: 0o600, uid: process.getuid?.() });
    expect(await t.readdir(dir)).toEqual([{ name: 'name with space;$x', type: 'file' }]);
    expect((await t.readFile(join(dir, 'name with space;$x'))).toString()).toBe('hello\nworld\n');
    await t.unlink(join(dir, 'name with space;$x'));
    expect(await t.stat(join(dir, 'name with space;$x'))).toBeUndefined();
  });

  it('refuses to open an existing file for writing', async () => {
    const t = transport();
    const path = join(lab.dir, `exists-${_name.replace(' ', '-')}`);
    const writer = await t.openWrite(path, 0o600);
    await new Promise<void>((resolve) => writer.end('first', () => resolve()));
    const again = await t.openWrite(path, 0o600);
    const failed = new Promise<Error>((resolve) => again.once('error', resolve));
    again.end('second');
    expect((await failed).message).toMatch(/cannot (create|overwrite)|exists/);
    expect((await t.readFile(path)).toString()).toBe('first');
  });

  it('says which host when reading a missing file', async () => {
    await expect(transport().readFile('/nonexistent/etcd-runbook')).rejects.toThrow(`ssh ${lab.user}@${lab.host}:${lab.port}: /nonexistent/etcd-runbook does not exist`);
  });
});
