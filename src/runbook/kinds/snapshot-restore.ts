import { posix } from 'node:path';
import type { ClusterReport } from '../../cluster/types.js';
import type { Inventory, InventoryMember } from '../../inventory/schema.js';
import type { Transport } from '../../transport/types.js';
import { OperatorError } from '../../util/errors.js';
import { shellJoin, shellQuote } from '../../util/shell.js';
import { run, type KindIo, type KindResult } from './exec.js';
import { ASIDE_ENTRY } from './move-aside.js';

/**
 * The `snapshot-restore` step kind: the one place that decides how a member
 * is restored from a snapshot. etcd 3.5+ restores with `etcdutl snapshot
 * restore` and bumps the revision (`--bump-revision N --mark-compacted`, as
 * etcd's recovery guide advises when Kubernetes watches the store); etcd 3.4
 * restores with `etcdctl snapshot restore`, which cannot bump. The plan is
 * pure (render time: the servers' version from the probe or the inventory);
 * the execution runs that plan's commands on the node, each word quoted by
 * the one shellQuote.
 */

export type RestoreToolName = 'etcdctl' | 'etcdutl';

export interface RestoreTool {
  tool: RestoreToolName;
  /** the subcommand line, e.g. `etcdutl snapshot restore` */
  command: string;
  /** etcdutl 3.5+ can `--bump-revision --mark-compacted` */
  canBumpRevision: boolean;
}

/** etcd 3.4 restores with `etcdctl snapshot restore`, 3.5+ with `etcdutl snapshot restore`. */
export function restoreToolFor(version: string): RestoreTool {
  const mm = majorMinor(version);
  const modern = mm !== undefined && (mm.major > 3 || (mm.major === 3 && mm.minor >= 5));
  return modern
    ? { tool: 'etcdutl', command: 'etcdutl snapshot restore', canBumpRevision: true }
    : { tool: 'etcdctl', command: 'etcdctl snapshot restore', canBumpRevision: false };
}

export function majorMinor(version: string): { major: number; minor: number } | undefined {
  const match = /(\d+)\.(\d+)/.exec(version);
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : undefined;
}

export function majorMinorText(version: string): string {
  const mm = majorMinor(version);
  return mm ? `${mm.major}.${mm.minor}` : version;
}

/**
 * The etcd version a member's server runs: what it reported to the probe,
 * else the inventory's (node, then cluster), else what any other member
 * reported (one cluster runs one version; a down member reports nothing).
 */
export function serverVersionOf(member: InventoryMember, inventory: Inventory, report?: ClusterReport): string | undefined {
  const own = report?.endpoints.find((e) => e.version && (e.name === member.name || e.expectedName === member.name))?.version;
  return own ?? member.node?.etcdVersion ?? inventory.cluster?.etcdVersion ?? report?.endpoints.find((e) => e.version)?.version;
}

/** What a runbook step says about one member's restore (templates filled in). */
export interface SnapshotRestoreSpec {
  member: InventoryMember;
  /** the etcd version the servers run (serverVersionOf) */
  serverVersion: string | undefined;
  /** the snapshot file on the member's node */
  snapshot: string;
  initialCluster: string;
  token: string;
  /** restore into <dataDir><into> (and <walDir><into>); '' restores into the dirs themselves */
  into: string;
  /** 0: no bump */
  bumpRevision: number;
  /** default: with the bump */
  markCompacted?: boolean;
  skipHashCheck: boolean;
  /** the restored dirs take this dir's owner when it exists (the old data dir, moved aside) */
  ownerFrom?: string;
  /** once restored (and owned), <dir><into> takes the name <dir>: the member's config keeps its paths */
  install?: boolean;
}

export interface SnapshotRestorePlan {
  tool: RestoreToolName;
  serverVersion: string;
  /** VAR=value words before the tool (etcdctl 3.4 needs ETCDCTL_API=3) */
  env: string[];
  /** the tool and its arguments, unquoted */
  argv: string[];
  dataDir: string;
  walDir?: string;
  ownerFrom?: string;
  /** restored dir → the member's dir, renamed once the restore is complete */
  install: Array<{ from: string; to: string }>;
  /** what the operator must know about this restore (e.g. the revision is not bumped) */
  notes: string[];
}

/** The revision bump etcd's recovery guide uses in its example: far above any revision a cluster reaches. */
export const DEFAULT_BUMP_REVISION = 1_000_000_000;

export const NO_BUMP_NOTE =
  'etcd 3.4: etcdctl cannot bump the revision, so it is not bumped; restart every kube-apiserver, kube-controller-manager, kube-scheduler and kubelet after the restore so no watch cache serves revisions from before it';

