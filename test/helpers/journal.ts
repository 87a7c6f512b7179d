import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One journal line, as the e2e tests look at it. */
export type JournalEvent = Record<string, unknown> & { type: string; step?: string; node?: string };

export async function journalEvents(path: string): Promise<JournalEvent[]> {
  const text = await readFile(path, 'utf8');
  return text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as JournalEvent);
}

/** The first journal in `dir` with an event that matches, once it is written (a run in another process). */
export async function waitForJournalEvent(dir: string, match: (e: JournalEvent) => boolean, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const files = await readdir(dir).catch(() => [] as string[]);
    for (const file of files.filter((f) => f.endsWith('.jsonl'))) {
      const path = join(dir, file);
      const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
      const matches = (line: string): boolean => {
        try {
          return match(JSON.parse(line) as JournalEvent);
        } catch {
          return false; // a line still being written
        }
      };
      if (lines.some(matches)) return path;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no journal event matched in ${dir} within ${timeoutMs} ms`);
}

/** How many times each step's target started on each node: a step silently run twice shows here. */
export function startsPerStep(events: JournalEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) if (e.type === 'target-started' && e.step) counts[e.step] = (counts[e.step] ?? 0) + 1;
  return counts;
}
