import type { Side } from './sides.js';
import type { CertificateProblem } from './certificates.js';

/**
 * What the probes saw, per endpoint, and the cluster as a whole. Plain data:
 * the verdict is a pure function of it, and `status --json` prints it.
 */
export interface MemberInfo {
  /** hex, as etcdctl prints it */
  id: string;
  /** empty for a member that was added but never started */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface EndpointProbe {
  endpoint: string;
  /** the inventory's name for this endpoint's member, when known */
  expectedName?: string;
  /** the inventory's peer URLs for it: how an unreachable endpoint is matched to a member-list entry */
  expectedPeerURLs?: string[];
  /** a TCP+TLS connection and a status call succeeded */
  reachable: boolean;
  /** why not reachable / not healthy, in one line */
  error?: string;
  memberId?: string;
  name?: string;
  clusterId?: string;
  version?: string;
  /** hex; undefined when the member knows of no leader */
  leaderId?: string;
  raftTerm?: number;
  raftIndex?: number;
  raftAppliedIndex?: number;
  revision?: number;
  dbSize?: number;
  dbSizeInUse?: number;
  isLearner?: boolean;
  /**
   * the alarms active in the cluster as this member reports them (etcd keeps
   * them cluster-wide: every member lists every member's alarms), each with
   * the member it was raised on
   */
  alarms: RaisedAlarm[];
  /** errors the member itself reports in its status */
  memberErrors: string[];
  /** a linearizable read through this member succeeded */
  healthy: boolean;
  healthError?: string;
  /** the member list as this endpoint sees it */
  members?: MemberInfo[];
  latencyMs: number;
  /** nothing answered within the deadline (frozen, overloaded or blackholed), as opposed to a refusal or an error */
  silent?: boolean;
  /** its server certificate was refused: expired, not yet valid, wrong SANs or another CA (and the dates or names) */
  certificate?: CertificateProblem;
}

/** One of etcd's alarms (NOSPACE, CORRUPT) and the member it was raised on. */
export interface RaisedAlarm {
  alarm: string;
  /** hex; undefined when the member's answer did not say */
  memberId?: string;
}

export type Verdict = 'healthy' | 'minority-lost' | 'quorum-lost' | 'split-brain' | 'unreachable' | 'alarm';

/** An alarm that makes the cluster untrustworthy, as the verdict reports it. */
export interface ActiveAlarm extends RaisedAlarm {
  /** the member's name, or its ID when the member list does not name it */
  member: string;
  /** what the alarm stops, in an operator's words */
  blocks: string;
  /** the member it was raised on is no longer in the member list (replaced): etcd keeps the alarm until it is disarmed */
  removed?: boolean;
}

export interface MemberState {
  id?: string;
  name: string;
  isLearner: boolean;
  /** in the member list but never started (a failed or pending add) */
  unstarted: boolean;
  healthy: boolean;
  reachable: boolean;
  endpoint?: string;
  /** why it is not healthy */
  problem?: string;
}

export interface VerdictResult {
  verdict: Verdict;
  /** one line, in words an operator understands */
  summary: string;
  /** the facts behind it, one line each */
  evidence: string[];
  /** warnings that do not change the verdict (other alarms, members missing from the inventory) */
  warnings: string[];
  /** NOSPACE and CORRUPT alarms active, whatever the verdict (the `alarm` verdict when quorum holds) */
  alarms: ActiveAlarm[];
  /** what to do when no runbook fits, in one line */
  advice?: string;
  /** the runbook id to propose, undefined when none fits */
  recommendedRunbook?: string;
  /** runbooks that also apply */
  alternatives: string[];
  votingMembers: number;
  healthyVoting: number;
  quorumSize: number;
  members: MemberState[];
  clusterIds: string[];
  leaders: string[];
  /** split brain only: each cluster ID's side (members, revision, DB size, leader) */
  sides?: Side[];
}

export interface ClusterReport {
  probedAt: string;
  durationMs: number;
  endpoints: EndpointProbe[];
  verdict: VerdictResult;
}
