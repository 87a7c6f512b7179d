import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { EXPECTED_VERDICT, injectFault } from '../../src/lab/faults.js';
import { issueClientCert } from '../../src/lab/pki.js';
import { runCli } from '../helpers/cli.js';

/**
 * Certificates on a real 3-member TLS cluster: m3 restarted with a server
 * certificate that expired a week ago (the expired-certs fault). It still
 * runs, but no client completes a handshake with it: `status` names m3,
 * "expired" and the date. And the tool's own client certificate out of its
 * dates is refused before any probe, naming the file and the date.
 */
describe('certificates on a real 3-member cluster', () => {
  let lab: LabCluster;
  const DAY = 24 * 3600 * 1000;
  const expiredOn = () => new Date(Date.now() - 7 * DAY).toISOString().slice(0, 10);

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3 });
  });
  afterAll(async () => {
    await lab?.close();
  });

  type StatusJson = {
    verdict: string;
    evidence: string[];
    members: Array<{ name: string; reachable: boolean; problem?: string }>;
    endpoints: Array<{ endpoint: string; reachable: boolean; error?: string; certificate?: { kind: string; date?: string; subject: string } }>;
  };

  it('m3 serving an expired certificate: degraded, and the evidence names m3, "expired" and the date', async () => {
    expect(await injectFault(lab, 'expired-certs')).toEqual(['m3']);
    const date = expiredOn();

    const text = await runCli(['status', '--inventory', lab.inventoryPath]);
    expect(text.exitCode, text.stdout + text.stderr).toBe(1);
    expect(text.stdout).toMatch(new RegExp(`m3 .*unreachable: TLS: the server certificate \\(CN=m3\\) expired ${date} \\(valid \\d{4}-\\d\\d-\\d\\d to ${date}\\): renew it`));

    const result = await runCli(['status', '--inventory', lab.inventoryPath, '--json']);
    expect(result.exitCode).toBe(1);
    const json = JSON.parse(result.stdout) as StatusJson;
    expect(json.verdict).toBe(EXPECTED_VERDICT['expired-certs']);
    expect(json.evidence.join('\n')).toMatch(new RegExp(`^m3 [0-9a-f]+ \\(voting member, ${lab.member('m3').clientURL}\\): unreachable: TLS: the server certificate \\(CN=m3\\) expired ${date} `, 'm'));
    const m3 = json.endpoints.find((e) => e.endpoint === lab.member('m3').clientURL);
    expect(m3?.certificate).toMatchObject({ kind: 'expired', date, subject: 'CN=m3' });
    // the other members' certificates are fine: nothing said of them
    expect(json.endpoints.filter((e) => e.certificate)).toHaveLength(1);
  });

  it("the tool's own client certificate expired: one line naming the file and the date, exit 4, before any probe", async () => {
    const notAfter = new Date('2026-11-30T12:00:00Z');
    const cert = await issueClientCert(lab.pki, 'client-expired', { notBefore: new Date('2025-11-30T12:00:00Z'), notAfter });
    const result = await runCli(['status', '--endpoints', lab.endpoints.join(','), '--cacert', lab.pki.caCert, '--cert', cert.cert, '--key', cert.key]);
    const lines = result.stderr.split('\n').filter((l) => l !== '');
    expect(lines, result.stderr + result.stdout).toEqual([
      `etcd-runbook: --cert ${cert.cert}: the client certificate expired 2026-11-30 (valid 2025-11-30 to 2026-11-30): renew it`,
    ]);
    expect(result.exitCode).toBe(4);
    expect(result.stdout).toBe('');
  });
});

/** The kubeadm layout: the server certificate is etcd's own file beside peer.crt, read from the static-pod manifest. */
describe('an expired server certificate on a kubeadm lab', () => {
  let lab: LabCluster;

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, layout: 'kubeadm' });
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('status --json names m3 and the date its certificate expired', async () => {
    expect(await injectFault(lab, 'expired-certs')).toEqual(['m3']);
    const date = new Date(Date.now() - 7 * 24 * 3600 * 1000).toISOString().slice(0, 10);
    const result = await runCli(['status', '--inventory', lab.inventoryPath, '--json']);
    expect(result.exitCode).toBe(1);
    const json = JSON.parse(result.stdout) as { verdict: string; evidence: string[] };
    expect(json.verdict).toBe('minority-lost');
    expect(json.evidence.join('\n')).toMatch(new RegExp(`^m3 .*: unreachable: TLS: the server certificate \\(CN=m3\\) expired ${date} `, 'm'));
  });
});
