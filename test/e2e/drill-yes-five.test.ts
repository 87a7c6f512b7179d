import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drillCasesForEverySize, drillYes, expectPassed } from './drill-helpers.js';

/**
 * `drill --yes` on 5-member labs of real nodes (etcd 3.5, the default), one
 * drill per fault: the whole rehearsal through the real CLI — lab, sample
 * data, fault, the recommended runbook unattended, final verdict, sample
 * check, timings — and nothing left after (no node, no etcd, no lab dir).
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

  it('minority (kubeadm nodes): m5 killed, replace-member edits its static-pod manifest at the real path and brings it back', async () => {
    const { report, stdout, exitCode } = await drill('minority', '--layout', 'kubeadm');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'replace-member');
    expect(report.victims).toEqual(['m5']);
    expect(report.layout).toBe('kubeadm');
    // one edit-config step for both layouts: on kubeadm it edits m5's etcd.yaml under /etc/kubernetes (the node's own path), shown as a diff
    expect(stdout).toMatch(/Write the etcd configuration of m5 with initial-cluster-state existing/);
    expect(stdout).toMatch(/--- \/etc\/kubernetes\/\S*etcd\.yaml\S*\n\s*\[m5\] \+\+\+ /);
  }, 160_000);

  it('frozen: the SIGSTOPped member is stopped and replaced', async () => {
    const { report, stdout, exitCode } = await drill('frozen');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'replace-member');
    expect(report.detectedVerdict).toBe('minority-lost');
    expect(stdout).toMatch(/m5 frozen \(SIGSTOP\)/);
  }, 160_000);

  // the same for both sizes: a healthy cluster, quorum lost, split brain
  drillCasesForEverySize(() => work, 5);
});
