import { majorMinor, majorMinorText, restoreToolFor, type RestoreToolName } from './kinds/snapshot-restore.js';
import { decideMoveAside, moveAsideFacts, ASIDE_ENTRY } from './kinds/move-aside.js';
import { caFacts, judgeCa } from './kinds/renew-certificates.js';
import type { ClusterClient } from '../cluster/client.js';
import { portAnswers } from '../cluster/address.js';
import { hasIntegrityHash, parseSnapshotVersion, snapshotVersionCommand, type SnapshotIntegrity } from '../cluster/snapshot-format.js';
import type { ClusterReport, MemberInfo, MemberState, VerdictResult } from '../cluster/types.js';
import { answeringVoters, isLeader, mayBeElecting, quorumHeld, quorumSize } from '../cluster/verdict.js';
import { listParam } from '../engine/wait-conditions.js';
import type { GuardOutcome } from '../engine/types.js';
import { digestIn, sha256Command, sha256OfStdinCommand } from '../transport/sha256.js';
import type { Transport } from '../transport/types.js';
import { messageOf } from '../util/errors.js';
import { shellQuote } from '../util/shell.js';
import type { ParamValue, RenderedGuard } from './rendered.js';
import { FILE_SHA256, SNAPSHOT_INTEGRITY, type FileVerdict, type FileVerdicts } from './file-verdicts.js';

/**
 * The guards: named checks a step must pass before it may run.
 * Each is a PURE judgement over facts (exported, unit-tested) plus a function
 * that gathers those facts from the live cluster and the nodes. Refusals say
 * exactly what is wrong and what to do, in the operator's words.
 */

export interface GuardMember {
  name: string;
  peerURL: string;
  clientURL: string;
  dataDir?: string;
  /** exit 0 = etcd's service is active (e.g. `systemctl is-active --quiet etcd`) */
  isActiveCommand?: string;
  /** exit 0 = the node's control plane (kube-apiserver) runs, as the runbooks' member.controlPlane.isActive */
  controlPlaneActiveCommand?: string;
}

export interface GuardEnvironment {
  probe(): Promise<ClusterReport>;
  transport(node: string): Transport;
  client: ClusterClient;
  /** the members as the inventory knows them */
  members: GuardMember[];
  /** file checks already made in this run, for files unchanged since (see FileVerdicts) */
  verdicts?: FileVerdicts;
}

export interface Judgement {
  ok: boolean;
  message: string;
}

export type Params = Record<string, ParamValue>;

export interface GuardParam {
  name: string;
  required: boolean;
  description: string;
}

export interface GuardDefinition {
  name: string;
  /** one line: what it checks */
  description: string;
  params: GuardParam[];
  /** gather the facts and judge them; may throw (evaluateGuard turns that into a failure) */
  run(params: Params, env: GuardEnvironment): Promise<Judgement>;
}

class GuardParamError extends Error {}

function define<F>(spec: {
  name: string;
  description: string;
  params?: GuardParam[];
  gather: (params: Params, env: GuardEnvironment) => Promise<F>;
  judge: (facts: F, params: Params) => Judgement;
}): GuardDefinition {
  const params = spec.params ?? [];
  return {
    name: spec.name,
    description: spec.description,
    params,
    async run(given, env) {
      for (const p of params) {
        if (p.required && (given[p.name] === undefined || given[p.name] === '')) {
          throw new GuardParamError(`guard ${spec.name} needs the parameter "${p.name}" (${p.description})`);
        }
      }
      return spec.judge(await spec.gather(given, env), given);
    },
  };
}

const p = (name: string, description: string, required = true): GuardParam => ({ name, description, required });

function str(params: Params, name: string): string {
  const value = params[name];
  return value === undefined ? '' : String(value);
}

// ============================================================================
// Pure judgements
// ============================================================================

/** Guard 1: quorum holds (healthy, minority lost, or an alarm). */
export function judgeQuorumHeld(verdict: VerdictResult): Judgement {
  const counts = `${verdict.healthyVoting} of ${verdict.votingMembers} voting members healthy, quorum needs ${verdict.quorumSize}`;
  if (quorumHeld(verdict.verdict)) return { ok: true, message: `quorum held: ${counts}` };
  if (verdict.verdict === 'split-brain') return { ok: false, message: `split brain, not one cluster: ${verdict.summary}` };
  if (verdict.verdict === 'unreachable') return { ok: false, message: `no member answers: ${verdict.summary}` };
  return { ok: false, message: `quorum lost: ${counts}; use the restore path, never member replacement` };
}

/**
 * split-brain's own first guard: the members do not form one cluster now
 * (more than one cluster ID, more than one leader in one raft term, or one
 * member's identity on several endpoints: the split-brain verdict). The
 * runbook stops every apiserver and restores every member from one
 * snapshot; on a cluster that is whole, that is an outage and a rewind.
 */
export function judgeSplitBrainNow(verdict: VerdictResult): Judgement {
  if (verdict.verdict === 'split-brain') return { ok: true, message: `split brain: ${verdict.evidence.join('; ')}` };
  const ids = verdict.clusterIds.length === 1 ? `one cluster ID ${verdict.clusterIds[0]}` : `${verdict.clusterIds.length} cluster IDs`;
  return {
    ok: false,
    message: `refusing: the members are not split (${ids}, at most one leader per raft term; the cluster is ${verdict.verdict}: ${verdict.summary}): there is nothing for split-brain to repair, and its steps would stop every apiserver and restore every member from a snapshot`,
  };
}

/** Whether each master's control plane (kube-apiserver…) runs: undefined where it cannot be told. */
export interface ControlPlaneFacts {
  member: string;
  active?: boolean;
}

