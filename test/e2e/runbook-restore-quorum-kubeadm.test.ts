import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { CLI, runCli } from '../helpers/cli.js';
import { expectStaticPodsBack } from './node-helpers.js';
import { dataDirsAside, expectHealthyStatus, expectKeysOnEveryMember, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * restore-quorum end to end on 3 real lab nodes in the kubeadm layout, etcd
 * 3.4 (etcdctl's restore; the 3.5 kubeadm case is in
 * runbook-restore-quorum-nodes): etcd and the control plane are static pods
 * that kubelet.service runs from /etc/kubernetes/manifests, so the runbook stops them by moving manifests out (with the
 * kubelet running), stops the kubelet, edits etcd.yaml where it is parked,
 * and starts etcd by moving it back and starting the kubelet. Then the
 * fault: a restored member killed right after it started; the run waits
 * and says which member is missing, the operator interrupts it, and a
 * second run gets the cluster healthy.
 */
describe('restore-quorum on 3 real kubeadm nodes (etcd 3.4)', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);
  const args = () => ['run', 'restore-quorum', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')];

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'kubeadm', etcd: '3.4' }, 'restore-kubeadm', keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  it('restores with 2 of 3 killed: healthy, one cluster ID and leader, every key on every member, old dirs kept, manifests and kubelet back', async () => {
    await lab.kill('m1');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');

    const result = await runCli(args(), {}, 180_000);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/saving a snapshot from m2/);
    expect(result.stdout).toMatch(/- --initial-cluster-state=existing/);
    expect(result.stdout).toMatch(/restoring with etcdctl version: 3\.4/);

    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    for (const m of lab.members) await expectRestoredNode(m.name, 1);
    console.log(`restore-quorum (real kubeadm nodes, etcd 3.4, 3 members, 2 killed) took ${result.durationMs} ms`);
  }, 240_000);

  it('a member killed right after the restore started it: the run waits naming it, and a second run gets to healthy', async () => {
    await lab.kill('m2');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');

    const started = Date.now();
    const child = execa(process.execPath, [CLI, ...args()], { env: { NO_COLOR: '1' }, reject: false, stdin: 'ignore', timeout: 180_000 });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      // the fault: m3's restored etcd dies (SIGKILL) as soon as its kubelet starts it
      await until(() => output.includes('Start the kubelet so it runs the etcd static pod') && lab.pidOf('m3') !== undefined, 120_000, () => `m3 never started:\n${output}`);
      await lab.kill('m3');
      // the run keeps waiting and says what is missing; the operator gives up waiting (Ctrl-C)
      await until(() => /Wait until every member is healthy[\s\S]*minority-lost/.test(output), 120_000, () => `no wait naming the lost member:\n${output}`);
      child.kill('SIGINT');
    } finally {
      // a failed expectation never leaves the CLI running
      setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
    }
    const first = await child;
    expect(first.exitCode, output).not.toBe(0);
    expect(output).toMatch(/interrupted by the operator/);
    expect(output).not.toContain('run succeeded');

    // the partly restored cluster is minority-lost, outside restore-quorum's appliesTo: a second run says so
    const refused = await runCli(args(), {}, 60_000);
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(refused.stderr).toContain('pass --override-applies-to restore-quorum');
    const again = await runCli([...args(), '--override-applies-to', 'restore-quorum'], {}, 180_000);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('run succeeded');
    // the partly restored cluster holds quorum, but the first run had stopped every control plane
    expect(again.stdout).toMatch(/guard pass quorum-lost: quorum held \(2 of 3 .*\), but the control plane runs on no master/);
    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    for (const m of lab.members) await expectRestoredNode(m.name, 3);
    console.log(`restore-quorum (kubeadm) with a member killed after start: interrupted after ${Date.now() - started - again.durationMs} ms, second run took ${again.durationMs} ms`);
  }, 240_000);

  /** The node after a restore: old dirs kept, manifests back in place and edited, kubelet and apiserver running. */
  async function expectRestoredNode(name: string, asideCount: number): Promise<void> {
    const m = lab.member(name);
    expect(await dataDirsAside(m), name).toHaveLength(asideCount);
    const manifest = await m.node!.readFile('/etc/kubernetes/manifests/etcd.yaml');
    expect(manifest).toContain('- --initial-cluster-state=existing');
    expect(manifest).toMatch(/- --initial-cluster-token=lab-restore-\d{8}T\d{6}Z/);
    expect(manifest.match(/--initial-cluster-token=/g)).toHaveLength(1);
    expect(manifest).toContain(`- --name=${name}`);
    // every static pod back, kubelet.service running them, the apiserver writing to etcd again
    await expectStaticPodsBack(lab, name);
  }
});

async function until(done: () => boolean | Promise<boolean>, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
