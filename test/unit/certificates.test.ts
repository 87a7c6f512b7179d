import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFacts, serverCertificateProblem, validityProblem, type CertificateFacts } from '../../src/cluster/certificates.js';
import { createPki, issueMemberCert, type LabPki } from '../../src/lab/pki.js';

/** Real certificates, made by openssl through the lab PKI, judged at given times. */
let dir: string;
let pki: LabPki;
let otherPki: LabPki;

const DAY = 24 * 3600 * 1000;
const now = (): Date => new Date();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certificates-'));
  pki = await createPki(join(dir, 'pki'));
  otherPki = await createPki(join(dir, 'other'), 'another CA');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function facts(file: string): Promise<CertificateFacts> {
  return certificateFacts(new X509Certificate(await readFile(file)));
}

describe('validity dates', () => {
  it('an expired certificate is named expired, with the day it ended', async () => {
    const cert = await issueMemberCert(pki, 'm3', '127.0.0.13', { notBefore: new Date('2025-11-30T00:00:00Z'), notAfter: new Date('2026-11-30T12:00:00Z') }, 'expired');
    const problem = validityProblem(await facts(cert.cert), now(), 'the certificate');
    expect(problem).toMatchObject({ kind: 'expired', date: '2026-11-30' });
    expect(problem?.message).toBe('the certificate expired 2026-11-30 (valid 2025-11-30 to 2026-11-30): renew it');
  });

  it('a certificate whose validity starts later is named not yet valid, with its start', async () => {
    const start = new Date(Date.now() + 10 * DAY);
    const cert = await issueMemberCert(pki, 'm3', '127.0.0.13', { notBefore: start, notAfter: new Date(start.getTime() + DAY) }, 'future');
    const problem = validityProblem(await facts(cert.cert), now(), 'the certificate');
    expect(problem).toMatchObject({ kind: 'not-yet-valid', date: start.toISOString().slice(0, 10) });
    expect(problem?.message).toMatch(/^the certificate is not valid until \d{4}-\d\d-\d\d /);
  });

  it('the same certificate judged inside its dates has no problem', async () => {
    const cert = await issueMemberCert(pki, 'm3', '127.0.0.13', { notBefore: new Date('2025-11-30T00:00:00Z'), notAfter: new Date('2026-11-30T12:00:00Z') }, 'then');
    expect(validityProblem(await facts(cert.cert), new Date('2026-06-01T00:00:00Z'), 'the certificate')).toBeUndefined();
  });
});

describe("a member's server certificate", () => {
  it('names the address it was reached at and the SANs it has, when they do not match', async () => {
    const cert = await issueMemberCert(pki, 'm1', '127.0.0.11');
    const problem = serverCertificateProblem(await facts(cert.cert), now(), '127.0.0.99', 'ERR_TLS_CERT_ALTNAME_INVALID', pki.caCert);
    expect(problem).toMatchObject({ kind: 'wrong-san', host: '127.0.0.99' });
    expect(problem?.message).toMatch(/does not name 127\.0\.0\.99, the address it was reached at \(its SANs: IP Address:127\.0\.0\.11, IP Address:127\.0\.0\.1, DNS:localhost\)/);
    // a DNS name it carries matches
    expect(serverCertificateProblem(await facts(cert.cert), now(), 'localhost', undefined, pki.caCert)).toBeUndefined();
  });

  it('signed by another CA: names the CA file given and the issuer', async () => {
    const cert = await issueMemberCert(otherPki, 'm1', '127.0.0.11');
    const problem = serverCertificateProblem(await facts(cert.cert), now(), '127.0.0.11', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', pki.caCert);
    expect(problem?.kind).toBe('other-ca');
    expect(problem?.message).toBe(`TLS: the server certificate is not signed by the CA given (--cacert or tls.cacert): wrong CA? (CN=m1 is issued by CN=another CA; --cacert is ${pki.caCert}; UNABLE_TO_VERIFY_LEAF_SIGNATURE)`);
  });

  it('expired is said before anything else, as OpenSSL reports it', async () => {
    const cert = await issueMemberCert(otherPki, 'm1', '127.0.0.11', { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2025-12-31T00:00:00Z') }, 'old');
    const problem = serverCertificateProblem(await facts(cert.cert), now(), '127.0.0.99', 'CERT_HAS_EXPIRED', pki.caCert);
    expect(problem?.message).toBe('TLS: the server certificate (CN=m1) expired 2025-12-31 (valid 2025-01-01 to 2025-12-31): renew it');
  });

  it('a valid certificate for the address, verified, has no problem', async () => {
    const cert = await issueMemberCert(pki, 'm1', '127.0.0.11');
    expect(serverCertificateProblem(await facts(cert.cert), now(), '127.0.0.11', undefined, pki.caCert)).toBeUndefined();
  });
});
