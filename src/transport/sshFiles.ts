import type { SFTPWrapper, Stats } from 'ssh2';
import { ExitCode, OperatorError } from '../util/errors.js';
import { shellJoin, shellQuote } from '../util/shell.js';
import type { DirEntry, FileIdentity, FileStat, Transport } from './types.js';

/**
 * File metadata operations on a remote node, two ways: SFTP when we act as
 * the login user, shell commands through sudo when the inventory says so
 * (SFTP always runs as the login user and cannot be elevated).
 */
export type RemoteFileOps = Pick<Transport, 'stat' | 'readdir' | 'rename' | 'chmod' | 'chown' | 'unlink' | 'readlink' | 'symlink'> & {
  /** the transport fills in the default mode */
  mkdir(path: string, mode: number): Promise<void>;
};

/** Runs a shell command (with sudo when configured) and returns its outcome. */
export type ShellRunner = (command: string) => Promise<{ exitCode: number | null; signal?: string; stdout: string; stderr: string }>;

const SFTP_NO_SUCH_FILE = 2;

function typeFromMode(mode: number): FileStat['type'] {
  const format = mode & 0o170000;
  if (format === 0o100000) return 'file';
  if (format === 0o040000) return 'directory';
  if (format === 0o120000) return 'symlink';
  return 'other';
}

export class SftpFileOps implements RemoteFileOps {
  constructor(
    private readonly sftp: () => Promise<SFTPWrapper>,
    private readonly label: string,
  ) {}

  async stat(path: string): Promise<FileStat | undefined> {
    const sftp = await this.sftp();
    return new Promise((resolve, reject) => {
      sftp.lstat(path, (err, stats: Stats) => {
        if (!err) return resolve(statOf(stats));
        if (sftpCode(err) === SFTP_NO_SUCH_FILE) return resolve(undefined);
        reject(this.error('stat', path, err));
      });
    });
  }

  async readdir(path: string): Promise<DirEntry[]> {
    const sftp = await this.sftp();
    return new Promise((resolve, reject) => {
      sftp.readdir(path, (err, list) => {
        if (err) return reject(this.error('readdir', path, err));
        resolve(list.map((entry) => ({ name: entry.filename, type: typeFromMode(entry.attrs.mode) })));
      });
    });
  }

  mkdir(path: string, mode: number): Promise<void> {
    return this.call('mkdir', path, (sftp, done) => sftp.mkdir(path, { mode }, done));
  }

  async rename(from: string, to: string): Promise<void> {
    // posix-rename replaces the target atomically; plain SFTP rename refuses to
    await this.call('rename', from, (sftp, done) => sftp.ext_openssh_rename(from, to, done)).catch(async (err: unknown) => {
      if (!/not support/i.test(String(err))) throw err;
      await this.call('rename', from, (sftp, done) => sftp.rename(from, to, done));
    });
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.call('chmod', path, (sftp, done) => sftp.chmod(path, mode, done));
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    return this.call('chown', path, (sftp, done) => sftp.chown(path, uid, gid, done));
  }

  unlink(path: string): Promise<void> {
    return this.call('unlink', path, (sftp, done) => sftp.unlink(path, done));
  }

  async readlink(path: string): Promise<string> {
    const sftp = await this.sftp();
    return new Promise((resolve, reject) => {
      sftp.readlink(path, (err, target) => (err ? reject(this.error('readlink', path, err)) : resolve(target)));
    });
  }

  /** ssh2 swaps the arguments for OpenSSH's sftp-server, which takes them reversed */
  symlink(target: string, path: string): Promise<void> {
    return this.call('symlink', path, (sftp, done) => sftp.symlink(target, path, done));
  }

  private async call(what: string, path: string, run: (sftp: SFTPWrapper, done: (err?: Error | null) => void) => void): Promise<void> {
    const sftp = await this.sftp();
    return new Promise<void>((resolve, reject) => {
      try {
        run(sftp, (err) => (err ? reject(this.error(what, path, err)) : resolve()));
      } catch (err) {
        // ssh2 throws synchronously for extensions the server lacks
        reject(this.error(what, path, err instanceof Error ? err : new Error(String(err))));
      }
    });
  }

  private error(what: string, path: string, err: Error): OperatorError {
    return new OperatorError(`ssh ${this.label}: ${what} ${path} failed (${err.message})`, ExitCode.runFailed);
  }
}