/**
 * The restore path only where it cannot make things worse (the other side
 * of "quorum lost means restore, never member replacement"). restore-quorum stops every apiserver and every
 * member and rebuilds the cluster: on a cluster that holds quorum, or may be
 * electing a leader (mayBeElecting), and still serves Kubernetes, that is an
 * outage replace-member would not cause, and a snapshot file given rewinds
 * the keyspace. Where the control plane is already down on every master (a
 * restore cut short and run again) there is nothing left to make worse. No
 * member answering at all passes: nothing says the quorum is held. Like the
 * runbook's own stop/start-control-plane steps, this takes the members for
 * stacked masters (kubeadm's default, kubeasz): where etcd runs on hosts of
 * its own, no control plane is seen on them, and a cluster that holds
 * quorum passes.
 */
export function judgeQuorumLost(verdict: VerdictResult, controlPlanes: ControlPlaneFacts[] = []): Judgement {
  if (verdict.verdict === 'split-brain') return { ok: false, message: `split brain, not one cluster: ${verdict.summary}; use the split-brain runbook` };
  if (!mayBeServing(verdict)) {
    return { ok: true, message: verdict.verdict === 'unreachable' ? `no member answers: ${verdict.summary}` : `quorum lost: ${quorumCounts(verdict)}` };
  }
  const state = verdict.verdict === 'quorum-lost'
    ? `no leader, but ${answeringVoters(verdict)} of ${verdict.votingMembers} voting members answer: an election may be in progress`
    : `quorum held (${quorumCounts(verdict)})`;
  const running = controlPlanes.filter((c) => c.active === true).map((c) => c.member);
  const unknown = controlPlanes.filter((c) => c.active === undefined).map((c) => c.member);
  if (running.length === 0 && unknown.length === 0 && controlPlanes.length > 0) {
    return { ok: true, message: `${state}, but the control plane runs on no master (a restore cut short?): restoring again stops nothing that serves` };
  }
  const serving = [
    ...(running.length > 0 ? [`the control plane runs on ${running.join(', ')}`] : []),
    ...(unknown.length > 0 ? [`whether the control plane runs on ${unknown.join(', ')} cannot be told (no isActive command)`] : []),
  ].join('; ');
  const advice = verdict.verdict === 'quorum-lost' ? 'r checks again in a moment' : 'a restore would stop a serving cluster; a lost minority is replaced with replace-member';
  return { ok: false, message: `${state} and ${serving || 'no master is known'}: ${advice}` };
}

/** The cluster may still serve: quorum held, or a quorum answers and may be electing a leader. */
function mayBeServing(verdict: VerdictResult): boolean {
  return quorumHeld(verdict.verdict) || mayBeElecting(verdict);
}

function quorumCounts(verdict: VerdictResult): string {
  return `${verdict.healthyVoting} of ${verdict.votingMembers} voting members healthy, quorum needs ${verdict.quorumSize}`;
}

export type MembershipChange = 'remove' | 'stop' | 'add';

export interface QuorumChangeFacts {
  members: MemberState[];
  /** member name or hex ID; for 'add', the name of the member to add */
  target: string;
  change: MembershipChange;
  /** 'add' only: the member joins as a learner */
  learner?: boolean;
  /** 'remove' only: members removed in the same step (names or hex IDs); the whole removal is judged */
  also?: string[];
  /** the endpoint this tool talks through, when known */
  talkingThrough?: string;
}

/**
 * Guard 4: after removing (or stopping, or adding) a member, the started
 * healthy voting members must still reach the quorum of the configuration
 * that results. Never removes the last healthy member; says so when the
 * member is the one this tool talks through.
 */
export function judgeQuorumChange(facts: QuorumChangeFacts): Judgement {
  const { members, change } = facts;
  const voting = members.filter((m) => !m.isLearner);
  const healthyVoting = voting.filter((m) => m.healthy);
  const verb = change === 'remove' ? 'remove' : change === 'stop' ? 'stop' : 'add';

  if (change === 'add') {
    if (facts.learner) return { ok: true, message: `adding ${facts.target} as a learner leaves the quorum as it is (${healthyVoting.length} of ${voting.length} voting members started)` };
    const after = voting.length + 1;
    const need = quorumSize(after);
    if (healthyVoting.length < need) {
      return {
        ok: false,
        message: `refusing to add ${facts.target} as a voting member: ${healthyVoting.length} of ${after} voting members would be started until it joins, quorum of the new ${after}-member configuration needs ${need} (remove the failed member first, or add it as a learner)`,
      };
    }
    return { ok: true, message: `adding ${facts.target}: ${healthyVoting.length} started of the new ${after}-member configuration, quorum needs ${need}` };
  }

  if (change === 'remove' && (facts.also ?? []).length > 0) return judgeRemoval(facts);
  const target = findState(members, facts.target);
  if (!target) {
    // a removal already done (an earlier run removed it): nothing to remove, the quorum stays as it is
    if (change === 'remove' && members.length > 0) return { ok: true, message: `${facts.target} is not in the member list (${members.map((m) => m.name).join(', ')}): already removed, the quorum stays as it is` };
    // stopping a member the list no longer holds (added back by its own run) counts toward no quorum
    if (change === 'stop' && members.length > 0) return { ok: true, message: `${facts.target} is not in the member list (${members.map((m) => m.name).join(', ')}): stopping it leaves the quorum as it is` };
    return { ok: false, message: `refusing to ${verb} ${facts.target}: no such member in the member list (${members.map((m) => m.name).join(', ') || 'empty'})` };
  }
  const label = `${target.name}${target.id ? ` (${target.id})` : ''}`;
  const note =
    facts.talkingThrough !== undefined && target.endpoint !== undefined && sameUrl(target.endpoint, facts.talkingThrough)
      ? `; note: ${target.name} is the member this tool talks through, later calls will go through another member`
      : '';

  if (target.isLearner) return { ok: true, message: `${label} is a learner: ${verb === 'remove' ? 'removing' : 'stopping'} it does not change the quorum${note}` };

  const remainingHealthy = healthyVoting.filter((m) => m !== target).length;
  if (target.healthy && remainingHealthy === 0) {
    return { ok: false, message: `refusing to ${verb} ${label}: it is the last healthy voting member` };
  }
  const after = change === 'remove' ? voting.length - 1 : voting.length;
  if (after === 0) return { ok: false, message: `refusing to remove ${label}: it is the only voting member` };
  const need = quorumSize(after);
  if (remainingHealthy < need) {
    const config = change === 'remove' ? `the new ${after}-member configuration` : `the ${after}-member configuration`;
    return {
      ok: false,
      message: `refusing to ${verb} ${label}: ${remainingHealthy} of ${voting.length} voting members would remain started, quorum of ${config} needs ${need}`,
    };
  }
  const state = target.healthy ? 'healthy' : target.unstarted ? 'never started' : 'not healthy';
  return {
    ok: true,
    message: `${verb === 'remove' ? 'removing' : 'stopping'} ${label} (${state}) leaves ${remainingHealthy} started voting members, quorum of ${change === 'remove' ? 'the new ' : 'the '}${after}-member configuration needs ${need}${note}`,
  };
}

