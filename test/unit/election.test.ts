import { describe, expect, it } from 'vitest';
import { probeThroughElection } from '../../src/cluster/election.js';
import type { ClusterReport } from '../../src/cluster/types.js';
import { fakeCluster, reportOf } from '../helpers/probes.js';

const three = fakeCluster({ voting: 3 });
/** the two survivors a moment after the leader died: they answer, neither serves a read */
const electing = () => reportOf([three.stranded(0), three.stranded(1), three.down(2)]);
const elected = () => reportOf([three.up(0), three.up(1), three.down(2)]);
const lost = () => reportOf([three.stranded(0), three.down(1), three.down(2)]);

/** a probe that returns these reports in turn (the last one again once they run out), counting its calls */
function scripted(...reports: Array<() => ClusterReport>) {
  let calls = 0;
  const probe = async () => (reports[Math.min(calls++, reports.length - 1)] as () => ClusterReport)();
  return { probe, calls: () => calls };
}

describe('probeThroughElection: the verdict detection proposes a runbook for', () => {
  it('a verdict that cannot be an election is the first probe, probed once', async () => {
    for (const report of [elected, lost]) {
      const s = scripted(report);
      const got = await probeThroughElection(s.probe, 1000, 1);
      expect(got.verdict.verdict).toBe(report().verdict.verdict);
      expect(s.calls()).toBe(1);
      expect(got.verdict.warnings.join('\n')).not.toMatch(/waited/);
    }
  });

  it('a leaderless quorum that elects a leader meanwhile is judged on the probe after the election, and says it waited', async () => {
    const s = scripted(electing, electing, elected);
    const got = await probeThroughElection(s.probe, 5000, 1);
    expect(s.calls()).toBe(3);
    expect(got.verdict.verdict).toBe('minority-lost');
    expect(got.verdict.warnings.at(-1)).toMatch(/^detection waited \d+\.\d s for a leader election before judging/);
  });

  it('one that stays leaderless for the grace is quorum lost, and the evidence says no leader was elected', async () => {
    const s = scripted(electing);
    const got = await probeThroughElection(s.probe, 30, 1);
    expect(s.calls()).toBeGreaterThan(1);
    expect(got.verdict.verdict).toBe('quorum-lost');
    expect(got.verdict.evidence[0]).toMatch(/^no leader elected in \d+\.\d s although 2 of 3 voting members answer: not an election in progress$/);
  });
});
