import { Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import type { DirEntry, ExecOptions, ExecResult, FileIdentity, FileStat, Transport } from './types.js';

/**
 * The dry-run transport: reads go to the real node, everything
 * that would change it is recorded instead. The runner sends a dry run's
 * read-only steps to the real transport and every other command here, so
 * every `exec` on this transport is recorded and not run.
 */
export type RecordedKind = 'exec' | 'mkdir' | 'write' | 'rename' | 'chmod' | 'chown' | 'unlink' | 'symlink';

export interface RecordedAction {
  node: string;
  kind: RecordedKind;
  /** what would have happened, in the operator's words: the command, the path, the mode */
  detail: string;
  at: string;
  /** for writes: how many bytes would have been written */
  bytes?: number;
}

export const NOT_EXECUTED = '(dry run: not executed)';

export interface DryRunOptions {
  /** the clock for RecordedAction.at */
  now?: () => Date;
}

export class DryRunTransport implements Transport {
  readonly kind = 'dry-run' as const;
  private readonly actions: RecordedAction[] = [];
  private readonly now: () => Date;

  constructor(
    private readonly real: Transport,
    options: DryRunOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  get node(): string {
    return this.real.node;
  }

  /** What would have changed, in order. */
  recorded(): RecordedAction[] {
    return this.actions.map((a) => ({ ...a }));
  }

  private record(kind: RecordedKind, detail: string): number {
    this.actions.push({ node: this.real.node, kind, detail, at: this.now().toISOString() });
    return this.actions.length - 1;
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    this.record('exec', command);
    options.onStdout?.(`${NOT_EXECUTED}\n`);
    return Promise.resolve({ exitCode: 0, stdout: NOT_EXECUTED, stderr: '', timedOut: false, durationMs: 0 });
  }

  stat(path: string): Promise<FileStat | undefined> {
    return this.real.stat(path);
  }

  identity(path: string): Promise<FileIdentity | undefined> {
    return this.real.identity(path);
  }

  readFile(path: string): Promise<Buffer> {
    return this.real.readFile(path);
  }

  readdir(path: string): Promise<DirEntry[]> {
    return this.real.readdir(path);
  }

  openRead(path: string): Promise<Readable> {
    return this.real.openRead(path);
  }

  mkdir(path: string, mode?: number): Promise<void> {
    this.record('mkdir', mode === undefined ? path : `${path} (mode ${octal(mode)})`);
    return Promise.resolve();
  }

  /** A sink that discards the bytes and counts them into the recorded action. */
  openWrite(path: string, mode: number): Promise<Writable> {
    const index = this.record('write', `${path} (mode ${octal(mode)})`);
    let bytes = 0;
    const actions = this.actions;
    const sink = new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        callback();
      },
      final(callback) {
        const action = actions[index];
        if (action) actions[index] = { ...action, bytes };
        callback();
      },
    });
    return Promise.resolve(sink);
  }

  rename(from: string, to: string): Promise<void> {
    this.record('rename', `${from} → ${to}`);
    return Promise.resolve();
  }

  chmod(path: string, mode: number): Promise<void> {
    this.record('chmod', `${path} ${octal(mode)}`);
    return Promise.resolve();
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    this.record('chown', `${path} ${uid}:${gid}`);
    return Promise.resolve();
  }

  unlink(path: string): Promise<void> {
    this.record('unlink', path);
    return Promise.resolve();
  }

  readlink(path: string): Promise<string> {
    return this.real.readlink(path);
  }

  symlink(target: string, path: string): Promise<void> {
    this.record('symlink', `${path} → ${target}`);
    return Promise.resolve();
  }

  /** Leaves the real transport open: whoever made it (the runner's pool) closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}
