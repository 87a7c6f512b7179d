import type { ClusterReport, MemberState, VerdictResult } from '../../cluster/types.js';
import { answeringVoters, mayBeElecting, quorumHeld, quorumSize } from '../../cluster/verdict.js';
import { listParam } from '../../engine/wait-conditions.js';
import { type Judgement, type GuardDefinition, define, p, str, memberStatesOf, sameUrl, findState } from './common.js';
import { controlPlaneFacts } from './processes.js';

/**
 * Guards on quorum and the cluster's shape: quorum held or lost, split
 * brain now, whether a membership change keeps quorum, one cluster ID, one leader.
 */

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


export const QUORUM_GUARDS = {
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
} satisfies Record<string, GuardDefinition>;
