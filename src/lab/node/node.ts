import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OperatorError } from '../../util/errors.js';
import { track, trackCgroup, untrack, untrackCgroup } from '../processes.js';
import { isRunning, type Slot } from '../slots.js';
import { createNodeCgroup, nodeCgroupId, removeNodeCgroup } from './cgroup.js';
import { baseSeed, writeSeed, type SeedEntry } from './seed.js';
import { LAUNCH_SCRIPT, SETUP_SCRIPT } from './setup-script.js';
import { sshdSeed, type NodeSshKeys } from './sshd.js';

/**
 * A lab node is a real machine as far as etcd, systemctl and sshd can tell:
 * systemd as PID 1 of its own PID namespace, its own mount, UTS, IPC and
 * cgroup namespaces and hostname, a root that is an overlay of the host's
 * `/` with a private upper layer (setup-script.ts says why each mount), and
 * the host's network, where it owns one loopback address. Killing its PID 1
 * ends everything in it, and its mounts die with its mount namespace: the
 * host never sees them.
 */
export interface BootNodeOptions {
  /** the node's hostname (m1, m2, …) */
  name: string;
  /** the loopback address it owns (slots.ts addressFor) */
  address: string;
  /** the node's files on disk go to <labDir>/nodes/<name> */
  labDir: string;
  /** where its /usr/bin/etcd* come from (etcd-versions.ts etcdBinDir); default the host's own */
  etcdBinDir?: string;
  /**
   * true (default): /var/lib/etcd is a directory of the lab dir on disk, bind-mounted (a data dir
   * on its own mount, as with a dedicated disk); false: a plain directory of the node's root (in
   * RAM), as on a default master, where the runbooks can rename the data dir
   */
  etcdDataOnDisk?: boolean;
  /** run sshd.service on the node's address with the lab's keys */
  ssh?: NodeSshKeys;
  /** record the node's processes there, so a crashed test's node is reaped */
  slot?: Pick<Slot, 'recordPid'>;
  /** more files the node has from boot (units to start with it, configuration) */
  seed?: SeedEntry[];
  /** host directories the node sees too (the lab dir, for one): its /tmp and /root are its own */
  binds?: NodeBind[];
  bootTimeoutMs?: number;
}

export interface NodeBind {
  hostPath: string;
  /** default: the same path as on the host */
  nodePath?: string;
  readOnly?: boolean;
}

export interface ExecOptions {
  input?: string | Buffer;
  timeoutMs?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type BootState = 'running' | 'degraded';

export interface LabNode {
  name: string;
  address: string;
  /** the node's PID 1 (systemd) as the host sees it */
  pid: number;
  /** the host's cgroup2 directory of the node: its systemd's root (units under system.slice/) */
  cgroup: string;
  /** <labDir>/nodes/<name>: setup script, seed, boot log, the data dir */
  scratch: string;
  /** the host directory that is the node's /var/lib/etcd (etcdDataOnDisk only) */
  etcdDataDir?: string;
  bootState: BootState;
  /** the units that failed when bootState is degraded */
  failedUnits: string[];
  bootMs: number;
  /** a command inside the node (a string runs under /bin/sh -c), with a clean root environment */
  exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** write a file at the node's own path (parent directories made), through the node itself */
  writeFile(path: string, content: string | Buffer, mode?: number): Promise<void>;
  readFile(path: string): Promise<string>;
  /** kill PID 1 (and with it everything in the node), remove its cgroup and scratch dir; idempotent */
  stop(): Promise<void>;
}

/** What a command in a node sees: root's, and nothing of the caller's environment. */
export const NODE_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  USER: 'root',
  LOGNAME: 'root',
  LANG: 'C.UTF-8',
};
const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

