import { hasIntegrityHash, parseSnapshotVersion, snapshotVersionCommand, type SnapshotIntegrity } from '../../cluster/snapshot-format.js';
import { listParam } from '../../engine/wait-conditions.js';
import { digestIn, sha256Command, sha256OfStdinCommand } from '../../transport/sha256.js';
import type { Transport } from '../../transport/types.js';
import { messageOf } from '../../util/errors.js';
import { shellQuote } from '../../util/shell.js';
import { FILE_SHA256, SNAPSHOT_INTEGRITY, type FileCheck } from '../file-checks.js';
import { majorMinorText, restoreToolFor, type RestoreToolName } from '../kinds/snapshot-restore.js';
import { type GuardEnvironment, type Judgement, type Params, type GuardDefinition, define, p, str, firstLine, hasCommand } from './common.js';

/**
 * Guards on snapshot files: `snapshot status` and the appended sha256
 * (with the tool the snapshot-restore kind chooses), and the same sha256 on every node.
 */

export interface SnapshotStatusFacts {
  node: string;
  path: string;
  /** 'etcdutl' or 'etcdctl'; undefined when the node has neither */
  tool?: string;
  exists: boolean;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** the sha256 `snapshot save` appends (what `snapshot restore` checks; `snapshot status` does not) */
  integrity?: SnapshotIntegrity;
  /** the runbook says this is a raw member/snap/db copy, which has no appended hash */
  skipHashCheck?: boolean;
  /** the etcd cluster version recorded in the snapshot (undefined: none recorded) */
  etcdVersion?: string;
  /** the etcd version the servers run, when the runbook says it: the snapshot must be of the same major.minor */
  serverVersion?: string;
  /** the path is the operator's snapshot input, and it says `new`: no file was given, one is saved later */
  noneGiven?: boolean;
  /** found earlier in this run; the file is unchanged since (FileChecks) */
  remembered?: boolean;
  /** found earlier in this run for another file (node:path) with the same sha256 as this one */
  sameContentAs?: string;
}

export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

/** Guard 11: `snapshot status` accepts the file and reports hash, revision and key count. */
export function judgeSnapshotVerified(facts: SnapshotStatusFacts): Judgement {
  const where = `${facts.path} on ${facts.node}`;
  if (facts.noneGiven) return { ok: true, message: 'no snapshot file given: the snapshot this run saves is checked once it is saved' };
  if (!facts.exists) return { ok: false, message: `no snapshot at ${where}` };
  if (!facts.tool) return { ok: false, message: `cannot verify ${where}: neither etcdutl nor etcdctl is installed on ${facts.node}` };
  const command = `${facts.tool} snapshot status`;
  if (facts.exitCode !== 0) {
    // etcdctl 3.4 dies with "fatal error: fault" on a truncated file: say what that means
    const hint = facts.integrity?.kind === 'absent' ? `; ${facts.integrity.size} bytes with no sha256 integrity hash at the end: truncated, or not a snapshot` : '';
    return { ok: false, message: `snapshot ${where} failed verification (${command}, exit ${facts.exitCode ?? 'killed'}): ${firstLine(facts.stderr || facts.stdout) || 'no output'}${hint}` };
  }
  const status = parseSnapshotStatus(facts.stdout);
  if (!status) return { ok: false, message: `snapshot ${where}: ${command} printed no hash/revision/totalKey (${firstLine(facts.stdout) || 'no output'})` };
  const mismatch = versionMismatch(facts);
  if (mismatch) return { ok: false, message: `refusing: snapshot ${where} ${mismatch}` };
  const taken = facts.etcdVersion
    ? `, taken with etcd ${facts.etcdVersion}`
    : facts.serverVersion
      ? `, no etcd version recorded in it (not compared with the servers' ${facts.serverVersion})`
      : '';
  const verified = `snapshot ${where} verified with ${command}: revision ${status.revision}, ${status.totalKey} keys, ${status.totalSize} bytes, hash ${status.hash.toString(16)}${taken}`;
  const integrity = facts.integrity;
  if (!integrity) return { ok: false, message: `snapshot ${where}: its sha256 integrity hash was not checked` };
  if (integrity.kind === 'error') return { ok: false, message: `snapshot ${where}: could not check its sha256 integrity hash: ${integrity.error}` };
  if (integrity.kind === 'mismatch') {
    return {
      ok: false,
      message: `snapshot ${where} is corrupt: the sha256 of its first ${integrity.size - 32} bytes is ${integrity.actual.slice(0, 16)}…, the hash saved at its end is ${integrity.expected.slice(0, 16)}… (snapshot restore would refuse it): take or copy the snapshot again`,
    };
  }
  if (integrity.kind === 'absent') {
    if (facts.skipHashCheck) return { ok: true, message: `${verified}; WARNING: no sha256 integrity hash (${integrity.size} bytes: a raw member/snap/db copy), accepted because the runbook says skipHashCheck: restore it with --skip-hash-check` };
    return {
      ok: false,
      message: `snapshot ${where} has no sha256 integrity hash (${integrity.size} bytes): truncated, or a raw member/snap/db copy; take a snapshot with snapshot save, or for a db copied from a data dir set skipHashCheck: true and restore with --skip-hash-check`,
    };
  }
  const earlier = facts.sameContentAs ? ` (checked earlier in this run as ${facts.sameContentAs}: this file has the same sha256, and is unchanged since it was hashed)` : facts.remembered ? UNCHANGED : '';
  const how = integrity.by && !earlier ? ` (checked ${integrity.by}; the file is unchanged since)` : '';
  return { ok: true, message: `${verified}, sha256 integrity hash matches${how}${earlier}` };
}

