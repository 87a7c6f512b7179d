import { randomBytes, X509Certificate } from 'node:crypto';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { InventoryMember } from '../../inventory/schema.js';
import type { FileStat, Transport } from '../../transport/types.js';
import { messageOf } from '../../util/errors.js';
import { shellJoin } from '../../util/shell.js';
import { writeFileAs } from './edit-config.js';
import type { KindIo, KindResult } from './exec.js';
import { asideOf } from './move-aside.js';

/**
 * The `renew-certificates` step kind: each certificate re-issued from the
 * CA that signed it, with the subject, SANs and key usages it had and its
 * own private key (as `kubeadm certs renew` does), the old file moved aside
 * to `<path>.old-<timestamp>` as move-aside names it, never over anything,
 * and the new one put in its place with the old one's mode and owner.
 *
 * The request is made where the member's key is (`openssl x509 -x509toreq`
 * keeps the subject without parsing it), signed where the CA's key is
 * (the master), and checked here before anything on the member moves: one
 * certificate that cannot be renewed leaves every file as it was.
 */

export interface RenewCertificatesPlan {
  /** the certificates, each with its key beside it (`.crt` → `.key`) and where the old one goes */
  certificates: Array<{ cert: string; key: string; aside: string }>;
  /** the CA on the master: the node holding it and its files there */
  ca: { node: string; cert: string; key: string };
  days: number;
}

/** Where a member's etcd CA lives by layout: kubeadm's pki/etcd, a systemd install's etcd PKI dir. */
export function caDirOf(member: InventoryMember): string {
  const pki = member.node?.paths?.pkiDir;
  if (member.node?.layout === 'kubeadm') return posix.join(pki ?? '/etc/kubernetes/pki', 'etcd');
  return pki ?? '/etc/etcd/pki';
}

export function planRenewCertificates(certs: string[], ca: RenewCertificatesPlan['ca'], days: number, timestamp: string): RenewCertificatesPlan {
  const unique = [...new Set(certs.map((c) => posix.normalize(c)))];
  return {
    certificates: unique.map((cert) => ({ cert, key: keyOf(cert), aside: asideOf(cert, timestamp) })),
    ca,
    days,
  };
}

function keyOf(cert: string): string {
  return cert.endsWith('.crt') ? `${cert.slice(0, -'.crt'.length)}.key` : `${cert}.key`;
}

/** What `plan` shows: the two openssl commands an SRE types, per certificate. */
export function describeRenewCertificates(plan: RenewCertificatesPlan): string {
  const { ca } = plan;
  return [
    `# signed on ${ca.node} with ${ca.cert} and ${ca.key}; each certificate keeps its key, subject, SANs and key usages; one not there is skipped`,
    ...plan.certificates.flatMap((c) => [
      shellJoin(['mv', '--', c.cert, c.aside]),
      // the request and the signing on two lines, as an SRE would write the pipe: each line stays short
      `${shellJoin(['openssl', 'x509', '-x509toreq', '-in', c.aside, '-signkey', c.key])} |`,
      `  ${shellJoin(['openssl', 'x509', '-req', '-CA', ca.cert, '-CAkey', ca.key, '-days', plan.days])} -extfile <its SANs and usages> ${shellJoin(['-out', c.cert])}`,
    ]),
  ].join('\n');
}

// ---- facts and judgement -----------------------------------------------------------

export interface CaFacts {
  node: string;
  cert: string;
  key: string;
  certPresent: boolean;
  keyPresent: boolean;
}

export async function caFacts(transport: Transport, ca: { cert: string; key: string }): Promise<CaFacts> {
  const [cert, key] = await Promise.all([transport.stat(ca.cert), transport.stat(ca.key)]);
  return { node: transport.node, cert: ca.cert, key: ca.key, certPresent: cert?.type === 'file', keyPresent: key?.type === 'file' };
}

