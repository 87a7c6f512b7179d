import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { singleEndpointClient } from '../../src/cluster/probe.js';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { expectHealthyStatus, expectKeysOnEveryMember, KEY_PREFIX, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * restore-quorum on etcd 3.5 (the bootstrap cache's Debian trixie build, at
 * /usr/bin/etcd* on each real lab node): the snapshot-restore kind picks
 * etcdutl and bumps the revision by 1,000,000,000 with --mark-compacted, as
 * etcd's recovery guide advises when Kubernetes watches the store.
 */
describe('restore-quorum on 3 real systemd nodes running etcd 3.5', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(50);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'systemd', etcd: '3.5' }, 'restore-35', keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  it('restores with etcdutl, bumping the revision past 1,000,000,000: healthy, every key on every member', async () => {
    const before = await revisionThrough(lab, 0);
    await lab.kill('m2');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    const args = ['run', 'restore-quorum', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')];
    const result = await runCli(args, {}, 180_000);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/restore will use etcdutl snapshot restore/);
    expect(result.stdout).toMatch(/restoring with etcdutl version: 3\.5\./);
    expect(result.stdout).toMatch(/--bump-revision 1000000000 --mark-compacted/);
    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    for (const i of [0, 1, 2]) expect(await revisionThrough(lab, i), lab.members[i]?.name).toBeGreaterThan(before + 1_000_000_000 - 1);
  }, 240_000);
});

async function revisionThrough(lab: LabCluster, index: number): Promise<number> {
  const client = singleEndpointClient(lab.endpoints[index] as string, await lab.clientTls(), 10_000);
  try {
    const got = await client.get(`${KEY_PREFIX}none`).exec();
    return Number(got.header.revision);
  } finally {
    client.close();
  }
}
