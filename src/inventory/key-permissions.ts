import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Inventory } from './schema.js';

/**
 * Private keys an inventory points at (the etcd client key, each node's SSH
 * identity) should be readable by their owner alone, as ssh itself insists.
 * A group- or world-readable key is not refused (on the worst day the
 * operator may have copied it in a hurry) but named, with the fix.
 * Missing or unreadable files are left to the code that opens them.
 */
export async function keyFileWarnings(inventory: Inventory): Promise<string[]> {
  const files = new Set<string>();
  if (inventory.tls?.key) files.add(inventory.tls.key);
  for (const member of inventory.members) {
    const identity = member.node?.ssh?.identityFile;
    if (identity) files.add(identity === '~' || identity.startsWith('~/') ? join(homedir(), identity.slice(1)) : identity);
  }
  const warnings: string[] = [];
  for (const file of files) {
    let mode: number;
    try {
      mode = (await stat(file)).mode & 0o777;
    } catch {
      continue;
    }
    if ((mode & 0o077) === 0) continue;
    const who = mode & 0o007 ? 'anyone on this machine' : 'its group';
    warnings.push(`warning: private key ${file} is readable by ${who} (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${file}`);
  }
  return warnings;
}
