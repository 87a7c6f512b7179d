import type { ClusterReport, EndpointProbe, MemberInfo } from '../../src/cluster/types.js';
import { classify } from '../../src/cluster/verdict.js';

/**
 * Synthetic probe results for verdict and table tests: a cluster of named
 * members (voting, learners, added-but-never-started), and the probe each
 * endpoint would return when it is up, killed, frozen or stranded without a
 * leader. Every probe of a live member carries the member list as that
 * endpoint reports it.
 */

export const CLUSTER_ID = 'cdf818194e3a8c32';
export const OTHER_CLUSTER_ID = '5a3f7e0b1c9d2e48';
export const VERSION = '3.5.21';

/** hex member IDs as etcdctl prints them; index i is member i */
export const IDS = [
  '8e9e05c52164694d',
  'a8266ecf031671f3',
  '2f8f3ed8e5d1b4a9',
  'fd422379fda50e48',
  '91bc3c398fb3c146',
  '6e3bd23ae5f1eae0',
  'c9b3f5ac7b0b1e1d',
  '3b1e9d8c7a6f5e42',
] as const;

export const REFUSED = 'connection refused (etcd not running on this endpoint?)';
export const FROZEN = 'deadline exceeded after 3000 ms (member frozen or blackholed?)';
export const NO_LEADER = 'etcdserver: request timed out';

export interface ClusterSpec {
  voting: number;
  learners?: number;
  /** members added (`etcdctl member add`) but never started: name '' and no client URLs */
  unstarted?: number;
  /** unstarted members are learners (`member add --learner`) */
  unstartedLearners?: boolean;
  clusterId?: string;
  /** index of the leader */
  leader?: number;
  term?: number;
}

export interface FakeCluster {
  clusterId: string;
  term: number;
  leaderId: string;
  /** the member list as the leader reports it */
  members: MemberInfo[];
  id(index: number): string;
  name(index: number): string;
  clientURL(index: number): string;
  peerURL(index: number): string;
  /** a live, healthy member reporting the cluster's view */
  up(index: number, overrides?: Partial<EndpointProbe>): EndpointProbe;
  /** a killed member: connection refused; matched to its member-list entry by client URL */
  down(index: number, overrides?: Partial<EndpointProbe>): EndpointProbe;
  /** a frozen member (SIGSTOP, blackholed): times out */
  frozen(index: number, overrides?: Partial<EndpointProbe>): EndpointProbe;
  /** a live member that cannot complete a linearizable read: no leader */
  stranded(index: number, overrides?: Partial<EndpointProbe>): EndpointProbe;
}

export function ipOf(index: number): string {
  return `10.0.0.${index + 1}`;
}

export function fakeCluster(spec: ClusterSpec): FakeCluster {
  const learners = spec.learners ?? 0;
  const unstarted = spec.unstarted ?? 0;
  const total = spec.voting + learners + unstarted;
  if (total > IDS.length) throw new Error(`at most ${IDS.length} members`);
  const clusterId = spec.clusterId ?? CLUSTER_ID;
  const term = spec.term ?? 7;
  const id = (i: number): string => IDS[i] ?? `ff${i}`;
  const kindOf = (i: number): 'voting' | 'learner' | 'unstarted' =>
    i < spec.voting ? 'voting' : i < spec.voting + learners ? 'learner' : 'unstarted';
  const name = (i: number): string =>
    kindOf(i) === 'voting' ? `master-${i + 1}` : kindOf(i) === 'learner' ? `learner-${i - spec.voting + 1}` : '';
  const clientURL = (i: number): string => `https://${ipOf(i)}:2379`;
  const peerURL = (i: number): string => `https://${ipOf(i)}:2380`;
  const members: MemberInfo[] = Array.from({ length: total }, (_, i) => ({
    id: id(i),
    name: name(i),
    peerURLs: [peerURL(i)],
    clientURLs: kindOf(i) === 'unstarted' ? [] : [clientURL(i)],
    isLearner: kindOf(i) === 'learner' || (kindOf(i) === 'unstarted' && Boolean(spec.unstartedLearners)),
  }));
  const leaderId = id(spec.leader ?? 0);

  const unreachable = (i: number, error: string, latencyMs: number, overrides?: Partial<EndpointProbe>): EndpointProbe => ({
    endpoint: clientURL(i),
    reachable: false,
    error,
    alarms: [],
    memberErrors: [],
    healthy: false,
    latencyMs,
    ...overrides,
  });

  return {
    clusterId,
    term,
    leaderId,
    members,
    id,
    name,
    clientURL,
    peerURL,
    up: (i, overrides) => ({
      endpoint: clientURL(i),
      reachable: true,
      memberId: id(i),
      name: name(i),
      clusterId,
      version: VERSION,
      leaderId,
      raftTerm: term,
      raftIndex: 18_230,
      raftAppliedIndex: 18_230,
      revision: 15_022,
      dbSize: 20_480,
      dbSizeInUse: 16_384,
      isLearner: members[i]?.isLearner ?? false,
      alarms: [],
      memberErrors: [],
      healthy: true,
      members: members.map((m) => ({ ...m, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs] })),
      latencyMs: 3,
      ...overrides,
    }),
    down: (i, overrides) => unreachable(i, REFUSED, 1, overrides),
    frozen: (i, overrides) => unreachable(i, FROZEN, 3000, { silent: true, ...overrides }),
    stranded: (i, overrides) => ({
      endpoint: clientURL(i),
      reachable: true,
      memberId: id(i),
      name: name(i),
      clusterId,
      version: VERSION,
      leaderId: undefined,
      raftTerm: term + 3,
      raftIndex: 18_230,
      raftAppliedIndex: 18_230,
      revision: 15_022,
      dbSize: 20_480,
      dbSizeInUse: 16_384,
      isLearner: members[i]?.isLearner ?? false,
      alarms: [],
      memberErrors: [],
      healthy: false,
      healthError: NO_LEADER,
      members: members.map((m) => ({ ...m, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs] })),
      latencyMs: 2000,
      ...overrides,
    }),
  };
}

/** A report as `status` builds it: the probes and their verdict. */
export function reportOf(endpoints: EndpointProbe[]): ClusterReport {
  return { probedAt: '2025-01-01T00:00:00.000Z', durationMs: 42, endpoints, verdict: classify(endpoints) };
}
