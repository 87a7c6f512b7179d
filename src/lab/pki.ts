import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

/**
 * A throwaway PKI for a lab cluster, made with the openssl CLI (EC P-256 keys
 * are fast to generate): one CA, a cert per member used for both client and
 * peer traffic (as kubeadm's etcd server cert is), and a client cert for the
 * tool. Keys are written 0600.
 */
export interface LabPki {
  dir: string;
  caCert: string;
  caKey: string;
  clientCert: string;
  clientKey: string;
}

export interface MemberCert {
  cert: string;
  key: string;
}

const DAYS = '2';

export async function createPki(dir: string, caName = 'etcd-runbook lab CA'): Promise<LabPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  await newKey(caKey);
  await openssl(['req', '-x509', '-new', '-key', caKey, '-out', caCert, '-days', DAYS, '-subj', `/CN=${caName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const pki: LabPki = { dir, caCert, caKey, clientCert: join(dir, 'client.crt'), clientKey: join(dir, 'client.key') };
  await issue(pki, 'client', { commonName: 'etcd-runbook', ips: [], dns: [], usage: 'clientAuth' });
  return pki;
}

/** A cert for one member: server and client auth, SANs for its address and loopback. */
export async function issueMemberCert(pki: LabPki, name: string, ip: string, validity?: Validity, file = `member-${name}`): Promise<MemberCert> {
  return issue(pki, file, {
    commonName: name,
    ips: [ip, '127.0.0.1'],
    dns: ['localhost'],
    usage: 'serverAuth,clientAuth',
    validity,
  });
}

/** A client cert for the tool, under its own file name (e.g. one valid only in the past). */
export async function issueClientCert(pki: LabPki, file: string, validity?: Validity): Promise<MemberCert> {
  return issue(pki, file, { commonName: 'etcd-runbook', ips: [], dns: [], usage: 'clientAuth', validity });
}

/** Explicit validity dates, past ones included (an expired certificate for a fault or a test). */
export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

interface CertRequest {
  commonName: string;
  ips: string[];
  dns: string[];
  usage: string;
  validity?: Validity;
}

async function issue(pki: LabPki, file: string, request: CertRequest): Promise<MemberCert> {
  const key = join(pki.dir, `${file}.key`);
  const cert = join(pki.dir, `${file}.crt`);
  const csr = join(pki.dir, `${file}.csr`);
  const ext = join(pki.dir, `${file}.ext`);
  const sans = [...request.ips.map((ip) => `IP:${ip}`), ...request.dns.map((d) => `DNS:${d}`)];
  await writeFile(ext, [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${request.usage}`,
    ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
  ].join('\n') + '\n');
  await newKey(key);
  // The subject is passed as one argv word (no shell), so any name is safe;
  // openssl only needs '/' and '=' escaped inside values.
  const cn = request.commonName.replace(/[/=\\]/g, (c) => `\\${c}`);
  await openssl(['req', '-new', '-key', key, '-out', csr, '-subj', `/CN=${cn}`]);
  if (request.validity) await signWithDates(pki, csr, cert, ext, request.validity);
  else await openssl(['x509', '-req', '-in', csr, '-CA', pki.caCert, '-CAkey', pki.caKey, '-CAcreateserial',
    '-out', cert, '-days', DAYS, '-extfile', ext]);
  return { cert, key };
}

/**
 * `openssl x509 -days` cannot start in the past, and its -not_before /
 * -not_after need OpenSSL 3.4; `openssl ca` takes -startdate/-enddate on
 * every version, given a minimal CA database of its own.
 */
async function signWithDates(pki: LabPki, csr: string, cert: string, ext: string, validity: Validity): Promise<void> {
  const db = join(pki.dir, 'ca-db');
  await mkdir(db, { recursive: true, mode: 0o700 });
  const config = join(db, 'ca.cnf');
  await writeFile(join(db, 'index.txt'), '', { flag: 'a' });
  // openssl ca rewrites the serial file after each certificate: written only once
  await writeFile(join(db, 'serial'), '1000\n', { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  await writeFile(config, [
    '[ca]', 'default_ca = lab', '[lab]', `database = ${db}/index.txt`, `new_certs_dir = ${db}`, `serial = ${db}/serial`,
    'default_md = sha256', 'unique_subject = no', 'policy = any', '[any]', 'commonName = supplied', '',
  ].join('\n'));
  await openssl(['ca', '-batch', '-config', config, '-cert', pki.caCert, '-keyfile', pki.caKey, '-in', csr, '-out', cert,
    '-notext', '-extfile', ext, '-startdate', asn1Time(validity.notBefore), '-enddate', asn1Time(validity.notAfter)]);
}

/** YYYYMMDDHHMMSSZ (GeneralizedTime, which openssl ca accepts for any year) */
function asn1Time(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

async function newKey(path: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  await chmod(path, 0o600);
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execa('openssl', args, { stdin: 'ignore' });
  } catch (err) {
    const e = err as { code?: string; stderr?: string; shortMessage?: string };
    if (e.code === 'ENOENT') throw new Error('openssl not found: install it (apt-get install openssl)');
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.shortMessage ?? '').trim()}`);
  }
}
