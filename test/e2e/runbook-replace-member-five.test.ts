import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, memberListText, writeKeys } from './runbook-helpers.js';

/** replace-member on a real 5-member cluster (systemd layout): a middle member killed and its disk lost. */
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
});