/** said of a finding kept from earlier in the run */
const UNCHANGED = ' (checked earlier in this run; the file is unchanged since: same inode, size, mtime and ctime)';

export function parseSnapshotStatus(stdout: string): SnapshotStatus | undefined {
  const start = stdout.indexOf('{');
  if (start < 0) return undefined;
  try {
    const json = JSON.parse(stdout.slice(start, stdout.lastIndexOf('}') + 1)) as Record<string, unknown>;
    const hash = json.hash;
    const revision = json.revision;
    const totalKey = json.totalKey;
    if (typeof hash !== 'number' || typeof revision !== 'number' || typeof totalKey !== 'number') return undefined;
    return { hash, revision, totalKey, totalSize: typeof json.totalSize === 'number' ? json.totalSize : 0 };
  } catch {
    return undefined;
  }
}

export interface HashFacts {
  node: string;
  sha256?: string;
  error?: string;
  /** hashed earlier in this run; the file is unchanged since (FileChecks) */
  remembered?: boolean;
}

/** Guard 10: the same snapshot (sha256) on every node; names the odd ones out. */
export function judgeSameSnapshot(path: string, hashes: HashFacts[], expected?: string): Judgement {
  if (hashes.length === 0) return { ok: false, message: `no nodes to compare ${path} on` };
  const failed = hashes.filter((h) => !h.sha256);
  const counts = new Map<string, string[]>();
  for (const h of hashes) if (h.sha256) counts.set(h.sha256, [...(counts.get(h.sha256) ?? []), h.node]);
  const reference = expected?.toLowerCase() ?? [...counts.entries()].sort((a, b) => b[1].length - a[1].length)[0]?.[0];
  const odd = hashes.filter((h) => h.sha256 && h.sha256 !== reference);
  if (failed.length === 0 && odd.length === 0 && reference !== undefined) {
    const remembered = hashes.filter((h) => h.remembered).map((h) => h.node);
    const note = remembered.length > 0 ? `; hashed earlier in this run on ${remembered.join(', ')}, the file unchanged since` : '';
    return { ok: true, message: `${path} is the same on ${hashes.map((h) => h.node).join(', ')} (sha256 ${reference.slice(0, 16)}…${note})` };
  }
  const problems = [
    ...failed.map((h) => `${h.node}: ${h.error ?? 'no hash'}`),
    ...odd.map((h) => `${h.node} has ${h.sha256?.slice(0, 16)}…`),
  ];
  const against = expected ? `the expected ${expected.slice(0, 16)}…` : `${reference?.slice(0, 16) ?? '?'}… on ${counts.get(reference ?? '')?.join(', ') ?? 'none'}`;
  return { ok: false, message: `refusing: ${path} differs between nodes (${problems.join('; ')}; vs ${against}): copy the same snapshot everywhere` };
}