/**
 * Several members removed in one step (the one being replaced and the other
 * voting members that are down): the started voting members left must reach
 * the quorum of the configuration without all of them. Members already
 * absent count as removed; the last healthy voting member is never removed.
 */
function judgeRemoval(facts: QuorumChangeFacts): Judgement {
  const { members } = facts;
  const names = [...new Set([facts.target, ...(facts.also ?? [])])];
  const found = names.map((name) => ({ name, state: findState(members, name) }));
  const removed = found.flatMap((f) => (f.state ? [f.state] : []));
  const absent = found.filter((f) => !f.state).map((f) => f.name);
  const voting = members.filter((m) => !m.isLearner);
  const remaining = voting.filter((m) => !removed.includes(m));
  const remainingHealthy = remaining.filter((m) => m.healthy).length;
  const describe = (m: MemberState) => `${m.name}${m.id ? ` (${m.id})` : ''} (${m.isLearner ? 'learner' : m.healthy ? 'healthy' : m.unstarted ? 'never started' : 'not healthy'})`;
  const what = removed.map(describe).join(', ');
  const gone = absent.length > 0 ? `; ${absent.join(', ')} ${absent.length === 1 ? 'is' : 'are'} not in the member list: already removed` : '';
  if (removed.length === 0) return { ok: true, message: `${absent.join(', ')} ${absent.length === 1 ? 'is' : 'are'} not in the member list: already removed, the quorum stays as it is` };
  if (remaining.length === 0) return { ok: false, message: `refusing to remove ${what}: no voting member would remain` };
  if (remainingHealthy === 0) return { ok: false, message: `refusing to remove ${what}: no healthy voting member would remain` };
  const need = quorumSize(remaining.length);
  const note =
    facts.talkingThrough !== undefined && removed.some((m) => m.endpoint !== undefined && sameUrl(m.endpoint, facts.talkingThrough as string))
      ? '; note: this tool talks through one of them, later calls will go through another member'
      : '';
  if (remainingHealthy < need) {
    return {
      ok: false,
      message: `refusing to remove ${what}: ${remainingHealthy} of ${voting.length} voting members would remain started, quorum of the new ${remaining.length}-member configuration needs ${need}${gone}`,
    };
  }
  return { ok: true, message: `removing ${what} leaves ${remainingHealthy} started voting members, quorum of the new ${remaining.length}-member configuration needs ${need}${gone}${note}` };
}

function findState(members: MemberState[], member: string): MemberState | undefined {
  const key = member.toLowerCase();
  return members.find((m) => m.name === member || m.id === key);
}

export interface AddFacts {
  members: MemberInfo[];
  name: string;
  peerURL: string;
}

/**
 * Guard 15, idempotent add. PASSES when the peer URL is absent (it will be
 * added) and ALSO when it is present as an unstarted member or as the member
 * with this very name: the add action returns that member instead of adding
 * it twice, so re-running a step after a crash must not be blocked. It FAILS
 * only on a conflict the add cannot resolve: the peer URL belongs to a member
 * with another name, or the name is still taken by a member with another
 * peer URL (the failed member was not removed first: guard 3).
 */
export function judgeMemberAlreadyPresent(facts: AddFacts): Judgement {
  const byPeer = facts.members.find((m) => m.peerURLs.some((u) => sameUrl(u, facts.peerURL)));
  const byName = facts.members.find((m) => m.name !== '' && m.name === facts.name);
  if (byName && (!byPeer || byPeer !== byName)) {
    return {
      ok: false,
      message: `refusing to add ${facts.name} at ${facts.peerURL}: member ${byName.name} (${byName.id}) is still in the member list with peer URL ${byName.peerURLs.join(',')}: remove it first (replace = remove, then add)`,
    };
  }
  if (byPeer && byPeer.name !== '' && byPeer.name !== facts.name) {
    return {
      ok: false,
      message: `refusing to add ${facts.name}: peer URL ${facts.peerURL} belongs to member ${byPeer.name} (${byPeer.id})`,
    };
  }
  if (byPeer) {
    const state = byPeer.name === '' ? 'added but not started yet' : 'started';
    return {
      ok: true,
      message: `${facts.name} is already in the member list as ${byPeer.id} (${byPeer.isLearner ? 'learner' : 'voting'}, ${state}): the add will reuse it, not add it twice`,
    };
  }
  return { ok: true, message: `${facts.name} (${facts.peerURL}) is not in the member list: it will be added` };
}

/** The member (by name, hex ID or peer URL) is not in the member list. */
export function judgeMemberAbsent(members: MemberInfo[], member: string, peerURL: string): Judgement {
  const key = member.toLowerCase();
  const found = members.find(
    (m) => (member !== '' && (m.name === member || m.id === key)) || (peerURL !== '' && m.peerURLs.some((u) => sameUrl(u, peerURL))),
  );
  const what = [member, peerURL].filter((s) => s !== '').join(' / ');
  if (found) return { ok: false, message: `${what} is still in the member list as ${found.name || '(unstarted)'} ${found.id} (${found.peerURLs.join(',')})` };
  return { ok: true, message: `${what} is not in the member list` };
}

