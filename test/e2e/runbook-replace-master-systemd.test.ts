import { mkdtemp, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { NODE_PATHS, under } from '../../src/lab/layouts.js';
import { exportNodeFiles } from '../../src/lab/node-members.js';
import { runCli } from '../helpers/cli.js';
import { expectHealthyStatus, expectKeysOnEveryMember, expectSameTree, knownKeys, memberListText, runBackup, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * replace-master end to end on 3 real lab nodes in the systemd (binary)
 * layout, etcd 3.5: m3's host is replaced by a freshly installed node at its
 * address (lab.replaceHost), and the runbook brings it back from the old
 * host's etcd files (/etc/etcd certificates, etcd.service, the env file) that the backup runbook
 * pulled from every member while the host was alive, then starts
 * the node's kubelet and kube-apiserver (the lab's stand-ins) again.
 */
const ETCD_FILES = [NODE_PATHS.systemd.pkiDir, NODE_PATHS.systemd.envFile, NODE_PATHS.systemd.unitFile];
const SAME_BYTES = [`${NODE_PATHS.systemd.pkiDir}/ca.crt`, `${NODE_PATHS.systemd.pkiDir}/server.crt`, `${NODE_PATHS.systemd.pkiDir}/server.key`, NODE_PATHS.systemd.unitFile];

describe('replace-master on 3 real systemd nodes (etcd 3.5)', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(200);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'systemd', etcd: '3.5' }, 'replace-master-systemd', keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  /** A node's files as they are now, copied out to the host (the backup's copies are compared with them). */
  const nodeFiles = async (name: string): Promise<string> => {
    const dir = await mkdtemp(join(work, `files-${name}-`));
    await exportNodeFiles(lab.member(name).node!, ETCD_FILES, dir);
    return dir;
  };

  it('backup saves every member\'s etcd files (certificates, env file, unit) byte for byte and mode for mode; replace-master brings the new host back from them by default: healthy, every key everywhere, files identical, kubelet and apiserver running, old root kept', async () => {
    const m3 = lab.member('m3');
    const backups = join(work, 'backups');
    await runBackup(lab, backups, join(work, 'journal'));
    expect(await readlink(join(backups, 'hosts'))).toMatch(/^hosts-\d{8}T\d{6}Z$/);
    expect((await stat(backups)).mode & 0o777).toBe(0o700);
    for (const member of lab.members) {
      const live = await nodeFiles(member.name);
      let files = 0;
      for (const nodePath of ETCD_FILES) files += await expectSameTree(under(live, nodePath), join(backups, 'hosts', member.name, nodePath));
      expect(files, member.name).toBeGreaterThanOrEqual(SAME_BYTES.length);
    }
    const oldId = (await memberListText(lab)).split('\n').find((l) => l.includes(', m3, '))?.split(',')[0];
    const oldEnv = await lab.readEnvFile('m3');
    const lostRoot = await lab.replaceHost('m3');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    expect(await lab.isActive('m3', 'kubelet')).toBe(false);

    const result = await runCli(
      ['run', 'replace-master', '--yes', '--inventory', lab.inventoryPath, '--set', 'member=m3', '--set', `backupDir=${backups}`, '--journal-dir', join(work, 'journal')],
      {},
      180_000,
    );
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/server\.crt is valid for 127\.\d+\.\d+\.\d+/);
    expect(result.stdout).toContain(join(backups, 'hosts', 'm3', m3.envFile));
    expect(result.stdout).toMatch(/kubelet and control plane on m3 started/);

    const status = await expectHealthyStatus(lab);
    expect(status.endpoints.find((e) => e.name === 'm3')?.memberId).not.toBe(oldId);
    await expectKeysOnEveryMember(lab, keys);

    const restored = await nodeFiles('m3');
    for (const nodePath of SAME_BYTES) await expectSameTree(under(lostRoot, nodePath), under(restored, nodePath));
    // the env file is the old one with only the joining settings changed
    const env = await lab.readEnvFile('m3');
    expect(env).toEqual({ ...oldEnv, ETCD_INITIAL_CLUSTER_STATE: 'existing' });
    expect(oldEnv.ETCD_INITIAL_CLUSTER_STATE).toBe('new');

    expect(await lab.isActive('m3', 'etcd')).toBe(true);
    expect(await lab.isActive('m3', 'kubelet')).toBe(true);
    expect(await lab.isActive('m3', 'controlPlane')).toBe(true);
    // the old host's root is kept whole, its data dir included
    expect((await stat(join(lostRoot, 'var', 'lib', 'etcd', 'member', 'snap', 'db'))).isFile()).toBe(true);
    console.log(`replace-master (real systemd nodes, 3 members) took ${result.durationMs} ms`);
  });
});
