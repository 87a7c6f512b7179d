import { readFileSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLabSshd, type LabSshd } from '../../src/lab/sshd.js';
import { copyTree } from '../../src/transport/copy.js';
import { LocalTransport } from '../../src/transport/local.js';
import type { SshTransport } from '../../src/transport/ssh.js';
import type { Transport } from '../../src/transport/types.js';
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
    expect(sudo.wireCommand('id -u', 'm')).toBe(
      "sudo -n env ETCD_RUNBOOK_EXEC=m sh -c 'printf '\\''%s\\n'\\'' etcd-runbook-start-m; printf '\\''%s\\n'\\'' etcd-runbook-start-m >&2; id -u'",
    );
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

  it('gives a file\'s identity, the same until it is written, and none for a missing file', async () => {
    const t = transport();
    const path = join(lab.dir, `identity ${_name.replace(' ', '-')};$x`);
    const writer = await t.openWrite(path, 0o600);
    await new Promise<void>((resolve) => writer.end('same size', () => resolve()));
    const first = await t.identity(path);
    expect(first?.file).toMatch(/^\d+ \d+ 9 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+$/);
    expect(first?.ctime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+$/);
    expect(await t.identity(path)).toEqual(first);
    // same size, new bytes: ctime moves
    await writeFile(path, 'SAME SIZE');
    expect(await t.identity(path)).not.toEqual(first);
    // a rename keeps the file (device, inode, size, mtime) and moves ctime
    const before = await t.identity(path);
    // past the kernel's coarse clock tick (a few ms), so the new ctime is a new value
    await new Promise((resolve) => setTimeout(resolve, 20));
    await t.rename(path, `${path}.moved`);
    const moved = await t.identity(`${path}.moved`);
    expect(moved?.file).toBe(before?.file);
    expect(moved?.ctime).not.toBe(before?.ctime);
    expect(await t.identity(`${path}.missing`)).toBeUndefined();
  });

  it('says which host when reading a missing file', async () => {
    await expect(transport().readFile('/nonexistent/etcd-runbook')).rejects.toThrow(`ssh ${lab.user}@${lab.host}:${lab.port}: /nonexistent/etcd-runbook does not exist`);
  });
});

/**
 * kubeadm's /var/lib/kubelet/pki/kubelet-client-current.pem is a symlink to
 * a dated file: a tree copy (backup's host files, replace-master's restore)
 * must carry links as links, target text unchanged, never followed.
 */
describe.each([
  ['local', () => new LocalTransport('here') as Transport],
  ['SFTP', () => ssh as Transport],
  ['sudo shell', () => sudo as Transport],
])('symlinks over %s', (name, transport) => {
  const slug = name.replace(' ', '-');
  const links = {
    'pki/kubelet-client-current.pem': 'kubelet-client-2026-01-02-03-04-05.pem',
    'pki/ca-abs.crt': '/etc/kubernetes/pki/ca.crt',
    'pki/gone.pem': '../nowhere/gone.pem',
    'latest': 'pki',
  };

  it('reads and makes a link as stored, relative, absolute or dangling', async () => {
    const t = transport();
    const dir = join(lab.dir, `links-${slug}`);
    await mkdir(dir, { recursive: true });
    await t.symlink('../a b/target;$x', join(dir, 'rel'));
    await t.symlink('/abs/target\n', join(dir, 'abs'));
    expect(await readlink(join(dir, 'rel'))).toBe('../a b/target;$x');
    expect(await t.readlink(join(dir, 'abs'))).toBe('/abs/target\n');
    expect(await t.stat(join(dir, 'rel'))).toMatchObject({ type: 'symlink' });
    await expect(t.symlink('x', join(dir, 'rel'))).rejects.toThrow();
    expect(await readlink(join(dir, 'rel'))).toBe('../a b/target;$x');
  });

  it('copyTree copies each link as a link there and back, the dangling one too', async () => {
    const t = transport();
    const source = join(lab.dir, `tree-${slug}`);
    await mkdir(join(source, 'pki'), { recursive: true });
    await writeFile(join(source, 'pki', 'kubelet-client-2026-01-02-03-04-05.pem'), 'CERT\n', { mode: 0o600 });
    for (const [path, target] of Object.entries(links)) await symlink(target, join(source, path));

    const there = join(lab.dir, `tree-${slug}-there`);
    const result = await copyTree({ transport: new LocalTransport(), path: source }, { transport: t, path: there });
    expect(result.warnings).toEqual([]);
    expect(result.files.map((f) => f.to)).toEqual([`${t.node}:${join(there, 'pki', 'kubelet-client-2026-01-02-03-04-05.pem')}`]);
    expect(result.symlinks.map((l) => [l.to, l.target]).sort()).toEqual(Object.entries(links).map(([path, target]) => [`${t.node}:${join(there, path)}`, target]).sort());
    const back = join(lab.dir, `tree-${slug}-back`);
    await copyTree({ transport: t, path: there }, { transport: new LocalTransport(), path: back });
    for (const copy of [there, back]) {
      for (const [path, target] of Object.entries(links)) {
        expect((await lstat(join(copy, path))).isSymbolicLink(), `${copy}/${path}`).toBe(true);
        expect(await readlink(join(copy, path))).toBe(target);
      }
      expect(await readFile(join(copy, 'pki', 'kubelet-client-current.pem'), 'utf8')).toBe('CERT\n');
      expect((await lstat(join(copy, 'latest'))).isSymbolicLink()).toBe(true);
    }

    // with overwrite, an existing tree's link is replaced by the source's, atomically by name
    await rm(join(source, 'pki', 'gone.pem'));
    await symlink('kubelet-client-2026-01-02-03-04-05.pem', join(source, 'pki', 'gone.pem'));
    await copyTree({ transport: new LocalTransport(), path: source }, { transport: t, path: there }, { overwrite: true });
    expect(await readlink(join(there, 'pki', 'gone.pem'))).toBe('kubelet-client-2026-01-02-03-04-05.pem');
    expect((await t.readdir(join(there, 'pki'))).filter((e) => e.name.includes('partial'))).toEqual([]);
  });
});
