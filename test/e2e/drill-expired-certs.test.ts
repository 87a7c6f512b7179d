import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drillYes, expectPassed } from './drill-helpers.js';
import { nodeSystemdsOf } from './node-helpers.js';

/**
 * `drill --yes --fault expired-certs`: one member restarted with a server
 * certificate that expired a week ago, detected as a lost member whose
 * certificate expired, recovered by renew-certificates unattended (renewed
 * from the master's CA, etcd restarted one member at a time) on both
 * layouts, every sample key intact, nothing left after.
 */
describe('drill --yes --fault expired-certs', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-drill-expired-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('3 members (systemd): renew-certificates renews from the CA, restarts one at a time, healthy with every sample key', async () => {
    const { report, stdout, exitCode } = await drillYes(work, 3, 'expired-certs');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'renew-certificates');
    expect(report.detectedVerdict).toBe('minority-lost');
    expect(report.victims).toEqual(['m3']);
    expect(stdout).toContain('fault: m3 restarted with a server certificate that expired 7 days ago');
    expect(stdout).toMatch(/renewed \S+\/server\.crt on m3: valid until/);
    expect(stdout).toContain('300/300 sample keys intact');
  }, 200_000);

  it('3 members (kubeadm): the etcd, healthcheck and apiserver-etcd-client certificates renewed, healthy with every sample key', async () => {
    const { report, stdout, exitCode } = await drillYes(work, 3, 'expired-certs', '--layout', 'kubeadm');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'renew-certificates');
    expect(report.layout).toBe('kubeadm');
    expect(stdout).toMatch(/renewed \S+\/apiserver-etcd-client\.crt on m1: valid until/);
  }, 200_000);

  it('3 members, --transport nsenter: the fault written through the node, renewed from m1\'s CA with every command run in its node through nsenter; no node left', async () => {
    const { report, stdout, exitCode, labDir } = await drillYes(work, 3, 'expired-certs', '--transport', 'nsenter');
    expect(exitCode, stdout).toBe(0);
    expect(stdout).toContain('reached through nsenter');
    expectPassed(report, 'renew-certificates');
    expect(stdout).toContain('guard pass ca-present: the CA is on m1: /etc/etcd/pki/ca.crt, /etc/etcd/pki/ca.key');
    expect(stdout).toMatch(/renewed \/etc\/etcd\/pki\/server\.crt on m3: valid until/);
    expect(stdout).toContain('systemctl start etcd');
    expect(nodeSystemdsOf(labDir)).toEqual([]);
  }, 200_000);
});
