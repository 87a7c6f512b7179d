import type { ActiveAlarm, EndpointProbe, MemberInfo, MemberState, Verdict, VerdictResult } from './types.js';
import { sideEvidence, splitSides } from './sides.js';

/**
 * The verdict: a pure function of what the probes saw.
 *
 *  split brain   reachable members report more than one cluster ID, more than
 *                one leader in the same raft term, or several endpoints claim
 *                to be the same member (one data dir copied everywhere: the
 *                kubeasz restore bug);
 *  quorum lost   fewer than ⌊N/2⌋+1 of the N voting members healthy, or no
 *                member can complete a linearizable read;
 *  alarm         quorum held, but a NOSPACE or CORRUPT alarm is active: writes
 *                (or one member's data) cannot be trusted, whatever else holds;
 *                members also lost are named in its evidence;
 *  minority lost quorum held, some member unhealthy, unreachable or unstarted;
 *  healthy       every member healthy, one leader, one cluster ID, no alarm;
 *  unreachable   no endpoint answered at all: nothing to judge by.
 */
export function quorumSize(votingMembers: number): number {
  return Math.floor(votingMembers / 2) + 1;
}

/** The endpoint reports itself as the leader (its member ID is the leader ID it knows). */
export function isLeader(probe: EndpointProbe): boolean {
  return probe.memberId !== undefined && probe.memberId === probe.leaderId;
}

/**
 * Quorum lost by the probe's count, yet a quorum of the voting members
 * answers: what the seconds after a leader dies look like. The survivors go
 * on trusting the dead leader for an election timeout (etcd's default 1 s),
 * then elect (randomised up to twice that; a split vote takes another
 * round), and meanwhile no read completes. Detection waits such a verdict
 * out (cluster/election.ts) before it calls the quorum lost; a quorum that
 * answers and stays leaderless is lost all the same.
 */
export function mayBeElecting(verdict: VerdictResult): boolean {
  return verdict.verdict === 'quorum-lost' && answeringVoters(verdict) >= verdict.quorumSize;
}

/** A quorum of the voting members serves linearizable reads: healthy, minority lost, or an alarm (which stops writes, not reads). */
export function quorumHeld(verdict: Verdict): boolean {
  return verdict === 'healthy' || verdict === 'minority-lost' || verdict === 'alarm';
}

/** Voting members that answered the probe, healthy or not. */
export function answeringVoters(verdict: VerdictResult): number {
  return verdict.members.filter((m) => !m.isLearner && m.reachable).length;
}

export const RUNBOOK_FOR: Record<Verdict, { recommended?: string; alternatives: string[] }> = {
  healthy: { recommended: 'backup', alternatives: [] },
  'minority-lost': { recommended: 'replace-member', alternatives: ['replace-master', 'backup'] },
  'quorum-lost': { recommended: 'restore-quorum', alternatives: ['single-survivor'] },
  'split-brain': { recommended: 'split-brain', alternatives: [] },
  unreachable: { alternatives: [] },
  // which alarm decides: see alarmRunbooks
  alarm: { alternatives: [] },
};

/** The alarms that make a cluster untrustworthy, and what each stops (seen on etcd 3.4 and 3.5). */
export const ALARM_EFFECTS: Record<string, { short: string; blocks: string }> = {
  NOSPACE: {
    short: 'writes refused: the database reached its space quota',
    blocks: 'the backend database reached its space quota (--quota-backend-bytes): etcd refuses every write (put, transaction, lease grant: Kubernetes can change nothing); reads and deletes still work',
  },
  CORRUPT: {
    short: "a member's data disagrees with the others; writes refused",
    blocks: "this member's data disagrees with the other members': never take a snapshot or restore from it; etcd refuses every write until the alarm is disarmed",
  },
};