export interface DirFacts {
  node: string;
  path: string;
  kind: 'missing' | 'directory' | 'file' | 'symlink' | 'other';
  /** directory entries, when a directory */
  entries: string[];
}

/** Guards 7 and 12: a joining member's / a restore's data dir must be empty or missing. */
export function judgeDataDirEmpty(facts: DirFacts): Judgement {
  const where = `${facts.path} on ${facts.node}`;
  if (facts.kind === 'missing') return { ok: true, message: `data dir ${where} does not exist (etcd will create it)` };
  if (facts.kind !== 'directory') return { ok: false, message: `refusing: data dir ${where} is a ${facts.kind}, not a directory: move it aside` };
  if (facts.entries.length === 0) return { ok: true, message: `data dir ${where} is empty` };
  // a mount point's old contents, moved aside inside it (kinds/move-aside.ts): etcd looks only for member/
  if (facts.entries.every((e) => ASIDE_ENTRY.test(e))) return { ok: true, message: `data dir ${where} holds only earlier data moved aside (${facts.entries.join(', ')}): empty for etcd` };
  const shown = facts.entries.slice(0, 4).join(', ') + (facts.entries.length > 4 ? `, … (${facts.entries.length} entries)` : '');
  return {
    ok: false,
    message: `refusing: data dir ${where} is not empty (${shown}): move it aside with a timestamp (mv ${shellQuote(facts.path)} ${shellQuote(`${facts.path}.old-$(date +%s)`)}), never delete it`,
  };
}

/** `snapshot restore` wants a data dir that does not exist yet. */
export function judgeDataDirAbsent(facts: DirFacts): Judgement {
  const where = `${facts.path} on ${facts.node}`;
  if (facts.kind === 'missing') return { ok: true, message: `${where} does not exist: the restore may create it` };
  return { ok: false, message: `refusing: ${where} already exists (${facts.kind}${facts.kind === 'directory' ? `, ${facts.entries.length} entries` : ''}): move it aside with a timestamp first, never delete it` };
}

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
  /** found earlier in this run; the file is unchanged since (FileVerdicts) */
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
  /** hashed earlier in this run; the file is unchanged since (FileVerdicts) */
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

export interface RunningFacts {
  member: string;
  clientAnswers: boolean;
  peerAnswers: boolean;
  /** undefined when no isActive command is known for the node */
  serviceActive?: boolean;
  clientAddress: string;
  peerAddress: string;
  isActiveCommand?: string;
}

/** Guard 13: every old member is down (ports closed, service inactive) before restored members start. */
export function judgeOldMembersStopped(facts: RunningFacts[]): Judgement {
  const running = facts.filter((f) => f.clientAnswers || f.peerAnswers || f.serviceActive === true);
  if (running.length === 0) {
    return { ok: true, message: `${facts.map((f) => f.member).join(', ')} stopped: client and peer ports closed${facts.some((f) => f.serviceActive === false) ? ', services inactive' : ''}` };
  }
  const lines = running.map((f) => {
    const why = [
      f.clientAnswers ? `client port ${f.clientAddress} answers` : '',
      f.peerAnswers ? `peer port ${f.peerAddress} answers` : '',
      f.serviceActive ? `\`${f.isActiveCommand ?? 'is-active'}\` says active` : '',
    ].filter((s) => s !== '');
    return `${f.member} (${why.join(', ')})`;
  });
  return {
    ok: false,
    message: `refusing: ${running.length === 1 ? 'an old member is' : `${running.length} old members are`} still running: ${lines.join('; ')}; stop ${running.length === 1 ? 'it' : 'them'} first, or the restored members meet a cluster ID mismatch`,
  };
}

/** Guard 14 (first half): one cluster ID across every reachable member. */
export function judgeSingleClusterId(report: ClusterReport): Judgement {
  const reachable = report.endpoints.filter((e) => e.reachable);
  if (reachable.length === 0) return { ok: false, message: 'no member answers: no cluster ID to check' };
  const ids = new Map<string, string[]>();
  for (const e of reachable) ids.set(e.clusterId ?? '?', [...(ids.get(e.clusterId ?? '?') ?? []), e.name ?? e.expectedName ?? e.endpoint]);
  if (ids.size === 1) return { ok: true, message: `one cluster ID ${[...ids.keys()][0]} across ${reachable.length} reachable members` };
  return { ok: false, message: `${ids.size} cluster IDs: ${[...ids].map(([id, names]) => `${id} (${names.join(', ')})`).join('; ')}: members were restored or started as separate clusters` };
}

/** Guard 14 (second half): exactly one leader, known by every reachable member. */
export function judgeSingleLeader(report: ClusterReport): Judgement {
  const reachable = report.endpoints.filter((e) => e.reachable);
  if (reachable.length === 0) return { ok: false, message: 'no member answers: no leader to check' };
  const leaders = new Map<string, string[]>();
  const leaderless: string[] = [];
  for (const e of reachable) {
    const name = e.name ?? e.expectedName ?? e.endpoint;
    if (e.leaderId === undefined) leaderless.push(name);
    else leaders.set(e.leaderId, [...(leaders.get(e.leaderId) ?? []), name]);
  }
  if (leaders.size > 1) {
    return { ok: false, message: `${leaders.size} leaders: ${[...leaders].map(([id, names]) => `${id} (seen by ${names.join(', ')})`).join('; ')}: each member is its own cluster (restored alone?)` };
  }
  if (leaderless.length > 0) return { ok: false, message: `no leader known by ${leaderless.join(', ')}` };
  return { ok: true, message: `one leader ${[...leaders.keys()][0]} seen by all ${reachable.length} reachable members` };
}

/**
 * Before a member is removed to be added back: every other voting member
 * is healthy, or is removed in the same step (`also`). etcd (strict reconfig
 * check, on by default) refuses `member add` while any voting member is
 * unreachable, so with another voter down and kept the removed member could
 * not come back and the cluster would be left a member short. A healthy
 * member in `also` is refused: this removes only members that are down; so
 * is `also` with a healthy member being replaced.
 */
