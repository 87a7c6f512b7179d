import { posix } from 'node:path';
import { socketAddress } from '../../cluster/address.js';
import { parseEtcdEnvFile } from '../../inventory/systemd.js';
import type { Transport } from '../../transport/types.js';
import { shellJoin } from '../../util/shell.js';
import { type GuardDefinition, type GuardEnvironment, type GuardMember, type Judgement, type Params, GuardParamError, define, p, str } from './common.js';

/**
 * Guard on the old host's files a new master is brought back from: once its
 * member is removed they are the only way back, so a missing file, the
 * backup of another host, or a certificate for another address or expired
 * must stop the run before anything changes.
 */

export type HostLayout = 'kubeadm' | 'systemd';

export interface BackupFile {
  path: string;
  /** exists and is not empty (a dir: has entries) */
  present: boolean;
}

export interface BackupCert {
  role: 'server' | 'peer';
  /** the certificate in the backup */
  path: string;
  present: boolean;
  /** systemd: the env file's variable naming it, and its value there ('' = not set) */
  variable?: string;
  configured?: string;
  /** openssl -checkip/-checkhost says it is valid for the member's address */
  matches?: boolean;
  expired?: boolean;
  notAfter?: string;
}

export interface HostBackupFacts {
  member: string;
  layout: HostLayout;
  backup: string;
  peerURL: string;
  /** the peer URL's host: what the server and peer certificates must be valid for */
  address: string;
  required: BackupFile[];
  /** kubeadm: the kubelet drop-in, under /usr/lib/systemd/system or /etc/systemd/system: one of them */
  oneOf: BackupFile[];
  /** the file that says which member this is (kubeadm: etcd's manifest; systemd: the env file) */
  config: { path: string; advertises: boolean };
  /** the backup's etcd pki dir (systemd: where the env file's certificates are looked for) */
  pkiDir: string;
  certs: BackupCert[];
}

/** The old host's backup is complete, is this member's, and holds certificates valid for its address. */
export function judgeHostBackup(facts: HostBackupFacts): Judgement {
  const missing = facts.required.filter((f) => !f.present).map((f) => f.path);
  if (facts.oneOf.length > 0 && !facts.oneOf.some((f) => f.present)) missing.push(`the kubelet drop-in 10-kubeadm.conf (${facts.oneOf.map((f) => f.path).join(' or ')})`);
  if (missing.length > 0) return refuse(`the backup of ${facts.member} is incomplete, missing or empty: ${missing.join(', ')}; give hostBackup the old host's complete copy (nothing was changed)`);
  if (!facts.config.advertises) return refuse(`${facts.config.path} does not advertise ${facts.peerURL}: this is not the backup of ${facts.member}`);
  for (const cert of facts.certs) {
    const problem = certProblem(cert, facts);
    if (problem) return refuse(problem);
  }
  const valid = facts.certs.map((c) => `${posix.basename(c.path)} is valid for ${facts.address} until ${c.notAfter ?? '?'}`);
  return { ok: true, message: `the backup of ${facts.member} is complete (${[...facts.required, ...facts.oneOf].filter((f) => f.present).map((f) => f.path).join(', ')}); ${valid.join('; ')}` };
}

function certProblem(cert: BackupCert, facts: HostBackupFacts): string | undefined {
  const kubeadm = facts.layout === 'kubeadm';
  if (cert.configured === '') return `${facts.config.path} sets no ${cert.variable ?? `${cert.role} certificate`}`;
  if (!cert.present) return cert.variable ? `${cert.variable} ${cert.configured ?? ''} is not in the backup's ${facts.pkiDir}` : `${cert.path} is missing in the backup`;
  if (!cert.matches) return `${cert.path} is not valid for ${facts.address}: ${kubeadm ? `regenerate it (kubeadm init phase certs etcd-${cert.role})` : 'reissue it for this host'} or use this host's backup`;
  if (cert.expired) return `${cert.path} has expired: renew it before restoring${kubeadm ? ` (kubeadm certs renew etcd-${cert.role})` : ''}`;
  return undefined;
}

const refuse = (message: string): Judgement => ({ ok: false, message: `refusing: ${message}` });

// ---- facts --------------------------------------------------------------------------

/** The member's node paths a layout's backup holds (the inventory's, with kubeadm's standard ones). */
function pathOf(member: GuardMember, field: string): string {
  const path = member.hostPaths?.[field];
  if (!path) throw new GuardParamError(`${member.name} has no ${field}: set it in the inventory's node.paths`);
  return path;
}

