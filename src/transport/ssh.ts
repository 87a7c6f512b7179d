import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { ClientChannel } from 'ssh2';
import type { InventoryNode } from '../inventory/schema.js';
import { ExitCode, OperatorError } from '../util/errors.js';
import { shellQuote } from '../util/shell.js';
import { resolveEndpoint, type SshCallbacks, type SshEndpoint, type SshEndpointOptions } from './sshConnect.js';
import { ShellFileOps, SftpFileOps, octal, shellIdentity, type RemoteFileOps } from './sshFiles.js';
import { defaultSshPool, type SshConnection, type SshPool } from './sshPool.js';
import { PreambleFilter, preambleScript, preambleToken } from './sshPreamble.js';
import { channelOutcome, channelReader, channelWriter } from './sshStreams.js';
import { readAll } from './read-all.js';
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
 * channels, metadata goes through SFTP — or through the shell under sudo or
 * where SFTP does not start.
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

  /** How file metadata is read and changed on this node, chosen once. */
  private files(): Promise<RemoteFileOps> {
    if (!this.fileOps) {
      const chosen = this.chooseFileOps();
      this.fileOps = chosen;
      // a connection that failed is not a choice: the next call tries again
      chosen.catch(() => {
        if (this.fileOps === chosen) this.fileOps = undefined;
      });
    }
    return this.fileOps;
  }

  /**
   * SFTP as the login user where the host serves it. Shell commands instead
   * under sudo (SFTP cannot be elevated), and where SFTP does not start: a
   * host without the subsystem, or Debian's external sftp-server started by
   * a login shell whose startup files print (their first bytes are read as
   * an SFTP packet's length).
   */
  private async chooseFileOps(): Promise<RemoteFileOps> {
    const { label } = await this.resolved();
    const shell = new ShellFileOps((command) => this.run(command), `ssh ${label}`);
    if (this.sudo) return shell;
    const connection = await this.connection();
    try {
      await connection.sftp();
    } catch (err) {
      if (!connection.isAlive) throw err;
      return shell;
    }
    return new SftpFileOps(async () => (await this.connection()).sftp(), label);
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

  /**
   * The command line sent to sshd: marked, through sh, under sudo if asked,
   * printing its preamble line first (see sshPreamble.ts).
   */
  wireCommand(command: string, mark: string): string {
    const line = `env ${EXEC_MARK}=${mark} sh -c ${shellQuote(preambleScript(preambleToken(mark)) + command)}`;
    return this.sudo ? `sudo -n ${line}` : line;
  }

  /** Start a command on a connection; its token tells its output from the login shell's. */
  private async start(connection: SshConnection, command: string): Promise<{ channel: ClientChannel; mark: string; token: string }> {
    const mark = randomBytes(8).toString('hex');
    const channel = await connection.exec(this.wireCommand(command, mark));
    return { channel, mark, token: preambleToken(mark) };
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const started = Date.now();
    const connection = await this.connection();
    const { channel, mark, token } = await this.start(connection, command);
    const output = collectOutput(channel, token, options);
    const outcome = channelOutcome(connection, channel, token);
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
    const { channel, token } = await this.start(connection, command);
    const output = collectOutput(channel, token, {});
    const outcome = channelOutcome(connection, channel, token);
    channel.end();
    const result = await outcome;
    return { exitCode: result.exitCode, ...output.text(), ...(result.signal ? { signal: result.signal } : {}) };
  }

  async stat(path: string): Promise<FileStat | undefined> {
    return (await this.files()).stat(path);
  }

  /** SFTP's stat has neither the inode nor ctime: the node's own stat(1) has both, to the ns */
  identity(path: string): Promise<FileIdentity | undefined> {
    return shellIdentity((command) => this.exec(command, { timeoutMs: 10_000 }), path);
  }

  async readFile(path: string): Promise<Buffer> {
    return readAll(await this.openRead(path));
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
    const { channel, token } = await this.start(connection, `exec cat -- ${shellQuote(path)}`);
    channel.end();
    return channelReader(connection, channel, token, `reading ${path} on ${this.node}`);
  }

  async openWrite(path: string, mode: number): Promise<Writable> {
    const p = shellQuote(path);
    // set -C: the shell creates the file with O_EXCL, so nothing existing is
    // ever truncated; umask 077 keeps it private until the final chmod
    const script = `set -C && umask 077 && cat > ${p} && chmod ${octal(mode)} -- ${p}`;
    const connection = await this.connection();
    const { channel, token } = await this.start(connection, script);
    return channelWriter(connection, channel, token, `writing ${path} on ${this.node}`);
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

/** stdout and stderr as text, without what the login shell printed before the command. */
function collectOutput(channel: ClientChannel, token: string, options: Pick<ExecOptions, 'onStdout' | 'onStderr'>) {
  const stdout = textOf(channel, token, options.onStdout);
  const stderr = textOf(channel.stderr, token, options.onStderr);
  return { text: () => ({ stdout: stdout.end(), stderr: stderr.end() }) };
}

function textOf(stream: NodeJS.ReadableStream, token: string, onText: ((text: string) => void) | undefined) {
  const filter = new PreambleFilter(token);
  const decoder = new StringDecoder('utf8');
  let text = '';
  const add = (bytes: Buffer): void => {
    const more = decoder.write(bytes);
    text += more;
    if (more) onText?.(more);
  };
  stream.on('data', (chunk: Buffer) => add(filter.take(chunk)));
  return {
    end: (): string => {
      add(filter.rest());
      return text + decoder.end();
    },
  };
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
