import type { ClusterReport, EndpointProbe, MemberState } from '../cluster/types.js';
import { isLeader, quorumHeld } from '../cluster/verdict.js';
import { OVERRIDE_APPLIES_TO_FLAG } from '../runbook/preconditions.js';
import type { ParamValue } from '../runbook/rendered.js';
import type { WaitCondition } from '../runbook/schema.js';

/**
 * What a `wait` step polls for, as pure functions of one probe
 * report. The runner probes, asks `conditionMet`, shows the detail when it
 * changes, and stops at met or the step's timeout.
 */
export interface ConditionResult {
  met: boolean;
  /** one line: where things stand */
  detail: string;
}

/** How far (raft entries) a learner may trail the leader and still count as in sync. */
export const DEFAULT_MAX_LAG = 100;

/** What a condition needs beyond the probe report (gathered by the runner only where one asks). */
export interface WaitFacts {
  /** members-stopped: the listed members whose peer port still accepts a connection */
  peerListening?: string[];
}

export function conditionMet(until: WaitCondition, params: Record<string, ParamValue>, report: ClusterReport, facts: WaitFacts = {}): ConditionResult {
  switch (until) {
    case 'cluster-healthy':
      return clusterHealthy(report);
    case 'member-healthy':
      return memberHealthy(report, requireParam(params, 'member', until));
    case 'member-in-sync':
      return memberInSync(report, requireParam(params, 'member', until), Number(params.maxLag ?? DEFAULT_MAX_LAG));
    case 'member-rejoined':
      return memberRejoined(report, requireParam(params, 'member', until), listParam(params.removed));
    case 'quorum':
      return quorum(report);
    case 'single-cluster-id':
      return singleClusterId(report);
    case 'members-stopped':
      return membersStopped(report, listParam(params.members), facts.peerListening ?? []);
  }
}

function clusterHealthy(report: ClusterReport): ConditionResult {
  const { verdict } = report;
  return { met: verdict.verdict === 'healthy', detail: `${verdict.verdict}: ${verdict.summary}` };
}

function quorum(report: ClusterReport): ConditionResult {
  const v = report.verdict;
  const met = quorumHeld(v.verdict);
  return { met, detail: `${v.healthyVoting} of ${v.votingMembers} voting members healthy, quorum needs ${v.quorumSize}${met ? '' : ` (${v.verdict})`}` };
}

function memberHealthy(report: ClusterReport, member: string): ConditionResult {
  const state = findMember(report, member);
  if (!state) return { met: false, detail: `${member} is not in the member list yet` };
  if (state.healthy) return { met: true, detail: `${state.name} is healthy` };
  return { met: false, detail: `${state.name}: ${state.problem ?? 'not healthy yet'}` };
}

/**
 * The member is back as a healthy voting member and quorum holds: what
 * replacing ONE member can promise. Other members still down are named (each
 * needs its own replacement), never waited for: on 5 members with 2 lost,
 * replacing one must finish with the other reported. `removed`: members the
 * run removed while they were down, named with how to bring each back.
 */
function memberRejoined(report: ClusterReport, member: string, removed: string[] = []): ConditionResult {
  const state = findMember(report, member);
  if (!state) return { met: false, detail: `${member} is not in the member list yet` };
  if (!state.healthy) return { met: false, detail: `${state.name}: ${state.problem ?? 'not healthy yet'}` };
  if (state.isLearner) return { met: false, detail: `${state.name} is healthy but still a learner: it does not vote yet` };
  const held = quorum(report);
  if (!held.met) return { met: false, detail: `${state.name} is healthy and voting, but ${held.detail}` };
  const down = report.verdict.members.filter((m) => !m.healthy && m !== state).map((m) => m.name);
  const others = down.map((name) => `; ${name} is still down: run replace-member again for it`).join('');
  // with no member down the cluster counts as healthy, which replace-member is not for: the add-back says so
  const override = down.length === 0 ? ` ${OVERRIDE_APPLIES_TO_FLAG} replace-member` : '';
  const gone = removed
    .filter((name) => name !== member && !findMember(report, name))
    .map((name) => `; ${name} was removed from the member list while down: run replace-member --set member=${name}${override} to add it back`)
    .join('');
  return { met: true, detail: `${state.name} is healthy and voting; ${held.detail}${others}${gone}` };
}