/**
 * Guard 10 when the nodes' copies have different paths (one guard per node):
 * each copy must equal the reference copy it was distributed from.
 */
export function judgeSameAsReference(path: string, hashes: HashFacts[], reference: HashFacts, referencePath: string): Judgement {
  const from = `${reference.node}:${referencePath}`;
  if (!reference.sha256) return { ok: false, message: `cannot hash the reference copy ${from}: ${reference.error ?? 'no hash'}` };
  const judged = judgeSameSnapshot(path, hashes, reference.sha256);
  return { ok: judged.ok, message: `${judged.message} (reference: ${from})` };
}

/**
 * A snapshot restores with the etcd version it came from (same major.minor):
 * one from another version is refused, saying what to do instead.
 */
function versionMismatch(facts: SnapshotStatusFacts): string | undefined {
  const { etcdVersion, serverVersion } = facts;
  if (!etcdVersion || !serverVersion || majorMinorText(etcdVersion) === majorMinorText(serverVersion)) return undefined;
  return (
    `was taken with etcd ${majorMinorText(etcdVersion)} (cluster version ${etcdVersion}), and the servers run etcd ${serverVersion}: ` +
    `a snapshot restores with the etcd version it came from; use a snapshot taken from these servers, or restore this one with etcd ${majorMinorText(etcdVersion)}'s tools onto etcd ${majorMinorText(etcdVersion)} servers`
  );
}

/** what a runbook's snapshot input says when the operator gives no file (a snapshot is saved in the run) */
const NO_SNAPSHOT_GIVEN = 'new';

async function snapshotFacts(params: Params, env: GuardEnvironment): Promise<SnapshotStatusFacts> {
  const node = str(params, 'node');
  const path = str(params, 'path');
  const transport = env.transport(node);
  const base = { node, path, exitCode: null, stdout: '', stderr: '' };
  const skipHashCheck = params.skipHashCheck === true || params.skipHashCheck === 'true';
  const serverVersion = str(params, 'serverVersion');
  if ((params.given === true || params.given === 'true') && path === NO_SNAPSHOT_GIVEN) return { ...base, exists: false, noneGiven: true };
  const stat = await transport.stat(path);
  if (!stat) return { ...base, exists: false };
  // its answer depends on the bytes alone: a copy with the same sha256 as a file checked earlier has it too
  const checked = await rememberedOr(env, transport, node, 'snapshot status', path, () => snapshotStatusOf(env, transport, node, path, stat.size), (f) => f.exitCode === 0 && f.integrity?.kind !== 'error', true);
  return {
    ...base,
    ...checked.value,
    exists: true,
    skipHashCheck,
    ...(serverVersion ? { serverVersion } : {}),
    ...(checked.remembered ? { remembered: true } : {}),
    ...(checked.sameContentAs ? { sameContentAs: checked.sameContentAs } : {}),
  };
}

type SnapshotStatusPart = Pick<SnapshotStatusFacts, 'tool' | 'exitCode' | 'stdout' | 'stderr' | 'integrity' | 'etcdVersion'>;

