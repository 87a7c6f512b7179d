import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { ClientChannel } from 'ssh2';
import type { InventoryNode } from '../inventory/schema.js';
import { ExitCode, OperatorError } from '../util/errors.js';
import { shellQuote } from '../util/shell.js';
import { resolveEndpoint, type SshCallbacks, type SshEndpoint, type SshEndpointOptions } from './sshConnect.js';
import { ShellFileOps, SftpFileOps, octal, type RemoteFileOps } from './sshFiles.js';
import { defaultSshPool, type SshConnection, type SshPool } from './sshPool.js';
import { channelOutcome, channelReader, channelWriter } from './sshStreams.js';
import type { DirEntry, ExecOptions, ExecResult, FileIdentity, FileStat, Transport } from './types.js';

export type { HostKeyDecision, HostKeyOffer } from './sshConnect.js';

export interface SshTransportOptions extends SshCallbacks, SshEndpointOptions {
  /** the node's name in the inventory (shown in steps and errors) */
  node: string;
  /** where and how to connect: host plus the inventory's ssh options */
  target: Pick<InventoryNode, 'host' | 'ssh'>;
  /** connections are shared through this pool (default: one per process) */
  pool?: SshPool;
}

/** How long a cancelled remote command gets between TERM and KILL. */
const KILL_GRACE_MS = 2000;
/** Marks every process a command starts, so cancel can find them all. */
const EXEC_MARK = 'ETCD_RUNBOOK_EXEC';

/**
 * A node reached over SSH (ssh2). Commands run as `sh -c <command>` (through
 * `sudo -n` when the inventory says sudo), file bytes stream over exec
 * channels, metadata goes through SFTP — or through the shell under sudo.
 */
export class SshTransport implements Transport {
  readonly kind = 'ssh' as const;
  readonly node: string;
  private endpoint?: Promise<SshEndpoint>;
  private readonly pool: SshPool;
  private readonly sudo: boolean;
  private fileOps?: Promise<RemoteFileOps>;

  constructor(private readonly options: SshTransportOptions) {
    this.node = options.node;
    this.pool = options.pool ?? defaultSshPool;
    this.sudo = options.target.ssh?.sudo ?? false;
  }

  /** SFTP as the login user, or shell commands under sudo (SFTP cannot be elevated). */
  private files(): Promise<RemoteFileOps> {
    this.fileOps ??= this.resolved().then(({ label }) =>
      this.sudo
        ? new ShellFileOps((command) => this.run(command), label)
        : new SftpFileOps(async () => (await this.connection()).sftp(), label),
    );
    return this.fileOps;
  }

  /** `user@host:port` once resolved (ssh config applied) */
  async label(): Promise<string> {
    return (await this.resolved()).label;
  }

  private resolved(): Promise<SshEndpoint> {
    this.endpoint ??= resolveEndpoint(this.options.target, this.options);
    return this.endpoint;
  }

  /** The pooled connection, reconnecting when the last one dropped. */
  private async connection(): Promise<SshConnection> {
    return this.pool.get(await this.resolved(), this.options, this);
  }

  /** The command line sent to sshd: marked, through sh, under sudo if asked. */
  wireCommand(command: string, mark: string): string {
    const line = `env ${EXEC_MARK}=${mark} sh -c ${shellQuote(command)}`;
    return this.sudo ? `sudo -n ${line}` : line;
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const started = Date.now();
    const connection = await this.connection();
    const mark = randomBytes(8).toString('hex');
    const channel = await connection.exec(this.wireCommand(command, mark));
    const output = collectOutput(channel, options);
    const outcome = channelOutcome(connection, channel);
    channel.end(options.input ?? '');
    const stopper = stopOnTimeoutOrAbort(options, () => this.killMarked(connection, mark, channel));
    try {
      const result = await outcome;
      // report only once the kill went round the node, so "timed out" means gone
      await stopper.settled();
      const fired = stopper.fired();
      return {
        exitCode: fired ? null : result.exitCode,
        ...(result.signal ? { signal: result.signal } : fired ? { signal: 'SIGTERM' } : {}),
        ...output.text(),
        timedOut: fired === 'timeout',
        durationMs: Date.now() - started,
      };
    } finally {
      stopper.dispose();
    }
  }

