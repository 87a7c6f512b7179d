import { readdir } from 'node:fs/promises';
import { userInfo } from 'node:os';

/* How a run is named: its timestamp, its id, and the operator who ran it. */

/** 20261124T183000Z: the run timestamp templates see as run.timestamp (as a run makes it). */
export function runTimestamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * The run's timestamp names what it leaves behind (snapshot-<ts>.db,
 * <data dir>.old-<ts>, backups of edited files), and those are never
 * overwritten: a run that starts in the same second as the last one in this
 * journal dir (a refused run re-run at once) waits for the next second.
 */
export async function runStartTime(journalDir: string): Promise<Date> {
  const names = await readdir(journalDir).catch(() => [] as string[]);
  for (;;) {
    const now = new Date();
    const prefix = `${runTimestamp(now)}-`;
    if (!names.some((name) => name.startsWith(prefix))) return now;
    await new Promise((resolve) => setTimeout(resolve, 1000 - now.getMilliseconds() + 5));
  }
}

/** 20261124T183000Z-backup-k3x9: sortable, unique, names the runbook. */
export function newRunId(runbookId: string, now = new Date()): string {
  return `${runTimestamp(now)}-${runbookId}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Who ran it: the person behind sudo when there is one. */
export function operatorName(): string {
  return process.env.SUDO_USER || userInfo().username;
}