export function classify(probes: EndpointProbe[]): VerdictResult {
  const reachable = probes.filter((p) => p.reachable);
  const clusterIds = unique(reachable.map((p) => p.clusterId));
  const leaders = unique(reachable.map((p) => p.leaderId));
  const members = memberStates(probes);
  const voting = members.filter((m) => !m.isLearner);
  const healthyVoting = voting.filter((m) => m.healthy).length;
  const base = {
    clusterIds,
    leaders,
    members,
    votingMembers: voting.length,
    healthyVoting,
    quorumSize: quorumSize(voting.length),
    alarms: activeAlarms(reachable, members),
    warnings: warningsFor(probes, members),
  };
  // an alarm is named whatever the verdict; the alarm verdict says it in its evidence instead
  const withAlarms: Base = { ...base, warnings: [...base.alarms.map(describeAlarm), ...base.warnings] };

  if (reachable.length === 0) {
    return result('unreachable', base, `no endpoint answered (${probes.length} of ${probes.length} unreachable): check endpoints, certificates and network`,
      probes.map((p) => `${p.endpoint}: ${p.error ?? 'unreachable'}`));
  }

  const splitEvidence = splitBrainEvidence(reachable, clusterIds);
  if (splitEvidence.length > 0) {
    const sides = splitSides(probes);
    const sideLines = sides.length > 1 ? sides.map((side) => sideEvidence(side, probes.length)) : [];
    return { ...result('split-brain', withAlarms, `members disagree about the cluster: ${splitEvidence[0]}`, [...splitEvidence, ...sideLines]), sides };
  }

  const unhealthy = members.filter((m) => !m.healthy);
  const anyHealthy = probes.some((p) => p.healthy);
  if (!anyHealthy || healthyVoting < base.quorumSize) {
    const lost = voting.length - healthyVoting;
    const summary = `${lost} of ${voting.length} voting members ${describeLoss(voting.filter((m) => !m.healthy))}: quorum lost (${healthyVoting} healthy, ${base.quorumSize} needed)`;
    return result('quorum-lost', withAlarms, summary, unhealthy.map(describeMember));
  }

  if (base.alarms.length > 0) return alarmResult(base, unhealthy);

  if (unhealthy.length > 0) {
    const summary = `${unhealthy.length} of ${members.length} members ${describeLoss(unhealthy)}: quorum held (${healthyVoting} of ${voting.length} voting members healthy, ${base.quorumSize} needed)`;
    return { ...result('minority-lost', base, summary, unhealthy.map(describeMember)), ...certificateRunbooks(unhealthy, probes) };
  }

  // during a leader change a member may still report the old leader: the newest term wins
  const newest = [...reachable].filter((p) => p.leaderId !== undefined).sort((a, b) => (b.raftTerm ?? 0) - (a.raftTerm ?? 0))[0];
  const leader = members.find((m) => m.id !== undefined && m.id === newest?.leaderId);
  const count = members.length === 1 ? 'the only member is' : `all ${members.length} members`;
  return result('healthy', base, `${count} healthy, leader ${leader?.name ?? newest?.leaderId ?? '?'} (term ${newest?.raftTerm ?? '?'})`,
    [`cluster ID ${clusterIds[0]}`, `leader ${newest?.leaderId ?? '?'}`]);
}

type Base = Omit<VerdictResult, 'verdict' | 'summary' | 'evidence' | 'recommendedRunbook' | 'alternatives' | 'advice'>;

/**
 * Quorum holds but an alarm is active. CORRUPT: the member is replaced from
 * the healthy majority's data (replace-member), never restored from. NOSPACE:
 * reclaim-space, etcd's maintenance guide (snapshot, compact, defragment, disarm).
 */