/** Pure: can this node sign? One line naming the node and the file when not. */
export function judgeCa(facts: CaFacts): { ok: boolean; message: string } {
  const missing = !facts.keyPresent ? `the CA key ${facts.key}` : !facts.certPresent ? `the CA certificate ${facts.cert}` : undefined;
  if (missing) {
    return {
      ok: false,
      message: `${missing} is not on ${facts.node}: certificates are renewed from the CA that issued them; name the master that holds it with --set caNode=<member>`,
    };
  }
  return { ok: true, message: `the CA is on ${facts.node}: ${facts.cert}, ${facts.key}` };
}

/** The extensions a renewed certificate carries: the old one's SANs and key usages, as an `-extfile`. */
export function extensionsOf(cert: X509Certificate): string {
  const lines = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment'];
  const usages = (cert.keyUsage ?? []).map((oid) => EXTENDED_USAGES[oid]).filter((u): u is string => u !== undefined);
  if (usages.length > 0) lines.push(`extendedKeyUsage=${usages.join(',')}`);
  const sans = parseSubjectAltName(cert.subjectAltName);
  if (sans.length > 0) lines.push(`subjectAltName=${sans.join(',')}`);
  return `${lines.join('\n')}\n`;
}

/** node's X509Certificate.keyUsage lists extended key usages by OID */
const EXTENDED_USAGES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
};

