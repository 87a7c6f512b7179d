import type { ChildProcess } from 'node:child_process';
import { removeNodeCgroupSync } from './node/cgroup.js';
import { killRecordedPids } from './slots.js';

/**
 * Every process a lab starts is registered here, so that a test failure, an
 * uncaught error, Ctrl-C or a plain exit never leaves an etcd or sshd behind.
 * (A SIGKILLed parent cannot run handlers: slots.ts reaps those leftovers
 * when the slot is next claimed.)
 */
const live = new Set<ChildProcess>();
/** slot pids files: processes started detached (by lab scripts) are known only there */
const pidsFiles = new Set<string>();
/** lab nodes' cgroups: emptied and removed once their processes are killed */
const cgroups = new Set<string>();
let installed = false;

/** Kill every process recorded in this pids file (with its marker) on exit or a signal. */
export function trackPidsFile(file: string): void {
  pidsFiles.add(file);
  installHandlers();
}

export function untrackPidsFile(file: string): void {
  pidsFiles.delete(file);
}

/** A lab node's cgroup, removed on exit or a signal if its node was not stopped. */
export function trackCgroup(dir: string): void {
  cgroups.add(dir);
  installHandlers();
}

export function untrackCgroup(dir: string): void {
  cgroups.delete(dir);
}

export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  installHandlers();
}

export function untrack(child: ChildProcess): void {
  live.delete(child);
}

/** Synchronous on purpose: it runs from process 'exit', where nothing async can. */
export function killAllTracked(): void {
  for (const child of live) {
    try {
      // a frozen (SIGSTOPped) process must be continued to die promptly of SIGTERM;
      // SIGKILL needs no help.
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const file of pidsFiles) killRecordedPids(file, 'SIGKILL');
  pidsFiles.clear();
  for (const dir of cgroups) removeNodeCgroupSync(dir);
  cgroups.clear();
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.once('exit', killAllTracked);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllTracked();
      // re-raise so the exit status says we were signalled
      process.kill(process.pid, signal);
    });
  }
}