  /**
   * sshd neither kills a command when its channel closes nor (OpenSSH 9.2)
   * honours signal requests, so cancel kills, on the node, every process
   * carrying this command's mark: TERM, then KILL after a grace period.
   */
  private async killMarked(connection: SshConnection, mark: string, channel: ClientChannel): Promise<void> {
    const killWith = async (signal: 'TERM' | 'KILL'): Promise<void> => {
      if (!connection.isAlive) return;
      const script =
        `for d in /proc/[0-9]*; do ` +
        `if tr '\\0' '\\n' < "$d/environ" 2>/dev/null | grep -qx ${shellQuote(`${EXEC_MARK}=${mark}`)}; ` +
        `then kill -s ${signal} "\${d#/proc/}" 2>/dev/null; fi; done; true`;
      await this.runOn(connection, script).catch(() => undefined);
    };
    const closed = new Promise<boolean>((resolve) => channel.once('close', () => resolve(true)));
    await killWith('TERM');
    const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), KILL_GRACE_MS).unref());
    if (!(await Promise.race([closed, timer]))) await killWith('KILL');
    channel.close();
  }

  /** A short internal command (file ops under sudo, kill); no streaming. */
  private async run(command: string): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
    return this.runOn(await this.connection(), command);
  }

  private async runOn(connection: SshConnection, command: string) {
    const channel = await connection.exec(this.wireCommand(command, randomBytes(8).toString('hex')));
    const output = collectOutput(channel, {});
    const outcome = channelOutcome(connection, channel);
    channel.end();
    const result = await outcome;
    return { exitCode: result.exitCode, ...output.text() };
  }

  async stat(path: string): Promise<FileStat | undefined> {
    return (await this.files()).stat(path);
  }

  /** SFTP's stat has neither the inode nor ctime: the node's own stat(1) has both, to the ns */
  async identity(path: string): Promise<FileIdentity | undefined> {
    try {
      // %y and %z print as `2026-11-24 23:50:00.123456789 +0000`: no '|' in either
      const result = await this.exec(`stat -L -c '%d %i %s %y|%z' -- ${shellQuote(path)}`, { timeoutMs: 10_000 });
      const [file, ctime] = result.stdout.trim().split('|');
      return result.exitCode === 0 && file && ctime ? { file, ctime } : undefined;
    } catch {
      return undefined;
    }
  }

  async readFile(path: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.openRead(path)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async readdir(path: string): Promise<DirEntry[]> {
    return (await this.files()).readdir(path);
  }

  async mkdir(path: string, mode = 0o755): Promise<void> {
    return (await this.files()).mkdir(path, mode);
  }

  async openRead(path: string): Promise<Readable> {
    const found = await this.stat(path);
    const label = await this.label();
    if (!found) throw new OperatorError(`ssh ${label}: ${path} does not exist`, ExitCode.runFailed);
    if (found.type === 'directory') throw new OperatorError(`ssh ${label}: ${path} is a directory, not a file`, ExitCode.runFailed);
    const connection = await this.connection();
    const channel = await connection.exec(this.wireCommand(`exec cat -- ${shellQuote(path)}`, randomBytes(8).toString('hex')));
    channel.end();
    return channelReader(connection, channel, `reading ${path} on ${this.node}`);
  }

  async openWrite(path: string, mode: number): Promise<Writable> {
    const p = shellQuote(path);
    // set -C: the shell creates the file with O_EXCL, so nothing existing is
    // ever truncated; umask 077 keeps it private until the final chmod
    const script = `set -C && umask 077 && cat > ${p} && chmod ${octal(mode)} -- ${p}`;
    const connection = await this.connection();
    const channel = await connection.exec(this.wireCommand(script, randomBytes(8).toString('hex')));
    return channelWriter(connection, channel, `writing ${path} on ${this.node}`);
  }

  async rename(from: string, to: string): Promise<void> {
    return (await this.files()).rename(from, to);
  }

  async chmod(path: string, mode: number): Promise<void> {
    return (await this.files()).chmod(path, mode);
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    return (await this.files()).chown(path, uid, gid);
  }

  async unlink(path: string): Promise<void> {
    return (await this.files()).unlink(path);
  }

  async readlink(path: string): Promise<string> {
    return (await this.files()).readlink(path);
  }

  async symlink(target: string, path: string): Promise<void> {
    return (await this.files()).symlink(target, path);
  }

  /** Stop using the pooled connection; it closes when no transport uses it. */
  async close(): Promise<void> {
    if (this.endpoint) await this.pool.release(await this.endpoint, this);
  }
}

function collectOutput(channel: ClientChannel, options: Pick<ExecOptions, 'onStdout' | 'onStderr'>) {
  const out = new StringDecoder('utf8');
  const err = new StringDecoder('utf8');
  let stdout = '';
  let stderr = '';
  channel.on('data', (chunk: Buffer) => {
    const text = out.write(chunk);
    stdout += text;
    if (text) options.onStdout?.(text);
  });
  channel.stderr.on('data', (chunk: Buffer) => {
    const text = err.write(chunk);
    stderr += text;
    if (text) options.onStderr?.(text);
  });
  return { text: () => ({ stdout: stdout + out.end(), stderr: stderr + err.end() }) };
}

interface Stopper {
  fired(): 'timeout' | 'abort' | undefined;
  settled(): Promise<void>;
  dispose(): void;
}

function stopOnTimeoutOrAbort(options: ExecOptions, stop: () => Promise<void>): Stopper {
  let reason: 'timeout' | 'abort' | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> = Promise.resolve();
  const fire = (why: 'timeout' | 'abort'): void => {
    if (reason) return;
    reason = why;
    stopping = stop().catch(() => undefined);
  };
  if (options.timeoutMs !== undefined) timer = setTimeout(() => fire('timeout'), options.timeoutMs);
  const onAbort = (): void => fire('abort');
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  return {
    fired: () => reason,
    settled: () => stopping,
    dispose: () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    },
  };
}
