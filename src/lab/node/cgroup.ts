import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { OperatorError } from '../../util/errors.js';

/**
 * Each node gets a cgroup of its own in the host's cgroup2 hierarchy and a
 * cgroup namespace rooted there: its systemd then manages its own subtree.
 * Without this, two nodes' systemd would share one hierarchy, and stopping
 * etcd.service in one node would kill the other node's etcd.
 */
export function cgroup2Root(): string {
  // a pure cgroup2 host mounts it at /sys/fs/cgroup; a hybrid one (like these machines) at /sys/fs/cgroup/unified
  for (const dir of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) if (existsSync(join(dir, 'cgroup.procs'))) return dir;
  throw new OperatorError('no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified: lab nodes need one for their systemd');
}

/** The name prefix of a node's cgroup: its lab dir's name and its own, from its scratch dir (<lab>/nodes/<name>). */
function cgroupPrefixOf(scratch: string): string {
  return `${basename(dirname(dirname(scratch)))}-${basename(scratch)}-`;
}

/** A new node's cgroup id: its prefix (what finds it again from the scratch dir alone) and a random part. */
export function nodeCgroupId(scratch: string): string {
  return `${cgroupPrefixOf(scratch)}${randomBytes(3).toString('hex')}`;
}

/**
 * The cgroups of the node whose scratch dir this is, removed (synchronous):
 * what the slot reaper does for a node whose owner was SIGKILLed and could
 * not remove them itself.
 */
export function removeNodeCgroupsOfSync(scratch: string, timeoutMs?: number): void {
  let parent: string;
  try {
    parent = join(cgroup2Root(), 'etcd-runbook');
  } catch {
    return;
  }
  const prefix = cgroupPrefixOf(scratch);
  let names: string[] = [];
  try {
    names = readdirSync(parent).filter((name) => name.startsWith(prefix));
  } catch {
    // no node ever ran here
  }
  for (const name of names) removeNodeCgroupSync(join(parent, name), timeoutMs);
}

export async function createNodeCgroup(id: string): Promise<string> {
  const dir = join(cgroup2Root(), 'etcd-runbook', id);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Remove the node's cgroup once its processes are gone (killing any that
 * linger), deepest first: a cgroup directory is removed with rmdir only.
 */
export async function removeNodeCgroup(dir: string, timeoutMs = 5000): Promise<void> {
  if (!existsSync(dir)) return;
  const deadline = Date.now() + timeoutMs;
  while (await populated(dir)) {
    if (Date.now() > deadline) {
      await writeFile(join(dir, 'cgroup.kill'), '1').catch(() => undefined);
      if (Date.now() > deadline + timeoutMs) throw new Error(`cgroup ${dir} still has processes after cgroup.kill`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  for (const sub of await subtree(dir)) await rmdir(sub).catch(() => undefined);
}

async function populated(dir: string): Promise<boolean> {
  const events = await readFile(join(dir, 'cgroup.events'), 'utf8').catch(() => 'populated 0');
  return /^populated 1$/m.test(events);
}

/** Every cgroup under dir, children before their parent, dir last. */
async function subtree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => subtree(join(dir, e.name))));
  return [...nested.flat(), dir];
}

/**
 * As removeNodeCgroup, synchronously, for process exit (processes.ts),
 * where nothing async runs: whatever is left in it killed (cgroup.kill),
 * then the subtree removed once empty, waiting at most timeoutMs.
 */
export function removeNodeCgroupSync(dir: string, timeoutMs = 2000): void {
  if (!existsSync(dir)) return;
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1');
  } catch {
    // gone meanwhile, or a kernel without cgroup.kill: the processes' own deaths empty it
  }
  const deadline = Date.now() + timeoutMs;
  while (/^populated 1$/m.test(readQuietly(join(dir, 'cgroup.events'))) && Date.now() < deadline) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
  }
  for (const sub of subtreeSync(dir)) {
    try {
      rmdirSync(sub);
    } catch {
      // still busy: the next lab's slot claim finds no process in it, and a test names it
    }
  }
}

function readQuietly(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function subtreeSync(dir: string): string[] {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    // gone
  }
  return [...entries.flatMap((name) => subtreeSync(join(dir, name))), dir];
}
