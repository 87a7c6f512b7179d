import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { singleEndpointClient } from '../../src/cluster/probe.js';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { dataDirsAside, expectHealthyStatus, expectKeysOnEveryMember, KEY_PREFIX, knownKeys } from './runbook-helpers.js';

/**
 * split-brain end to end on three independent single-member clusters (a
 * restore done member by member, field note 001): m2 took the most writes,
 * so it has the highest revision; the runbook snapshots it and restores all
 * three from it into one cluster. What only m1's and m3's clusters took is
 * gone afterwards, as the runbook says.
 */
describe('split-brain on 3 independent members (systemd)', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);
  const stray = new Map([
    ['/registry/stray/m1-only', 'written to m1 alone'],
    ['/registry/stray/m3-only', 'written to m3 alone'],
  ]);

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, layout: 'systemd', independent: true });
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-split-'));
    const tls = await lab.clientTls();
    const put = async (member: string, entries: Iterable<[string, string]>): Promise<void> => {
      const client = singleEndpointClient(lab.member(member).clientURL, tls, 10_000);
      try {
        for (const [k, v] of entries) await client.put(k).value(v);
      } finally {
        client.close();
      }
    };
    await put('m2', keys);
    await put('m1', [[...stray][0] as [string, string]]);
    await put('m3', [[...stray][1] as [string, string]]);
  });
  afterAll(async () => {
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('restores every member from the member with the highest revision: one cluster ID, one leader, its keys everywhere', async () => {
    expect(await waitForVerdict(lab, 'split-brain')).toBe('split-brain');
    const plan = await runCli(['plan', 'split-brain', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`]);
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/Save a snapshot from m2, the member with the newest data/);

    const result = await runCli(
      ['run', 'split-brain', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')],
      {},
      180_000,
    );
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/saving a snapshot from m2/);
    expect(result.stdout).toMatch(/one cluster ID [0-9a-f]+ across 3 reachable members/);

    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    // the writes only the other clusters took are gone (they were not in m2's snapshot)
    const client = singleEndpointClient(lab.member('m1').clientURL, await lab.clientTls(), 10_000);
    try {
      expect(await client.getAll().prefix('/registry/stray/').keys()).toEqual([]);
      expect(await client.getAll().prefix(KEY_PREFIX).count()).toBe(keys.size);
    } finally {
      client.close();
    }
    for (const m of lab.members) {
      expect(await dataDirsAside(m.dataDir), m.name).toHaveLength(1);
      const env = await lab.readEnvFile(m.name);
      expect(env.ETCD_INITIAL_CLUSTER).toBe(lab.members.map((x) => `${x.name}=${x.peerURL}`).join(','));
      expect(env.ETCD_INITIAL_CLUSTER_STATE).toBe('existing');
      expect(await lab.isActive(m.name, 'kubelet'), `kubelet on ${m.name}`).toBe(true);
      expect(await lab.isActive(m.name, 'controlPlane'), `control plane on ${m.name}`).toBe(true);
    }
    console.log(`split-brain (systemd, 3 independent members) took ${result.durationMs} ms`);
  }, 240_000);
});
