import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drillYes, expectPassed } from './drill-helpers.js';

/**
 * `drill --yes` on 5-member labs, one drill per fault: the whole rehearsal
 * through the real CLI — lab, sample data, fault, the recommended runbook
 * unattended, final verdict, sample check, timings — and nothing left after.
 */

describe('drill --yes, 5 members', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-drill5-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const drill = (fault: string, ...extra: string[]) => drillYes(work, 5, fault, ...extra);

  it('minority (kubeadm): m5 killed, replace-member edits its static-pod manifest and brings it back', async () => {
    const { report, stdout, exitCode } = await drill('minority', '--layout', 'kubeadm');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'replace-member');
    expect(report.victims).toEqual(['m5']);
    expect(report.layout).toBe('kubeadm');
    expect(stdout).toMatch(/Edit the etcd static-pod manifest of m5/);
  }, 160_000);

  it('frozen (systemd): the SIGSTOPped member is stopped and replaced', async () => {
    const { report, stdout, exitCode } = await drill('frozen');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'replace-member');
    expect(report.detectedVerdict).toBe('minority-lost');
    expect(stdout).toMatch(/m5 frozen \(SIGSTOP\)/);
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
