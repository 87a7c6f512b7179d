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

export interface Transport {
  /** the node this transport reaches, in the inventory's words */
  readonly node: string;
  /** "local" or "ssh" — shown in step views */
  readonly kind: 'local' | 'ssh' | 'dry-run';
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** undefined when nothing exists at path */
  stat(path: string): Promise<FileStat | undefined>;
  /**
   * The file's identity, following links: device, inode, size, mtime and
   * ctime to the nanosecond, as one string to compare with the same
   * transport's next answer. Any write, truncate, chmod or rename over it
   * changes it. Undefined when nothing is there or it cannot be read.
   */
  identity(path: string): Promise<string | undefined>;
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