/** "DNS:localhost, IP Address:127.0.0.1" (values with a comma come JSON-quoted) → openssl's "DNS:localhost", "IP:127.0.0.1". */
export function parseSubjectAltName(text: string | undefined): string[] {
  if (!text) return [];
  const out: string[] = [];
  for (const match of text.matchAll(/(DNS|IP Address|email|URI):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    const [, type, raw = ''] = match;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    out.push(`${type === 'IP Address' ? 'IP' : type}:${value}`);
  }
  return out;
}

/** Pure: the renewed certificate is the old one again, from this CA, valid now. */
export function judgeRenewed(old: X509Certificate, renewed: X509Certificate, ca: X509Certificate, now: Date): string | undefined {
  if (renewed.subject !== old.subject) return `the subject changed (${old.subject} → ${renewed.subject})`;
  if ((renewed.subjectAltName ?? '') !== (old.subjectAltName ?? '')) return `the SANs changed (${old.subjectAltName ?? 'none'} → ${renewed.subjectAltName ?? 'none'})`;
  if (!renewed.checkIssued(ca) || !renewed.verify(ca.publicKey)) return `it is not signed by the CA ${ca.subject}`;
  if (new Date(renewed.validTo).getTime() <= now.getTime()) return `it is not valid now (until ${renewed.validTo})`;
  return undefined;
}

// ---- execution --------------------------------------------------------------------

interface Issued {
  cert: string;
  key: string;
  aside: string;
  pem: string;
  like: FileStat;
  validTo: string;
}

/**
 * Every certificate there is issued first; only then is each old one moved
 * aside and the new one put in its place.
 */
export async function runRenewCertificates(target: Transport, caNode: Transport, plan: RenewCertificatesPlan, io: KindIo): Promise<KindResult> {
  try {
    const ca = judgeCa(await caFacts(caNode, plan.ca));
    if (!ca.ok) return { ok: false, error: ca.message };
    const caCert = new X509Certificate(await caNode.readFile(plan.ca.cert));
    const issued: Issued[] = [];
    for (const c of plan.certificates) {
      const like = await target.stat(c.cert);
      if (!like) {
        io.say(`${c.cert} is not on ${target.node}: nothing to renew\n`);
        continue;
      }
      if (await target.stat(c.aside)) return { ok: false, error: `${c.aside} already exists on ${target.node}: not moving ${c.cert} over it` };
      issued.push(await issue(target, caNode, plan, c, caCert, like, io));
    }
    if (issued.length === 0) return { ok: false, error: `none of ${plan.certificates.map((c) => c.cert).join(', ')} is on ${target.node}: no certificate to renew (check the inventory's pkiDir)` };
    for (const one of issued) await install(target, one, io);
    return { ok: true, exitCode: 0 };
  } catch (err) {
    return { ok: false, error: messageOf(err) };
  }
}

async function issue(target: Transport, caNode: Transport, plan: RenewCertificatesPlan, c: RenewCertificatesPlan['certificates'][number], caCert: X509Certificate, like: FileStat, io: KindIo): Promise<Issued> {
  const old = new X509Certificate(await target.readFile(c.cert));
  io.say(`${c.cert}: ${old.subject.replace(/\n/g, ', ')}; SANs ${old.subjectAltName ?? 'none'}; valid until ${old.validTo}\n`);
  const request = await openssl(target, ['openssl', 'x509', '-x509toreq', '-in', c.cert, '-signkey', c.key], undefined, io);
  const csr = /-----BEGIN CERTIFICATE REQUEST-----[\s\S]+?-----END CERTIFICATE REQUEST-----\n?/.exec(request)?.[0];
  if (!csr) throw new Error(`openssl x509 -x509toreq on ${target.node} gave no certificate request for ${c.cert}`);
  const pem = await sign(caNode, plan, csr, extensionsOf(old), io);
  const renewed = new X509Certificate(pem);
  const wrong = judgeRenewed(old, renewed, caCert, new Date());
  if (wrong) throw new Error(`the certificate renewed for ${c.cert} is not right, nothing was changed: ${wrong}`);
  return { cert: c.cert, key: c.key, aside: c.aside, pem, like, validTo: renewed.validTo };
}

/** `openssl x509 -req` on the CA's node: the request on stdin, the extensions in a private temporary file. */
async function sign(caNode: Transport, plan: RenewCertificatesPlan, csr: string, extensions: string, io: KindIo): Promise<string> {
  const dir = (await openssl(caNode, ['mktemp', '-d'], undefined, io)).trim();
  const ext = posix.join(dir, 'extensions.cnf');
  try {
    await pipeline(Readable.from([Buffer.from(extensions, 'utf8')]), await caNode.openWrite(ext, 0o600));
    // a random serial: -CAcreateserial would leave a ca.srl beside the CA
    const serial = randomBytes(16);
    serial[0] = (serial[0] ?? 0) & 0x7f;
    const argv = ['openssl', 'x509', '-req', '-CA', plan.ca.cert, '-CAkey', plan.ca.key, '-set_serial', `0x${serial.toString('hex')}`, '-days', String(plan.days), '-sha256', '-extfile', ext];
    return await openssl(caNode, argv, csr, io);
  } finally {
    await caNode.unlink(ext).catch(() => undefined);
    await caNode.exec(shellJoin(['rmdir', '--', dir]), { timeoutMs: 10_000 }).catch(() => undefined);
  }
}

async function openssl(transport: Transport, argv: string[], input: string | undefined, io: KindIo): Promise<string> {
  const command = shellJoin(argv);
  io.say(`+ ${command}${input ? ' (request on stdin)' : ''} on ${transport.node}\n`);
  const result = await transport.exec(command, { timeoutMs: io.timeoutMs, ...(io.signal ? { signal: io.signal } : {}), ...(input ? { input } : {}) });
  if (result.exitCode !== 0) {
    const why = result.timedOut ? `timed out after ${io.timeoutMs} ms` : result.stderr.trim().split('\n').slice(-2).join(' ') || `exit ${result.exitCode ?? result.signal}`;
    throw new Error(`${argv[0]} ${argv[1] ?? ''} failed on ${transport.node}: ${why}`);
  }
  return result.stdout;
}

/** The old certificate moved aside, the new one in its place with the old one's mode and owner (moved back if that fails). */
async function install(target: Transport, one: Issued, io: KindIo): Promise<void> {
  io.say(`+ mv -- ${one.cert} ${one.aside}\n`);
  await target.rename(one.cert, one.aside);
  try {
    await writeFileAs(target, one.cert, one.pem, one.like, io);
  } catch (err) {
    await target.rename(one.aside, one.cert).catch(() => undefined);
    throw new Error(`could not write the renewed ${one.cert} on ${target.node} (the old one is back in place): ${messageOf(err)}`);
  }
  io.say(`renewed ${one.cert} on ${target.node}: valid until ${one.validTo}; the old one is ${one.aside}\n`);
}