function alarmResult(base: Base, unhealthy: MemberState[]): VerdictResult {
  const byAlarm = new Map<string, ActiveAlarm[]>();
  for (const alarm of base.alarms) byAlarm.set(alarm.alarm, [...(byAlarm.get(alarm.alarm) ?? []), alarm]);
  const named = [...byAlarm].map(([alarm, raised]) => `${alarm} on ${raised.map((a) => a.member).join(', ')} (${ALARM_EFFECTS[alarm]?.short ?? 'active'})`);
  const quorum = `quorum held (${base.healthyVoting} of ${base.votingMembers} voting members healthy, ${base.quorumSize} needed)`;
  const evidence = [
    ...[...byAlarm].map(([alarm, raised]) => `${alarm} raised on ${raised.map(memberWithId).join(', ')}: ${ALARM_EFFECTS[alarm]?.blocks ?? 'active'}`),
    ...unhealthy.map(describeMember),
  ];
  const lost = unhealthy.length > 0 ? ['replace-member'] : [];
  return { verdict: 'alarm', summary: `alarm ${named.join('; ')}: ${quorum}`, evidence, ...alarmRunbooks(byAlarm, lost), ...base };
}

/** What to propose for the alarms active; `lost`: what members lost as well call for. */
function alarmRunbooks(byAlarm: Map<string, ActiveAlarm[]>, lost: string[]): Pick<VerdictResult, 'recommendedRunbook' | 'alternatives' | 'advice'> {
  const corrupt = byAlarm.get('CORRUPT')?.find((a) => !a.removed);
  if (corrupt) {
    return {
      recommendedRunbook: 'replace-member',
      alternatives: [],
      advice: `replace ${corrupt.member} from the healthy majority (run replace-member --set member=${corrupt.member}), never restore from its data; its last step disarms the alarm (etcdctl alarm disarm), which etcd keeps after the member is removed`,
    };
  }
  if (byAlarm.has('NOSPACE')) return { recommendedRunbook: 'reclaim-space', alternatives: ['backup', ...lost] };
  // only CORRUPT members already replaced: etcd keeps their alarms (and refuses writes) until they are disarmed
  const stale = [...byAlarm.values()].flat().map((a) => a.memberId ?? a.member).join(', ');
  return { alternatives: lost, advice: `the alarm was raised on ${stale}, no longer a member (replaced): etcd refuses writes until it is disarmed: etcdctl alarm disarm` };
}

/**
 * Members that are down only because their server certificate expired (the
 * process runs, no client completes a handshake): renewing the certificates
 * brings them back with their data, which replacing them would throw away.
 */
function certificateRunbooks(unhealthy: MemberState[], probes: EndpointProbe[]): Partial<Pick<VerdictResult, 'recommendedRunbook' | 'alternatives' | 'advice'>> {
  const expired = unhealthy.filter((m) => probes.find((p) => p.endpoint === m.endpoint)?.certificate?.kind === 'expired');
  if (expired.length === 0 || expired.length !== unhealthy.length) return {};
  return {
    recommendedRunbook: 'renew-certificates',
    alternatives: ['replace-member', 'backup'],
    advice: `the server certificate of ${expired.map((m) => m.name).join(', ')} expired: renew the certificates from the CA and restart etcd one member at a time (run renew-certificates)`,
  };
}

/** Each NOSPACE or CORRUPT alarm once (every member reports every member's alarms), named by its member. */
function activeAlarms(reachable: EndpointProbe[], members: MemberState[]): ActiveAlarm[] {
  const found = new Map<string, ActiveAlarm>();
  for (const raised of reachable.flatMap((p) => p.alarms)) {
    const effects = ALARM_EFFECTS[raised.alarm];
    const key = `${raised.alarm}/${raised.memberId ?? ''}`;
    if (!effects || found.has(key)) continue;
    const name = members.find((m) => m.id !== undefined && m.id === raised.memberId)?.name
      ?? reachable.find((p) => p.memberId !== undefined && p.memberId === raised.memberId)?.name;
    // a member list that names members by ID, and not this one: it was removed since
    const removed = raised.memberId !== undefined && members.some((m) => m.id !== undefined) && !members.some((m) => m.id === raised.memberId);
    found.set(key, { ...raised, member: name ?? raised.memberId ?? 'a member', blocks: effects.blocks, ...(removed ? { removed } : {}) });
  }
  // members in name order: etcd lists them in no order of its own
  return [...found.values()].sort((a, b) => a.member.localeCompare(b.member));
}