function memberInSync(report: ClusterReport, member: string, maxLag: number): ConditionResult {
  const probe = findProbe(report, member);
  if (!probe?.reachable) return { met: false, detail: `${member} does not answer yet${probe?.error ? `: ${probe.error}` : ''}` };
  const leader = report.endpoints.find((p) => p.reachable && isLeader(p));
  if (!leader) return { met: false, detail: 'no leader answers: cannot compare progress' };
  if (probe.raftAppliedIndex === undefined || leader.raftAppliedIndex === undefined) {
    return { met: false, detail: `${member} or the leader did not report its applied index` };
  }
  const lag = leader.raftAppliedIndex - probe.raftAppliedIndex;
  const who = `${probe.name ?? member} applied ${probe.raftAppliedIndex}, leader ${leader.name ?? leader.memberId} ${leader.raftAppliedIndex}`;
  return lag <= maxLag ? { met: true, detail: `${who}: in sync (lag ${Math.max(lag, 0)} ≤ ${maxLag})` } : { met: false, detail: `${who}: ${lag} entries behind (≤ ${maxLag} needed)` };
}

/** Exactly one cluster ID and one leader across every reachable member (the kubeasz three-leaders bug). */
function singleClusterId(report: ClusterReport): ConditionResult {
  const reachable = report.endpoints.filter((p) => p.reachable);
  if (reachable.length === 0) return { met: false, detail: 'no member answers yet' };
  const ids = unique(reachable.map((p) => p.clusterId));
  const leaders = unique(reachable.map((p) => p.leaderId));
  const leaderless = reachable.filter((p) => p.leaderId === undefined).map(labelOf);
  const problems: string[] = [];
  if (ids.length > 1) problems.push(`${ids.length} cluster IDs (${ids.join(', ')})`);
  if (leaders.length > 1) problems.push(`${leaders.length} leaders (${leaders.join(', ')})`);
  if (leaderless.length > 0) problems.push(`no leader known by ${leaderless.join(', ')}`);
  if (problems.length > 0) return { met: false, detail: problems.join('; ') };
  return { met: true, detail: `${reachable.length} members answer: one cluster ID ${ids[0]}, one leader ${leaders[0]}` };
}

/** The members the condition is about: those listed, or every member. */
export function stoppedMemberNames(report: ClusterReport, members: string[]): string[] {
  return members.length > 0 ? members : report.verdict.members.map((m) => m.name);
}

/**
 * Stopped as the old-members-stopped guard judges it: neither port answers.
 * etcd closes its client listener before its peer listener as it shuts down,
 * so a closed client port alone would let the next step's guard find the
 * peer port still open (seen on a loaded machine).
 */
function membersStopped(report: ClusterReport, members: string[], peerListening: string[]): ConditionResult {
  const names = stoppedMemberNames(report, members);
  const running = names.filter((name) => findProbe(report, name)?.reachable);
  if (running.length > 0) return { met: false, detail: `still answering: ${running.join(', ')}` };
  // a silent member (its port open, nothing answering: frozen, or shutting down) still holds its data dir
  const silent = names.filter((name) => findProbe(report, name)?.silent);
  if (silent.length > 0) return { met: false, detail: `not answering but still listening (frozen or shutting down): ${silent.join(', ')}` };
  const peers = names.filter((name) => peerListening.includes(name));
  if (peers.length > 0) return { met: false, detail: `client port closed, peer port still listening (shutting down): ${peers.join(', ')}` };
  return { met: true, detail: `none of ${names.join(', ')} answers` };
}

// ---- lookups, shared with the guards ---------------------------------------

export function findMember(report: ClusterReport, member: string): MemberState | undefined {
  const key = member.toLowerCase();
  return report.verdict.members.find((m) => m.name === member || m.id === key);
}

export function findProbe(report: ClusterReport, member: string): EndpointProbe | undefined {
  const key = member.toLowerCase();
  const state = findMember(report, member);
  return report.endpoints.find(
    (p) =>
      p.name === member ||
      (p.name === undefined && p.expectedName === member) ||
      (p.memberId !== undefined && (p.memberId === key || p.memberId === state?.id)) ||
      (state?.endpoint !== undefined && p.endpoint === state.endpoint),
  );
}

/** A list parameter: "m1,m2 m3" → [m1, m2, m3]. */
export function listParam(value: ParamValue | undefined): string[] {
  if (value === undefined || typeof value === 'boolean') return [];
  return String(value)
    .split(/[\s,]+/)
    .filter((s) => s !== '');
}

function requireParam(params: Record<string, ParamValue>, name: string, until: string): string {
  const value = params[name];
  if (value === undefined || value === '') throw new Error(`wait ${until} needs the parameter "${name}"`);
  return String(value);
}

function labelOf(p: EndpointProbe): string {
  return p.name ?? p.expectedName ?? p.endpoint;
}

function unique(values: Array<string | undefined>): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined))];
}