export function judgeOtherVotersHealthy(members: MemberState[], member: string, also: string[] = []): Judgement {
  const removed = [member, ...also].map((name) => findState(members, name));
  const self = removed[0];
  if (also.length > 0 && self?.healthy && !self.isLearner) {
    return {
      ok: false,
      message: `refusing: ${member} is healthy: removing it together with ${also.join(', ')} would shrink the cluster to its healthy rest; replace the members that are down first (one run each), then ${member}`,
    };
  }
  const healthyRemoved = also.map((name) => findState(members, name)).filter((m): m is MemberState => m !== undefined && m.healthy && !m.isLearner);
  if (healthyRemoved.length > 0) {
    const them = healthyRemoved.map((m) => m.name || m.id || '(unnamed)').join(', ');
    return {
      ok: false,
      message: `refusing: ${them} ${healthyRemoved.length === 1 ? 'is' : 'are'} healthy: only voting members that are down are removed along with ${member} (leave ${healthyRemoved.length === 1 ? 'it' : 'them'} out of alsoRemove)`,
    };
  }
  const others = members.filter((m) => !m.isLearner && !removed.includes(m));
  const down = others.filter((m) => !m.healthy).map((m) => m.name || m.id || '(unnamed)');
  const alsoDone = also.length > 0 ? `; ${also.join(', ')} ${also.length === 1 ? 'is' : 'are'} down and removed in the same step` : '';
  if (down.length === 0) return { ok: true, message: `every other voting member is healthy (${others.length})${alsoDone}` };
  const them = down.join(', ');
  return {
    ok: false,
    message:
      `${them} ${down.length === 1 ? 'is' : 'are'} down too: etcd refuses to add a member while any voting member is unreachable, ` +
      `so ${member} would be removed and could not be added back: start ${them} again if ${down.length === 1 ? 'its' : 'their'} data is intact, ` +
      `or remove ${down.length === 1 ? 'it' : 'them'} in the same step (--set alsoRemove=${[...also, ...down].join(',')}) and add ${down.length === 1 ? 'it' : 'them'} back with ${down.length === 1 ? 'its' : 'their'} own run afterwards`,
  };
}

/** Guard 5: no learner is joining right now. */
export function judgeOneLearnerAtATime(members: MemberInfo[]): Judgement {
  const learners = members.filter((m) => m.isLearner);
  if (learners.length === 0) return { ok: true, message: 'no learner in the member list' };
  const names = learners.map((m) => `${m.name || '(unstarted)'} ${m.id}`).join(', ');
  return { ok: false, message: `refusing: learner ${names} is still joining: promote it (or remove it) before adding another member` };
}

/** Guard 8: members left unstarted by a failed add; `except` is the peer URL the next step will start. */
export function judgeNoUnstartedMembers(members: MemberInfo[], except: string[] = []): Judgement {
  const unstarted = members.filter((m) => m.name === '' && m.clientURLs.length === 0 && !m.peerURLs.some((u) => except.some((e) => sameUrl(u, e))));
  if (unstarted.length === 0) return { ok: true, message: 'every member in the list has started' };
  const what = unstarted.map((m) => `${m.id} (${m.peerURLs.join(',')})`).join(', ');
  const remove = unstarted.map((m) => `etcdctl member remove ${m.id}`).join('; ');
  return { ok: false, message: `${unstarted.length === 1 ? 'a member was' : `${unstarted.length} members were`} added but never started: ${what}: start ${unstarted.length === 1 ? 'it' : 'them'} or remove (${remove})` };
}

export interface VersionFacts {
  node: string;
  etcd?: string;
  etcdctl?: string;
  etcdutl?: string;
  /** the etcd version the snapshot was taken with, when known */
  snapshotVersion?: string;
  /** the restore tool the step uses (kinds/snapshot-restore.ts chose it from the servers' version) */
  tool?: RestoreToolName;
  /** the etcd version the servers run */
  serverVersion?: string;
}

/** The chosen tool is on the node, in the servers' major.minor; else what to install. */
function judgeChosenTool(facts: VersionFacts, tool: RestoreToolName, found: string): Judgement | undefined {
  const server = facts.serverVersion ?? facts.etcd ?? facts[tool] ?? '';
  const line = majorMinorText(server);
  const install = `install ${tool} ${line} on ${facts.node} (from the etcd v${line} release tarball, or copy /usr/local/bin/${tool} out of the registry.k8s.io/etcd image of the servers' version)`;
  const have = facts[tool];
  if (have === undefined) return { ok: false, message: `refusing: etcd ${server} restores with ${tool}, which ${facts.node} lacks (${found || 'no etcd tools found'}): ${install}` };
  if (majorMinorText(have) !== line) return { ok: false, message: `refusing: ${tool} ${have} on ${facts.node} is not the servers' etcd ${server} (major.minor): ${install}` };
  return undefined;
}

export { restoreToolFor, type RestoreTool } from './kinds/snapshot-restore.js';

/** Guard 16 and 17: the restore tool matches the servers and the snapshot (major.minor); kinds/snapshot-restore.ts chooses it. */
export function judgeEtcdVersion(facts: VersionFacts): Judgement {
  const tools = (['etcd', 'etcdctl', 'etcdutl'] as const).filter((t) => facts[t] !== undefined);
  if (facts.tool) {
    const refusal = judgeChosenTool(facts, facts.tool, tools.map((t) => `${t} ${facts[t]}`).join(', '));
    if (refusal) return refusal;
  }
  if (tools.length === 0) return { ok: false, message: `no etcd, etcdctl or etcdutl found on ${facts.node}` };
  const found = tools.map((t) => `${t} ${facts[t]}`).join(', ');
  const lines = new Set(tools.map((t) => majorMinorText(facts[t] ?? '')));
  if (lines.size > 1) return { ok: false, message: `refusing: etcd tools on ${facts.node} disagree on major.minor (${found}): install matching versions` };
  const version = facts.etcd ?? facts.etcdutl ?? facts.etcdctl ?? '';
  if (facts.snapshotVersion && majorMinorText(facts.snapshotVersion) !== majorMinorText(version)) {
    return { ok: false, message: `refusing: the snapshot comes from etcd ${facts.snapshotVersion}, ${facts.node} has ${found}: restore with the same major.minor` };
  }
  if (facts.tool) return { ok: true, message: `${facts.node}: ${found}; restore will use ${facts.tool} snapshot restore` };
  const wanted = restoreToolFor(version);
  if (wanted.tool === 'etcdutl' && facts.etcdutl === undefined) {
    const mm = majorMinor(version);
    if (facts.etcdctl !== undefined && mm?.major === 3 && mm.minor === 5) {
      return { ok: true, message: `${facts.node}: ${found}; restore will use etcdctl snapshot restore (deprecated in 3.5: etcdutl is missing on this node)` };
    }
    return { ok: false, message: `refusing: etcd ${version} restores with etcdutl, which ${facts.node} lacks (${found})` };
  }
  return { ok: true, message: `${facts.node}: ${found}; restore will use ${wanted.command}` };
}