export async function bootNode(options: BootNodeOptions): Promise<LabNode> {
  if (!NAME.test(options.name)) throw new OperatorError(`lab node name ${JSON.stringify(options.name)}: use lower-case letters, digits and dashes`);
  if (!LOOPBACK.test(options.address)) throw new OperatorError(`lab node ${options.name}: address ${options.address} is not a loopback address (127.x.y.z)`);
  if (process.getuid?.() !== 0) throw new OperatorError('lab nodes need root (namespaces, mounts, cgroups): run as root');
  const started = Date.now();
  const binds = bindsTable(options.binds ?? []);
  const scratch = await claimScratch(options);
  const parts: NodeParts = { scratch };
  const teardown = stopper(parts);
  try {
    await fillScratch(scratch, binds, options);
    parts.cgroup = await createNodeCgroup(nodeCgroupId(scratch));
    trackCgroup(parts.cgroup);
    const launcher = launch(scratch, parts.cgroup, options);
    parts.launcher = launcher;
    const pid = await pidOne(launcher, scratch);
    // PID 1 only: unshare reaps it and exits; a reaper killing unshare too would leave PID 1 a zombie
    options.slot?.recordPid(pid, scratch);
    const exec = (command: string | readonly string[], execOptions?: ExecOptions) => execIn(pid, command, execOptions);
    const bootState = await waitForBoot(exec, launcher, options.bootTimeoutMs ?? 30_000);
    return {
      name: options.name,
      address: options.address,
      pid,
      cgroup: parts.cgroup,
      scratch,
      ...(options.etcdDataOnDisk === false ? {} : { etcdDataDir: join(scratch, 'var-lib-etcd') }),
      bootState,
      failedUnits: bootState === 'degraded' ? await failedUnits(exec) : [],
      bootMs: Date.now() - started,
      exec,
      writeFile: (path, content, mode) => writeInNode(exec, path, content, mode),
      readFile: async (path) => checked(await exec(['cat', '--', path]), `read ${path}`),
      stop: teardown,
    };
  } catch (err) {
    const log = await readFile(join(scratch, 'boot.log'), 'utf8').catch(() => '');
    await teardown();
    const tail = log.trim().split('\n').slice(-3).join(' / ');
    throw new OperatorError(`lab node ${options.name} did not boot: ${(err as Error).message}${tail ? ` (boot log: ${tail})` : ''}`);
  }
}

/** What a node is made of so far: its teardown undoes whatever exists. */
interface NodeParts {
  scratch: string;
  cgroup?: string;
  launcher?: ChildProcess;
}

async function claimScratch(options: BootNodeOptions): Promise<string> {
  await mkdir(join(options.labDir, 'nodes'), { recursive: true });
  const scratch = join(options.labDir, 'nodes', options.name);
  // not recursive: a second node of the same name in this lab is a mistake, not a reuse
  await mkdir(scratch, { mode: 0o755 });
  return scratch;
}

async function fillScratch(scratch: string, binds: string, options: BootNodeOptions): Promise<void> {
  await Promise.all(['root', 'rw', 'seed'].map((dir) => mkdir(join(scratch, dir), { mode: 0o755 })));
  // `cp -a seed/. root/` gives the node's / the seed dir's mode
  await chmod(join(scratch, 'seed'), 0o755);
  await mkdir(join(scratch, 'var-lib-etcd'), { mode: 0o700 });
  await writeFile(join(scratch, 'setup.sh'), SETUP_SCRIPT);
  await writeFile(join(scratch, 'binds.tsv'), binds);
  const ssh = options.ssh ? await sshdSeed(options.ssh, options.address) : [];
  await writeSeed(join(scratch, 'seed'), [...baseSeed(options.name), ...ssh, ...(options.seed ?? [])]);
}

function bindsTable(binds: NodeBind[]): string {
  return binds
    .map(({ hostPath, nodePath = hostPath, readOnly }) => {
      for (const path of [hostPath, nodePath]) {
        if (!path.startsWith('/') || /[\t\n]/.test(path)) throw new OperatorError(`lab node bind ${JSON.stringify(path)}: give an absolute path without tabs or newlines`);
      }
      return `${hostPath}\t${nodePath}\t${readOnly ? 'ro' : 'rw'}\n`;
    })
    .join('');
}

function launch(scratch: string, cgroup: string, options: BootNodeOptions): ChildProcess {
  const log = openSync(join(scratch, 'boot.log'), 'w');
  try {
    const child = spawn('/bin/sh', ['-c', LAUNCH_SCRIPT, 'sh', cgroup], {
      cwd: '/',
      // NODE_SCRATCH is also the marker slots.ts looks for in PID 1's environment before reaping it
      env: {
        container: 'etcd-runbook',
        NODE_SCRATCH: scratch,
        NODE_NAME: options.name,
        NODE_ETCD_BIN: options.etcdBinDir ?? '',
        NODE_ETCD_DATA_BIND: options.etcdDataOnDisk === false ? '0' : '1',
        PATH: NODE_ENV.PATH,
      },
      stdio: ['ignore', log, log],
    });
    track(child);
    // a node must not keep the test process alive; processes.ts kills it at exit
    child.unref();
    return child;
  } finally {
    closeSync(log);
  }
}

