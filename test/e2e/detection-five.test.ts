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

  it('loses quorum with 3 of 5 down, one of them frozen, within the deadline', async () => {
    lab.freeze('m3');
    try {
      const started = Date.now();
      const report = await lab.probe();
      expect(Date.now() - started).toBeLessThan(2500);
      expect(report.verdict.verdict).toBe('quorum-lost');
      expect(report.verdict.healthyVoting).toBeLessThan(3);
    } finally {
      lab.thaw('m3');
    }
  });
});
