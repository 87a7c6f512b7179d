import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { expectStaticPodsBack, inNode, nodeDataDirsAside } from './node-helpers.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * single-survivor end to end on 3 real kubeadm nodes (etcd 3.5): etcd and
 * the control plane are static pods of each node's kubelet.service. The
 * dead members' manifests are still in the manifests dir (a kubelet restart
 * would bring them back with the old cluster ID), so the runbook parks
 * them; the survivor is the middle member, so the others grow back as m1
 * then m3 against m2.
 */
describe('single-survivor on 3 real kubeadm nodes, etcd 3.5', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'kubeadm', etcd: '3.5' }, 'survivor-kubeadm', keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  it('rebuilds from m2 after m1 (with its disk) and m3 died: manifests back, healthy, one cluster ID and leader, every key on every member', async () => {
    await lab.kill('m1');
    await lab.kill('m3');
    const wiped = await lab.wipeDataDir('m1');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');

    const result = await runCli(
      ['run', 'single-survivor', '--yes', '--inventory', lab.inventoryPath, '--set', 'survivor=m2', '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')],
      {},
      300_000,
    );
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/etcd on m1 parked/);
    expect(result.stdout).toMatch(/etcd on m3 parked/);
    expect(result.stdout).toMatch(/- --initial-cluster-state=new/);
    expect(result.stdout).toMatch(/- --initial-cluster-state=existing/);

    const status = await expectHealthyStatus(lab);
    expect(status.endpoints).toHaveLength(3);
    await expectKeysOnEveryMember(lab, keys);

    // every manifest ends with the whole member list and existing: a member whose data dir is lost
    // later rejoins this cluster instead of bootstrapping one of its own (the survivor's said one member, new)
    const all = lab.members.map((m) => `${m.name}=${m.peerURL}`).join(',');
    for (const m of lab.members) {
      const text = await inNode(lab, m.name, 'cat /etc/kubernetes/manifests/etcd.yaml');
      expect(text, m.name).toContain(`- --initial-cluster=${all}\n`);
      expect(text, m.name).toContain('- --initial-cluster-state=existing\n');
      expect(text.match(/--initial-cluster-state=/g), m.name).toHaveLength(1);
      expect(text).toMatch(/- --initial-cluster-token=lab-restore-\d{8}T\d{6}Z\n/);
      // etcd and the control plane are back in the manifests dir, and kubelet.service runs them
      await expectStaticPodsBack(lab, m.name);
    }

    // nothing deleted: the old data dirs of m2 and m3 are kept aside, the wiped one where the fault left it
    for (const name of ['m2', 'm3']) {
      const aside = await nodeDataDirsAside(lab, name);
      expect(aside, name).toHaveLength(1);
      await inNode(lab, name, `test -f ${aside[0] ?? ''}/member/snap/db`);
    }
    await inNode(lab, 'm1', `test -f ${wiped}/member/snap/db`);
    console.log(`single-survivor (real kubeadm nodes, etcd 3.5, 3 members) took ${result.durationMs} ms`);
  }, 360_000);
});
