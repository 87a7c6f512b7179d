import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** What a lab node must leave untouched on the host, and what must be gone after it stops. */
export function listing(dir: string): string[] | 'absent' {
  return existsSync(dir) ? readdirSync(dir).sort() : 'absent';
}

/** Every process in one of these PID namespaces, as `pid comm`. */
export function processesIn(namespaces: string[]): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (namespaces.includes(readlinkSync(`/proc/${entry}/ns/pid`))) found.push(`${entry} ${readFileSync(`/proc/${entry}/comm`, 'utf8').trim()}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}
