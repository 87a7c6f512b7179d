import { execa } from 'execa';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, chown, lstat, mkdir, readFile, readdir, readlink, rename, stat, symlink, unlink } from 'node:fs/promises';
import type { BigIntStats, Stats } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { DirEntry, ExecOptions, ExecResult, FileIdentity, FileStat, Transport } from './types.js';

/** How long a cancelled command gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 2000;

/** 1 MiB reads: measured ~3x faster than the 64 KiB default through ssh channels. */
export const STREAM_CHUNK = 1 << 20;

/** Commands and files on this machine: execa for commands, node:fs for files. */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;

  constructor(readonly node: string = 'local') {}

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const started = Date.now();
    // own process group, so cancel/timeout reach the whole pipeline the
    // shell started, not just the shell
    const child = execa('/bin/sh', ['-c', command], {
      detached: true,
      reject: false,
      stripFinalNewline: false,
      // no input: /dev/null (EOF at once, like an empty input, without a pipe to write it through)
      ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
      encoding: 'utf8',
    });
    child.stdout?.on('data', (chunk: Buffer) => options.onStdout?.(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => options.onStderr?.(chunk.toString()));
    const stopper = stopOnTimeoutOrAbort(child.pid, options);
    const result = await child;
    stopper.dispose();
    const signal = result.signal ?? undefined;
    return {
      exitCode: stopper.fired() || signal ? null : (result.exitCode ?? null),
      ...(signal ? { signal } : {}),
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      timedOut: stopper.fired() === 'timeout',
      durationMs: Date.now() - started,
    };
  }

  async stat(path: string): Promise<FileStat | undefined> {
    try {
      return fileStatOf(await lstat(path));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  identity(path: string): Promise<FileIdentity | undefined> {
    return localIdentity(path);
  }

  readFile(path: string): Promise<Buffer> {
    return readFile(path);
  }

  async readdir(path: string): Promise<DirEntry[]> {
    const entries = await readdir(path, { withFileTypes: true });
    return entries.map((entry) => ({
      name: entry.name,
      type: entry.isFile() ? 'file' : entry.isDirectory() ? 'directory' : entry.isSymbolicLink() ? 'symlink' : 'other',
    }));
  }

  async mkdir(path: string, mode = 0o755): Promise<void> {
    await mkdir(path, { mode });
  }

  async openRead(path: string): Promise<Readable> {
    const stream = createReadStream(path, { highWaterMark: STREAM_CHUNK });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    return stream;
  }

  async openWrite(path: string, mode: number): Promise<Writable> {
    // 'wx': exclusive, never truncates a file someone else made
    const stream = createWriteStream(path, { flags: 'wx', mode });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    return stream;
  }

  rename(from: string, to: string): Promise<void> {
    return rename(from, to);
  }

  chmod(path: string, mode: number): Promise<void> {
    return chmod(path, mode);
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    return chown(path, uid, gid);
  }

  unlink(path: string): Promise<void> {
    return unlink(path);
  }

  readlink(path: string): Promise<string> {
    return readlink(path);
  }

  symlink(target: string, path: string): Promise<void> {
    return symlink(target, path);
  }

  async close(): Promise<void> {}
}

/** Transport.identity of a file on this machine (undefined when it cannot be stat'ed). */
export async function localIdentity(path: string): Promise<FileIdentity | undefined> {
  try {
    return identityOf(await stat(path, { bigint: true }));
  } catch {
    return undefined;
  }
}

/** The identity in stat's terms: what an open file's fstat gives, too. */
export function identityOf(s: BigIntStats): FileIdentity {
  return { file: `${s.dev} ${s.ino} ${s.size} ${s.mtimeNs}`, ctime: `${s.ctimeNs}` };
}

export function fileStatOf(stats: Stats): FileStat {
  return {
    type: stats.isFile() ? 'file' : stats.isDirectory() ? 'directory' : stats.isSymbolicLink() ? 'symlink' : 'other',
    size: stats.size,
    mode: stats.mode & 0o7777,
    uid: stats.uid,
    gid: stats.gid,
    mtimeMs: stats.mtimeMs,
  };
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

interface Stopper {
  fired(): 'timeout' | 'abort' | undefined;
  dispose(): void;
}

/** TERM the process group on timeout or abort, KILL it if it lingers. */
function stopOnTimeoutOrAbort(pid: number | undefined, options: ExecOptions): Stopper {
  let reason: 'timeout' | 'abort' | undefined;
  const timers: NodeJS.Timeout[] = [];
  const stop = (why: 'timeout' | 'abort'): void => {
    if (reason || pid === undefined) return;
    reason = why;
    killGroup(pid, 'SIGTERM');
    timers.push(setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS));
  };
  if (options.timeoutMs !== undefined) timers.push(setTimeout(() => stop('timeout'), options.timeoutMs));
  const onAbort = (): void => stop('abort');
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  return {
    fired: () => reason,
    dispose: () => {
      timers.forEach(clearTimeout);
      options.signal?.removeEventListener('abort', onAbort);
    },
  };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}
