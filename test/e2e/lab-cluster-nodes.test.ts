import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { apiserverLease, expectLeaseRenewedAfter, listing, processesIn } from './node-helpers.js';

const execFileP = promisify(execFile);

/**
 * The lab's member methods on real nodes act through each node's systemd and
 * files, never the host's: the faults the runbook tests inject (kill, freeze),
 * the service methods, the env file and data dir, and close().
 */
describe('a lab on real nodes (systemd layout, etcd 3.5)', () => {
  let lab: LabCluster;
  const hostEtcdBefore = listing('/var/lib/etcd');

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, nodes: true, etcd: '3.5' });
  }, 120_000);
  afterAll(() => lab?.close(), 60_000);

  it('freeze and thaw act on etcd.service\'s main process; a kill lasts past the unit\'s RestartSec until startMember; a frozen member stops', async () => {
    lab.freeze('m2');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    lab.thaw('m2');
    await lab.waitHealthy();
    await lab.kill('m2');
    expect(lab.pidOf('m2')).toBeUndefined();
    expect(await lab.isActive('m2', 'etcd')).toBe(false);
    // etcd.service says Restart=on-failure, RestartSec=5: the fault must outlast it
    await new Promise((resolve) => setTimeout(resolve, 6500));
    expect(lab.pidOf('m2')).toBeUndefined();
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    await lab.startMember('m2');
    await lab.waitHealthy();
    expect(lab.pidOf('m2')).toBeDefined();
    // a frozen member stops at once (systemctl stop's SIGTERM would wait on it until the unit's stop timeout)
    lab.freeze('m2');
    const stopping = Date.now();
    await lab.stop('m2');
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(lab.pidOf('m2')).toBeUndefined();
    await lab.startMember('m2');
    await lab.waitHealthy();
  }, 60_000);

  it('stop, isActive, the env file and the data dir are the node\'s own; the host\'s /var/lib/etcd is untouched', async () => {
    const m3 = lab.member('m3');
    const node = m3.node;
    if (!node) throw new Error('m3 is not on a real node');
    await lab.stop('m3');
    expect(await lab.isActive('m3', 'etcd')).toBe(false);
    expect((await lab.readEnvFile('m3')).ETCD_NAME).toBe('m3');
    const aside = await lab.wipeDataDir('m3');
    expect(aside).toMatch(/^\/var\/lib\/etcd\.wiped-\d+$/);
    expect((await node.exec(['ls', aside])).stdout.trim()).toBe('member');
    expect((await node.exec(['test', '-e', '/var/lib/etcd'])).exitCode).not.toBe(0);
    expect(listing('/var/lib/etcd')).toEqual(hostEtcdBefore);
    expect((await node.exec(['mv', '--', aside, '/var/lib/etcd'])).exitCode).toBe(0);
    await lab.startMember('m3');
    await lab.waitHealthy();
    await lab.stopKubelet('m3');
    expect(await lab.isActive('m3', 'kubelet')).toBe(false);
    expect(await lab.isActive('m3', 'controlPlane')).toBe(true);
    await lab.startKubelet('m3');
    expect(await lab.isActive('m3', 'kubelet')).toBe(true);
    // the control plane's commands are the node's systemctl, as the host runs them
    // (and a stopped apiserver shows in etcd: its lease is no longer renewed)
    await expectLeaseRenewedAfter(lab, 'm3', (await apiserverLease(lab, 'm3')).revision);
    await execFileP('/bin/sh', ['-c', m3.controlPlane?.stop ?? 'false']);
    expect((await node.exec('systemctl is-active kube-apiserver kube-controller-manager kube-scheduler')).stdout.split('\n').filter(Boolean)).toEqual(['inactive', 'inactive', 'inactive']);
    expect(await lab.isActive('m3', 'controlPlane')).toBe(false);
    const stopped = await apiserverLease(lab, 'm3');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await apiserverLease(lab, 'm3')).modRevision).toBe(stopped.modRevision);
    await execFileP('/bin/sh', ['-c', m3.controlPlane?.start ?? 'false']);
    expect(await lab.isActive('m3', 'controlPlane')).toBe(true);
    await expectLeaseRenewedAfter(lab, 'm3', stopped.revision);
    await expect(lab.replaceHost('m3')).rejects.toThrow(/not supported on real lab nodes yet/);
  }, 60_000);

  it('close() stops every node: no process in their PID namespaces, no mount, the lab dir gone', async () => {
    const namespaces = lab.members.map((m) => readlinkSync(`/proc/${m.node?.pid ?? 0}/ns/pid`));
    expect(processesIn(namespaces).length).toBeGreaterThan(3 * 5);
    await lab.close();
    expect(processesIn(namespaces)).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(lab.dir);
    expect(existsSync(lab.dir)).toBe(false);
    expect(listing('/var/lib/etcd')).toEqual(hostEtcdBefore);
  }, 60_000);
});

