import { posix } from 'node:path';
import type { Transport } from '../../transport/types.js';
import { shellJoin, shellQuote } from '../../util/shell.js';
import { run, type KindIo, type KindResult } from './exec.js';

/**
 * The `move-aside` step kind: a data dir (and its member's WAL dir) is never
 * deleted, it is moved to `<path>.old-<timestamp>`; the move refuses to go
 * over anything already there.
 *
 * A dir that is a mount point (etcd on its own disk) cannot be renamed
 * (EBUSY). Its contents move instead, into `<path>/.old-<timestamp>/` on the
 * same disk: a rename per entry, instant whatever the size, no space needed
 * elsewhere, and the old data stays on the disk sized for it (moving it to
 * the parent would copy gigabytes onto the root disk and could fail
 * halfway). The dir then holds only that hidden dir: empty for etcd, which
 * looks only for `member/` (it logs the extra entry and goes on), and for
 * the data-dir-empty guard, which counts `.old-*` entries as moved aside.
 *
 * With the suffix `fresh` (what a freshly installed host already has where
 * the old host's files are copied back) it moves whatever is there — a file,
 * a link, a dir empty or not — to `<path>.fresh-<timestamp>`, and makes the
 * dir it sat in, so the copy has somewhere to go.
 */

/** old: a member's data moved aside; fresh: a new host's own files, making way for the old host's */
export type AsideSuffix = 'old' | 'fresh';

export interface MoveAsidePlan {
  dirs: Array<{ path: string; aside: string; asideInside: string }>;
  /** make the dir again (mode 0700, owned like the old one) once moved: a joining member starts in it */
  recreate: boolean;
  suffix: AsideSuffix;
}

/** `.old-<timestamp>` entries inside a dir are what move-aside put there. */
export const ASIDE_ENTRY = /^\.old-/;

export function planMoveAside(paths: string[], timestamp: string, recreate: boolean, suffix: AsideSuffix = 'old'): MoveAsidePlan {
  return {
    dirs: paths.map((path) => {
      const clean = posix.normalize(path).replace(/\/+$/, '');
      return { path: clean, aside: asideOf(clean, timestamp, suffix), asideInside: posix.join(clean, `.${suffix}-${timestamp}`) };
    }),
    recreate,
    suffix,
  };
}

/** Where anything moved aside goes: `<path>.old-<timestamp>` (a renewed certificate's old file too). */
export function asideOf(path: string, timestamp: string, suffix: AsideSuffix = 'old'): string {
  return `${path}.${suffix}-${timestamp}`;
}

/** What `plan` shows: the usual move; how a mount point is handled is said in the guard and a comment. */
export function describeMoveAside(plan: MoveAsidePlan): string {
  return plan.dirs
    .flatMap((d) => [
      shellJoin(['mv', '--', d.path, d.aside]),
      ...(plan.suffix === 'fresh' ? [parentCommand(d.path)] : []),
      ...(plan.recreate ? recreateCommands(d.path, d.aside) : []),
      // a new host's own files are rarely a disk of their own: said for a data dir, handled for both
      ...(plan.suffix === 'old' ? [`# if ${d.path} is a mount point: its contents move into ${d.asideInside}/ instead`] : []),
    ])
    .join('\n');
}

/** the dir a fresh file sat in stays there for the old host's copy (a fresh host may lack it) */
function parentCommand(path: string): string {
  return shellJoin(['mkdir', '-p', '--', posix.dirname(path)]);
}

function recreateCommands(path: string, reference: string): string[] {
  return [shellJoin(['mkdir', '-p', '-m', '0700', '--', path]), `test ! -d ${shellQuote(reference)} || ${shellJoin(['chown', `--reference=${reference}`, '--', path])}`];
}

// ---- facts and judgement -----------------------------------------------------------

export interface MoveAsideFacts {
  node: string;
  path: string;
  aside: string;
  asideInside: string;
  kind: 'missing' | 'directory' | 'file' | 'symlink' | 'other';
  /** entries, without earlier `.old-*` ones */
  entries: string[];
  /** the path is on another filesystem than its parent */
  mountPoint: boolean;
  asideExists: boolean;
  /** a new host's own file (suffix fresh): moved whatever it is, a file, a link or an empty dir too */
  fresh?: boolean;
}

export type MoveAsideAction = { kind: 'nothing' } | { kind: 'rename' } | { kind: 'contents'; entries: string[] } | { kind: 'refuse'; reason: string };

