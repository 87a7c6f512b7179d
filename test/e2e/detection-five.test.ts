import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';

describe('a 5-member cluster', () => {
  let lab: LabCluster;

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 5 });
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('holds quorum with 2 of 5 down: minority-lost', async () => {
    await lab.kill('m5');
    await lab.kill('m4');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    const report = await lab.probe();
    expect(report.verdict.votingMembers).toBe(5);
    expect(report.verdict.healthyVoting).toBe(3);
    expect(report.verdict.quorumSize).toBe(3);
  });

  it('loses quorum with 3 of 5 down, one of them frozen, well within the deadline: no read waited for that cannot complete', async () => {
    lab.freeze('m3');
    try {
      // a deadline far past the floor, which grows with this machine's load: cut before it, the member was judged frozen
      const deadline = 10_000;
      const started = Date.now();
      const report = await lab.probe(deadline);
      // the whole deadline was what it cost before: the survivors' reads hung until it
      expect(Date.now() - started).toBeLessThan(deadline / 2);
      expect(report.verdict.verdict).toBe('quorum-lost');
      expect(report.verdict.healthyVoting).toBe(0);
      for (const survivor of report.endpoints.filter((p) => p.reachable)) {
        expect(survivor.healthError).toMatch(/^(only 2 of 5 voting members answer, 3 needed: no linearizable read can complete|its leader m3 does not answer|no leader)/);
      }
    } finally {
      lab.thaw('m3');
    }
  });

  it('2 killed and the leader frozen: the frozen leader is judged once the others answered, and their reads are not waited for', async () => {
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    const before = await lab.probe();
    const leader = before.endpoints.find((p) => p.memberId !== undefined && p.memberId === before.verdict.leaders[0])?.name;
    expect(leader).toBeDefined();
    lab.freeze(leader!);
    try {
      const deadline = 10_000;
      const started = Date.now();
      const report = await lab.probe(deadline);
      const elapsed = Date.now() - started;
      expect(report.verdict.verdict).toBe('quorum-lost');
      // the whole deadline was what a frozen leader cost before: its followers' reads hung on it
      expect(elapsed).toBeLessThan(deadline / 2);
      const frozen = report.endpoints.find((p) => p.expectedName === leader);
      expect(frozen).toMatchObject({ reachable: false, silent: true });
      for (const follower of report.endpoints.filter((p) => p.reachable)) {
        expect(follower.healthError).toMatch(new RegExp(`^its leader ${leader} does not answer \\(frozen\\?\\): no linearizable read completes until a new leader is elected`));
      }
    } finally {
      lab.thaw(leader!);
    }
  });
});