// ============================================================================
// Fact gathering and the registry
// ============================================================================

/**
 * The member list as the leader sees it, the list `member add` and `remove`
 * change: the leader's own in the probe (the same view of the cluster every
 * guard of a step judges, taken with it) or, when the probe found no healthy
 * leader that listed its members, asked through the client.
 */
async function listedMembers(env: GuardEnvironment): Promise<MemberInfo[]> {
  const report = await env.probe();
  const leader = report.endpoints.find((e) => e.healthy && isLeader(e) && e.members !== undefined);
  return leader?.members ?? env.client.memberList();
}

async function memberStatesOf(env: GuardEnvironment): Promise<MemberState[]> {
  return (await env.probe()).verdict.members;
}

async function dirFacts(params: Params, env: GuardEnvironment): Promise<DirFacts> {
  const node = str(params, 'node');
  const path = str(params, 'path') || env.members.find((m) => m.name === node)?.dataDir || '';
  if (!path) throw new GuardParamError(`no data dir path given and none known for ${node}`);
  const transport = env.transport(node);
  const stat = await transport.stat(path);
  if (!stat) return { node, path, kind: 'missing', entries: [] };
  if (stat.type !== 'directory') return { node, path, kind: stat.type, entries: [] };
  const entries = (await transport.readdir(path)).map((e) => e.name).sort();
  return { node, path, kind: 'directory', entries };
}

