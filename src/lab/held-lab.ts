import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { OperatorError } from '../util/errors.js';
import { LabCluster } from './cluster.js';
import type { EtcdVersion } from './etcd-versions.js';
import type { LabLayout } from './layouts.js';
import { injectFault, type LabFault } from './faults.js';
import { splitIntoClusters } from './split-brain.js';
import { removeNodeCgroup } from './node/cgroup.js';
import { assertNothingMountedUnder, isNodePid } from './node/node.js';
import { isRunning, reapStaleSlots, slotDir } from './slots.js';

/**
 * A lab that outlives the command that started it (`etcd-runbook lab up`).
 * Its nodes are children of one detached holder process, which keeps the
 * LabCluster (and its slot's lock: a lock whose owner is dead is reaped by
 * the next lab that claims a slot) and answers later commands on a unix
 * socket: `lab fault` and `lab down` act through the same LabCluster code a
 * test uses. The state file says where everything is, so `lab exec` enters a
 * node by its PID 1 and `lab down` cleans up even after the holder died.
 */
export interface HeldNode {
  name: string;
  address: string;
  /** the node's PID 1 as the host sees it */
  pid: number;
  cgroup: string;
  /** the node's scratch dir: the marker its PID 1 carries (node.ts isNodePid) */
  scratch: string;
}

export interface LabState {
  /** the holder's pid; while starting, the `lab up` that claimed the state file */
  holderPid: number;
  starting: boolean;
  labDir?: string;
  inventory?: string;
  slot?: number;
  etcd?: EtcdVersion;
  /** the node the tool runs in (lab up --ssh): `etcd-runbook` is on its PATH */
  seat?: string;
  nodes: HeldNode[];
}

export type HolderRequest = { op: 'fault'; fault: LabFault } | { op: 'down' };
export type HolderReply = { ok: true; victims?: string[]; members?: number } | { ok: false; error: string };

/** The holder's environment carries the state file's path: how a pid is recognised as this lab's holder. */
export const HOLDER_MARKER = 'ETCD_RUNBOOK_LAB_HOLDER';

/** One lab at a time, per user's state dir ($XDG_STATE_HOME/etcd-runbook, else beside the lab slots). */
export function labStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_STATE_HOME ? join(env.XDG_STATE_HOME, 'etcd-runbook') : join(slotDir(), 'cli-lab');
}

export const statePath = (): string => join(labStateDir(), 'lab.json');
export const socketPath = (): string => join(labStateDir(), 'lab.sock');
export const holderLogPath = (): string => join(labStateDir(), 'holder.log');

export function readLabState(): LabState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(), 'utf8')) as LabState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OperatorError(`lab state ${statePath()} is unreadable (${(err as Error).message}): remove it, then run etcd-runbook lab down`);
  }
}