function memberWithId(alarm: ActiveAlarm): string {
  const named = alarm.memberId && alarm.memberId !== alarm.member ? `${alarm.member} (${alarm.memberId})` : alarm.member;
  return alarm.removed ? `${named} (no longer in the member list)` : named;
}

function describeAlarm(alarm: ActiveAlarm): string {
  return `alarm ${alarm.alarm} raised on ${memberWithId(alarm)}: ${alarm.blocks}`;
}

function result(verdict: Verdict, base: Base, summary: string, evidence: string[]): VerdictResult {
  const runbooks = RUNBOOK_FOR[verdict];
  return { verdict, summary, evidence, recommendedRunbook: runbooks.recommended, alternatives: runbooks.alternatives, ...base };
}

function splitBrainEvidence(reachable: EndpointProbe[], clusterIds: string[]): string[] {
  const evidence: string[] = [];
  if (clusterIds.length > 1) {
    const byCluster = clusterIds.map((id) => `${id} (${reachable.filter((p) => p.clusterId === id).map(label).join(', ')})`);
    evidence.push(`${clusterIds.length} cluster IDs: ${byCluster.join('; ')}`);
  }
  const leadersByTerm = new Map<number, Set<string>>();
  for (const probe of reachable) {
    if (probe.leaderId === undefined || probe.raftTerm === undefined) continue;
    const set = leadersByTerm.get(probe.raftTerm) ?? new Set<string>();
    set.add(probe.leaderId);
    leadersByTerm.set(probe.raftTerm, set);
  }
  for (const [term, ids] of leadersByTerm) {
    if (ids.size > 1) evidence.push(`${ids.size} leaders in raft term ${term}: ${[...ids].join(', ')}`);
  }
  const byMemberId = new Map<string, string[]>();
  for (const probe of reachable) {
    if (!probe.memberId) continue;
    byMemberId.set(probe.memberId, [...(byMemberId.get(probe.memberId) ?? []), probe.endpoint]);
  }
  for (const [id, endpoints] of byMemberId) {
    if (endpoints.length > 1) evidence.push(`${endpoints.length} endpoints claim to be member ${id}: ${endpoints.join(', ')} (one data dir copied to several nodes?)`);
  }
  return evidence;
}

/**
 * The members the verdict counts: the member list as the leader (or the most
 * up-to-date reachable member) reports it, each joined to its endpoint's probe.
 * Without any member list, each probed endpoint stands for one voting member.
 */
function memberStates(probes: EndpointProbe[]): MemberState[] {
  const list = authoritativeMemberList(probes);
  if (!list) return probes.map(stateFromProbeAlone);
  return list.map((member) => {
    const probe = probeFor(member, probes);
    const unstarted = member.name === '' && member.clientURLs.length === 0;
    const state: MemberState = {
      id: member.id,
      name: member.name || probe?.expectedName || `(unstarted ${member.id})`,
      isLearner: member.isLearner,
      unstarted,
      healthy: Boolean(probe?.healthy),
      reachable: Boolean(probe?.reachable),
      endpoint: probe?.endpoint ?? member.clientURLs[0],
    };
    if (!state.healthy) state.problem = problemOf(probe, unstarted);
    return state;
  });
}

/** The member list to believe: the healthy leader's, else the one with the newest raft state. */
export function authoritativeMemberList(probes: EndpointProbe[]): MemberInfo[] | undefined {
  const withList = probes.filter((p) => p.reachable && p.members && p.members.length > 0);
  const fromLeader = withList.find((p) => p.memberId !== undefined && p.memberId === p.leaderId && p.healthy);
  if (fromLeader) return fromLeader.members;
  const newest = [...withList].sort((a, b) => (b.raftTerm ?? 0) - (a.raftTerm ?? 0) || (b.raftIndex ?? 0) - (a.raftIndex ?? 0));
  return newest[0]?.members;
}

