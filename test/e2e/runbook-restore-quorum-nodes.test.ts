import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Inventory } from '../../src/inventory/schema.js';
import type { LabCluster, LabMember } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { apiserverLease, expectLeaseRenewedAfter, inNode } from './node-helpers.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * restore-quorum end to end on real lab nodes (systemd as PID 1, one node
 * per member): etcd under etcd.service with /etc/etcd/etcd.conf, its data in
 * /var/lib/etcd, the kubelet and control plane as units, each node reached
 * over SSH as root. The inventory names no command and no path but the
 * layout's own, so the run executes what it would on a master: systemctl
 * stop etcd, mv /var/lib/etcd, etcdutl (3.5) or etcdctl (3.4) snapshot
 * restore, the env file rewritten, systemctl start etcd.
 */
describe.each(['3.5', '3.4'] as const)('restore-quorum on 3 real systemd nodes, etcd %s', (version) => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);
  const tool = version === '3.5' ? 'etcdutl' : 'etcdctl';

  beforeAll(async () => {
    const started = Date.now();
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'systemd', etcd: version }, `restore-nodes-${version}`, keys));
    console.log(`lab up (3 nodes, etcd ${version}): ${lab.startedAt - started} ms`);
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  it('runs etcd under systemd at the real paths, and its inventory has no command overrides and only the layout paths', async () => {
    const inventory = parse(await readFile(lab.inventoryPath, 'utf8')) as Inventory;
    for (const [i, entry] of inventory.members.entries()) {
      const m = lab.members[i] as LabMember;
      expect(entry.node).toEqual({
        host: m.ip,
        transport: 'ssh',
        ssh: { user: 'root', port: 22, identityFile: expect.any(String), knownHosts: expect.any(String) },
        layout: 'systemd',
        paths: { dataDir: '/var/lib/etcd', pkiDir: '/etc/etcd/pki', envFile: '/etc/etcd/etcd.conf', unitFile: '/etc/systemd/system/etcd.service' },
      });
      expect((await inNode(lab, m.name, 'cat /proc/1/comm')).trim()).toBe('systemd');
      expect((await inNode(lab, m.name, 'systemctl is-active etcd kubelet kube-apiserver kube-controller-manager kube-scheduler sshd')).split('\n').filter(Boolean)).toEqual(
        Array(6).fill('active'),
      );
      expect(await inNode(lab, m.name, 'etcd --version')).toContain(`etcd Version: ${version}.`);
      // the lab's pidOf is the host's view of etcd.service's main process
      const nsPid = /^NSpid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${lab.pidOf(m.name) ?? 0}/status`, 'utf8'))?.[1];
      expect((await inNode(lab, m.name, 'systemctl show -p MainPID --value etcd')).trim()).toBe(nsPid);
      expect((await inNode(lab, m.name, 'ls /var/lib/etcd')).trim()).toBe('member');
    }
  });

  it('restores a 3-member cluster with 2 members killed: healthy, one cluster ID and leader, every key on every member, restored with the version\'s tool', async () => {
    await lab.kill('m2');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    const result = await runCli(
      ['run', 'restore-quorum', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')],
      {},
      300_000,
    );
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toContain(`restore will use ${tool} snapshot restore`);
    expect(result.stdout).toMatch(new RegExp(`restoring with ${tool} version: ${version.replace('.', '\\.')}\\.`));

    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    for (const m of lab.members) {
      // the old data dir kept beside the restored one, the env file written for restarts, the rest of the master back
      expect(await inNode(lab, m.name, 'ls -d /var/lib/etcd.old-*/member/snap/db')).toMatch(/^\/var\/lib\/etcd\.old-\d{8}T\d{6}Z\/member\/snap\/db\n$/);
      expect((await inNode(lab, m.name, 'stat -c %a /var/lib/etcd')).trim()).toBe('700');
      const env = await lab.readEnvFile(m.name);
      expect(env.ETCD_INITIAL_CLUSTER_STATE).toBe('existing');
      expect(env.ETCD_INITIAL_CLUSTER_TOKEN).toMatch(/^lab-restore-\d{8}T\d{6}Z$/);
      expect(env.ETCD_INITIAL_CLUSTER).toBe(lab.members.map((x) => `${x.name}=${x.peerURL}`).join(','));
      expect(await lab.isActive(m.name, 'etcd'), `etcd on ${m.name}`).toBe(true);
      expect(await lab.isActive(m.name, 'kubelet'), `kubelet on ${m.name}`).toBe(true);
      expect(await lab.isActive(m.name, 'controlPlane'), `control plane on ${m.name}`).toBe(true);
    }
    // every apiserver writes to etcd again
    const { revision } = await apiserverLease(lab, 'm1');
    for (const m of lab.members) await expectLeaseRenewedAfter(lab, m.name, revision);
    // a restart keeps working with the written configuration
    await lab.restart('m2');
    await lab.waitHealthy(60_000);
    console.log(`restore-quorum (real nodes, etcd ${version}, 3 members, 2 killed) took ${result.durationMs} ms`);
  }, 360_000);
});

/**
 * The same on kubeadm nodes: etcd and the control plane are static pods of
 * kubelet.service, so the run parks the manifests beside the manifests dir
 * (the kubelet stops the pods), stops the kubelet, restores with etcdutl,
 * edits the parked etcd.yaml, and moves the manifests back with the kubelet
 * started again: what it does on a kubeadm master.
 */
describe('restore-quorum on 3 real kubeadm nodes, etcd 3.5', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);

  beforeAll(async () => {
    const started = Date.now();
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'kubeadm', etcd: '3.5' }, 'restore-nodes-kubeadm', keys));
    console.log(`lab up (3 kubeadm nodes, etcd 3.5): ${lab.startedAt - started} ms`);
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);


  it('restores with 2 of 3 killed: healthy, every key on every member, restored with etcdutl, the static pods back under kubelet.service', async () => {
    await lab.kill('m1');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    const result = await runCli(
      ['run', 'restore-quorum', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')],
      {},
      300_000,
    );
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toContain('restore will use etcdutl snapshot restore');
    expect(result.stdout).toMatch(/restoring with etcdutl version: 3\.5\./);
    expect(result.stdout).toContain('mv -- /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/etcd.yaml.stopped');

    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    const { revision } = await apiserverLease(lab, 'm1');
    for (const m of lab.members) {
      expect(await inNode(lab, m.name, 'ls -d /var/lib/etcd.old-*/member/snap/db')).toMatch(/^\/var\/lib\/etcd\.old-\d{8}T\d{6}Z\/member\/snap\/db\n$/);
      expect((await inNode(lab, m.name, 'ls /etc/kubernetes/manifests')).split('\n').filter(Boolean)).toEqual(['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml']);
      const manifest = await inNode(lab, m.name, 'cat /etc/kubernetes/manifests/etcd.yaml');
      expect(manifest).toContain('- --initial-cluster-state=existing');
      expect(manifest).toMatch(/- --initial-cluster-token=lab-restore-\d{8}T\d{6}Z/);
      expect((await inNode(lab, m.name, 'systemctl is-active kubelet')).trim()).toBe('active');
      // the restored etcd runs from the edited manifest, as a pod of kubelet.service
      expect(readFileSync(`/proc/${lab.pidOf(m.name) ?? 0}/cmdline`, 'utf8')).toContain('--initial-cluster-state=existing');
      await expectLeaseRenewedAfter(lab, m.name, revision);
    }
    console.log(`restore-quorum (real kubeadm nodes, etcd 3.5, 3 members, 2 killed) took ${result.durationMs} ms`);
  }, 360_000);
});
