import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { ExitCode, OperatorError } from '../util/errors.js';
import { shellJoin, shellQuote } from '../util/shell.js';
import { LocalTransport, STREAM_CHUNK } from './local.js';
import { readAll } from './read-all.js';
import { ShellFileOps, octal, shellIdentity } from './sshFiles.js';
import type { DirEntry, ExecOptions, ExecResult, FileIdentity, FileStat, Transport } from './types.js';

/**
 * What a command inside the node starts with: root's login environment,
 * none of this process's (nsenter keeps the caller's environment otherwise).
 */
const NODE_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'USER=root', 'LOGNAME=root', 'LANG=C.UTF-8'];

/**
 * A node that is a container on this machine (a systemd-nspawn or LXC
 * guest, an etcd-runbook lab node): every command runs inside the
 * namespaces and root of its PID 1 with nsenter(1), as root, the command
 * itself unchanged; files are read and written through the same commands
 * (stat, find, cat, mv — ShellFileOps). Needs root on this machine.
 */
export class NsenterTransport implements Transport {
  readonly kind = 'nsenter' as const;
  private readonly local: LocalTransport;
  private readonly files: ShellFileOps;
  private readonly label: string;

  constructor(
    readonly node: string,
    private readonly pid: number,
  ) {
    this.local = new LocalTransport(node);
    this.label = `nsenter ${node} (pid ${pid})`;
    this.files = new ShellFileOps((command) => this.exec(command), this.label);
  }

  /** nsenter's argv for a shell command inside the node. */
  argv(command: string): string[] {
    return ['nsenter', '-t', String(this.pid), '-a', '-r', '-w', 'env', '-i', ...NODE_ENV, '/bin/sh', '-c', command];
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    this.assertRunning();
    return this.local.exec(shellJoin(this.argv(command)), options);
  }

  stat(path: string): Promise<FileStat | undefined> {
    return this.files.stat(path);
  }

  identity(path: string): Promise<FileIdentity | undefined> {
    return shellIdentity((command) => this.exec(command, { timeoutMs: 10_000 }), path);
  }

  async readFile(path: string): Promise<Buffer> {
    return readAll(await this.openRead(path));
  }

  readdir(path: string): Promise<DirEntry[]> {
    return this.files.readdir(path);
  }

  mkdir(path: string, mode = 0o755): Promise<void> {
    return this.files.mkdir(path, mode);
  }

  async openRead(path: string): Promise<Readable> {
    const found = await this.stat(path);
    if (!found) throw new OperatorError(`${this.label}: ${path} does not exist`, ExitCode.runFailed);
    if (found.type === 'directory') throw new OperatorError(`${this.label}: ${path} is a directory, not a file`, ExitCode.runFailed);
    const child = this.spawn(`exec cat -- ${shellQuote(path)}`, ['ignore', 'pipe', 'pipe']);
    const out = new PassThrough({ highWaterMark: STREAM_CHUNK });
    child.stdout?.pipe(out, { end: false });
    const stderr = collect(child);
    child.once('error', (err) => out.destroy(this.failed(`reading ${path}`, null, err.message)));
    child.once('close', (code) => (code === 0 ? out.end() : out.destroy(this.failed(`reading ${path}`, code, stderr()))));
    // a reader that gives up stops cat
    out.once('close', () => child.exitCode === null && child.kill('SIGKILL'));
    return out;
  }

  async openWrite(path: string, mode: number): Promise<Writable> {
    const p = shellQuote(path);
    // set -C: the shell creates the file with O_EXCL, so nothing existing is
    // ever truncated; umask 077 keeps it private until the final chmod
    const child = this.spawn(`set -C && umask 077 && cat > ${p} && chmod ${octal(mode)} -- ${p}`, ['pipe', 'ignore', 'pipe']);
    const stdin = child.stdin as Writable;
    const stderr = collect(child);
    // what went wrong, once the shell has exited: its own message (a file already there, a full disk) before a broken pipe
    const failure = new Promise<Error | undefined>((resolve) => {
      child.once('close', (code) => resolve(code === 0 ? undefined : this.failed(`writing ${path}`, code, stderr())));
      child.once('error', (err) => resolve(this.failed(`writing ${path}`, null, err.message)));
    });
    let broken: Error | undefined;
    stdin.on('error', (err) => (broken ??= err));
    return new Writable({
      highWaterMark: STREAM_CHUNK,
      write: (chunk: Buffer, _encoding, done) => {
        const failed = (): void => void failure.then((err) => done(err ?? broken));
        if (broken) return failed();
        if (stdin.write(chunk)) return done();
        // the pipe may break instead of draining
        const drained = (): void => {
          stdin.off('error', broke);
          done();
        };
        const broke = (): void => {
          stdin.off('drain', drained);
          failed();
        };
        stdin.once('drain', drained);
        stdin.once('error', broke);
      },
      final: (done) => {
        stdin.end();
        void failure.then((err) => done(err ?? null));
      },
      destroy: (err, done) => {
        if (child.exitCode === null) child.kill('SIGKILL');
        done(err);
      },
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.files.rename(from, to);
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.files.chmod(path, mode);
  }

  chown(path: string, uid: number, gid: number): Promise<void> {
    return this.files.chown(path, uid, gid);
  }

  unlink(path: string): Promise<void> {
    return this.files.unlink(path);
  }

  readlink(path: string): Promise<string> {
    return this.files.readlink(path);
  }

  symlink(target: string, path: string): Promise<void> {
    return this.files.symlink(target, path);
  }

  async close(): Promise<void> {}

  /** A pid that is gone is a node that is down: said the way an unreachable host is. */
  private assertRunning(): void {
    if (!existsSync(`/proc/${this.pid}`)) {
      throw new OperatorError(`${this.label}: no such process on this machine: is the container running? (node.nsenter.pid in the inventory)`, ExitCode.runFailed);
    }
  }

  private spawn(command: string, stdio: ['ignore' | 'pipe', 'ignore' | 'pipe', 'pipe']): ChildProcess {
    this.assertRunning();
    const [file, ...args] = this.argv(command);
    return spawn(file as string, args, { stdio });
  }

  private failed(what: string, code: number | null, stderr: string): OperatorError {
    const detail = stderr.trim().split('\n')[0] || `exit ${code ?? 'by a signal'}`;
    return new OperatorError(`${this.label}: ${what} failed (${detail})`, ExitCode.runFailed);
  }
}

/** The child's stderr, kept (bounded) for the error message. */
function collect(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (text.length < 4096) text += chunk.toString();
  });
  return () => text;
}
