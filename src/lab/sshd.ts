import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, constants, mkdir, mkdtemp, readFile, readdir, rm, writeFile, chmod } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OperatorError } from '../util/errors.js';

/**
 * A real OpenSSH server for tests, drills and benchmarks: generated host and
 * user keys, a test-only config, listening on a loopback address. It is the
 * same sshd production hosts run, so the ssh transport is exercised for real.
 */

const SSHD = '/usr/sbin/sshd';
const run = promisify(execFile);

export interface LabSshdOptions {
  /** loopback address to listen on (default 127.0.0.1) */
  host?: string;
  /** also create a passphrase-protected user key with this passphrase */
  passphrase?: string;
  /**
   * put a `sudo` shim first on the session PATH (`sudo -n cmd` runs cmd as
   * the login user), so sudo-mode file operations can be tested without sudo
   */
  sudoShim?: boolean;
  /**
   * the login user's `~/.bashrc` in the server's private home, to test
   * a master whose shell prints or stalls on startup (default: none)
   */
  bashrc?: string;
  /**
   * `external` serves SFTP through /usr/lib/openssh/sftp-server, started by
   * the login shell as Debian's default sshd_config does (so startup files run)
   */
  sftp?: 'internal' | 'external';
}

export interface LabSshd {
  host: string;
  port: number;
  user: string;
  /** unencrypted ed25519 key in authorized_keys */
  identityFile: string;
  /** passphrase-protected key in authorized_keys (when asked for) */
  passphraseIdentityFile?: string;
  /** a known_hosts file with this server's host keys, `[host]:port` form */
  knownHostsFile: string;
  /** the ed25519 host key, `SHA256:...` as ssh-keygen -l prints it */
  hostKeyFingerprint: string;
  /** `ssh-ed25519 AAAA...` public host key */
  hostPublicKey: string;
  /** scratch directory removed on stop() */
  dir: string;
  /** the sessions' HOME, where their shell reads its startup files: empty unless `bashrc` */
  home: string;
  /** sshd's pid, undefined while stopped */
  pid(): number | undefined;
  stop(): Promise<void>;
  /** SIGKILL the server and every session it forked (a host that vanished) */
  kill(): Promise<void>;
  /** start again on the same address, port and keys */
  restart(): Promise<void>;
}

/** Every sshd child still running, so exit/Ctrl-C can stop them. */
const live = new Set<ChildProcess>();

