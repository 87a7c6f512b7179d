import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drillYes, expectPassed } from './drill-helpers.js';
import { nodeSystemdsOf } from './node-helpers.js';

/**
 * `drill --etcd` rehearses on real lab nodes: restore-quorum runs what it
 * runs on a master (systemctl or the static-pod manifests, /var/lib/etcd,
 * etcdutl on 3.5), and the nodes are gone when the drill ends.
 */
describe('drill --yes --etcd 3.5 (real lab nodes)', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-drill-nodes-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('quorum: restore-quorum with etcdutl brings the cluster back with all sample data; no node left', async () => {
    const { report, stdout, exitCode, labDir } = await drillYes(work, 3, 'quorum', '--etcd', '3.5');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'restore-quorum');
    expect(stdout).toContain('real lab nodes with etcd 3.5');
    expect(stdout).toMatch(/restore will use etcdutl snapshot restore/);
    expect(stdout).toMatch(/\$ .*etcdutl snapshot restore/);
    expect(nodeSystemdsOf(labDir)).toEqual([]);
  }, 160_000);

  it('quorum on kubeadm nodes: restore-quorum with etcdutl through the static pods brings the cluster back; no node left', async () => {
    const { report, stdout, exitCode, labDir } = await drillYes(work, 3, 'quorum', '--etcd', '3.5', '--layout', 'kubeadm');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'restore-quorum');
    expect(stdout).toContain('kubeadm layout, real lab nodes with etcd 3.5');
    expect(stdout).toMatch(/restore will use etcdutl snapshot restore/);
    expect(stdout).toMatch(/\$ .*etcdutl snapshot restore/);
    expect(stdout).toContain('/etc/kubernetes/manifests/etcd.yaml');
    expect(nodeSystemdsOf(labDir)).toEqual([]);
  }, 160_000);
});