/** Validates the flags and decides the tool; throws OperatorError naming the member and what to change. */
export function planSnapshotRestore(spec: SnapshotRestoreSpec): SnapshotRestorePlan {
  const { member } = spec;
  const paths = member.node?.paths ?? {};
  const say = (what: string) => new OperatorError(`snapshot restore of ${member.name}: ${what}`);
  if (!spec.serverVersion) throw say('the etcd version is not known (no member reported it): set cluster.etcdVersion in the inventory, e.g. 3.5.15');
  if (!paths.dataDir) throw say('no data dir: set node.paths.dataDir in the inventory');
  if (!Number.isInteger(spec.bumpRevision) || spec.bumpRevision < 0) throw say(`--bump-revision ${spec.bumpRevision} must be a whole number ≥ 0 (0: no bump)`);
  const markCompacted = spec.markCompacted ?? spec.bumpRevision > 0;
  if (spec.bumpRevision > 0 && !markCompacted) throw say('--bump-revision needs --mark-compacted (revisions skipped over must read as compacted to watchers)');
  if (markCompacted && spec.bumpRevision === 0) throw say('--mark-compacted needs --bump-revision above 0');
  if (spec.install && spec.into === '') throw say('install needs "into" (a suffix such as .restore): the restore already writes into the member\'s dirs');
  const tool = restoreToolFor(spec.serverVersion);
  const bump = spec.bumpRevision > 0 && tool.canBumpRevision;
  const dataDir = `${paths.dataDir}${spec.into}`;
  const walDir = paths.walDir ? `${paths.walDir}${spec.into}` : undefined;
  const argv = [
    tool.tool === 'etcdutl' ? (paths.etcdutl ?? 'etcdutl') : (paths.etcdctl ?? 'etcdctl'),
    'snapshot',
    'restore',
    spec.snapshot,
    ...['--name', member.name, '--initial-cluster', spec.initialCluster, '--initial-cluster-token', spec.token],
    ...['--initial-advertise-peer-urls', member.peerURLs.join(',')],
    ...['--data-dir', dataDir],
    ...(walDir ? ['--wal-dir', walDir] : []),
    ...(bump ? ['--bump-revision', String(spec.bumpRevision), '--mark-compacted'] : []),
    ...(spec.skipHashCheck ? ['--skip-hash-check'] : []),
  ];
  return {
    tool: tool.tool,
    serverVersion: spec.serverVersion,
    env: tool.tool === 'etcdctl' ? ['ETCDCTL_API=3'] : [],
    argv,
    dataDir,
    ...(walDir ? { walDir } : {}),
    ...(spec.ownerFrom ? { ownerFrom: spec.ownerFrom } : {}),
    install: spec.install ? [{ from: dataDir, to: paths.dataDir }, ...(walDir && paths.walDir ? [{ from: walDir, to: paths.walDir }] : [])] : [],
    notes: tool.canBumpRevision || spec.bumpRevision === 0 ? [] : [NO_BUMP_NOTE],
  };
}

/** The restore itself, one line. */
export function restoreCommand(plan: SnapshotRestorePlan): string {
  return [...plan.env.map(shellQuote), shellJoin(plan.argv)].join(' ');
}

/** The dirs the restore creates. */
export function restoredDirs(plan: SnapshotRestorePlan): string[] {
  return plan.walDir ? [plan.dataDir, plan.walDir] : [plan.dataDir];
}

/** What runs after the restore: etcd's data dir is private, and owned as the old one was. */
export function afterRestoreCommands(plan: SnapshotRestorePlan): string[] {
  const dirs = restoredDirs(plan);
  const commands = [shellJoin(['chmod', '0700', '--', ...dirs])];
  if (plan.ownerFrom) commands.push(`test ! -d ${shellQuote(plan.ownerFrom)} || ${shellJoin(['chown', '-R', `--reference=${plan.ownerFrom}`, '--', ...dirs])}`);
  return commands;
}

/**
 * The commands as an SRE reads them in `plan`: notes as comments, the
 * restore broken into lines at its flags the way etcd's docs show it.
 */
