import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPki, issueMemberCert, type LabPki } from '../../src/lab/pki.js';
import { formatProblem, lintRunbook } from '../../src/runbook/loader.js';
import {
  caDirOf,
  describeRenewCertificates,
  extensionsOf,
  judgeCa,
  judgeRenewed,
  parseSubjectAltName,
  planRenewCertificates,
} from '../../src/runbook/kinds/renew-certificates.js';

/** The renew-certificates kind's pure parts, judged on real certificates from a throwaway CA. */
describe('renew-certificates kind', () => {
  let dir: string;
  let pki: LabPki;
  let other: LabPki;
  let member: X509Certificate;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'etcd-runbook-renew-unit-'));
    pki = await createPki(join(dir, 'pki'));
    other = await createPki(join(dir, 'other'), 'another CA');
    member = new X509Certificate(await readFile((await issueMemberCert(pki, 'm1', '127.0.0.11')).cert));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the SANs and key usages of the old certificate as openssl -extfile lines', () => {
    expect(extensionsOf(member)).toBe(
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.11,IP:127.0.0.1,DNS:localhost\n',
    );
  });

  it('reads node\'s subjectAltName, a JSON-quoted value with a comma included', () => {
    expect(parseSubjectAltName('DNS:localhost, IP Address:10.0.0.2, DNS:"a,b.example"')).toEqual(['DNS:localhost', 'IP:10.0.0.2', 'DNS:a,b.example']);
    expect(parseSubjectAltName(undefined)).toEqual([]);
  });

  it('judges a renewed certificate: same subject and SANs, from this CA, valid now', async () => {
    const again = new X509Certificate(await readFile((await issueMemberCert(pki, 'm1', '127.0.0.11', undefined, 'again')).cert));
    const ca = new X509Certificate(await readFile(pki.caCert));
    expect(judgeRenewed(member, again, ca, new Date())).toBeUndefined();
    const otherCa = new X509Certificate(await readFile(other.caCert));
    expect(judgeRenewed(member, again, otherCa, new Date())).toMatch(/^it is not signed by the CA CN=another CA/);
    const elsewhere = new X509Certificate(await readFile((await issueMemberCert(pki, 'm1', '127.0.0.12', undefined, 'moved')).cert));
    expect(judgeRenewed(member, elsewhere, ca, new Date())).toMatch(/^the SANs changed \(IP Address:127\.0\.0\.11/);
    expect(judgeRenewed(member, again, ca, new Date(Date.now() + 400 * 24 * 3600 * 1000))).toMatch(/^it is not valid now/);
  });

  it('refuses in one line naming the node and the file when the CA key or certificate is missing', () => {
    const facts = { node: 'm1', cert: '/etc/kubernetes/pki/etcd/ca.crt', key: '/etc/kubernetes/pki/etcd/ca.key', certPresent: true, keyPresent: false };
    const judged = judgeCa(facts);
    expect(judged.ok).toBe(false);
    expect(judged.message).toBe(
      'the CA key /etc/kubernetes/pki/etcd/ca.key is not on m1: certificates are renewed from the CA that issued them; name the master that holds it with --set caNode=<member>',
    );
    expect(judged.message).not.toContain('\n');
    expect(judgeCa({ ...facts, keyPresent: true, certPresent: false }).message).toMatch(/^the CA certificate \/etc\/kubernetes\/pki\/etcd\/ca\.crt is not on m1/);
    expect(judgeCa({ ...facts, keyPresent: true }).ok).toBe(true);
  });

  it('finds the CA by layout: kubeadm pki/etcd, a systemd install\'s PKI dir', () => {
    const at = (layout: 'kubeadm' | 'systemd', pkiDir?: string) => caDirOf({ name: 'm1', peerURLs: [], clientURLs: [], node: { host: 'local', layout, ...(pkiDir ? { paths: { pkiDir } } : {}) } } as never);
    expect(at('kubeadm')).toBe('/etc/kubernetes/pki/etcd');
    expect(at('kubeadm', '/srv/pki')).toBe('/srv/pki/etcd');
    expect(at('systemd')).toBe('/etc/etcd/pki');
    expect(at('systemd', '/etc/ssl/etcd')).toBe('/etc/ssl/etcd');
  });

  it('plans each certificate once with its key beside it and shows the openssl commands an SRE types', () => {
    const plan = planRenewCertificates(['/etc/etcd/pki/server.crt', '/etc/etcd/pki//server.crt', '/etc/etcd/pki/peer.crt'], { node: 'm1', cert: '/etc/etcd/pki/ca.crt', key: '/etc/etcd/pki/ca.key' }, 365, '20261206T081000Z');
    expect(plan.certificates).toEqual([
      { cert: '/etc/etcd/pki/server.crt', key: '/etc/etcd/pki/server.key', aside: '/etc/etcd/pki/server.crt.old-20261206T081000Z' },
      { cert: '/etc/etcd/pki/peer.crt', key: '/etc/etcd/pki/peer.key', aside: '/etc/etcd/pki/peer.crt.old-20261206T081000Z' },
    ]);
    const lines = describeRenewCertificates(plan).split('\n');
    expect(lines[1]).toBe('mv -- /etc/etcd/pki/server.crt /etc/etcd/pki/server.crt.old-20261206T081000Z');
    // the request and the signing as the two halves of one pipe, each line short enough to review
    expect(lines.slice(2, 4)).toEqual([
      'openssl x509 -x509toreq -in /etc/etcd/pki/server.crt.old-20261206T081000Z -signkey /etc/etcd/pki/server.key |',
      '  openssl x509 -req -CA /etc/etcd/pki/ca.crt -CAkey /etc/etcd/pki/ca.key -days 365 -extfile <its SANs and usages> -out /etc/etcd/pki/server.crt',
    ]);
  });

  it('lint refuses a renew-certificates step on the local machine', () => {
    const yaml = [
      'id: r', 'title: t', 'description: d', 'appliesTo: [healthy]', 'steps:',
      '  - id: renew', '    title: t', '    why: w', '    target: local', '    kind: renew-certificates', '    risk: changes',
      '    certificates: ["/etc/etcd/pki/server.crt"]', '    ca:', '      node: m1', '',
    ].join('\n');
    expect(lintRunbook(yaml, 'r.yaml').map(formatProblem)).toEqual([
      "r.yaml:9: steps[0].target: a renew-certificates step runs on a member (its certificates and keys): use each-member, member or a repeat's member",
    ]);
  });
});