export async function startLabSshd(options: LabSshdOptions = {}): Promise<LabSshd> {
  await requireSshd();
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }).catch(() => undefined);
  const host = options.host ?? '127.0.0.1';
  const port = await freePort(host);
  const dir = await mkdtemp(join(tmpdir(), 'etcd-runbook-sshd-'));
  const home = await writePrivateHome(dir, options.bashrc);
  const files = await writeKeysAndConfig(dir, home, host, port, options);
  const start = async (): Promise<ChildProcess> => {
    const started = await spawnSshd(files.config, host, port);
    await requireSessionAnswers(files, host, port, started).catch(async (err: unknown) => {
      await killTree(started, 'SIGKILL');
      throw err;
    });
    return started;
  };
  let child: ChildProcess | undefined = await start().catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });

  const stopChild = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    child = undefined;
    if (current) await killTree(current, signal);
  };
  return {
    host,
    port,
    user: userInfo().username,
    identityFile: files.identityFile,
    ...(files.passphraseIdentityFile ? { passphraseIdentityFile: files.passphraseIdentityFile } : {}),
    knownHostsFile: files.knownHostsFile,
    hostKeyFingerprint: files.hostKeyFingerprint,
    hostPublicKey: files.hostPublicKey,
    dir,
    home,
    pid: () => child?.pid,
    stop: async () => {
      await stopChild('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
    kill: () => stopChild('SIGKILL'),
    restart: async () => {
      await stopChild('SIGTERM');
      child = await start();
    },
  };
}

async function requireSshd(): Promise<void> {
  try {
    await access(SSHD, constants.X_OK);
  } catch {
    throw new OperatorError(`${SSHD} not found: apt-get install openssh-server`);
  }
}

/** Generate a key with ssh-keygen; returns the private key path. */
export async function generateKey(
  dir: string,
  name: string,
  options: { type?: 'ed25519' | 'ecdsa'; passphrase?: string } = {},
): Promise<string> {
  const path = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', options.type ?? 'ed25519', '-N', options.passphrase ?? '', '-C', `etcd-runbook-lab-${name}`, '-f', path]);
  return path;
}

interface LabFiles {
  config: string;
  identityFile: string;
  passphraseIdentityFile?: string;
  knownHostsFile: string;
  hostKeyFingerprint: string;
  hostPublicKey: string;
}

async function writeKeysAndConfig(dir: string, home: string, host: string, port: number, options: LabSshdOptions): Promise<LabFiles> {
  const [hostEd25519, hostEcdsa, identityFile] = await Promise.all([
    generateKey(dir, 'ssh_host_ed25519_key'),
    generateKey(dir, 'ssh_host_ecdsa_key', { type: 'ecdsa' }),
    generateKey(dir, 'id_ed25519'),
  ]);
  const passphraseIdentityFile = options.passphrase
    ? await generateKey(dir, 'id_ed25519_passphrase', { passphrase: options.passphrase })
    : undefined;
  const userKeys = [identityFile, ...(passphraseIdentityFile ? [passphraseIdentityFile] : [])];
  const authorized = await Promise.all(userKeys.map((key) => readFile(`${key}.pub`, 'utf8')));
  await writeFile(join(dir, 'authorized_keys'), authorized.join(''), { mode: 0o600 });

  const hostKeys = await Promise.all([hostEd25519, hostEcdsa].map((key) => readFile(`${key}.pub`, 'utf8')));
  const hostPublicKey = publicKeyWords(hostKeys[0] ?? '');
  const knownHostsFile = join(dir, 'known_hosts');
  const hostField = port === 22 ? host : `[${host}]:${port}`;
  await writeFile(knownHostsFile, hostKeys.map((key) => `${hostField} ${publicKeyWords(key)}\n`).join(''), { mode: 0o600 });

  const shimDir = options.sudoShim ? await writeSudoShim(dir) : undefined;
  const config = join(dir, 'sshd_config');
  const settings = { dir, home, host, port, hostKeys: [hostEd25519, hostEcdsa], shimDir, sftp: options.sftp ?? 'internal' };
  await writeFile(config, sshdConfig(settings), { mode: 0o600 });
  return {
    config,
    identityFile,
    ...(passphraseIdentityFile ? { passphraseIdentityFile } : {}),
    knownHostsFile,
    hostKeyFingerprint: fingerprintOf(hostPublicKey),
    hostPublicKey,
  };
}

/** `ssh-ed25519 AAAA... comment\n` → `ssh-ed25519 AAAA...` */
function publicKeyWords(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}

export function fingerprintOf(publicKey: string): string {
  const blob = Buffer.from(publicKey.split(' ')[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

async function writeSudoShim(dir: string): Promise<string> {
  const shimDir = join(dir, 'bin');
  await mkdir(shimDir);
  const shim = join(shimDir, 'sudo');
  // the lab user is already the target user: drop -n and run the command
  await writeFile(shim, '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n');
  await chmod(shim, 0o755);
  return shimDir;
}

/**
 * The HOME the server's sessions see. Debian's bash reads $HOME/.bashrc for
 * every command that arrives over SSH; on these machines root's runs pyenv,
 * whose lock file, left behind by a session killed mid-command, stalls every
 * later command. A lab must not depend on the host's dotfiles. (sshd still
 * starts a session in the passwd home, so relative paths resolve as before.)
 */
async function writePrivateHome(dir: string, bashrc: string | undefined): Promise<string> {
  const home = join(dir, 'home');
  await mkdir(home, { mode: 0o700 });
  if (bashrc !== undefined) await writeFile(join(home, '.bashrc'), bashrc, { mode: 0o644 });
  return home;
}

interface SshdSettings {
  dir: string;
  home: string;
  host: string;
  port: number;
  hostKeys: string[];
  shimDir: string | undefined;
  sftp: 'internal' | 'external';
}

function sshdConfig({ dir, home, host, port, hostKeys, shimDir, sftp }: SshdSettings): string {
  const path = shimDir ? [`PATH=${shimDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`] : [];
  const lines = [
    `ListenAddress ${host}`,
    `Port ${port}`,
    ...hostKeys.map((key) => `HostKey ${key}`),
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'StrictModes no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UseDNS no',
    'LogLevel ERROR',
    `Subsystem sftp ${sftp === 'internal' ? 'internal-sftp' : '/usr/lib/openssh/sftp-server'}`,
    // sshd sets HOME first and SetEnv after it: the shell reads its startup files from the lab's home
    `SetEnv HOME=${home} ${path.join(' ')}`.trimEnd(),
  ];
  return `${lines.join('\n')}\n`;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function spawnSshd(config: string, host: string, port: number): Promise<ChildProcess> {
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  track(child);
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code, signal) =>
      reject(new Error(`sshd exited (${code ?? signal}) before accepting on ${host}:${port}: ${lastLine(stderr)}`)),
    );
  });
  exited.catch(() => undefined);
  await Promise.race([waitForBanner(host, port, 10_000), exited]);
  return child;
}

/** A session must answer within this; startup files that stall (a stale lock) fail the lab at once. */
const SESSION_ANSWER_MS = 8000;

/**
 * One real session (OpenSSH's own client, no config, no agent) before the
 * lab is handed out: a banner proves only that sshd listens, while a login
 * shell stuck in its startup files would make every command of every test
 * wait out its own timeout instead of failing here with the reason.
 */
async function requireSessionAnswers(files: LabFiles, host: string, port: number, child: ChildProcess): Promise<void> {
  const args = [
    '-F', '/dev/null', '-i', files.identityFile, '-p', String(port),
    '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
    '-o', `UserKnownHostsFile=${files.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes',
    `${userInfo().username}@${host}`, 'true',
  ];
  try {
    await run('ssh', args, { timeout: SESSION_ANSWER_MS, killSignal: 'SIGKILL' });
  } catch (err) {
    const failed = err as { killed?: boolean; stderr?: string };
    const why = failed.killed
      ? `did not answer within ${SESSION_ANSWER_MS / 1000} s: the login shell may be stuck in its startup files (~/.bashrc; a stale lock such as ~/.pyenv/shims/.pyenv-shim)`
      : `failed: ${lastLine(failed.stderr ?? '') || String(err)}`;
    throw new Error(`lab sshd ${host}:${port} (pid ${child.pid}): a session running \`true\` ${why}`);
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** Poll until the port answers with an SSH banner (not just accepts). */
async function waitForBanner(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await bannerSeen(host, port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sshd did not answer on ${host}:${port} within ${timeoutMs} ms`);
}

function bannerSeen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data: Buffer) => done(data.toString().startsWith('SSH-')));
  });
}

/**
 * sshd forks one process per connection in its own session, so killing the
 * listener (or its process group) would leave connections alive: walk /proc
 * for the whole tree first, then signal every process in it.
 */
async function killTree(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const tree = await descendants(pid);
  for (const each of [pid, ...tree]) signalQuietly(each, signal);
  await exited;
  untrack(child);
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function descendants(root: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // the command name may contain spaces: the ppid follows the last ')'
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const next = parents.get(queue.shift() ?? -1) ?? [];
    found.push(...next);
    queue.push(...next);
  }
  return found;
}

function track(child: ChildProcess): void {
  if (live.size === 0) {
    process.on('exit', killAllNow);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  live.add(child);
  child.once('exit', () => untrack(child));
}

function untrack(child: ChildProcess): void {
  if (!live.delete(child) || live.size > 0) return;
  process.off('exit', killAllNow);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

/** Synchronous: 'exit' handlers cannot wait. Sessions die with their listener's sockets. */
function killAllNow(): void {
  for (const child of live) if (child.pid !== undefined) signalQuietly(child.pid, 'SIGKILL');
}

/** Clean up, then let the signal do what it would have done without us. */
function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  const others = process.listenerCount(signal) - 1;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (others === 0) process.kill(process.pid, signal);
}
