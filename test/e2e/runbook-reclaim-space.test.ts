import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { injectFault, NOSPACE_LAB_QUOTA_BYTES } from '../../src/lab/faults.js';
import { writeBallast } from '../../src/lab/sample-data.js';
import { runCli } from '../helpers/cli.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * reclaim-space on 3 real lab nodes (systemd layout, etcd 3.5) filled to its quota (NOSPACE
 * raised, every write refused), run from --endpoints alone as an operator
 * would: it ends with no alarm, a write accepted, a smaller database on every
 * member, and every key as it was. Then, with quorum lost, it refuses.
 */
describe('runbook reclaim-space on a real NOSPACE cluster', () => {
  const keys = knownKeys(40);
  let lab: LabCluster;
  let work: string;

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, etcd: '3.5', quotaBackendBytes: NOSPACE_LAB_QUOTA_BYTES }, 'reclaim', keys));
    await injectFault(lab, 'nospace');
  }, 180_000);
  afterAll(async () => {
    await stopKeyedLab(lab, work);
  });

  const etcdctl = (...args: string[]) => execa('etcdctl', [...lab.etcdctlFlags(), ...args], { reject: false });
  const run = (extra: string[] = []) =>
    runCli(['run', 'reclaim-space', '--yes', '--endpoints', lab.endpoints.join(','), '--cacert', lab.pki.caCert, '--cert', lab.pki.clientCert,
      '--key', lab.pki.clientKey, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal'), ...extra], {}, 180_000);

  it('from --endpoints alone: snapshot, compact, defragment (leader last), disarm; writes succeed, no alarm, a smaller DB on every member', async () => {
    expect((await etcdctl('alarm', 'list')).stdout).toMatch(/alarm:NOSPACE/);
    expect((await etcdctl('put', 'before', 'x')).stderr).toMatch(/database space exceeded/);
    const before = new Map((await lab.probe()).endpoints.map((p) => [p.name, p.dbSize ?? 0]));

    const result = await run();
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/compacted the keyspace history up to revision \d+/);
    // followers first, the leader last, each with its size before and after
    const defrag = /defragmented one at a time: ([^\n]*)/.exec(result.stdout)?.[1] ?? '';
    const parts = defrag.split('; ');
    expect(parts).toHaveLength(3);
    expect(parts[2]).toMatch(/^m\d \(leader\) [\d.]+ MiB → [\d.]+ MiB$/);
    expect(parts.slice(0, 2).every((p) => /^m\d [\d.]+ MiB → [\d.]+ MiB$/.test(p))).toBe(true);
    expect(result.stdout).toMatch(/disarmed NOSPACE on [0-9a-f]+/);
    expect(result.stdout).toMatch(/wrote \/etcd-runbook\/write-probe\/\S+ \(revision \d+\) and deleted it/);

    expect((await etcdctl('alarm', 'list')).stdout.trim()).toBe('');
    expect((await etcdctl('put', 'after', 'x')).exitCode).toBe(0);
    await expectHealthyStatus(lab);
    const after = (await lab.probe()).endpoints;
    for (const p of after) expect(p.dbSize ?? Infinity, `${p.name}: ${before.get(p.name)} → ${p.dbSize}`).toBeLessThan((before.get(p.name) ?? 0) / 2);
    await expectKeysOnEveryMember(lab, keys);
    expect((await readdir(join(work, 'backups'))).some((f) => /^snapshot-.*\.db$/.test(f))).toBe(true);
  });

  it('refuses on a cluster without quorum: nothing compacted or disarmed (appliesTo, then quorum-held)', async () => {
    await lab.kill('m3');
    await lab.kill('m2');
    const refused = await run(['--journal-dir', join(work, 'journal-refused')]);
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toContain('refusing to run reclaim-space: it applies to alarm, and the cluster is quorum-lost now');
    const result = await run(['--journal-dir', join(work, 'journal-refused'), '--override-applies-to', 'reclaim-space']);
    expect(result.exitCode).toBe(5);
    expect(result.stdout).toMatch(/guard FAIL quorum-held/);
    expect(result.stdout).not.toMatch(/compacted the keyspace history/);
  });
});

/**
 * When the live data itself fills the quota (here: the quota lowered under
 * it, as after a restart with a smaller --quota-backend-bytes), compaction
 * and defragmentation win nothing back: the run stops at the write probe and
 * says to raise the quota, instead of looping. The nodes' apiservers keep
 * writing under the lowered quota, as on a master.
 */
describe('runbook reclaim-space when the live data fills the quota', () => {
  let lab: LabCluster;
  let work: string;

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3 }, 'reclaim-full', knownKeys(4)));
    // 6 MiB of distinct keys: live data, which no compaction frees
    await writeBallast(lab.endpoints, await lab.clientTls(), 6);
    for (const member of lab.members) {
      await lab.writeEnvFile(member.name, { ...(await lab.readEnvFile(member.name)), ETCD_QUOTA_BACKEND_BYTES: String(4 * 1024 * 1024) });
      await lab.restart(member.name);
    }
    // every member up; the apiservers' lease writes may have raised NOSPACE already
    await lab.waitHealthy(30_000, 'each');
  }, 180_000);
  afterAll(async () => {
    await stopKeyedLab(lab, work);
  });

  it('stops at the write probe and says to raise --quota-backend-bytes where the flags are set', async () => {
    const put = await execa('etcdctl', [...lab.etcdctlFlags(), 'put', 'k', 'v'], { reject: false });
    expect(put.stderr).toMatch(/database space exceeded/);
    const result = await runCli(['run', 'reclaim-space', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`,
      '--journal-dir', join(work, 'journal')], {}, 180_000);
    expect(result.exitCode, result.stdout + result.stderr).toBe(5);
    expect(result.stdout).toMatch(/defragmented one at a time: /);
    expect(result.stdout).toMatch(/the live data itself fills the quota\. Raise --quota-backend-bytes on every member .*ETCD_QUOTA_BACKEND_BYTES in the env file.*\/etc\/kubernetes\/manifests\/etcd\.yaml/);
  });
});
