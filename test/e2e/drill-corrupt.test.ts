import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClusterClient } from '../../src/cluster/client.js';
import { fromHexId } from '../../src/cluster/ids.js';
import { LabCluster } from '../../src/lab/cluster.js';
import { injectFault } from '../../src/lab/faults.js';
import { clientFor } from '../../src/lab/sample-data.js';
import { runCli } from '../helpers/cli.js';
import { drillYes, expectPassed } from './drill-helpers.js';
import { nodeSystemdsOf } from './node-helpers.js';

/**
 * `drill --yes --fault corrupt`: the CORRUPT alarm raised on one member
 * through etcd's maintenance API, detected as the alarm verdict, recovered by
 * replace-member unattended (the corrupt member chosen by default, its stale
 * alarm disarmed at the end), every sample key intact, nothing left after.
 */
describe('drill --yes --fault corrupt', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-drill-corrupt-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('3 members (systemd, etcd 3.5): replace-member over SSH replaces the CORRUPT member, disarms its alarm, healthy with every sample key; no node left', async () => {
    const { report, stdout, exitCode, labDir } = await drillYes(work, 3, 'corrupt');
    expect(exitCode, stdout).toBe(0);
    expect(stdout).toContain('reached over SSH');
    expectPassed(report, 'replace-member');
    expect(report.detectedVerdict).toBe('alarm');
    expect(report.victims).toEqual(['m3']);
    expect(stdout).toContain('fault: CORRUPT raised on m3 through the maintenance API');
    // the member replaced is the one the alarm names, though it still answers reads
    expect(stdout).toMatch(/Remove m3 from the member list/);
    expect(stdout).toMatch(/disarmed CORRUPT on [0-9a-f]+/);
    expect(stdout).toContain('300/300 sample keys intact');
    expect(nodeSystemdsOf(labDir)).toEqual([]);
  }, 200_000);

  it('3 members (kubeadm, --transport nsenter): the same, the static-pod member replaced, every command run in its node through nsenter', async () => {
    const { report, stdout, exitCode } = await drillYes(work, 3, 'corrupt', '--layout', 'kubeadm', '--transport', 'nsenter');
    expect(exitCode, stdout).toBe(0);
    expect(stdout).toContain('reached through nsenter');
    expectPassed(report, 'replace-member');
    expect(report.layout).toBe('kubeadm');
  }, 200_000);

  it('refuses an unknown fault with the list of faults, before any lab starts', async () => {
    const result = await runCli(['drill', '--yes', '--fault', 'corrupted']);
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toMatch(/--fault corrupted: choose one of .*nospace, corrupt, expired-certs/);
    expect(result.stdout).not.toMatch(/^lab: /m);
  });
});

/**
 * The verdict says never to take a snapshot from a CORRUPT member: with the
 * alarm raised on the leader itself, the snapshot replace-member takes first
 * streams from another member.
 */
describe('a CORRUPT leader', () => {
  let lab: LabCluster | undefined;
  let work: string | undefined;
  afterAll(async () => {
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('is not where a snapshot comes from, though it leads and answers', async () => {
    lab = await LabCluster.start({ members: 3 });
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-corrupt-leader-'));
    const report = await lab.probe();
    const leader = report.endpoints.find((p) => p.healthy && p.memberId !== undefined && p.memberId === p.leaderId);
    if (!leader?.memberId) throw new Error(`no leader in ${report.verdict.summary}`);
    const tls = await lab.clientTls();
    const raw = clientFor(lab.endpoints, tls);
    try {
      await raw.maintenance.alarm({ action: 'Activate', alarm: 'Corrupt', memberID: fromHexId(leader.memberId) });
    } finally {
      raw.close();
    }
    const client = new EtcdClusterClient(lab.endpoints, tls);
    try {
      const saved = await client.snapshotSave(join(work, 'snapshot.db'));
      expect(saved.endpoint).not.toBe(leader.endpoint);
    } finally {
      await client.close();
    }
  }, 60_000);
});

/**
 * A CORRUPT member still counts toward quorum: with another member down,
 * removing it would leave one of three started, so replace-member refuses
 * at its first change and the member list is as it was.
 */
describe('a CORRUPT member while another is down', () => {
  let lab: LabCluster | undefined;
  let work: string | undefined;
  afterAll(async () => {
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('replace-member refuses to remove it (quorum would be lost): nothing removed, no etcd stopped', async () => {
    lab = await LabCluster.start({ members: 3 });
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-corrupt-refusal-'));
    await injectFault(lab, 'corrupt');
    await lab.kill('m2');
    const members = async () => (await lab!.probe()).verdict.members.map((m) => m.name).sort();
    expect(await members()).toEqual(['m1', 'm2', 'm3']);
    const result = await runCli(['run', 'replace-member', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`,
      '--journal-dir', join(work, 'journal')], {}, 120_000);
    expect(result.exitCode, result.stdout + result.stderr).toBe(5);
    expect(result.stdout).toMatch(/guard FAIL would-lose-quorum.*refusing to remove m3 /);
    expect(result.stdout).not.toMatch(/✓ Remove m3/);
    expect(await members()).toEqual(['m1', 'm2', 'm3']);
    expect(await lab.isActive('m3', 'etcd'), 'etcd on m3').toBe(true);
  }, 90_000);
});
