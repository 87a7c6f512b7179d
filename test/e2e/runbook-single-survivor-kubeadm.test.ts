import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { dataDirsAside, expectHealthyStatus, expectKeysOnEveryMember, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * single-survivor end to end on a real 3-member cluster in the kubeadm
 * layout: etcd and a kube-apiserver stand-in are static pods of each node's
 * lab kubelet. The dead members' manifests are still in the manifests dir
 * (a kubelet restart would bring them back with the old cluster ID), so the
 * runbook parks them; the survivor is the middle member, so the others grow
 * back as m1 then m3 against m2.
 */
describe('single-survivor on a 3-member kubeadm cluster', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'kubeadm' }, 'survivor-kubeadm', keys));
  });
  afterAll(() => stopKeyedLab(lab, work));

  it('rebuilds from m2 after m1 (with its disk) and m3 died: manifests back, healthy, one cluster ID and leader, every key on every member', async () => {
    await lab.kill('m1');
    await lab.kill('m3');
    const wiped = await lab.wipeDataDir('m1');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');

    const result = await runCli(
      ['run', 'single-survivor', '--yes', '--inventory', lab.inventoryPath, '--set', 'survivor=m2', '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')],
      {},
      180_000,
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
    const manifest = async (name: string) => readFile(join(lab.member(name).manifestsDir as string, 'etcd.yaml'), 'utf8');
    for (const m of lab.members) {
      const text = await manifest(m.name);
      expect(text, m.name).toContain(`- --initial-cluster=${all}\n`);
      expect(text, m.name).toContain('- --initial-cluster-state=existing\n');
      expect(text.match(/--initial-cluster-state=/g), m.name).toHaveLength(1);
      expect(text).toMatch(/- --initial-cluster-token=lab-restore-\d{8}T\d{6}Z\n/);
      // etcd and the apiserver stand-in are back in the manifests dir, and the kubelet runs them
      expect(await readdir(m.manifestsDir as string)).toEqual(['etcd.yaml', 'kube-apiserver.yaml']);
      expect(await lab.isActive(m.name, 'kubelet'), `${m.name} kubelet`).toBe(true);
      const pod = JSON.parse(await readFile(join(m.root, 'run', 'lab-kubelet', 'pods', 'kube-apiserver.json'), 'utf8')) as { status: string };
      expect(pod.status, `${m.name} kube-apiserver`).toBe('running');
    }

    // nothing deleted: the old data dirs of m2 and m3 are kept aside, the wiped one where the fault left it
    for (const name of ['m2', 'm3']) {
      const aside = await dataDirsAside(lab.member(name).dataDir);
      expect(aside, name).toHaveLength(1);
      expect((await stat(join(lab.member(name).dataDir, '..', aside[0] as string, 'member', 'snap', 'db'))).isFile()).toBe(true);
    }
    expect((await stat(join(wiped, 'member', 'snap', 'db'))).isFile()).toBe(true);
    console.log(`single-survivor (kubeadm, 3 members) took ${result.durationMs} ms`);
  });
});
