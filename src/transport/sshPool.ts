import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import { ExitCode, OperatorError } from '../util/errors.js';
import { connect, type SshCallbacks, type SshEndpoint } from './sshConnect.js';

/**
 * One SSH connection per `user@host:port`, shared by every transport that
 * reaches it. A connection that closes (host rebooted, sshd killed, network
 * gone) fails whatever was running on it with a clear error and is dropped
 * from the pool, so the next call — the operator's retry — reconnects.
 */

/**
 * OpenSSH allows 10 sessions per connection (MaxSessions); one is the SFTP
 * session, and we keep one spare so a kill command can always get through.
 */
const MAX_EXEC_CHANNELS = 8;

/**
 * OpenSSH frees a closed session only when its main loop next collects
 * channels, so a session opened right after another closed can still be
 * refused ("open failed") for a few ms with MaxSessions in use: such a
 * refusal is tried again after these pauses. Nothing ran, so it is safe.
 */
const REOPEN_PAUSES_MS = [5, 20, 50, 100, 250, 500];

export interface ExitStatus {
  exitCode: number | null;
  signal?: string;
}

const exits = new WeakMap<ClientChannel, ExitStatus>();

/**
 * ssh2 emits a channel's 'exit' as a plain event while it parses a packet. A
 * fast command's exit status can arrive in the same read as the channel's
 * opening, before any listener attached after an `await` exists, and would
 * be lost; so it is recorded from inside the opening callback.
 */
function recordExit(channel: ClientChannel): void {
  const status: ExitStatus = { exitCode: null };
  exits.set(channel, status);
  channel.once('exit', (code: number | null, signal?: string) => {
    status.exitCode = code ?? null;
    if (signal) status.signal = signal;
  });
}

/** The exit status of a command started by SshConnection.exec (final once the channel closed). */
export function exitStatusOf(channel: ClientChannel): ExitStatus {
  return exits.get(channel) ?? { exitCode: null };
}

export class SshConnection {
  private alive = true;
  private lostError?: OperatorError;
  private readonly watchers = new Set<(err: OperatorError) => void>();
  private sftpSession?: Promise<SFTPWrapper>;
  private channelsInUse = 0;
  private readonly channelWaiters: Array<() => void> = [];

  constructor(
    readonly client: Client,
    readonly endpoint: SshEndpoint,
  ) {
    let lastError = '';
    client.on('error', (err: Error) => {
      lastError = err.message;
    });
    client.on('close', () => this.lost(lastError || 'closed by the host'));
  }

  get isAlive(): boolean {
    return this.alive;
  }

  private lost(reason: string): void {
    if (!this.alive) return;
    this.alive = false;
    this.lostError = new OperatorError(
      `ssh ${this.endpoint.label}: connection lost (${reason.replace(/\s+/g, ' ')}): check the host is up, then retry the step`,
      ExitCode.runFailed,
    );
    for (const watcher of [...this.watchers]) watcher(this.lostError);
    this.watchers.clear();
  }

  /** Call onLost if the connection drops before the returned disposer runs. */
  watch(onLost: (err: OperatorError) => void): () => void {
    if (!this.alive && this.lostError) {
      onLost(this.lostError);
      return () => undefined;
    }
    this.watchers.add(onLost);
    return () => this.watchers.delete(onLost);
  }

  /** Reject with the connection-lost error if the connection drops first. */
  guard<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const unwatch = this.watch(reject);
      work.then(
        (value) => {
          unwatch();
          resolve(value);
        },
        (err: unknown) => {
          unwatch();
          reject(err);
        },
      );
    });
  }

  /** An exec channel; the returned release must be called when it closes. */
  async exec(command: string): Promise<ClientChannel> {
    await this.acquireChannel();
    try {
      const channel = await this.open<ClientChannel>((done) =>
        this.client.exec(command, (err, opened) => {
          if (!err) recordExit(opened);
          done(err, opened);
        }),
      );
      channel.once('close', () => this.releaseChannel());
      return channel;
    } catch (err) {
      this.releaseChannel();
      throw err;
    }
  }

  sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= this.open<SFTPWrapper>((done) => this.client.sftp(done));
    // a failed start is not cached: the next call tries again
    this.sftpSession.catch(() => {
      this.sftpSession = undefined;
    });
    return this.sftpSession;
  }

  end(): void {
    this.lost('closed by etcd-runbook');
    this.client.end();
  }

  /** Open a session channel, again after a pause while the host refuses it as busy. */
  private async open<T>(request: (done: (err: Error | undefined, opened: T) => void) => void): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.guard(new Promise<T>((resolve, reject) => request((err, opened) => (err ? reject(err) : resolve(opened)))));
      } catch (err) {
        const pause = REOPEN_PAUSES_MS[attempt];
        if (err instanceof OperatorError) throw err;
        if (pause === undefined || !this.alive || (err as { reason?: unknown }).reason === undefined) throw this.channelError(err as Error);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  private channelError(err: Error): OperatorError {
    return new OperatorError(`ssh ${this.endpoint.label}: could not open a session (${err.message}): check MaxSessions in the host's sshd_config`, ExitCode.runFailed);
  }

  private async acquireChannel(): Promise<void> {
    if (this.channelsInUse < MAX_EXEC_CHANNELS) {
      this.channelsInUse += 1;
      return;
    }
    await new Promise<void>((resolve) => this.channelWaiters.push(resolve));
  }

  private releaseChannel(): void {
    const next = this.channelWaiters.shift();
    if (next) next();
    else this.channelsInUse -= 1;
  }
}

export class SshPool {
  private readonly connections = new Map<string, Promise<SshConnection>>();
  private readonly users = new Map<string, Set<object>>();
  /** host keys the operator accepted for this session only */
  readonly acceptedOnce = new Set<string>();

  /** The live connection for endpoint, connecting (again) when there is none. */
  async get(endpoint: SshEndpoint, callbacks: SshCallbacks, user: object): Promise<SshConnection> {
    this.users.set(endpoint.label, (this.users.get(endpoint.label) ?? new Set()).add(user));
    for (;;) {
      const existing = this.connections.get(endpoint.label);
      if (!existing) return this.open(endpoint, callbacks);
      // callers waiting on the same connect share its outcome (one prompt, one error)
      const connection = await existing;
      if (connection.isAlive) return connection;
      if (this.connections.get(endpoint.label) === existing) this.connections.delete(endpoint.label);
    }
  }

  private open(endpoint: SshEndpoint, callbacks: SshCallbacks): Promise<SshConnection> {
    const opening = connect(endpoint, callbacks, this.acceptedOnce).then((client) => new SshConnection(client, endpoint));
    this.connections.set(endpoint.label, opening);
    // a failed connect is not kept: the next call tries again
    opening.catch(() => {
      if (this.connections.get(endpoint.label) === opening) this.connections.delete(endpoint.label);
    });
    return opening;
  }

  /** A transport is done with endpoint; the connection ends when nobody uses it. */
  async release(endpoint: SshEndpoint, user: object): Promise<void> {
    const users = this.users.get(endpoint.label);
    users?.delete(user);
    if (users && users.size > 0) return;
    this.users.delete(endpoint.label);
    const existing = this.connections.get(endpoint.label);
    this.connections.delete(endpoint.label);
    const connection = await existing?.catch(() => undefined);
    connection?.end();
  }
}

/** The pool transports share unless given their own. */
export const defaultSshPool = new SshPool();
