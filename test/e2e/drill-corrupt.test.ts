import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { drillYes, expectPassed } from './drill-helpers.js';

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

  it('3 members (systemd): replace-member replaces the CORRUPT member, disarms its alarm, healthy with every sample key', async () => {
    const { report, stdout, exitCode } = await drillYes(work, 3, 'corrupt');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'replace-member');
    expect(report.detectedVerdict).toBe('alarm');
    expect(report.victims).toEqual(['m3']);
    expect(stdout).toContain('fault: CORRUPT raised on m3 through the maintenance API');
    // the member replaced is the one the alarm names, though it still answers reads
    expect(stdout).toMatch(/Remove m3 from the member list/);
    expect(stdout).toMatch(/disarmed CORRUPT on [0-9a-f]+/);
    expect(stdout).toContain('300/300 sample keys intact');
  }, 200_000);

  it('refuses an unknown fault with the list of faults, before any lab starts', async () => {
    const result = await runCli(['drill', '--yes', '--fault', 'corrupted']);
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toMatch(/--fault corrupted: choose one of .*nospace, corrupt, expired-certs/);
    expect(result.stdout).not.toMatch(/^lab: /m);
  });
});