async function snapshotStatusOf(env: GuardEnvironment, transport: Transport, node: string, path: string, size: number): Promise<SnapshotStatusPart> {
  // both read the whole file: side by side, the check takes the longer of
  // the two instead of their sum; a status that fails stops the hash. The
  // integrity hash is its own finding: the save that wrote the file checked
  // it on the bytes as they streamed in (SnapshotResult), and a file
  // unchanged since is not read for it again
  const stopHash = new AbortController();
  const hashing = rememberedOr(env, transport, node, SNAPSHOT_INTEGRITY, path, () => snapshotIntegrity(transport, path, size, stopHash.signal), (i) => i.kind !== 'error', true).then(
    // found for another file with this one's sha256: said so
    ({ value, sameContentAs }) => (sameContentAs && value.kind !== 'error' ? { ...value, by: `${value.by ?? 'earlier in this run'} for ${sameContentAs}, which has this file's sha256` } : value),
  );
  const version = snapshotVersionOf(transport, path);
  const status = await statusOf(env, transport, path);
  if (status.exitCode !== 0) stopHash.abort();
  const integrity = await hashing;
  const etcdVersion = await version;
  if (!status.tool) return { exitCode: null, stdout: '', stderr: '' };
  if (status.exitCode !== 0) return hasIntegrityHash(size) ? status : { ...status, integrity: { kind: 'absent', size } };
  return { ...status, integrity, ...(etcdVersion ? { etcdVersion } : {}) };
}

/** The etcd version recorded in the snapshot; undefined when none is, or it cannot be read. */
async function snapshotVersionOf(transport: Transport, path: string): Promise<string | undefined> {
  const result = await transport.exec(snapshotVersionCommand(shellQuote(path)), { timeoutMs: 10 * 60_000 });
  return result.exitCode === 0 ? parseSnapshotVersion(result.stdout) : undefined;
}

/**
 * `snapshot status` on the node with the tool the snapshot-restore kind
 * would restore it with (restoreToolFor the servers' version: etcdutl on
 * 3.5+, etcdctl on 3.4); the other one when the node lacks it, or when no
 * server reported its version.
 */
async function statusOf(env: GuardEnvironment, transport: Transport, path: string): Promise<Omit<SnapshotStatusPart, 'integrity'>> {
  const tool = await statusToolOn(env, transport);
  if (!tool) return { exitCode: null, stdout: '', stderr: '' };
  const command = `${tool === 'etcdctl' ? 'ETCDCTL_API=3 ' : ''}${tool} snapshot status ${shellQuote(path)} -w json`;
  const result = await transport.exec(command, { timeoutMs: 60_000 });
  return { tool, exitCode: result.timedOut ? null : result.exitCode, stdout: result.stdout, stderr: result.timedOut ? 'timed out after 60 s' : result.stderr };
}

async function statusToolOn(env: GuardEnvironment, transport: Transport): Promise<RestoreToolName | undefined> {
  const version = await env.probe().then(
    (report) => report.endpoints.find((e) => e.version)?.version,
    () => undefined,
  );
  const wanted = version ? restoreToolFor(version).tool : 'etcdutl';
  for (const tool of wanted === 'etcdctl' ? (['etcdctl', 'etcdutl'] as const) : (['etcdutl', 'etcdctl'] as const)) {
    if (await hasCommand(transport, tool)) return tool;
  }
  return undefined;
}

/** The check, or what it found for this unchanged file earlier in the run (when the run keeps file checks). */
function rememberedOr<T>(env: GuardEnvironment, transport: Transport, node: string, what: string, path: string, check: () => Promise<T>, keep: (value: T) => boolean, byContent = false): Promise<FileCheck<T>> {
  if (!env.fileChecks) return check().then((value) => ({ value, remembered: false }));
  return env.fileChecks.checkOnce(transport, node, what, path, check, keep, { byContent });
}

