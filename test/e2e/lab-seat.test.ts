import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Inventory } from '../../src/inventory/schema.js';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runOnSeat } from './node-helpers.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * The production topology end to end: the tool runs on a surviving master
 * (the lab's seat, node m1, where `etcd-runbook` is on root's PATH), reaches
 * its own member with local commands and the other masters over SSH through
 * their sshd, and recovers lost quorum there with the runbook's own commands.
 */
describe('the operator\'s seat: etcd-runbook inside m1 of 3 real nodes', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, seat: true, etcd: '3.5' }, 'seat', keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  const onSeat = (args: string[], timeoutMs?: number) => runOnSeat(lab, args, timeoutMs);

  it('m1 is local in the inventory and the others are reached over SSH; status from the seat sees the whole cluster', async () => {
    const inventory = parse(await readFile(lab.inventoryPath, 'utf8')) as Inventory;
    expect(inventory.members.map((m) => [m.name, m.node?.transport, m.node?.host])).toEqual([
      ['m1', 'local', 'local'],
      ['m2', 'ssh', lab.member('m2').ip],
      ['m3', 'ssh', lab.member('m3').ip],
    ]);
    const status = await onSeat(['status', '--json', '--inventory', lab.inventoryPath]);
    expect(status.exitCode, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { verdict: string }).verdict).toBe('healthy');
  }, 120_000);

  it('restore-quorum run from the seat with 2 masters killed: healthy, every key on every member', async () => {
    await lab.kill('m2');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    const journalDir = join(lab.dir, 'journal');
    const result = await onSeat(['run', 'restore-quorum', '--yes', '--inventory', lab.inventoryPath, '--set', 'backupDir=/var/lib/etcd-backup', '--journal-dir', journalDir], 300_000);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toContain('restore will use etcdutl snapshot restore');
    // the run's journal is where the seat wrote it, visible on the host through the lab dir
    expect(readdirSync(journalDir).some((f) => f.endsWith('.jsonl'))).toBe(true);
    // the snapshot was taken on the seat, in its own /var/lib/etcd-backup, and copied to every member
    expect((await lab.member('m1').node!.exec('ls /var/lib/etcd-backup')).stdout).toMatch(/^restore-\d{8}T\d{6}Z\.db$/m);
    for (const m of lab.members) expect((await m.node!.exec('ls -d /var/lib/etcd.snapshot-*.db')).stdout).toMatch(/^\/var\/lib\/etcd\.snapshot-\d{8}T\d{6}Z\.db$/m);
    expect((await lab.member('m2').node!.exec('ls /var/lib/etcd-backup')).exitCode, 'no backup dir of the seat on m2').not.toBe(0);
    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
  }, 360_000);
});
