import type { Readable, Writable } from 'node:stream';

/**
 * How the engine reaches a node: run a command, read and write files.
 * One interface; implementations: local (execa + fs), ssh (ssh2 + sftp),
 * and the dry-run recorder. Copies between nodes are built on top of this
 * (transport/copy.ts), so they work between any two transports.
 */
export interface ExecOptions {
  /** kill the command after this long; the result says timedOut */
  timeoutMs?: number;
  /** abort the command (operator cancel, Ctrl-C) */
  signal?: AbortSignal;
  /** streamed output, as it arrives */
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  /** data written to the command's stdin, then closed */
  input?: string | Buffer;
}

export interface ExecResult {
  /** null when the command was killed by a signal or timed out */
  exitCode: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export interface FileStat {
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** permission bits only (e.g. 0o600) */
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
}

export interface DirEntry {
  name: string;
  type: FileStat['type'];
}

/**
 * Which file is at a path, to compare with the same transport's next answer:
 * device, inode, size and mtime to the nanosecond in `file`, ctime apart.
 * Any write, truncate, chmod, chown or rename over the file moves its ctime,
 * which cannot be set back; `file` alone stays the same through a chmod,
 * a chown or a rename of the file itself (what a copy does to a file it has
 * just verified, before it is in place).
 */
export interface FileIdentity {
  file: string;
  ctime: string;
}

export function sameIdentity(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.file === b.file && a.ctime === b.ctime;
}

/**
 * Nothing wrote the file between the two answers: the same file, size and
 * mtime, whatever a chmod, chown or rename of it did to ctime meanwhile
 * (what a copy or a save does to a file it has just written).
 */
export function unwrittenSince(earlier: FileIdentity | undefined, now: FileIdentity | undefined): boolean {
  return earlier !== undefined && now !== undefined && earlier.file === now.file;
}

export interface Transport {
  /** the node this transport reaches, in the inventory's words */
  readonly node: string;
  /** how the node is reached — shown in step views */
  readonly kind: 'local' | 'ssh' | 'nsenter' | 'dry-run';
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** undefined when nothing exists at path */
  stat(path: string): Promise<FileStat | undefined>;
  /** Which file is at path, following links (see FileIdentity); undefined when nothing is there or it cannot be read. */
  identity(path: string): Promise<FileIdentity | undefined>;
  readFile(path: string): Promise<Buffer>;
  readdir(path: string): Promise<DirEntry[]>;
  mkdir(path: string, mode?: number): Promise<void>;
  /** a stream of the file's bytes; memory stays flat whatever the size */
  openRead(path: string): Promise<Readable>;
  /** a stream into a new file created with mode; caller renames it into place */
  openWrite(path: string, mode: number): Promise<Writable>;
  rename(from: string, to: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  /** may fail when the user is not allowed to set ownership; callers decide */
  chown(path: string, uid: number, gid: number): Promise<void>;
  /** removes one file (temporary files only: data dirs are never deleted) */
  unlink(path: string): Promise<void>;
  /** a symlink's target text, as stored (not resolved) */
  readlink(path: string): Promise<string>;
  /** creates a symlink at path holding target as is (relative or absolute, need not exist) */
  symlink(target: string, path: string): Promise<void>;
  close(): Promise<void>;
}