async function hostBackupFacts(params: Params, env: GuardEnvironment): Promise<HostBackupFacts> {
  const name = str(params, 'member');
  const member = env.members.find((m) => m.name === name);
  if (!member) throw new GuardParamError(`no member named ${name} in the inventory (${env.members.map((m) => m.name).join(', ')})`);
  const layout = str(params, 'layout');
  if (layout !== 'kubeadm' && layout !== 'systemd') throw new GuardParamError(`${name} has layout "${layout}": a master's files are known for kubeadm and systemd masters only: nothing was changed`);
  const backup = str(params, 'backup');
  const transport = env.transport(str(params, 'node') || 'local');
  const inBackup = (field: string, ...rest: string[]) => posix.join(backup, pathOf(member, field), ...rest);
  const address = socketAddress(new URL(member.peerURL)).host;
  const base = { member: name, layout, backup, peerURL: member.peerURL, address } as const;
  if (layout === 'kubeadm') {
    const pki = inBackup('pkiDir', 'etcd');
    const manifest = inBackup('kubernetesDir', 'manifests', 'etcd.yaml');
    const required = [manifest, inBackup('kubernetesDir', 'manifests', 'kube-apiserver.yaml'), inBackup('kubernetesDir', 'admin.conf'), ...['ca.crt', 'ca.key', 'server.crt', 'server.key', 'peer.crt', 'peer.key'].map((f) => posix.join(pki, f)), inBackup('kubeletDir', 'config.yaml')];
    const files = await Promise.all(required.map((path) => fileFacts(transport, path)));
    const oneOf = await Promise.all([inBackup('kubeletPackageDropIn'), inBackup('kubeletDropIn')].map((path) => fileFacts(transport, path)));
    const advertises = files[0]?.present === true && (await transport.readFile(manifest)).toString('utf8').includes(`--initial-advertise-peer-urls=${member.peerURL}`);
    const certs = await Promise.all((['server', 'peer'] as const).map((role) => certFacts(transport, role, posix.join(pki, `${role}.crt`), address)));
    return { ...base, required: files, oneOf, config: { path: manifest, advertises }, pkiDir: pki, certs };
  }
  const envFile = inBackup('envFile');
  const pki = inBackup('pkiDir');
  const required = await Promise.all([fileFacts(transport, envFile), fileFacts(transport, inBackup('unitFile')), fileFacts(transport, pki)]);
  const variables = required[0]?.present ? parseEtcdEnvFile((await transport.readFile(envFile)).toString('utf8'), envFile).variables : {};
  const certs = await Promise.all(
    (['server', 'peer'] as const).map(async (role) => {
      const variable = role === 'server' ? 'ETCD_CERT_FILE' : 'ETCD_PEER_CERT_FILE';
      const configured = variables[variable] ?? '';
      const path = posix.join(pki, posix.basename(configured));
      const facts = configured ? await certFacts(transport, role, path, address) : { role, path, present: false };
      return { ...facts, variable, configured };
    }),
  );
  return { ...base, required, oneOf: [], config: { path: envFile, advertises: variables.ETCD_INITIAL_ADVERTISE_PEER_URLS === member.peerURL }, pkiDir: pki, certs };
}

async function fileFacts(transport: Transport, path: string): Promise<BackupFile> {
  const stat = await transport.stat(path);
  if (!stat) return { path, present: false };
  if (stat.type === 'directory') return { path, present: (await transport.readdir(path)).length > 0 };
  return { path, present: stat.size > 0 };
}

/** openssl on the node holding the backup: the address (an IP or a host name) the certificate is valid for, and its end date. */
async function certFacts(transport: Transport, role: BackupCert['role'], path: string, address: string): Promise<BackupCert> {
  const stat = await transport.stat(path);
  if (!stat || stat.size === 0) return { role, path, present: false };
  const check = /^[0-9.:a-fA-F]+$/.test(address) ? '-checkip' : '-checkhost';
  const [match, end] = await Promise.all([
    transport.exec(shellJoin(['openssl', 'x509', '-noout', '-in', path, check, address]), { timeoutMs: 10_000 }),
    transport.exec(shellJoin(['openssl', 'x509', '-noout', '-enddate', '-checkend', '0', '-in', path]), { timeoutMs: 10_000 }),
  ]);
  const notAfter = /notAfter=(.*)/.exec(end.stdout)?.[1]?.trim();
  return { role, path, present: true, matches: match.exitCode === 0 && match.stdout.includes('does match'), expired: end.exitCode !== 0, ...(notAfter ? { notAfter } : {}) };
}

export const HOST_BACKUP_GUARDS = {
  'host-backup-complete': define({
    name: 'host-backup-complete',
    description: 'the old host\'s backed-up files are all there, are this member\'s (they advertise its peer URL), and its server and peer certificates are valid for its address and not expired',
    params: [
      p('member', 'the member whose host the backup is of'),
      p('layout', 'kubeadm (/etc/kubernetes, the kubelet\'s files) or systemd (etcd\'s env file, unit and certificates)'),
      p('backup', 'the directory holding the old host\'s files under their absolute paths'),
      p('node', 'the node holding the backup (default: local)', false),
    ],
    gather: hostBackupFacts,
    judge: (facts) => judgeHostBackup(facts),
  }),
} satisfies Record<string, GuardDefinition>;