export function describeSnapshotRestore(plan: SnapshotRestorePlan): string {
  const [tool, ...args] = plan.argv;
  const words = [...plan.env, tool as string, ...args].map(shellQuote);
  const head = words.slice(0, plan.env.length + 4).join(' ');
  const flags: string[] = [];
  for (const word of words.slice(plan.env.length + 4)) {
    if (word.startsWith('--') || flags.length === 0) flags.push(word);
    else flags[flags.length - 1] += ` ${word}`;
  }
  const lines = [head, ...pack(flags).map((l) => `  ${l}`)];
  const restore = lines.map((l, i) => (i < lines.length - 1 ? `${l} \\` : l)).join('\n');
  return [...plan.notes.map((n) => `# ${n}`), restore, ...afterRestoreCommands(plan), ...installCommands(plan)].join('\n');
}

/** The restored dirs take the member's dir names. */
function installCommands(plan: SnapshotRestorePlan): string[] {
  return plan.install.map(({ from, to }) => shellJoin(['mv', '--', from, to]));
}

/** Flags packed onto lines of at most LINE characters (a flag longer than that gets its own). */
function pack(flags: string[]): string[] {
  const out: string[] = [];
  for (const flag of flags) {
    const last = out[out.length - 1];
    if (last !== undefined && last.length + 1 + flag.length <= LINE) out[out.length - 1] = `${last} ${flag}`;
    else out.push(flag);
  }
  return out;
}

const LINE = 90;

// ---- execution --------------------------------------------------------------------

/**
 * Runs the plan on the member's node: the tool must be there in the
 * servers' major.minor (the guard said so; checked again, it is cheap),
 * an empty restore dir left behind is removed (etcdctl 3.4 refuses one that
 * exists), then the restore, then mode and ownership.
 */
export async function runSnapshotRestore(transport: Transport, plan: SnapshotRestorePlan, io: KindIo): Promise<KindResult> {
  const tool = plan.argv[0] as string;
  io.say(`restoring with ${plan.tool} snapshot restore (the servers run etcd ${plan.serverVersion})\n`);
  const version = await transport.exec(`${shellQuote(tool)} version`, { timeoutMs: 10_000 });
  const line = version.stdout.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  if (version.exitCode !== 0) return { ok: false, exitCode: version.exitCode, error: `${tool} is not usable on ${transport.node}: ${version.stderr.trim() || `exit ${version.exitCode ?? 'killed'}`}` };
  io.say(`restoring with ${line}\n`);
  if (majorMinorText(line) !== majorMinorText(plan.serverVersion)) return { ok: false, error: `${tool} on ${transport.node} is ${line}, the servers run ${plan.serverVersion}: restore with the same major.minor` };
  for (const dir of restoredDirs(plan)) {
    const stat = await transport.stat(dir);
    if (!stat) continue;
    if (stat.type !== 'directory' || (await transport.readdir(dir)).length > 0) return { ok: false, error: `${dir} exists and is not an empty dir: not restoring into it` };
    const removed = await run(transport, shellJoin(['rmdir', '--', dir]), io);
    if (!removed.ok) return removed;
  }
  for (const command of [restoreCommand(plan), ...afterRestoreCommands(plan)]) {
    const result = await run(transport, command, io);
    if (!result.ok) return result;
  }
  return install(transport, plan, io);
}

/**
 * Each restored dir takes its real name: renamed there (an empty dir in the
 * way goes first). A dir holding only data moved aside inside it (a mount
 * point, kinds/move-aside.ts) keeps its mount: the restored entries move
 * into it, then the emptied restore dir goes. Anything else refuses.
 */
async function install(transport: Transport, plan: SnapshotRestorePlan, io: KindIo): Promise<KindResult> {
  for (const { from, to } of plan.install) {
    const commands = await installOne(transport, from, to);
    if (typeof commands === 'string') return { ok: false, error: commands };
    for (const command of commands) {
      const result = await run(transport, command, io);
      if (!result.ok) return result;
    }
  }
  return { ok: true, exitCode: 0 };
}

/** The commands that put one restored dir in place, or why not (exported for tests). */
export async function installOne(transport: Transport, from: string, to: string): Promise<string[] | string> {
  const there = await transport.stat(to);
  const rename = shellJoin(['mv', '--', from, to]);
  if (!there) return [rename];
  const entries = there.type === 'directory' ? (await transport.readdir(to)).map((e) => e.name) : undefined;
  if (!entries || !entries.every((e) => ASIDE_ENTRY.test(e))) return `${to} on ${transport.node} is not empty: not putting the restored ${from} over it`;
  if (entries.length === 0) return [shellJoin(['rmdir', '--', to]), rename];
  const restored = (await transport.readdir(from)).map((e) => posix.join(from, e.name));
  return [shellJoin(['mv', '--', ...restored, `${to}/`]), shellJoin(['rmdir', '--', from])];
}
