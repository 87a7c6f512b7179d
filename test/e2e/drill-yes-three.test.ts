import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drillCasesForEverySize, drillYes, expectPassed } from './drill-helpers.js';

/**
 * `drill --yes` on 3-member labs of real nodes (etcd 3.5, the default), one
 * drill per fault: the whole rehearsal through the real CLI — lab, sample
 * data, fault, the recommended runbook unattended, final verdict, sample
 * check, timings — and nothing left after (no node, no etcd, no lab dir).
 */

describe('drill --yes, 3 members', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-drill3-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const drill = (fault: string, ...extra: string[]) => drillYes(work, 3, fault, ...extra);

  it('minority (systemd) on 4 MiB of ballast: replace-member brings the cluster back with all sample data; step log, timings, report', async () => {
    const { report, stdout, exitCode } = await drill('minority', '--data-mib', '4');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'replace-member');
    expect(report.layout).toBe('systemd');
    expect(report.etcd).toBe('3.5');
    expect(stdout).toContain('real lab nodes with etcd 3.5, reached over SSH');
    // what it runs on a master: systemctl on the node
    expect(stdout).toMatch(/\$ .*systemctl (start|stop) etcd/);
    // the step log and the end report
    expect(stdout).toMatch(/step 1\/\d+: Create the backup directory/);
    expect(stdout).toContain('run succeeded');
    expect(stdout).toContain('300/300 sample keys intact');
    expect(stdout).toContain('ballast        1024/1024 keys (4 MiB)');
    expect(report.ballast).toEqual({ mib: 4, expected: 1024, found: 1024 });
    // the snapshot's checks are said apart from the rest of the tool's time
    expect(stdout).toMatch(/of it, snapshots\s+\d+\.\d s/);
    expect(stdout).toMatch(/time from fault to healthy: \d+\.\d s/);
    expect(stdout).toMatch(/tool overhead\s+\d+\.\d s/);
    expect(stdout).toContain('drill passed');
  }, 160_000);

  it('frozen (kubeadm nodes): the SIGSTOPped member is stopped and replaced', async () => {
    const { report, stdout, exitCode } = await drill('frozen', '--layout', 'kubeadm');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'replace-member');
    expect(report.layout).toBe('kubeadm');
    expect(report.detectedVerdict).toBe('minority-lost');
    expect(stdout).toMatch(/m3 frozen \(SIGSTOP\)/);
  }, 160_000);

  // the same for both sizes: a healthy cluster, quorum lost, split brain
  drillCasesForEverySize(() => work, 3);
});
