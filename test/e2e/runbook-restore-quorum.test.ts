import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { inNode } from './node-helpers.js';
import { dataDirsAside, expectHealthyStatus, expectKeysOnEveryMember, expectNoStep, knownKeys, memberHas, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * restore-quorum end to end on 3 real lab nodes in the systemd layout
 * (etcd 3.4: the etcdctl restore path; /etc/etcd/etcd.conf, etcd, kubelet
 * and kube-apiserver as units), through the real CLI with --yes. One cluster for the file: the restore first, then the
 * guard refusals on the restored cluster, each after losing quorum again.
 *
 * The guard tests inject their fault through the node's own commands in a
 * copy of the inventory (what the runbook runs on the node), so it lands at
 * a fixed point of the run: the kubelet stop on a node brings etcd back
 * (a service manager restarting it) or changes that node's snapshot copy.
 */
describe('restore-quorum on 3 real systemd nodes (etcd 3.4)', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'systemd', etcd: '3.4' }, 'restore', keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  const run = (inventory = lab.inventoryPath, ...extra: string[]) =>
    runCli(['run', 'restore-quorum', '--yes', '--inventory', inventory, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal'), ...extra], {}, 180_000);

  const loseQuorum = async (): Promise<void> => {
    await lab.kill('m2');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
  };

  /** After a refused run: etcd, kubelet and control plane back on every node as they were. */
  const bringBack = async (): Promise<void> => {
    for (const m of lab.members) {
      if (lab.pidOf(m.name) === undefined) await lab.startMember(m.name);
      await lab.startKubelet(m.name);
      await sh(m.controlPlane?.start ?? 'true');
    }
    await lab.waitHealthy(60_000);
  };

  it('refuses on a cluster that holds quorum (one of three killed): nothing is taken down', async () => {
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    // restore-quorum applies to quorum-lost: refused before a journal exists
    const refused = await run();
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(refused.stderr).toMatch(/^etcd-runbook: refusing to run restore-quorum: it applies to quorum-lost, and the cluster is minority-lost now \(the runbook for minority-lost is replace-member\); nothing was run\. To run it anyway, pass --override-applies-to restore-quorum$/);
    // overridden, its own guard still refuses to take a serving cluster down
    const result = await run(lab.inventoryPath, '--override-applies-to', 'restore-quorum');
    expect(result.exitCode, result.stdout + result.stderr).toBe(5);
    expect(result.stdout).toMatch(/guard FAIL quorum-lost: .*quorum held \(2 of 3 voting members healthy, quorum needs 2\) and the control plane runs on m1, m2(, m3)?: a restore would stop a serving cluster/);
    await expectNoStep(result.stdout, 'stop-control-plane');
    await expectNoStep(result.stdout, 'stop-etcd');
    for (const m of ['m1', 'm2']) expect(await lab.isActive(m, 'controlPlane'), `control plane on ${m}`).toBe(true);
    await bringBack();
  }, 180_000);

  it('restores a 3-member cluster with 2 members killed: healthy, one cluster ID and leader, every key on every member, old dirs kept, control plane and kubelet back', async () => {
    await loseQuorum();
    const result = await run();
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    // etcd 3.4 here: the restore says it used etcdctl (guard 16)
    expect(result.stdout).toMatch(/restore will use etcdctl snapshot restore/);
    expect(result.stdout).toMatch(/restoring with etcdctl version: 3\.4/);
    expect(result.stdout).toMatch(/saving a snapshot from m1/);
    // the last step tells the operator what to restart where the runbook cannot reach (workers), citing Kubernetes' guide
    // (with --yes the scripted operator confirms it, and the instruction is in the transcript)
    expect(result.stdout).toMatch(/confirmed by [^\n]*On every worker node run `systemctl restart kubelet`[^\n]*`systemctl restart kube-controller-manager kube-scheduler kubelet`/);

    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    for (const m of lab.members) {
      // the old data dir kept with a timestamp, the restored one in place, the config written for restarts
      const aside = await dataDirsAside(m);
      expect(aside, m.name).toHaveLength(1);
      expect(await memberHas(m, `/var/lib/${aside[0] as string}/member/snap/db`), m.name).toBe(true);
      expect((await inNode(lab, m.name, 'stat -c %a /var/lib/etcd')).trim()).toBe('700');
      const env = await lab.readEnvFile(m.name);
      expect(env.ETCD_INITIAL_CLUSTER_STATE).toBe('existing');
      expect(env.ETCD_INITIAL_CLUSTER_TOKEN).toMatch(/^lab-restore-\d{8}T\d{6}Z$/);
      expect(env.ETCD_INITIAL_CLUSTER).toBe(lab.members.map((x) => `${x.name}=${x.peerURL}`).join(','));
      expect(env.ETCD_NAME).toBe(m.name);
      expect(await lab.isActive(m.name, 'kubelet'), `kubelet on ${m.name}`).toBe(true);
      expect(await lab.isActive(m.name, 'controlPlane'), `control plane on ${m.name}`).toBe(true);
    }
    // a restart keeps working with the written configuration
    await lab.restart('m2');
    await lab.waitHealthy(60_000);
    console.log(`restore-quorum (real systemd nodes, etcd 3.4, 3 members, 2 killed) took ${result.durationMs} ms`);
  }, 180_000);

  it('refuses while an old member still runs: stops before the data dirs are touched', async () => {
    await loseQuorum();
    // the kubelet stop on m2 brings m2's old etcd back (its service manager restarting it: nothing waits for it to be ready).
    // Alone it never gets quorum, so its Type=notify unit stays "activating"; whether its client port is bound yet when
    // the guard asks is a race (it once was not, under CI load, and the old is-active check let the data dirs move)
    const m2 = lab.member('m2');
    const inventory = await hookedInventory('old-member', { m2: { kubeletStop: 'systemctl stop kubelet && systemctl start --no-block etcd' } });
    const before = await dataDirsAside(m2);
    const result = await run(inventory);
    expect(result.exitCode, result.stdout + result.stderr).toBe(5);
    expect(result.stdout).toMatch(/guard FAIL old-members-stopped.*refusing: an old member is still running: m2 \((client port 127\.\d+\.\d+\.\d+:2379 answers, )?(peer port [^,]+ answers, )?`systemctl is-active etcd \| grep -qE '\^\(active\|activating\|deactivating\|reloading\)\$'` says it runs\)/);
    await expectNoStep(result.stdout, 'move-data-dirs-aside');
    await expectNoStep(result.stdout, 'restore');
    expect(await dataDirsAside(m2)).toEqual(before);
    await bringBack();
    await expectKeysOnEveryMember(lab, keys);
  }, 180_000);

  it('refuses when a node holds a different snapshot (sha256): stops before the data dirs are touched', async () => {
    await loseQuorum();
    // the kubelet stop on m3 changes m3's copy of the snapshot after it was copied and verified
    const tamper = 'for f in /var/lib/etcd.snapshot-*.db; do printf tampered | dd of="$f" bs=1 seek=8192 conv=notrunc 2>/dev/null; done';
    const inventory = await hookedInventory('sha', { m3: { kubeletStop: `systemctl stop kubelet && ${tamper}` } });
    const result = await run(inventory);
    expect(result.exitCode, result.stdout + result.stderr).toBe(5);
    expect(result.stdout).toMatch(/guard FAIL same-snapshot-everywhere.*refusing: .*etcd\.snapshot-\d{8}T\d{6}Z\.db differs between nodes \(m3 has [0-9a-f]{16}…; vs the expected/);
    await expectNoStep(result.stdout, 'move-data-dirs-aside');
    for (const m of lab.members) expect(await dataDirsAside(m), m.name).toHaveLength(1);
    await bringBack();
  }, 180_000);

  it('refuses to restore into a non-empty dir (a restore dir left behind): stops before the data dirs are touched', async () => {
    await loseQuorum();
    const m1 = lab.member('m1');
    const leftover = '/var/lib/etcd.restore/member/wal/0000000000000000-0000000000000000.wal';
    await m1.node!.writeFile(leftover, 'half a restore');
    const result = await run();
    expect(result.exitCode, result.stdout + result.stderr).toBe(5);
    expect(result.stdout).toMatch(/guard FAIL data-dir-empty.*a restore dir is left from an earlier.*\.restore on m1 is not empty \(member\)/);
    await expectNoStep(result.stdout, 'move-data-dirs-aside');
    await expectNoStep(result.stdout, 'restore');
    expect(await m1.node!.readFile(leftover)).toBe('half a restore');
    for (const m of lab.members) expect(await dataDirsAside(m), m.name).toHaveLength(1);
    await inNode(lab, 'm1', 'rm -r /var/lib/etcd.restore');
    await bringBack();
    await expectKeysOnEveryMember(lab, keys);
  }, 180_000);

  /**
   * A copy of the lab inventory whose nodes run extra commands (the fault)
   * in their kubelet stop: the only command override, on the node that gets
   * the fault; the rest stay the layout's own systemctl commands.
   */
  async function hookedInventory(name: string, hooks: Record<string, { kubeletStop: string }>): Promise<string> {
    const inventory = parse(await readFile(lab.inventoryPath, 'utf8')) as { members: Array<{ name: string; node: { kubelet?: { start: string; stop: string; isActive: string } } }> };
    for (const m of inventory.members) {
      const hook = hooks[m.name];
      if (hook) m.node.kubelet = { start: 'systemctl start kubelet', stop: hook.kubeletStop, isActive: 'systemctl is-active --quiet kubelet' };
    }
    const path = join(work, `inventory-${name}.yaml`);
    await writeFile(path, stringify(inventory));
    return path;
  }
});

async function sh(command: string): Promise<void> {
  const { execa } = await import('execa');
  await execa('/bin/sh', ['-c', command]);
}

