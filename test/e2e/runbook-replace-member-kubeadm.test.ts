import { readdir, readFile, rename, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { dataDirsAside, expectHealthyStatus, expectKeysOnEveryMember, knownKeys, memberListText, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * replace-member end to end on a real 3-member cluster in the kubeadm
 * layout: etcd and a kube-apiserver stand-in run as static pods of the
 * node's lab kubelet, so the runbook stops etcd by moving etcd.yaml out of
 * the manifests dir, edits it there, and starts it by moving it back.
 */
describe('replace-member on a 3-member kubeadm cluster', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'kubeadm' }, 'replace-kubeadm', keys));
  });
  afterAll(() => stopKeyedLab(lab, work));

  it('replaces a member whose etcd died with a corrupt data dir: old dir kept aside, manifests back, healthy, every key on every member', async () => {
    const m2 = lab.member('m2');
    const manifests = m2.manifestsDir as string;
    const oldId = (await memberListText(lab)).split('\n').find((l) => l.includes(', m2, '))?.split(',')[0];
    await lab.kill('m2');
    // the disk came back with a broken bolt file: etcd would crash-loop on it
    await truncate(join(m2.dataDir, 'member', 'snap', 'db'), 4096);
    // the operator had already stopped this master's apiserver the static-pod way
    await rename(join(manifests, 'kube-apiserver.yaml'), join(manifests, '..', 'kube-apiserver.yaml.stopped'));
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');

    const result = await runCli(['run', 'replace-member', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')], {}, 120_000);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/- --initial-cluster-state=existing/);
    expect(result.stdout).toMatch(/restored kube-apiserver\.yaml/);

    const status = await expectHealthyStatus(lab);
    expect(status.endpoints.find((e) => e.name === 'm2')?.memberId).not.toBe(oldId);
    await expectKeysOnEveryMember(lab, keys);

    // the broken data dir was moved aside with a timestamp, never deleted
    const aside = await dataDirsAside(m2.dataDir);
    expect(aside).toHaveLength(1);
    expect((await stat(join(m2.dataDir, '..', aside[0] as string, 'member', 'snap', 'db'))).size).toBe(4096);
    // the manifest is back in the manifests dir, edited for joining; a backup of it was kept outside
    const manifest = await readFile(join(manifests, 'etcd.yaml'), 'utf8');
    expect(manifest).toContain('- --initial-cluster-state=existing');
    expect(manifest).toContain(`- --initial-cluster=${lab.members.map((m) => `${m.name}=${m.peerURL}`).join(',')}`);
    expect(manifest.match(/--initial-cluster-state=/g)).toHaveLength(1);
    expect((await readdir(join(manifests, '..'))).some((f) => /^etcd\.yaml\.bak-\d{8}T\d{6}Z$/.test(f))).toBe(true);
    expect(await readdir(manifests)).toEqual(['etcd.yaml', 'kube-apiserver.yaml']);
    // and the kubelet runs the apiserver stand-in again
    const pod = JSON.parse(await readFile(join(m2.root, 'run', 'lab-kubelet', 'pods', 'kube-apiserver.json'), 'utf8')) as { pid: number; status: string };
    expect(pod.status).toBe('running');
    console.log(`replace-member (kubeadm, 3 members) took ${result.durationMs} ms`);
  });
});
