import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeNodeCgroupsOfSync } from './node/cgroup.js';

/**
 * Loopback address blocks, so two labs (two test files, a drill beside a
 * test run) never collide: slot k owns 127.0.0.(10k+11) … 127.0.0.(10k+19).
 * A slot is claimed by creating its lock file exclusively; a lock whose
 * owner process is dead is stale, and the processes it recorded are reaped
 * before the slot is reused.
 */
export const SLOT_COUNT = 24;
const MEMBERS_PER_SLOT = 9;

export function slotDir(): string {
  return join(tmpdir(), 'etcd-runbook-lab-slots');
}

export function addressFor(slot: number, index: number): string {
  if (index < 0 || index >= MEMBERS_PER_SLOT) throw new Error(`a lab holds at most ${MEMBERS_PER_SLOT} members`);
  return `127.0.0.${10 * slot + 11 + index}`;
}

export interface Slot {
  index: number;
  /**
   * Record a pid started in this slot, for reaping after a crash. The marker
   * (a path only this lab uses) must appear in the process's command line or
   * environment before it is killed, so a reused pid is never hit.
   */
  recordPid(pid: number, marker: string): void;
  /** where the pids are recorded (scripts the lab writes append to it too) */
  pidsFile: string;
  release(): void;
}

export function claimSlot(): Slot {
  const dir = slotDir();
  mkdirSync(dir, { recursive: true });
  for (let index = 0; index < SLOT_COUNT; index++) {
    const lock = join(dir, `slot-${index}.lock`);
    if (tryCreate(lock) || (reapIfStale(lock) && tryCreate(lock))) {
      return makeSlot(index, lock);
    }
  }
  throw new Error(`all ${SLOT_COUNT} lab slots are in use (locks in ${dir}): stop other labs or remove stale locks`);
}

function makeSlot(index: number, lock: string): Slot {
  const pidsFile = `${lock}.pids`;
  writeFileSync(pidsFile, '');
  return {
    index,
    pidsFile,
    recordPid(pid, marker) {
      writeFileSync(pidsFile, `${pid}\t${marker}\n`, { flag: 'a' });
    },
    release() {
      rmSync(pidsFile, { force: true });
      rmSync(lock, { force: true });
    },
  };
}

function tryCreate(lock: string): boolean {
  try {
    const fd = openSync(lock, 'wx');
    writeFileSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** True when the lock was stale and has been removed (its processes killed). */
function reapIfStale(lock: string): boolean {
  let owner = NaN;
  try {
    owner = Number.parseInt(readFileSync(lock, 'utf8'), 10);
  } catch {
    return false;
  }
  // a zombie owner (killed, its parent not yet reaping) is dead too: it holds nothing
  if (Number.isFinite(owner) && isAlive(owner) && isRunning(owner)) return false;
  const killed = killRecordedPids(`${lock}.pids`, 'SIGKILL');
  // a node's PID 1 is recorded with its scratch dir: its cgroup is left once it is killed (and emptied: its etcd gone)
  for (const { marker } of recordedPids(`${lock}.pids`)) if (/\/nodes\/[^/]+$/.test(marker)) removeNodeCgroupsOfSync(marker, REAP_WAIT_MS);
  // the slot is reused at once: a member still dying would hold its address's ports against the next lab
  waitGoneSync(killed, REAP_WAIT_MS);
  rmSync(`${lock}.pids`, { force: true });
  rmSync(lock, { force: true });
  return true;
}

/** How long a reaped slot's processes may take to die before the slot is handed out anyway. */
const REAP_WAIT_MS = 10_000;

/** Wait (synchronously: claimSlot is) until none of the pids runs, at most timeoutMs. */
function waitGoneSync(pids: number[], timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isRunning) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
}

/**
 * The recorded pids that are still running and still carry their marker
 * (so a reused pid is never touched), and not zombies.
 */
export function liveRecordedPids(file: string): number[] {
  const pids = new Set<number>();
  for (const { pid, marker } of recordedPids(file)) if (isRunning(pid) && processMentions(pid, marker)) pids.add(pid);
  return [...pids];
}

/** Signal every live recorded pid (a frozen one is continued first); synchronous, for exit handlers. */
export function killRecordedPids(file: string, signal: NodeJS.Signals): number[] {
  const pids = liveRecordedPids(file);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
  return pids;
}

/** Running and not a zombie (a detached process's parent may never reap it). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

function recordedPids(file: string): Array<{ pid: number; marker: string }> {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => {
        const [pid = '', marker = ''] = line.split('\t');
        return { pid: Number.parseInt(pid, 10), marker };
      })
      .filter(({ pid, marker }) => Number.isFinite(pid) && pid > 1 && marker !== '');
  } catch {
    return [];
  }
}

function processMentions(pid: number, marker: string): boolean {
  for (const part of ['cmdline', 'environ']) {
    try {
      if (readFileSync(`/proc/${pid}/${part}`).includes(marker)) return true;
    } catch {
      // gone, or not ours to read
    }
  }
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reap every slot whose owner died (a killed test worker, a crashed drill). */
export function reapStaleSlots(): void {
  const dir = slotDir();
  for (const file of lockedSlots()) reapIfStale(join(dir, file));
}

/** For diagnostics: the slots currently locked. */
export function lockedSlots(): string[] {
  try {
    return readdirSync(slotDir()).filter((f) => f.endsWith('.lock'));
  } catch {
    return [];
  }
}
