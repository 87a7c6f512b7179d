import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLabSshd, type LabSshd } from '../../src/lab/sshd.js';
import { copyFile } from '../../src/transport/copy.js';
import { LocalTransport } from '../../src/transport/local.js';
import type { SshTransport } from '../../src/transport/ssh.js';
import { labTransport } from '../helpers/sshLab.js';

/**
 * A master whose login shell prints and stalls before every command (as
 * root's ~/.bashrc does on hosts that run pyenv or print a banner), with
 * SFTP served by Debian's default external sftp-server, which that shell
 * starts too. The tool must see only its commands' own output.
 */
const BASHRC = 'echo "welcome to this master"\necho "bashrc says hello on stderr" >&2\nsleep 2\n';

let noisy: LabSshd;
let quiet: LabSshd;
let ssh: SshTransport;
let work: string;

beforeAll(async () => {
  [noisy, quiet] = await Promise.all([startLabSshd({ bashrc: BASHRC, sftp: 'external' }), startLabSshd({ host: '127.0.0.2' })]);
  ssh = labTransport(noisy);
  work = await mkdtemp(join(tmpdir(), 'etcd-runbook-startup-'));
});

afterAll(async () => {
  await ssh?.close();
  await Promise.all([noisy?.stop(), quiet?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a login shell that prints and sleeps 2 s before each command', () => {
  it('runs the startup file (the premise), yet exec returns only the command’s own output', async () => {
    const result = await ssh.exec('echo out; echo err >&2; exit 3');
    expect(result).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    // the 2 s sleep ran: the startup file was read for this command
    expect(result.durationMs).toBeGreaterThanOrEqual(1900);
  });

  it('streams only the command’s output to the step’s output pane', async () => {
    const seen: string[] = [];
    await ssh.exec('printf "a\\nb\\n"', { onStdout: (text) => seen.push(text), onStderr: (text) => seen.push(`!${text}`) });
    expect(seen.join('')).toBe('a\nb\n');
  });

  it('reads a binary file byte for byte', async () => {
    const bytes = randomBytes(256 * 1024);
    const path = join(noisy.dir, 'blob.bin');
    await writeFile(path, bytes);
    expect((await ssh.readFile(path)).equals(bytes)).toBe(true);
  });

  it('stats and lists, though the SFTP server that shell starts cannot speak', async () => {
    const dir = join(noisy.dir, 'listed');
    await ssh.mkdir(dir, 0o750);
    await writeFile(join(dir, 'one'), '1');
    expect(await ssh.stat(dir)).toMatchObject({ type: 'directory', mode: 0o750 });
    expect((await ssh.readdir(dir)).map((entry) => entry.name)).toEqual(['one']);
  });

  it('copies a file to it with the sha256 verified at the destination', async () => {
    const source = join(work, 'snapshot.db');
    await writeFile(source, randomBytes(3 * 1024 * 1024 + 17));
    const destination = join(noisy.dir, 'copied.db');
    const result = await copyFile({ transport: new LocalTransport(), path: source }, { transport: ssh, path: destination });
    expect(result).toMatchObject({ verifiedBy: 'hashed-at-destination', warnings: [] });
    expect((await readFile(destination)).equals(await readFile(source))).toBe(true);
  });

  it('times out a command whose shell is still in its startup file, and stops it', async () => {
    const pidFile = join(noisy.dir, 'late.pid');
    const result = await ssh.exec(`echo $$ > ${pidFile}; exec sleep 30`, { timeoutMs: 500 });
    expect(result).toMatchObject({ timedOut: true, exitCode: null, stdout: '' });
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('a lab sshd', () => {
  it('gives its sessions a home of their own, never the host user’s dotfiles', async () => {
    const clean = labTransport(quiet);
    try {
      const listing = await clean.exec('cd ~ && ls -A && stat -c "%d:%i" .');
      const home = await stat(quiet.home);
      expect(listing.stdout).toBe(`${home.dev}:${home.ino}\n`);
      expect((await ssh.exec('ls -A ~')).stdout).toBe('.bashrc\n');
    } finally {
      await clean.close();
    }
  });

  it('fails at once, naming the server, when a session does not answer', async () => {
    const started = Date.now();
    const err = await startLabSshd({ host: '127.0.0.3', bashrc: 'sleep 30\n' }).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(err?.message).toMatch(/^lab sshd 127\.0\.0\.3:\d+ \(pid \d+\): a session running `true` did not answer within 8 s/);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);
});