/** Pure: what moving this dir aside does, or why it must not. */
export function decideMoveAside(facts: MoveAsideFacts): { action: MoveAsideAction; message: string } {
  const where = `${facts.path} on ${facts.node}`;
  const refuse = (reason: string) => ({ action: { kind: 'refuse', reason } as const, message: `refusing: ${reason}` });
  if (facts.kind === 'missing') return { action: { kind: 'nothing' }, message: `${where} does not exist: nothing to move aside` };
  if (facts.fresh && !(facts.kind === 'directory' && facts.mountPoint)) {
    if (facts.asideExists) return refuse(`${facts.aside} already exists on ${facts.node}: not moving over it`);
    return { action: { kind: 'rename' }, message: `${where} (${facts.kind === 'directory' ? 'a dir' : `a ${facts.kind}`}) will be moved to ${facts.aside}` };
  }
  if (facts.kind !== 'directory') return refuse(`${where} is a ${facts.kind}, not a directory`);
  if (facts.entries.length === 0) return { action: { kind: 'nothing' }, message: `${where} is empty: nothing to move aside` };
  if (facts.asideExists) return refuse(`${facts.mountPoint ? facts.asideInside : facts.aside} already exists on ${facts.node}: not moving over it`);
  if (facts.mountPoint) {
    return {
      action: { kind: 'contents', entries: facts.entries },
      message: `${where} is a mount point (its own filesystem, so it cannot be moved): its ${facts.entries.length} entr${facts.entries.length === 1 ? 'y' : 'ies'} (${facts.entries.slice(0, 4).join(', ')}) move into ${facts.asideInside}/ on the same disk`,
    };
  }
  return { action: { kind: 'rename' }, message: `${where} will be moved to ${facts.aside}` };
}

export async function moveAsideFacts(transport: Transport, dir: MoveAsidePlan['dirs'][number], fresh = false): Promise<MoveAsideFacts> {
  const base = { node: transport.node, path: dir.path, aside: dir.aside, asideInside: dir.asideInside, entries: [], mountPoint: false, asideExists: false, ...(fresh ? { fresh } : {}) };
  const stat = await transport.stat(dir.path);
  if (!stat) return { ...base, kind: 'missing' };
  if (stat.type !== 'directory') return { ...base, kind: stat.type, asideExists: fresh && (await transport.stat(dir.aside)) !== undefined };
  const mountPoint = await isMountPoint(transport, dir.path);
  const entries = (await transport.readdir(dir.path)).map((e) => e.name).filter((n) => !ASIDE_ENTRY.test(n)).sort();
  const asideExists = (await transport.stat(mountPoint ? dir.asideInside : dir.aside)) !== undefined;
  return { ...base, kind: 'directory', entries, mountPoint, asideExists };
}

/** A mount point sits on another device than its parent (`stat -c %d`, coreutils: on every master). */
async function isMountPoint(transport: Transport, path: string): Promise<boolean> {
  const result = await transport.exec(shellJoin(['stat', '-L', '-c', '%d', '--', path, posix.dirname(path)]), { timeoutMs: 10_000 });
  const [own, parent] = result.stdout.trim().split('\n');
  if (result.exitCode !== 0 || !own || !parent) throw new Error(`cannot tell whether ${path} on ${transport.node} is a mount point: ${result.stderr.trim() || `stat exit ${result.exitCode ?? 'killed'}`}`);
  return own.trim() !== parent.trim();
}

// ---- execution --------------------------------------------------------------------

/** Each dir in turn: decided again on the node as it is now, then moved. */
export async function runMoveAside(transport: Transport, plan: MoveAsidePlan, io: KindIo): Promise<KindResult> {
  for (const dir of plan.dirs) {
    const { action, message } = decideMoveAside(await moveAsideFacts(transport, dir, plan.suffix === 'fresh'));
    io.say(`${message}\n`);
    const commands =
      action.kind === 'refuse'
        ? undefined
        : action.kind === 'rename'
          ? [shellJoin(['mv', '--', dir.path, dir.aside])]
          : action.kind === 'contents'
            ? [shellJoin(['mkdir', '-m', '0700', '--', dir.asideInside]), shellJoin(['mv', '--', ...action.entries.map((e) => posix.join(dir.path, e)), `${dir.asideInside}/`])]
            : [];
    if (!commands) return { ok: false, error: message };
    if (plan.suffix === 'fresh') commands.push(parentCommand(dir.path));
    if (plan.recreate && action.kind !== 'contents') commands.push(...recreateCommands(dir.path, dir.aside));
    for (const command of commands) {
      const result = await run(transport, command, io);
      if (!result.ok) return result;
    }
  }
  return { ok: true, exitCode: 0 };
}
