import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, memberListText, writeKeys } from './runbook-helpers.js';

/**
 * replace-member on a real 5-member cluster (systemd layout): a middle member
 * killed and its disk lost; then two members lost, where etcd's strict
 * reconfig check forbids adding one back until the other is back.
 */
describe('replace-member on a 5-member systemd cluster', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(400);

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 5, layout: 'systemd' });
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-replace-five-'));
    await writeKeys(lab, keys);
    await lab.settled();
  });
  afterAll(async () => {
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

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
    expect((await stat(wiped)).isDirectory()).toBe(true);
    console.log(`replace-member (systemd, 5 members) took ${result.durationMs} ms`);
  });

  it('with two members lost it refuses before changing anything (etcd would not add the member back), and replaces it once the other is back', async () => {
    const run = (...set: string[]) =>
      runCli(['run', 'replace-member', '--yes', '--inventory', lab.inventoryPath, ...set, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')], {}, 150_000);
    const voting = async (name: string) => (await memberListText(lab)).split('\n').some((l) => l.includes(`, started, ${name}, `) && l.endsWith(', false'));
    await lab.kill('m2');
    await lab.kill('m4');
    await lab.wipeDataDir('m2');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    const before = await memberListText(lab);

    // etcd refuses `member add` while any voting member is unreachable: removing m2 now would leave it out for good
    const refused = await run('--set', 'member=m2');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(5);
    expect(refused.stdout).toMatch(/guard FAIL other-voters-healthy: m4 is down too: etcd refuses to add a member while any voting member is unreachable, so m2 would be removed and could not be added back/);
    expect(refused.stdout).not.toMatch(/removed m2/);
    expect(await memberListText(lab)).toBe(before);

    // m4's data is intact: started again, m2 is replaced, and the run ends on m2 healthy and voting with quorum
    await lab.startMember('m4');
    const replaced = await run('--set', 'member=m2');
    expect(replaced.exitCode, replaced.stdout + replaced.stderr).toBe(0);
    expect(replaced.stdout).toMatch(/guard pass other-voters-healthy: every other voting member is healthy \(4\)/);
    expect(replaced.stdout).toMatch(/m2 is healthy and voting; 5 of 5 voting members healthy, quorum needs 3/);
    expect(replaced.stdout).not.toMatch(/is still down/);
    expect(await voting('m2')).toBe(true);
    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
  });
});
