import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, memberHas, memberListText, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * replace-member on 5 real lab nodes (systemd layout, etcd 3.4: its
 * etcdctl snapshot path, beside the 3-member file's 3.5): a middle member
 * killed and its disk lost; then two members lost, where etcd's strict
 * reconfig check forbids adding one back while the other is in the list and
 * down: the run refuses until told to remove both (never by default: a member
 * that is down may only be rebooting); then one is added back, then the other
 * by its own run.
 */
describe('replace-member on 5 real systemd nodes (etcd 3.4)', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(400);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 5, layout: 'systemd', etcd: '3.4' }, 'replace-five', keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  it('replaces m3 (detected as the unhealthy one): 5 voting members healthy, one leader, every key on every member', async () => {
    await lab.kill('m3');
    const wiped = await lab.wipeDataDir('m3');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    const result = await runCli(['run', 'replace-member', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')], {}, 120_000);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/removing m3 \(\w+\) \(not healthy\) leaves 4 started voting members, quorum of the new 4-member configuration needs 3/);
    expect(result.stdout).toMatch(/promoted m3 \(\w+\) to a voting member/);
    await expectHealthyStatus(lab);
    expect((await memberListText(lab)).split('\n').filter((l) => l.endsWith(', false'))).toHaveLength(5);
    await expectKeysOnEveryMember(lab, keys);
    expect(await memberHas(lab.member('m3'), `${wiped}/member`)).toBe(true);
    console.log(`replace-member (systemd, 5 members) took ${result.durationMs} ms`);
  });

  it('with two members lost: by default removes no other member and refuses, naming m4 and --set alsoRemove=m4; told so, removes both, replaces m2, names m4; then m4 by its own run', async () => {
    const run = (...set: string[]) =>
      runCli(['run', 'replace-member', '--yes', '--inventory', lab.inventoryPath, ...set, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')], {}, 150_000);
    const voting = async (name: string) => (await memberListText(lab)).split('\n').some((l) => l.includes(`, started, ${name}, `) && l.endsWith(', false'));
    const listed = async (name: string) => (await memberListText(lab)).split('\n').some((l) => l.includes(`, ${name}, `));
    await lab.kill('m2');
    await lab.kill('m4');
    await lab.wipeDataDir('m2');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    const before = await memberListText(lab);

    // by default only m2 is removed (m4 may only be rebooting): etcd would refuse to add m2 back while m4 is
    // unreachable, so nothing changes, and the refusal names m4 with the exact input that removes it too
    // (member named: detection lists members in ID order, which the lab's ports decide, so the default may be m4)
    const refused = await run('--set', 'member=m2');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(5);
    expect(refused.stdout).toMatch(/guard FAIL other-voters-healthy: m4 is down too: etcd refuses to add a member while any voting member is unreachable, so m2 would be removed and could not be added back: start m4 again if its data is intact, or remove it in the same step \(--set alsoRemove=m4\)/);
    expect(refused.stdout).not.toMatch(/removed m2/);
    expect(await memberListText(lab)).toBe(before);

    // told to (--set alsoRemove=m4, as the refusal said): both removed in one step, m2 comes back, m4 is named
    const replaced = await run('--set', 'member=m2', '--set', 'alsoRemove=m4');
    expect(replaced.exitCode, replaced.stdout + replaced.stderr).toBe(0);
    expect(replaced.stdout).toMatch(/Remove m2,m4 from the member list/);
    expect(replaced.stdout).toMatch(/removing m2 \(\w+\) \(not healthy\), m4 \(\w+\) \(not healthy\) leaves 3 started voting members, quorum of the new 3-member configuration needs 2/);
    expect(replaced.stdout).toMatch(/guard pass other-voters-healthy: every other voting member is healthy \(3\); m4 is down and removed in the same step/);
    expect(replaced.stdout).toMatch(/removed m4 \(\w+\); removed m2 \(\w+\); 3 members remain/);
    expect(replaced.stdout).toMatch(/m2 is healthy and voting; 4 of 4 voting members healthy, quorum needs 3; m4 was removed from the member list while down: run replace-member --set member=m4 --override-applies-to replace-member to add it back/);
    expect(await voting('m2')).toBe(true);
    expect(await listed('m4')).toBe(false);
    const status = await runCli(['status', '--json', '--inventory', lab.inventoryPath]);
    console.log(`status after the first run: exit ${status.exitCode}, verdict ${(JSON.parse(status.stdout) as { verdict: string }).verdict}`);
    expect((JSON.parse(status.stdout) as { verdict: string }).verdict, status.stdout).toBe('healthy');

    // m4 by its own run, on a cluster that is healthy without it: replace-member (for minority-lost) is refused
    // unless overridden, as the first run said; its remove step finds m4 absent and the rest adds it back
    const plain = await run('--set', 'member=m4');
    expect(plain.exitCode, plain.stdout + plain.stderr).toBe(4);
    expect(plain.stderr).toContain('refusing to run replace-member: it applies to minority-lost, alarm, and the cluster is healthy now');
    const m4 = await run('--set', 'member=m4', '--override-applies-to', 'replace-member');
    expect(m4.exitCode, m4.stdout + m4.stderr).toBe(0);
    expect(m4.stdout).toMatch(/m4 is not in the member list: already removed, nothing to do/);
    expect(m4.stdout).toMatch(/m4 is healthy and voting; 5 of 5 voting members healthy, quorum needs 3/);
    expect((await memberListText(lab)).split('\n').filter((l) => l.endsWith(', false'))).toHaveLength(5);
    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    console.log(`replace-member m2 (with m4 removed) took ${replaced.durationMs} ms, m4 after it ${m4.durationMs} ms`);
  });
});
