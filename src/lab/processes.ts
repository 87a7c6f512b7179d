import type { ChildProcess } from 'node:child_process';

/**
 * Every process a lab starts is registered here, so that a test failure, an
 * uncaught error, Ctrl-C or a plain exit never leaves an etcd or sshd behind.
 * (A SIGKILLed parent cannot run handlers: slots.ts reaps those leftovers
 * when the slot is next claimed.)
 */
const live = new Set<ChildProcess>();
let installed = false;

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
