import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { dataDirsAside, expectHealthyStatus, expectKeysOnEveryMember, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * restore-quorum end to end on 5 real lab nodes (systemd layout, etcd 3.5)
 * with 3 members killed (2 survive, no quorum): the snapshot comes from a survivor,
 * all five are restored into one cluster.
 */
describe('restore-quorum on 5 real systemd nodes (etcd 3.5)', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 5, layout: 'systemd', etcd: '3.5' }, 'restore-five', keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  it('restores with 3 of 5 killed: healthy, one cluster ID and leader, every key on all five, old dirs kept, control plane and kubelet back', async () => {
    for (const name of ['m1', 'm3', 'm5']) await lab.kill(name);
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');

    const result = await runCli(
      ['run', 'restore-quorum', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')],
      {},
      180_000,
    );
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/saving a snapshot from m[24]/);

    const status = await expectHealthyStatus(lab);
    expect(status.endpoints).toHaveLength(5);
    await expectKeysOnEveryMember(lab, keys);
    for (const m of lab.members) {
      expect(await dataDirsAside(m), m.name).toHaveLength(1);
      expect((await lab.readEnvFile(m.name)).ETCD_INITIAL_CLUSTER_STATE).toBe('existing');
      expect(await lab.isActive(m.name, 'kubelet'), `kubelet on ${m.name}`).toBe(true);
      expect(await lab.isActive(m.name, 'controlPlane'), `control plane on ${m.name}`).toBe(true);
    }
    console.log(`restore-quorum (real systemd nodes, 5 members, 3 killed) took ${result.durationMs} ms`);
  }, 240_000);
});
