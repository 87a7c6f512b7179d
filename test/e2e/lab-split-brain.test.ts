import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { checkSample, sampleEntries, writeSample } from '../../src/lab/sample-data.js';
import { splitIntoClusters } from '../../src/lab/split-brain.js';
import { expectNothingLeft } from './drill-helpers.js';

/**
 * `lab fault split-brain` on a running lab of real nodes: the one cluster
 * becomes one cluster per member (each restored alone from one snapshot),
 * detected as split brain, every side holding every key written before.
 */
describe('a running lab of real nodes split into single-member clusters', () => {
  let lab: LabCluster | undefined;
  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, etcd: '3.5' });
  }, 120_000);
  afterAll(async () => {
    const dir = lab?.dir;
    await lab?.close();
    if (dir) await expectNothingLeft(dir);
  }, 60_000);

  it('is split brain with three cluster IDs, each side with all the data the cluster had', async () => {
    const running = lab as LabCluster;
    const tls = await running.clientTls();
    const entries = sampleEntries(50, 'split');
    await writeSample(running.endpoints, tls, entries);
    const before = await running.probe();
    expect(before.verdict.verdict).toBe('healthy');

    await splitIntoClusters(running);
    const after = await running.probe();
    expect(after.verdict.verdict).toBe('split-brain');
    expect(after.verdict.clusterIds).toHaveLength(3);
    expect(after.verdict.clusterIds).not.toContain(before.verdict.clusterIds[0]);
    for (const endpoint of running.endpoints) {
      const side = await checkSample([endpoint], tls, entries);
      expect(side.intact, endpoint).toBe(50);
    }
    // each node boots its own cluster from its configuration, as a restored member would
    for (const member of running.members) {
      const env = await running.readEnvFile(member.name);
      expect(env.ETCD_INITIAL_CLUSTER).toBe(`${member.name}=${member.peerURL}`);
    }
  }, 90_000);
});