/** unshare forks the node's PID 1; wait until it has become systemd. */
async function pidOne(launcher: ChildProcess, scratch: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited(launcher)) throw new Error(`its launcher exited (${launcher.exitCode ?? launcher.signalCode})`);
    const pid = childOf(launcher.pid);
    if (pid !== undefined && isNodePid(pid, scratch)) return pid;
    await sleep(10);
  }
  throw new Error('systemd did not start as its PID 1 within 10 s');
}

/** The pid is a node's PID 1 still: systemd, with the node's scratch dir as its marker (a reused pid never is). */
export function isNodePid(pid: number, scratch: string): boolean {
  return comm(pid) === 'systemd' && environ(pid).includes(`NODE_SCRATCH=${scratch}`);
}

function childOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function environ(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return '';
  }
}

async function waitForBoot(exec: LabNode['exec'], launcher: ChildProcess, timeoutMs: number): Promise<BootState> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (exited(launcher)) throw new Error('its PID 1 exited during boot');
    const result = await exec(['systemctl', 'is-system-running'], { timeoutMs: 5000 });
    last = result.stdout.trim() || result.stderr.trim();
    if (last === 'running' || last === 'degraded') return last;
    await sleep(25);
  }
  throw new Error(`systemctl is-system-running still said "${last}" after ${timeoutMs} ms`);
}

async function failedUnits(exec: LabNode['exec']): Promise<string[]> {
  const result = await exec(['systemctl', 'list-units', '--failed', '--plain', '--no-legend']);
  return result.stdout.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

/**
 * nsenter's arguments to run argv in every namespace of the node's PID 1 and
 * its root: the command runs as a process of the node. (nsenter skips the
 * namespaces it already shares, the network among them.) Run it with NODE_ENV.
 */
export function nsenterArgs(pid: number, argv: readonly string[]): string[] {
  return ['-t', String(pid), '-a', '-r', '-w', '--', ...argv];
}

function execIn(pid: number, command: string | readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : [...command];
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', nsenterArgs(pid, argv), { cwd: '/', env: NODE_ENV, stdio: 'pipe' });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // nsenter forks the command into the node's PID namespace: kill that child too
      const inner = childOf(child.pid);
      if (inner !== undefined) signalQuietly(inner, 'SIGKILL');
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const tail = timedOut ? `\ntimed out after ${options.timeoutMs ?? 60_000} ms` : '';
      resolve({
        exitCode: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15),
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString() + tail,
      });
    });
  });
}

/**
 * Through the node rather than /proc/<pid>/root: an absolute symlink met
 * under /proc/<pid>/root resolves against the host's root, and the node's
 * lower layer is the host's own files.
 */
async function writeInNode(exec: LabNode['exec'], path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  if (!path.startsWith('/')) throw new Error(`node path ${path} is not absolute`);
  const script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1" && chmod "$2" "$1"';
  checked(await exec(['/bin/sh', '-c', script, 'sh', path, mode.toString(8)], { input: content }), `write ${path}`);
}

function checked(result: ExecResult, what: string): string {
  if (result.exitCode !== 0) throw new Error(`${what} in the node failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** The node's teardown, once however often it is called. */
function stopper(parts: NodeParts): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => (stopping ??= stop(parts));
}

async function stop({ scratch, cgroup, launcher }: NodeParts): Promise<void> {
  if (launcher) await killNode(launcher, scratch);
  if (cgroup) {
    await removeNodeCgroup(cgroup);
    untrackCgroup(cgroup);
  }
  assertNothingMountedUnder(scratch);
  await rm(scratch, { recursive: true, force: true });
}

async function killNode(launcher: ChildProcess, scratch: string): Promise<void> {
  const pid = childOf(launcher.pid);
  if (pid !== undefined && isRunning(pid) && environ(pid).includes(`NODE_SCRATCH=${scratch}`)) signalQuietly(pid, 'SIGKILL');
  // unshare reaps PID 1 and exits; killed first, it would leave PID 1 a zombie nobody reaps.
  // Only when PID 1 was never found (or unshare hangs) is it killed: --kill-child takes PID 1 with it.
  if (pid === undefined || !(await waitExit(launcher, 5000))) {
    if (!exited(launcher)) launcher.kill('SIGKILL');
    if (!(await waitExit(launcher, 5000))) throw new Error(`lab node launcher ${launcher.pid} did not exit after SIGKILL`);
  }
  untrack(launcher);
}

/** The node's mounts live in its own namespace; one seen here would mean rm -rf reaches through it. */
export function assertNothingMountedUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
  if (mounts.length > 0) throw new Error(`refusing to remove ${dir}: ${mounts.join(', ')} mounted on the host`);
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** True once the child has exited, false after timeoutMs. */
function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
