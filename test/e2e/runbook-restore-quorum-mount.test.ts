import { execFileSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * A data dir that is a mount point (etcd on its own disk, here a tmpfs on
 * m1's data dir): `mv` of the dir fails with EBUSY, so restore-quorum's
 * move-aside moves its contents into <dataDir>/.old-<timestamp>/ on the same
 * disk, and the restore is put in place inside the mount. Mounting needs
 * root, as the lab does.
 */
describe('restore-quorum with a data dir on its own mount', () => {
  let lab: LabCluster;
  let work: string;
  let mounted: string | undefined;
  const keys = knownKeys(100);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'systemd' }, 'restore-mount', keys));
    // m1's data dir moves onto a tmpfs mounted in its place, its data copied over
    const data = lab.member('m1').dataDir;
    await lab.stop('m1');
    execFileSync('/bin/sh', ['-c', 'mv -- "$1" "$1.pre-mount" && mkdir -m 0700 -- "$1"', 'sh', data]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256m,mode=0700', 'etcd-runbook-e2e', data]);
    mounted = data;
    execFileSync('/bin/sh', ['-c', 'cp -a -- "$1.pre-mount/." "$1/" && rm -rf -- "$1.pre-mount"', 'sh', data]);
    await lab.startMember('m1');
    await lab.waitHealthy(60_000);
  }, 120_000);

  afterAll(async () => {
    // lazily: etcd may still hold it; the lab then removes the dir it was on
    if (mounted) execFileSync('umount', ['-l', mounted]);
    await stopKeyedLab(lab, work);
  });

  it('moves the mount point\'s contents aside inside it, restores into it, and the cluster is whole', async () => {
    const data = lab.member('m1').dataDir;
    const device = async (path: string) => (await stat(path)).dev;
    expect(await device(data)).not.toBe(await device(dirname(data)));
    await lab.kill('m2');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    const result = await runCli(['run', 'restore-quorum', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')], {}, 180_000);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/is a mount point \(its own filesystem, so it cannot be moved\): its \d+ entr(y|ies) \(member\) move into .*\/\.old-\d{8}T\d{6}Z\/ on the same disk/);
    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    // still the mount, holding the restored member and the old one beside it
    expect(await device(data)).not.toBe(await device(dirname(data)));
    const entries = (await readdir(data)).sort();
    expect(entries).toEqual([expect.stringMatching(/^\.old-\d{8}T\d{6}Z$/), 'member']);
    expect(await readdir(join(data, entries[0] as string, 'member'))).toContain('snap');
  }, 240_000);
});