/** Created exclusively: a second `lab up` is told to run `lab down` instead of starting another. */
export async function claimLabState(): Promise<void> {
  await mkdir(labStateDir(), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(statePath(), 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const state = readLabState();
    const where = state?.labDir ? ` (${state.labDir})` : '';
    const what = state && holderAlive(state) ? `a lab is already running${where}` : `a lab's state is left in ${statePath()}${where}`;
    throw new OperatorError(`${what}: run 'etcd-runbook lab down' first`);
  }
  writeSync(fd, JSON.stringify({ holderPid: process.pid, starting: true, nodes: [] } satisfies LabState));
  closeSync(fd);
}

function writeLabState(state: LabState): void {
  const tmp = `${statePath()}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'w', 0o600);
  writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
  closeSync(fd);
  renameSync(tmp, statePath());
}

export function removeLabState(): void {
  rmSync(statePath(), { force: true });
  rmSync(socketPath(), { force: true });
}

/** The holder (or the claiming `lab up`) is alive and is this lab's: a reused pid never is. */
export function holderAlive(state: LabState): boolean {
  if (!isRunning(state.holderPid)) return false;
  if (state.starting) return true;
  try {
    return readFileSync(`/proc/${state.holderPid}/environ`, 'utf8').split('\0').includes(`${HOLDER_MARKER}=${statePath()}`);
  } catch {
    return false;
  }
}

export interface HoldOptions {
  members: number;
  etcd: EtcdVersion;
  layout: LabLayout;
  /** the operator's seat: the tool runs inside the first node, which reaches the others over SSH */
  ssh: boolean;
  /** aborted when the `lab up` that started the holder goes away before the lab is up */
  signal: AbortSignal;
}

/**
 * Start the lab, record it, and serve requests until `lab down`. Returns the
 * state once the lab is healthy; the socket server keeps the process alive.
 */
export async function holdLab(options: HoldOptions): Promise<LabState> {
  const lab = await LabCluster.start({ members: options.members, layout: options.layout, etcd: options.etcd, seat: options.ssh, transport: options.ssh ? 'ssh' : 'nsenter', signal: options.signal });
  try {
    rmSync(socketPath(), { force: true });
    const server = createServer((socket) => serve(lab, socket, () => server.close()));
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath(), resolve));
    const state: LabState = {
      holderPid: process.pid,
      starting: false,
      labDir: lab.dir,
      inventory: lab.inventoryPath,
      slot: lab.slotIndex,
      etcd: options.etcd,
      ...(lab.seat ? { seat: lab.seat.name } : {}),
      nodes: lab.members.map(({ node }) => ({ name: node.name, address: node.address, pid: node.pid, cgroup: node.cgroup, scratch: node.scratch })),
    };
    writeLabState(state);
    return state;
  } catch (err) {
    await lab.close();
    throw err;
  }
}

function serve(lab: LabCluster, socket: Socket, closeServer: () => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('error', () => undefined);
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    const end = buffer.indexOf('\n');
    if (end < 0) return;
    let request: HolderRequest;
    try {
      request = JSON.parse(buffer.slice(0, end)) as HolderRequest;
    } catch {
      socket.end(`${JSON.stringify({ ok: false, error: 'not a lab request' } satisfies HolderReply)}\n`);
      return;
    }
    void answer(lab, request).then((reply) => {
      socket.end(`${JSON.stringify(reply)}\n`);
      if (request.op === 'down' && reply.ok) {
        closeServer();
        // the lab is gone: nothing keeps this process, and no handler is left to run
        socket.once('close', () => process.exit(0));
      }
    });
  });
}

async function answer(lab: LabCluster, request: HolderRequest): Promise<HolderReply> {
  try {
    if (request.op === 'fault') return { ok: true, victims: await faultRunningLab(lab, request.fault), members: lab.members.length };
    await lab.close();
    removeLabState();
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** A lab started as one cluster is split while it runs (the drill starts its split-brain lab split instead). */
async function faultRunningLab(lab: LabCluster, fault: LabFault): Promise<string[]> {
  if (fault !== 'split-brain') return injectFault(lab, fault);
  await splitIntoClusters(lab);
  return [];
}

/** One request to the holder, its reply; rejects when the holder does not answer within timeoutMs. */
export function askHolder(request: HolderRequest, timeoutMs: number): Promise<HolderReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath());
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the lab's holder did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => (reply += chunk));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(reply) as HolderReply);
      } catch {
        reject(new Error('the lab\'s holder closed the connection without an answer'));
      }
    });
  });
}

/**
 * What `lab down` does when the holder is gone (killed, crashed): every
 * node's PID 1 killed (its namespaces and mounts die with it), its cgroup
 * removed, the slot's leftovers reaped, the lab dir removed.
 */
export async function cleanUpAfterHolder(state: LabState): Promise<void> {
  if (isRunning(state.holderPid) && holderAlive(state)) process.kill(state.holderPid, 'SIGKILL');
  for (const node of state.nodes) if (isNodePid(node.pid, node.scratch)) process.kill(node.pid, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (state.nodes.some((n) => isRunning(n.pid) && isNodePid(n.pid, n.scratch))) {
    if (Date.now() > deadline) throw new OperatorError(`lab nodes ${state.nodes.map((n) => n.pid).join(', ')} did not exit on SIGKILL: see ps, then run etcd-runbook lab down again`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const node of state.nodes) await removeNodeCgroup(node.cgroup);
  // the holder's slot: its lock's owner is dead now, so it is reaped (whatever else it recorded killed)
  reapStaleSlots();
  if (state.labDir) {
    assertNothingMountedUnder(state.labDir);
    await rm(state.labDir, { recursive: true, force: true });
  }
  removeLabState();
}
