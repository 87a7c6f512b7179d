import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drillYes, expectPassed } from './drill-helpers.js';

/**
 * `drill --yes --fault nospace`: a lab of real nodes with a small quota filled through the
 * API until etcd raises NOSPACE, detected as the alarm verdict, recovered by
 * reclaim-space unattended with every sample key intact, nothing left after.
 */
describe('drill --yes --fault nospace', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-drill-nospace-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('3 members (etcd 3.5): reclaim-space clears NOSPACE, the cluster is healthy and every sample key intact', async () => {
    const { report, stdout, exitCode } = await drillYes(work, 3, 'nospace');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'reclaim-space');
    expect(report.detectedVerdict).toBe('alarm');
    expect(stdout).toMatch(/fault: filled through the API to its space quota: NOSPACE raised on m\d/);
    expect(stdout).toMatch(/defragmented one at a time: /);
    expect(stdout).toContain('300/300 sample keys intact');
    expect(stdout).toContain('drill passed');
  }, 160_000);

  it('3 members (etcd 3.4): reclaim-space recovers too', async () => {
    const { report, stdout, exitCode } = await drillYes(work, 3, 'nospace', '--etcd', '3.4');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'reclaim-space');
    expect(report.etcd).toBe('3.4');
    expect(stdout).toContain('real lab nodes with etcd 3.4');
  }, 160_000);
});
