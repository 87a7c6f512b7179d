import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { reapStaleSlots } from '../../src/lab/slots.js';

/**
 * Before the suite: the CLI tests run the compiled CLI, so rebuild it when any
 * source is newer than the build. After: reap labs left by workers that were
 * killed before their own cleanup could run.
 */
const root = join(import.meta.dirname, '..', '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function builtAt(): number {
  try {
    return statSync(join(root, 'dist', 'src', 'cli', 'main.js')).mtimeMs;
  } catch {
    return 0;
  }
}

export function setup(): void {
  reapStaleSlots();
  if (builtAt() >= Math.max(newestMtime(join(root, 'src')), newestMtime(join(root, 'bench')))) return;
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}

export function teardown(): void {
  reapStaleSlots();
}
