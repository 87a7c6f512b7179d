import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { injectFault } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * CORRUPT raised on m3 of 3 real lab nodes (systemd layout, etcd 3.5): status proposes replacing
 * m3 from the healthy majority, and the command it gives does so. etcd keeps
 * the alarm of the removed member (writes stay refused): status then says to
 * disarm it, proposes no runbook, and is healthy once it is disarmed.
 */
describe('CORRUPT on a real cluster: replace the member, then disarm', () => {
  const keys = knownKeys(20);
  let lab: LabCluster;
  let work: string;

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, nodes: true, etcd: '3.5' }, 'corrupt', keys));
    await injectFault(lab, 'corrupt');
  }, 180_000);
  afterAll(async () => {
    await stopKeyedLab(lab, work);
  });

  const status = async () => {
    const result = await runCli(['status', '--json', '--inventory', lab.inventoryPath]);
    return { exitCode: result.exitCode, json: JSON.parse(result.stdout) as { verdict: string; recommendedRunbook: string | null; advice: string | null } };
  };

  it('replace-member run as the verdict says replaces m3; the alarm of its old ID stays, and status says to disarm it', async () => {
    const before = await status();
    expect(before.exitCode).toBe(6);
    expect(before.json.recommendedRunbook).toBe('replace-member');
    const command = /\(run (replace-member --set member=m3)\)/.exec(before.json.advice ?? '')?.[1];
    expect(command).toBe('replace-member --set member=m3');

    const result = await runCli(['run', ...command!.split(' '), '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`,
      '--journal-dir', join(work, 'journal')], {}, 180_000);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');

    const after = await status();
    expect(after.exitCode).toBe(6);
    expect(after.json.verdict).toBe('alarm');
    expect(after.json.recommendedRunbook).toBeNull();
    expect(after.json.advice).toMatch(/^the alarm was raised on [0-9a-f]+, no longer a member \(replaced\): etcd refuses writes until it is disarmed: etcdctl alarm disarm$/);
  });

  it('once disarmed: healthy, writes accepted, every key on every member', async () => {
    const etcdctl = (...args: string[]) => execa('etcdctl', [...lab.etcdctlFlags(), ...args], { reject: false });
    expect((await etcdctl('alarm', 'disarm')).exitCode).toBe(0);
    expect((await etcdctl('put', 'after', 'x')).exitCode).toBe(0);
    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
  });
});