/** Hash the body on the node (streams; memory stays flat) and read the 32 bytes after it. */
async function snapshotIntegrity(transport: Transport, path: string, size: number, signal?: AbortSignal): Promise<SnapshotIntegrity> {
  if (!hasIntegrityHash(size)) return { kind: 'absent', size };
  const quoted = shellQuote(path);
  const result = await transport.exec(`tail -c 32 -- ${quoted} | od -An -v -tx1 | tr -d ' \\n' && echo && head -c ${size - 32} -- ${quoted} | ${sha256OfStdinCommand()}`, { timeoutMs: 300_000, ...(signal ? { signal } : {}) });
  const [expected, actual] = result.stdout.split('\n').map((line) => line.trim().slice(0, 64));
  if (result.exitCode !== 0 || !expected || !actual || !/^[0-9a-f]{64}$/.test(expected) || !/^[0-9a-f]{64}$/.test(actual)) {
    return { kind: 'error', size, error: firstLine(result.stderr) || `exit ${result.exitCode ?? 'killed'}` };
  }
  return expected === actual ? { kind: 'ok', size } : { kind: 'mismatch', size, expected, actual };
}

async function hashFacts(node: string, path: string, env: GuardEnvironment): Promise<HashFacts> {
  try {
    const transport = env.transport(node);
    // a failure throws, and is not kept
    const hashed = await rememberedOr(env, transport, node, FILE_SHA256, path, () => sha256Of(transport, path), () => true);
    return { node, sha256: hashed.value, ...(hashed.remembered ? { remembered: true } : {}) };
  } catch (err) {
    return { node, error: messageOf(err) };
  }
}

async function sha256Of(transport: Transport, path: string): Promise<string> {
  const result = await transport.exec(sha256Command(path), { timeoutMs: 300_000 });
  const sha = digestIn(result.stdout);
  if (result.exitCode !== 0 || !sha) throw new Error(firstLine(result.stderr) || `sha256sum exit ${result.exitCode ?? 'killed'}`);
  return sha;
}


export const SNAPSHOT_GUARDS = {
  'snapshot-verified': define({
    name: 'snapshot-verified',
    description: '`snapshot status` accepts the snapshot (run with the tool the restore uses: etcdutl on etcd 3.5+, etcdctl on 3.4), its appended sha256 matches, and it was taken with the servers\' etcd major.minor (when given)',
    params: [
      p('node', 'the node holding it'),
      p('path', 'the snapshot file'),
      p('skipHashCheck', 'a raw member/snap/db copy: accept it without the appended sha256 (with a warning)', false),
      p('serverVersion', 'the etcd version the servers run: a snapshot taken with another major.minor is refused', false),
      p('given', 'the path is the operator\'s snapshot input: "new" (none given, one is saved later) passes', false),
    ],
    gather: snapshotFacts,
    judge: (facts) => judgeSnapshotVerified(facts),
  }),
  'same-snapshot-everywhere': define({
    name: 'same-snapshot-everywhere',
    description: 'the snapshot has the same sha256 on every node',
    params: [
      p('path', 'the snapshot path on every node'),
      p('nodes', 'comma-separated nodes (default: every member)', false),
      p('sha256', 'the expected hash', false),
      p('referenceNode', 'the node holding the copy every node must equal (e.g. local: where the snapshot was distributed from)', false),
      p('referencePath', 'that copy\'s path (nodes whose paths differ compare with it one guard each)', false),
    ],
    gather: async (params, env) => {
      const path = str(params, 'path');
      const nodes = listParam(params.nodes);
      const targets = nodes.length > 0 ? nodes : env.members.map((m) => m.name);
      const referenceNode = str(params, 'referenceNode');
      const reference = referenceNode ? await hashFacts(referenceNode, str(params, 'referencePath') || path, env) : undefined;
      return { hashes: await Promise.all(targets.map((node) => hashFacts(node, path, env))), reference };
    },
    judge: ({ hashes, reference }, params) =>
      reference
        ? judgeSameAsReference(str(params, 'path'), hashes, reference, str(params, 'referencePath') || str(params, 'path'))
        : judgeSameSnapshot(str(params, 'path'), hashes, str(params, 'sha256') || undefined),
  }),
} satisfies Record<string, GuardDefinition>;
