import { seconds } from '../util/duration.js';
import type { ClusterReport } from './types.js';
import { answeringVoters, mayBeElecting } from './verdict.js';

/**
 * How long detection waits for a leader while a quorum of the voting members
 * answers without one: two of etcd's default election timeouts and a split
 * vote's extra round. Past this the quorum is judged lost.
 */
export const ELECTION_GRACE_MS = 3000;
/** how often it probes again meanwhile */
export const ELECTION_POLL_MS = 250;

/**
 * The probe a verdict is read from (status, plan, run, the view's
 * detection): a verdict that may be an election in progress (mayBeElecting)
 * is probed again until a leader is elected or the grace has passed, so the
 * seconds after a leader's death are not called a lost quorum (restore-quorum
 * would throw away a cluster that is about to serve again). A verdict still
 * leaderless then says how long it was waited for.
 */
export async function probeThroughElection(
  probe: () => Promise<ClusterReport>,
  graceMs = ELECTION_GRACE_MS,
  pollMs = ELECTION_POLL_MS,
): Promise<ClusterReport> {
  const started = Date.now();
  let report = await probe();
  if (!mayBeElecting(report.verdict)) return report;
  while (Date.now() - started < graceMs) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    report = await probe();
    if (!mayBeElecting(report.verdict)) {
      const waited = `detection waited ${seconds(Date.now() - started)} for a leader election before judging (no member could serve a read at first)`;
      return { ...report, verdict: { ...report.verdict, warnings: [...report.verdict.warnings, waited] } };
    }
  }
  const { verdict } = report;
  const waited = `no leader elected in ${seconds(Date.now() - started)} although ${answeringVoters(verdict)} of ${verdict.votingMembers} voting members answer: not an election in progress`;
  return { ...report, verdict: { ...verdict, evidence: [waited, ...verdict.evidence] } };
}