function sftpCode(err: Error): unknown {
  return (err as Error & { code?: unknown }).code;
}

function statOf(stats: Stats): FileStat {
  return {
    type: typeFromMode(stats.mode),
    size: stats.size,
    mode: stats.mode & 0o7777,
    uid: stats.uid,
    gid: stats.gid,
    mtimeMs: stats.mtime * 1000,
  };
}

/** `0644`-style octal, as chmod/mkdir -m take it */
export function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

const MISSING = 'etcd-runbook:missing';

/** File operations as shell commands on the node (`label` starts each error: `ssh root@m2:22`, `nsenter m2`). */
export class ShellFileOps implements RemoteFileOps {
  constructor(
    private readonly run: ShellRunner,
    private readonly label: string,
  ) {}

  async stat(path: string): Promise<FileStat | undefined> {
    const p = shellQuote(path);
    // %f: raw mode in hex (type and permissions); %Y: mtime in seconds
    const out = await this.check('stat', path, `if [ -e ${p} ] || [ -L ${p} ]; then stat -c '%f %s %u %g %Y' -- ${p}; else echo ${MISSING}; fi`);
    if (out.trim() === MISSING) return undefined;
    const [rawMode = '0', size = '0', uid = '0', gid = '0', mtime = '0'] = out.trim().split(' ');
    const mode = parseInt(rawMode, 16);
    return { type: typeFromMode(mode), size: Number(size), mode: mode & 0o7777, uid: Number(uid), gid: Number(gid), mtimeMs: Number(mtime) * 1000 };
  }

  async readdir(path: string): Promise<DirEntry[]> {
    // NUL-separated, so names with newlines survive; %y is the type letter
    const out = await this.check('readdir', path, `find ${shellQuote(path)} -mindepth 1 -maxdepth 1 -printf '%y %f\\0'`);
    return out
      .split('\0')
      .filter((entry) => entry !== '')
      .map((entry) => ({ name: entry.slice(2), type: findType(entry[0]) }));
  }

  async mkdir(path: string, mode: number): Promise<void> {
    await this.check('mkdir', path, shellJoin(['mkdir', '-m', octal(mode), '--', path]));
  }

  async rename(from: string, to: string): Promise<void> {
    // -T: never move into `to` when it happens to be a directory
    await this.check('rename', from, shellJoin(['mv', '-f', '-T', '--', from, to]));
  }

  async chmod(path: string, mode: number): Promise<void> {
    await this.check('chmod', path, shellJoin(['chmod', octal(mode), '--', path]));
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    await this.check('chown', path, shellJoin(['chown', `${uid}:${gid}`, '--', path]));
  }

  async unlink(path: string): Promise<void> {
    await this.check('unlink', path, shellJoin(['rm', '--', path]));
  }

  async readlink(path: string): Promise<string> {
    // the trailing mark keeps a target that ends in a newline whole
    const out = await this.check('readlink', path, `${shellJoin(['readlink', '--', path])} && printf x`);
    return out.slice(0, -2);
  }

  async symlink(target: string, path: string): Promise<void> {
    // -n -T: never create the link inside `path` when it is a directory
    await this.check('symlink', path, shellJoin(['ln', '-s', '-n', '-T', '--', target, path]));
  }

  private async check(what: string, path: string, command: string): Promise<string> {
    const result = await this.run(command);
    if (result.exitCode === 0) return result.stdout;
    const detail = result.stderr.trim().split('\n')[0] || `exit ${result.exitCode ?? result.signal ?? 'unknown'}`;
    throw new OperatorError(`${this.label}: ${what} ${path} failed (${detail})`, ExitCode.runFailed);
  }
}

/** Transport.identity from the node's own stat(1): device, inode, size, mtime and ctime to the ns. */
export async function shellIdentity(run: ShellRunner, path: string): Promise<FileIdentity | undefined> {
  try {
    // %y and %z print as `2026-11-24 23:50:00.123456789 +0000`: no '|' in either
    const result = await run(`stat -L -c '%d %i %s %y|%z' -- ${shellQuote(path)}`);
    const [file, ctime] = result.stdout.trim().split('|');
    return result.exitCode === 0 && file && ctime ? { file, ctime } : undefined;
  } catch {
    return undefined;
  }
}

function findType(letter: string | undefined): DirEntry['type'] {
  return letter === 'f' ? 'file' : letter === 'd' ? 'directory' : letter === 'l' ? 'symlink' : 'other';
}
