import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { expectStaticPodsBack, inNode, nodeDataDirsAside } from './node-helpers.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, memberListText, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * replace-member end to end on 3 real kubeadm nodes (etcd 3.5): etcd and
 * the control plane run as static pods of the node's kubelet.service, so
 * the runbook stops etcd by moving etcd.yaml out of the manifests dir,
 * edits it there, and starts it by moving it back.
 */
describe('replace-member on 3 real kubeadm nodes, etcd 3.5', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'kubeadm', etcd: '3.5' }, 'replace-kubeadm', keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  it('replaces a member whose etcd died with a corrupt data dir: old dir kept aside, manifests back, healthy, every key on every member', async () => {
    const oldId = (await memberListText(lab)).split('\n').find((l) => l.includes(', m2, '))?.split(',')[0];
    await lab.kill('m2');
    // the disk came back with a broken bolt file: etcd would crash-loop on it
    await inNode(lab, 'm2', 'truncate -s 4096 /var/lib/etcd/member/snap/db');
    // the operator had already stopped this master's apiserver the static-pod way
    await inNode(lab, 'm2', 'mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/kube-apiserver.yaml.stopped');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');

    const result = await runCli(['run', 'replace-member', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')], {}, 240_000);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/- --initial-cluster-state=existing/);
    expect(result.stdout).toMatch(/restored kube-apiserver\.yaml/);

    const status = await expectHealthyStatus(lab);
    expect(status.endpoints.find((e) => e.name === 'm2')?.memberId).not.toBe(oldId);
    await expectKeysOnEveryMember(lab, keys);

    // the broken data dir was moved aside with a timestamp, never deleted
    const aside = await nodeDataDirsAside(lab, 'm2');
    expect(aside).toHaveLength(1);
    expect((await inNode(lab, 'm2', `stat -c %s ${aside[0] ?? ''}/member/snap/db`)).trim()).toBe('4096');
    // the manifest is back in the manifests dir, edited for joining; a backup of it was kept outside
    const manifest = await inNode(lab, 'm2', 'cat /etc/kubernetes/manifests/etcd.yaml');
    expect(manifest).toContain('- --initial-cluster-state=existing');
    expect(manifest).toContain(`- --initial-cluster=${lab.members.map((m) => `${m.name}=${m.peerURL}`).join(',')}`);
    expect(manifest.match(/--initial-cluster-state=/g)).toHaveLength(1);
    expect((await inNode(lab, 'm2', 'ls /etc/kubernetes')).split('\n').some((f) => /^etcd\.yaml\.bak-\d{8}T\d{6}Z$/.test(f))).toBe(true);
    // every static pod is back, and kubelet.service runs the apiserver stand-in again
    await expectStaticPodsBack(lab, 'm2');
    console.log(`replace-member (real kubeadm nodes, etcd 3.5, 3 members) took ${result.durationMs} ms`);
  }, 300_000);
});