function probeFor(member: MemberInfo, probes: EndpointProbe[]): EndpointProbe | undefined {
  return (
    probes.find((p) => p.memberId !== undefined && p.memberId === member.id) ??
    probes.find((p) => !p.memberId && member.clientURLs.some((u) => sameUrl(u, p.endpoint))) ??
    probes.find((p) => !p.memberId && (p.expectedPeerURLs ?? []).some((u) => member.peerURLs.some((m) => sameUrl(m, u)))) ??
    probes.find((p) => !p.memberId && member.name !== '' && p.expectedName === member.name)
  );
}

function stateFromProbeAlone(probe: EndpointProbe): MemberState {
  const state: MemberState = {
    id: probe.memberId,
    name: probe.name ?? probe.expectedName ?? probe.endpoint,
    isLearner: Boolean(probe.isLearner),
    unstarted: false,
    healthy: probe.healthy,
    reachable: probe.reachable,
    endpoint: probe.endpoint,
  };
  if (!probe.healthy) state.problem = problemOf(probe, false);
  return state;
}

function problemOf(probe: EndpointProbe | undefined, unstarted: boolean): string {
  if (unstarted) return 'added but never started';
  if (!probe) return 'no endpoint probed for it';
  if (!probe.reachable) return `unreachable: ${probe.error ?? 'no answer'}`;
  return `unhealthy: ${probe.healthError ?? 'linearizable read failed'}`;
}

function describeMember(member: MemberState): string {
  const kind = member.isLearner ? 'learner' : 'voting member';
  const id = member.id ? ` ${member.id}` : '';
  return `${member.name}${id} (${kind}${member.endpoint ? `, ${member.endpoint}` : ''}): ${member.problem ?? 'healthy'}`;
}

function describeLoss(members: MemberState[]): string {
  if (members.length === 0) return 'unhealthy';
  if (members.every((m) => m.unstarted)) return 'unstarted';
  if (members.every((m) => !m.reachable && !m.unstarted)) return 'unreachable';
  if (members.every((m) => m.reachable)) return 'unhealthy';
  return 'unhealthy or unreachable';
}

function warningsFor(probes: EndpointProbe[], members: MemberState[]): string[] {
  const warnings: string[] = [];
  const otherAlarms = new Set(probes.flatMap((p) => p.alarms).filter((a) => !ALARM_EFFECTS[a.alarm]).map((a) => `${a.alarm} raised on ${a.memberId ?? 'a member'}`));
  for (const alarm of otherAlarms) warnings.push(`alarm ${alarm}`);
  for (const probe of probes) {
    for (const error of probe.memberErrors) warnings.push(`${label(probe)}: reports "${error}"`);
    const counted = members.some((m) => m.endpoint !== undefined && sameUrl(m.endpoint, probe.endpoint));
    if (!counted && probe.reachable) warnings.push(`${label(probe)} answered but is not in the member list (removed member still running?)`);
    if (!counted && !probe.reachable && members.length > 0) warnings.push(`${label(probe)} is not in the member list and does not answer`);
  }
  for (const member of members.filter((m) => m.unstarted)) {
    warnings.push(`member ${member.id} was added but never started: start it, or remove it (etcdctl member remove ${member.id})`);
  }
  return warnings;
}

function label(probe: EndpointProbe): string {
  const name = probe.name ?? probe.expectedName;
  return name ? `${name} (${probe.endpoint})` : probe.endpoint;
}

/** Two URLs name the same endpoint (a trailing slash aside). */
export function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

function unique(values: Array<string | undefined>): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined))];
}
