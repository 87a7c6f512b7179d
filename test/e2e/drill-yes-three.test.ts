import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drillYes, expectPassed } from './drill-helpers.js';

/**
 * `drill --yes` on 3-member labs, one drill per fault: the whole rehearsal
 * through the real CLI — lab, sample data, fault, the recommended runbook
 * unattended, final verdict, sample check, timings — and nothing left after.
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

  it('minority (systemd): replace-member brings the cluster back with all sample data; step log, timings, report', async () => {
    const { report, stdout, exitCode } = await drill('minority');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'replace-member');
    expect(report.layout).toBe('systemd');
    // the step log and the end report
    expect(stdout).toMatch(/step 1\/\d+: Create the backup directory/);
    expect(stdout).toContain('run succeeded');
    expect(stdout).toContain('300/300 sample keys intact');
    expect(stdout).toMatch(/time from fault to healthy: \d+\.\d s/);
    expect(stdout).toMatch(/tool overhead\s+\d+\.\d s/);
    expect(stdout).toContain('drill passed');
  }, 160_000);

  it('frozen (kubeadm): the SIGSTOPped member is stopped and replaced', async () => {
    const { report, stdout, exitCode } = await drill('frozen', '--layout', 'kubeadm');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'replace-member');
    expect(report.detectedVerdict).toBe('minority-lost');
    expect(stdout).toMatch(/m3 frozen \(SIGSTOP\)/);
  }, 160_000);

  it('none: a healthy cluster gets its backup', async () => {
    const { report, stdout, exitCode } = await drill('none');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'backup');
    expect(report.detectedVerdict).toBe('healthy');
    expect(report.victims).toEqual([]);
    expect(stdout).toMatch(/time from start to the end of the run/);
  }, 160_000);

  it('quorum: restore-quorum brings the cluster back with every key written before the fault', async () => {
    const { report, stdout, exitCode } = await drill('quorum');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'restore-quorum');
  }, 160_000);

  it('split-brain: one cluster again, with the sample data every side had', async () => {
    const { report, stdout, exitCode } = await drill('split-brain');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'split-brain');
  }, 160_000);
});
