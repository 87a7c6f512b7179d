import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { injectFault } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * CORRUPT raised on m3 of 3 real lab nodes (systemd layout, etcd 3.5): status proposes replacing
 * m3 from the healthy majority, and replace-member with nothing set picks
 * m3 (the member the alarm names, though it still answers reads). etcd keeps
 * the alarm of the removed member and refuses writes until it is disarmed:
 * the run's last etcd step disarms the alarms of members no longer in the
 * member list, so the cluster ends healthy, writes accepted, every key kept.
 */
describe('CORRUPT on a real cluster: replace the member, its stale alarm disarmed', () => {
  const keys = knownKeys(20);
  let lab: LabCluster;
  let work: string;

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, etcd: '3.5' }, 'corrupt', keys));
    await injectFault(lab, 'corrupt');
  }, 180_000);
  afterAll(async () => {
    await stopKeyedLab(lab, work);
  });

  const status = async () => {
    const result = await runCli(['status', '--json', '--inventory', lab.inventoryPath]);
    return { exitCode: result.exitCode, json: JSON.parse(result.stdout) as { verdict: string; recommendedRunbook: string | null; advice: string | null } };
  };

  it('replace-member run as the verdict says, with no member set, replaces m3 and disarms its stale alarm: healthy', async () => {
    const before = await status();
    expect(before.exitCode).toBe(6);
    expect(before.json.recommendedRunbook).toBe('replace-member');
    expect(before.json.advice).toMatch(/\(run replace-member --set member=m3\)/);

    const result = await runCli(['run', 'replace-member', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`,
      '--journal-dir', join(work, 'journal')], {}, 180_000);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/Remove m3 from the member list/);
    expect(result.stdout).toMatch(/disarmed CORRUPT on [0-9a-f]+/);

    const after = await status();
    expect(after.json.verdict).toBe('healthy');
    expect(after.exitCode).toBe(0);
  });

  it('writes accepted, every key on every member', async () => {
    const etcdctl = (...args: string[]) => execa('etcdctl', [...lab.etcdctlFlags(), ...args], { reject: false });
    expect((await etcdctl('put', 'after', 'x')).exitCode).toBe(0);
    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
  });
});