async function hasCommand(transport: Transport, command: string): Promise<boolean> {
  const result = await transport.exec(`command -v ${shellQuote(command)}`, { timeoutMs: 10_000 });
  return result.exitCode === 0 && result.stdout.trim() !== '';
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
  const status = await statusOf(transport, path);
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
 * `snapshot status` on the node with whichever tool it has — etcdutl where
 * present (etcd 3.5+), else etcdctl — in one round trip: the shell names the
 * tool on the first line, then runs it.
 */
async function statusOf(transport: Transport, path: string): Promise<Omit<SnapshotStatusPart, 'integrity'>> {
  const quoted = shellQuote(path);
  const result = await transport.exec(
    `if command -v etcdutl >/dev/null 2>&1; then echo etcdutl; exec etcdutl snapshot status ${quoted} -w json; ` +
      `elif command -v etcdctl >/dev/null 2>&1; then echo etcdctl; export ETCDCTL_API=3; exec etcdctl snapshot status ${quoted} -w json; ` +
      `else echo none; fi`,
    { timeoutMs: 60_000 },
  );
  const newline = result.stdout.indexOf('\n');
  const named = newline < 0 ? result.stdout.trim() : result.stdout.slice(0, newline).trim();
  const tool = named === 'etcdutl' || named === 'etcdctl' ? named : undefined;
  if (!tool) return { exitCode: null, stdout: '', stderr: '' };
  const stdout = newline < 0 ? '' : result.stdout.slice(newline + 1);
  return { tool, exitCode: result.timedOut ? null : result.exitCode, stdout, stderr: result.timedOut ? 'timed out after 60 s' : result.stderr };
}

/** The check, or what it found for this unchanged file earlier in the run (when the run keeps verdicts). */
function rememberedOr<T>(env: GuardEnvironment, transport: Transport, node: string, what: string, path: string, check: () => Promise<T>, keep: (value: T) => boolean, byContent = false): Promise<FileVerdict<T>> {
  if (!env.verdicts) return check().then((value) => ({ value, remembered: false }));
  return env.verdicts.verdict(transport, node, what, path, check, keep, { byContent });
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

async function controlPlaneFacts(member: GuardMember, env: GuardEnvironment): Promise<ControlPlaneFacts> {
  if (!member.controlPlaneActiveCommand) return { member: member.name };
  const result = await env.transport(member.name).exec(member.controlPlaneActiveCommand, { timeoutMs: 10_000 });
  return { member: member.name, active: result.exitCode === 0 };
}

async function runningFacts(member: GuardMember, env: GuardEnvironment, isActiveOverride?: string): Promise<RunningFacts> {
  const isActiveCommand = isActiveOverride || member.isActiveCommand;
  const [clientAnswers, peerAnswers, serviceActive] = await Promise.all([
    portAnswers(member.clientURL),
    portAnswers(member.peerURL),
    isActiveCommand
      ? env.transport(member.name).exec(isActiveCommand, { timeoutMs: 10_000 }).then((r) => r.exitCode === 0)
      : Promise.resolve(undefined),
  ]);
  return {
    member: member.name,
    clientAnswers,
    peerAnswers,
    ...(serviceActive !== undefined ? { serviceActive } : {}),
    clientAddress: hostPort(member.clientURL),
    peerAddress: hostPort(member.peerURL),
    ...(isActiveCommand ? { isActiveCommand } : {}),
  };
}

async function versionOf(transport: Transport, command: string): Promise<string | undefined> {
  if (!(await hasCommand(transport, command))) return undefined;
  const result = await transport.exec(command === 'etcd' ? 'etcd --version' : `${command} version`, { timeoutMs: 10_000 });
  const match = /(?:etcd Version|etcdctl version|etcdutl version|version)[:\s]+v?(\d+\.\d+\.\d+\S*)/i.exec(result.stdout);
  return match?.[1];
}

function membersParam(params: Params, env: GuardEnvironment): GuardMember[] {
  const names = listParam(params.nodes ?? params.members);
  if (names.length === 0) return env.members;
  return names.map((name) => {
    const member = env.members.find((m) => m.name === name);
    if (!member) throw new GuardParamError(`no member named ${name} in the inventory (${env.members.map((m) => m.name).join(', ')})`);
    return member;
  });
}

export const GUARDS = {
  'quorum-held': define({
    name: 'quorum-held',
    description: 'a quorum of voting members is healthy',
    gather: async (_params, env) => (await env.probe()).verdict,
    judge: (verdict) => judgeQuorumHeld(verdict),
  }),
  'split-brain-now': define({
    name: 'split-brain-now',
    description: 'the members do not form one cluster now: more than one cluster ID, or more than one leader in one raft term',
    gather: async (_params, env) => (await env.probe()).verdict,
    judge: (verdict) => judgeSplitBrainNow(verdict),
  }),
  'quorum-lost': define({
    name: 'quorum-lost',
    description: 'quorum is lost (not a leader election in progress), or no master runs its control plane any more: a restore stops nothing that serves',
    gather: async (_params, env) => {
      const { verdict } = await env.probe();
      // the nodes are asked only when the cluster may still serve
      if (verdict.verdict === 'split-brain' || !mayBeServing(verdict)) return { verdict, controlPlanes: [] };
      return { verdict, controlPlanes: await Promise.all(env.members.map((m) => controlPlaneFacts(m, env))) };
    },
    judge: ({ verdict, controlPlanes }) => judgeQuorumLost(verdict, controlPlanes),
  }),
  'would-lose-quorum': define({
    name: 'would-lose-quorum',
    description: 'removing/stopping (or adding) the member keeps started voting members ≥ quorum of the new configuration',
    params: [
      p('member', 'member name or hex ID (for change=add: the new member\'s name)'),
      p('change', 'remove (default), stop or add', false),
      p('learner', 'change=add: joins as a learner', false),
      p('also', 'change=remove: other members removed in the same step (comma-separated); the whole removal is judged', false),
    ],
    gather: async (params, env) => ({ members: await memberStatesOf(env), talkingThrough: env.client.currentEndpoint() }),
    judge: (facts, params) =>
      judgeQuorumChange({
        members: facts.members,
        target: str(params, 'member'),
        change: (str(params, 'change') || 'remove') as MembershipChange,
        learner: params.learner === true || params.learner === 'true',
        also: listParam(params.also),
        ...(facts.talkingThrough !== undefined ? { talkingThrough: facts.talkingThrough } : {}),
      }),
  }),
  'member-already-present': define({
    name: 'member-already-present',
    description: 'adding the member is safe to repeat: present by peer URL is reused, a conflicting name or URL refuses',
    params: [p('name', 'the new member\'s name'), p('peerURL', 'its peer URL')],
    gather: async (_params, env) => listedMembers(env),
    judge: (members, params) => judgeMemberAlreadyPresent({ members, name: str(params, 'name'), peerURL: str(params, 'peerURL') }),
  }),
  'member-absent': define({
    name: 'member-absent',
    description: 'the member is not in the member list',
    params: [p('member', 'member name or hex ID', false), p('peerURL', 'its peer URL', false), p('also', 'more members (names or hex IDs, comma-separated) that must be gone too', false)],
    gather: async (params, env) => {
      if (!str(params, 'member') && !str(params, 'peerURL')) throw new GuardParamError('guard member-absent needs "member" or "peerURL"');
      return listedMembers(env);
    },
    judge: (members, params) => {
      const judged = [judgeMemberAbsent(members, str(params, 'member'), str(params, 'peerURL')), ...listParam(params.also).map((name) => judgeMemberAbsent(members, name, ''))];
      const failed = judged.filter((j) => !j.ok);
      return { ok: failed.length === 0, message: (failed.length > 0 ? failed : judged).map((j) => j.message).join('; ') };
    },
  }),
  'data-dir-empty': define({
    name: 'data-dir-empty',
    description: 'the data dir is empty or missing',
    params: [p('node', 'the node'), p('path', 'the data dir (default: the inventory\'s)', false)],
    gather: dirFacts,
    judge: (facts) => judgeDataDirEmpty(facts),
  }),
  'data-dir-absent': define({
    name: 'data-dir-absent',
    description: 'nothing exists at the data dir path yet',
    params: [p('node', 'the node'), p('path', 'the data dir (default: the inventory\'s)', false)],
    gather: dirFacts,
    judge: (facts) => judgeDataDirAbsent(facts),
  }),
  'can-move-aside': define({
    name: 'can-move-aside',
    description: 'the dir can be moved aside: nothing is at its .old-<timestamp> name yet; a mount point has its contents moved instead',
    params: [p('node', 'the node'), p('path', 'the dir'), p('aside', 'where it moves (<path>.old-<timestamp>)'), p('asideInside', 'where a mount point\'s contents move (<path>/.old-<timestamp>)')],
    gather: async (params, env) => moveAsideFacts(env.transport(str(params, 'node')), { path: str(params, 'path'), aside: str(params, 'aside'), asideInside: str(params, 'asideInside') }),
    judge: (facts) => {
      const { action, message } = decideMoveAside(facts);
      return { ok: action.kind !== 'refuse', message };
    },
  }),
  'ca-present': define({
    name: 'ca-present',
    description: 'the CA certificate and key that sign the renewed certificates are on the master',
    params: [p('node', 'the master holding the CA'), p('cert', 'the CA certificate there'), p('key', 'the CA key there')],
    gather: async (params, env) => caFacts(env.transport(str(params, 'node')), { cert: str(params, 'cert'), key: str(params, 'key') }),
    judge: (facts) => judgeCa(facts),
  }),
  'snapshot-verified': define({
    name: 'snapshot-verified',
    description: '`snapshot status` accepts the snapshot (etcdutl when present, else etcdctl), its appended sha256 matches, and it was taken with the servers\' etcd major.minor (when given)',
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
  'old-members-stopped': define({
    name: 'old-members-stopped',
    description: 'every listed member\'s client and peer ports are closed and its service inactive',
    params: [
      p('nodes', 'comma-separated members (default: every member)', false),
      p('isActive', 'command whose exit 0 means etcd is active', false),
      p('service', 'false: judge by the client and peer ports alone (a dead member whose service is still enabled, e.g. a killed static pod, is parked next)', false),
    ],
    gather: async (params, env) => {
      const portsOnly = params.service === false || params.service === 'false';
      return Promise.all(membersParam(params, env).map((m) => runningFacts(portsOnly ? { name: m.name, peerURL: m.peerURL, clientURL: m.clientURL } : m, env, portsOnly ? undefined : str(params, 'isActive') || undefined)));
    },
    judge: (facts) => judgeOldMembersStopped(facts),
  }),
  'single-cluster-id': define({
    name: 'single-cluster-id',
    description: 'every reachable member reports the same cluster ID',
    gather: async (_params, env) => env.probe(),
    judge: (report) => judgeSingleClusterId(report),
  }),
  'single-leader': define({
    name: 'single-leader',
    description: 'exactly one leader, known by every reachable member',
    gather: async (_params, env) => env.probe(),
    judge: (report) => judgeSingleLeader(report),
  }),
  'other-voters-healthy': define({
    name: 'other-voters-healthy',
    description: 'every voting member but the one being replaced (and those removed with it) is healthy (etcd refuses member add while a voter is unreachable)',
    params: [p('member', 'the member being replaced'), p('also', 'the voting members that are down and removed in the same step (comma-separated)', false)],
    gather: async (_params, env) => (await env.probe()).verdict.members,
    judge: (members, params) => judgeOtherVotersHealthy(members, str(params, 'member'), listParam(params.also)),
  }),
  'one-learner-at-a-time': define({
    name: 'one-learner-at-a-time',
    description: 'no learner is in the member list',
    gather: async (_params, env) => listedMembers(env),
    judge: (members) => judgeOneLearnerAtATime(members),
  }),
  'no-unstarted-members': define({
    name: 'no-unstarted-members',
    description: 'no member was added and never started',
    params: [p('except', 'peer URL(s) of a member about to be started', false)],
    gather: async (_params, env) => listedMembers(env),
    judge: (members, params) => judgeNoUnstartedMembers(members, listParam(params.except)),
  }),
  'etcd-version-matches': define({
    name: 'etcd-version-matches',
    description: 'etcd, etcdctl and etcdutl on the node agree on major.minor (and with the snapshot); the restore tool the step chose is there, in the servers\' major.minor',
    params: [
      p('node', 'the node'),
      p('snapshotVersion', 'the etcd version the snapshot came from', false),
      p('tool', 'the restore tool the step uses (etcdutl or etcdctl): it must be on the node', false),
      p('serverVersion', 'the etcd version the servers run', false),
      p('toolPath', 'the command the step runs the tool as (the inventory\'s node.paths.etcdutl/etcdctl)', false),
    ],
    gather: async (params, env): Promise<VersionFacts> => {
      const node = str(params, 'node');
      const transport = env.transport(node);
      const toolPath = str(params, 'toolPath');
      const command = (tool: string) => (toolPath && str(params, 'tool') === tool ? toolPath : tool);
      const [etcd, etcdctl, etcdutl] = await Promise.all([versionOf(transport, 'etcd'), versionOf(transport, command('etcdctl')), versionOf(transport, command('etcdutl'))]);
      const snapshotVersion = str(params, 'snapshotVersion');
      const tool = str(params, 'tool');
      const serverVersion = str(params, 'serverVersion');
      return {
        node,
        ...(tool === 'etcdutl' || tool === 'etcdctl' ? { tool } : {}),
        ...(serverVersion ? { serverVersion } : {}),
        ...(etcd ? { etcd } : {}),
        ...(etcdctl ? { etcdctl } : {}),
        ...(etcdutl ? { etcdutl } : {}),
        ...(snapshotVersion ? { snapshotVersion } : {}),
      };
    },
    judge: (facts) => judgeEtcdVersion(facts),
  }),
} satisfies Record<string, GuardDefinition>;

export type GuardName = keyof typeof GUARDS;
export const GUARD_NAMES = Object.keys(GUARDS) as GuardName[];

export function isGuardName(name: string): name is GuardName {
  return Object.hasOwn(GUARDS, name);
}

/**
 * Evaluate one rendered guard against the live cluster. Never throws: an
 * unknown guard, a missing parameter or a failure to gather the facts is a
 * failed guard with the reason. A runbook's own message replaces the guard's
 * on failure; the guard's reason is kept after it.
 */
export async function evaluateGuard(guard: RenderedGuard, env: GuardEnvironment): Promise<GuardOutcome> {
  const outcome = (ok: boolean, message: string): GuardOutcome => ({
    check: guard.check,
    ok,
    message: !ok && guard.message ? `${guard.message} (${message})` : message,
    overridable: guard.overridable,
  });
  if (!isGuardName(guard.check)) return outcome(false, `unknown guard "${guard.check}" (known: ${GUARD_NAMES.join(', ')})`);
  try {
    const judgement = await GUARDS[guard.check].run(guard.params, env);
    return outcome(judgement.ok, judgement.message);
  } catch (err) {
    const prefix = err instanceof GuardParamError ? '' : 'could not check: ';
    return outcome(false, `${prefix}${messageOf(err)}`);
  }
}

// ---- helpers ------------------------------------------------------------------

function firstLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  // etcd tools print the error last; prefer a line that says "Error"
  return (lines.find((l) => /error/i.test(l)) ?? lines[0] ?? '').slice(0, 300);
}

function hostPort(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}
