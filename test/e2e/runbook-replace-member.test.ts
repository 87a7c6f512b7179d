import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { journalEvents } from '../helpers/journal.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, memberHas, memberListing, memberListText, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * replace-member end to end on 3 real lab nodes in the systemd layout
 * (systemd as PID 1, /etc/etcd/etcd.conf, `systemctl stop etcd`, each node
 * over SSH, etcd 3.5), through the real CLI with --yes. One cluster for the
 * file: the repair first, then the guards on the repaired cluster.
 */
describe('replace-member on 3 real systemd nodes (etcd 3.5)', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'systemd', etcd: '3.5' }, 'replace', keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  const run = (...extra: string[]) =>
    runCli(['run', 'replace-member', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal'), ...extra], {}, 120_000);

  it('replaces a killed member whose data dir was lost: healthy, one cluster ID and leader, every key on every member', async () => {
    const before = await memberListText(lab);
    const oldId = before.split('\n').find((l) => l.includes(', m3, '))?.split(',')[0];
    await lab.kill('m3');
    const wiped = await lab.wipeDataDir('m3');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');

    const result = await run();
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    // the steps that differ by layout: the env file was edited, the manifest step did not apply
    expect(result.stdout).toMatch(/ETCD_INITIAL_CLUSTER_STATE="existing"/);
    expect(result.stdout).toMatch(/initial-cluster matches the member list/);
    // the snapshot's after-check: snapshot status on the file, its appended sha256 as the save checked it streaming in
    expect(result.stdout).toMatch(/check pass snapshot-verified: snapshot \S+ on local verified with etcd(ctl|utl) snapshot status: .*, sha256 integrity hash matches \(checked as etcd streamed it to the save; the file is unchanged since\)/);

    // Kubernetes' order: the failed master's control plane, then its etcd, stopped before the member is removed
    const events = await journalEvents(/journal: (\S+)/.exec(result.stdout)?.[1] as string);
    const firstRun = (step: string) => events.findIndex((e) => e.type === 'target-started' && e.step === step);
    expect(firstRun('stop-control-plane')).toBeGreaterThan(0);
    expect(firstRun('stop-control-plane')).toBeLessThan(firstRun('stop-etcd'));
    expect(firstRun('stop-etcd')).toBeLessThan(firstRun('remove-member'));
    expect(result.stdout).toContain('control plane on m3 stopped');
    // and started again once m3 is back and voting
    expect(firstRun('start-control-plane')).toBeGreaterThan(firstRun('wait-healthy'));
    expect(result.stdout).toContain('control plane on m3 started');
    expect(await lab.isActive('m3', 'controlPlane'), 'control plane on m3').toBe(true);

    const status = await expectHealthyStatus(lab);
    const newId = status.endpoints.find((e) => e.name === 'm3')?.memberId;
    expect(newId).toBeDefined();
    expect(newId).not.toBe(oldId);
    await expectKeysOnEveryMember(lab, keys);

    // nothing deleted: the lost data dir is where the fault left it, the snapshot taken first is verified
    expect(await memberHas(lab.member('m3'), `${wiped}/member/snap/db`)).toBe(true);
    const env = await lab.readEnvFile('m3');
    expect(env.ETCD_INITIAL_CLUSTER_STATE).toBe('existing');
    expect(env.ETCD_INITIAL_CLUSTER).toBe(lab.members.map((m) => `${m.name}=${m.peerURL}`).join(','));
    const envDir = await memberListing(lab.member('m3'), '/etc/etcd');
    expect(envDir !== 'absent' && envDir.some((f) => /^etcd\.conf\.bak-\d{8}T\d{6}Z$/.test(f)), `/etc/etcd on m3: ${String(envDir)}`).toBe(true);
    const backups = await readdir(join(work, 'backups'));
    expect(backups.filter((f) => /^snapshot-\d{8}T\d{6}Z\.db$/.test(f))).toHaveLength(1);
    console.log(`replace-member (systemd, 3 members) took ${result.durationMs} ms`);
  });

  it('refuses to remove a healthy member while another is down: stops before member remove, nothing removed', async () => {
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    const before = await memberListText(lab);
    const result = await run('--set', 'member=m1');
    expect(result.exitCode).toBe(5);
    expect(result.stdout).toMatch(/guard FAIL would-lose-quorum.*refusing to remove m1 .*1 of 3 voting members would remain started, quorum of the new 2-member configuration needs 2/);
    expect(result.stdout).toMatch(/aborted by .*blocked/);
    expect(await memberListText(lab)).toBe(before);
    // refused at the first step that would change anything: m1's control plane and etcd were not stopped
    await expectNoStep(result.stdout, 'stop-control-plane');
    await expectNoStep(result.stdout, 'remove-member');
    expect(await lab.isActive('m1', 'controlPlane'), 'control plane on m1').toBe(true);
  });

  it('refuses on a quorum-lost cluster (2 of 3 down): stops before member remove, nothing removed', async () => {
    await lab.kill('m3');
    await lab.kill('m2');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    // replace-member applies to minority-lost: refused before a journal exists
    const refused = await run('--set', 'member=m3');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(refused.stderr).toMatch(/^etcd-runbook: refusing to run replace-member: it applies to minority-lost, alarm, and the cluster is quorum-lost now \(the runbook for quorum-lost is restore-quorum\); nothing was run\. To run it anyway, pass --override-applies-to replace-member$/);
    // overridden, its own guard still refuses to change the membership without quorum
    const result = await run('--set', 'member=m3', '--override-applies-to', 'replace-member');
    expect(result.exitCode, result.stdout + result.stderr).toBe(5);
    expect(result.stdout).toMatch(/guard FAIL quorum-held/);
    await expectNoStep(result.stdout, 'remove-member');
    await lab.startMember('m2');
    await lab.startMember('m3');
    await lab.waitHealthy();
    expect((await memberListText(lab)).split('\n')).toHaveLength(3);
    await expectKeysOnEveryMember(lab, keys);
  });
});

/** The journal says the step never started on any node. */
async function expectNoStep(stdout: string, step: string): Promise<void> {
  const journal = /journal: (\S+)/.exec(stdout)?.[1];
  expect(journal, stdout).toBeDefined();
  const events = (await readFile(journal as string, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: string });
  expect(events.filter((e) => e.type === 'target-started' && e.step === step)).toEqual([]);
}
