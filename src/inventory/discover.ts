import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { posix } from 'node:path';
import { OperatorError } from '../util/errors.js';
import type { EtcdFlags } from './etcd-flags.js';
import { inferOtherNodes, inferredNodesLine } from './infer-nodes.js';
import { parseKubeadmManifest, toHostPath } from './kubeadm.js';
import { inventorySchema, type Inventory, type InventoryMember, type InventoryNode, type TlsFiles } from './schema.js';
import { etcdFlagsFromUnit, parseEtcdEnvFile, parseSystemdUnit, pkiDirFromFlags, type EtcdEnvFile, type SystemdUnit } from './systemd.js';
import { formatPath, type PathSegment } from './yaml-source.js';

export interface DiscoveryResult {
  inventory: Inventory;
  /** the file the description was read from */
  source: string;
  /** what was guessed or skipped, for the operator to see before trusting it */
  notes: string[];
}

export interface DiscoveryOptions {
  /**
   * Prefix for every file read (tests; or a dead master's disk mounted at
   * /mnt/master1). Paths written into the inventory's node are the node's
   * own (without the prefix), because commands run there; TLS files are
   * read by this process, so they keep the prefix.
   */
  root?: string;
}

const KUBEADM_MANIFEST = '/etc/kubernetes/manifests/etcd.yaml';
const SYSTEMD_UNITS = [
  '/etc/systemd/system/etcd.service',
  '/usr/lib/systemd/system/etcd.service',
  '/lib/systemd/system/etcd.service',
];
const DEFAULT_ENV_FILE = '/etc/etcd/etcd.conf';
const ETCD_CLIENT_PORT = 2379;

/** Looks for how etcd runs on this master: kubeadm static pod first, then a systemd unit. */
export async function discoverLocal(options: DiscoveryOptions = {}): Promise<DiscoveryResult | undefined> {
  const files = new NodeFiles(options.root ?? '/');
  const manifest = await files.read(KUBEADM_MANIFEST);
  if (manifest !== undefined) return discoverKubeadm(files, manifest);
  for (const unitPath of SYSTEMD_UNITS) {
    const unit = await files.read(unitPath);
    if (unit !== undefined) return discoverSystemd(files, unitPath, unit);
  }
  return undefined;
}

/** Reads the node's files under the root prefix. */
class NodeFiles {
  constructor(private readonly root: string) {}

  real(path: string): string {
    return posix.join(this.root, path);
  }

  /** undefined when missing; any other failure (EACCES) stops discovery with its reason */
  async read(path: string): Promise<string | undefined> {
    try {
      return await readFile(this.real(path), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new OperatorError(`${this.real(path)}: cannot read (${code ?? 'error'}): run as root, or pass --inventory`);
    }
  }

  async readable(path: string): Promise<boolean> {
    return access(this.real(path), constants.R_OK).then(
      () => true,
      () => false,
    );
  }
}

async function discoverKubeadm(files: NodeFiles, text: string): Promise<DiscoveryResult> {
  const source = files.real(KUBEADM_MANIFEST);
  const pod = parseKubeadmManifest(text, source);
  const hostPath = (path: string | undefined): string | undefined => (path ? toHostPath(pod.mounts, path) : undefined);
  const node: InventoryNode = {
    host: 'local',
    transport: 'local',
    layout: 'kubeadm',
    paths: definedOnly({
      dataDir: pod.dataDir,
      walDir: hostPath(pod.flags.walDir),
      pkiDir: pod.pkiDir,
      manifestsDir: posix.dirname(KUBEADM_MANIFEST),
    }),
    ...(pod.etcdVersion !== undefined && { etcdVersion: pod.etcdVersion }),
  };
  const tls = await kubeadmClientTls(files, pod.pkiDir, {
    cacert: hostPath(pod.flags.trustedCaFile),
    cert: hostPath(pod.flags.certFile),
    key: hostPath(pod.flags.keyFile),
  });
  return buildDiscovery(pod.flags, node, tls, source, pod.etcdVersion);
}

/**
 * kubeadm makes a healthcheck-client certificate for exactly this job
 * (talking to etcd as a client); the server's own cert/key also work and
 * are the fallback when an older layout lacks it.
 */
async function kubeadmClientTls(files: NodeFiles, pkiDir: string | undefined, server: TlsFiles): Promise<TlsFiles> {
  if (pkiDir) {
    const cert = posix.join(pkiDir, 'etcd', 'healthcheck-client.crt');
    const key = posix.join(pkiDir, 'etcd', 'healthcheck-client.key');
    if ((await files.readable(cert)) && (await files.readable(key))) {
      return { cacert: files.real(posix.join(pkiDir, 'etcd', 'ca.crt')), cert: files.real(cert), key: files.real(key) };
    }
  }
  return withRoot(files, server);
}

function withRoot(files: NodeFiles, tls: TlsFiles): TlsFiles {
  return definedOnly({
    cacert: tls.cacert && files.real(tls.cacert),
    cert: tls.cert && files.real(tls.cert),
    key: tls.key && files.real(tls.key),
  });
}

async function discoverSystemd(files: NodeFiles, unitPath: string, text: string): Promise<DiscoveryResult> {
  const source = files.real(unitPath);
  const unit = parseSystemdUnit(text, source);
  const notes: string[] = [];
  const envFiles = await readEnvFiles(files, unit, notes);
  const etcd = etcdFlagsFromUnit(unit, envFiles.map((entry) => entry.file));
  for (const { file } of envFiles) notes.push(...file.warnings);
  const envFile = envFiles[0]?.path;
  const pki = pkiDirFromFlags(etcd.flags);
  if (pki.note) notes.push(pki.note);
  const node: InventoryNode = {
    host: 'local',
    transport: 'local',
    layout: 'systemd',
    paths: definedOnly({
      dataDir: etcd.flags.dataDir,
      walDir: etcd.flags.walDir,
      pkiDir: pki.pkiDir,
      unitFile: unitPath,
      envFile,
      etcdBinary: etcd.binary && posix.isAbsolute(etcd.binary) ? etcd.binary : undefined,
    }),
  };
  const tls = withRoot(files, { cacert: etcd.flags.trustedCaFile, cert: etcd.flags.certFile, key: etcd.flags.keyFile });
  const result = buildDiscovery(etcd.flags, node, tls, source, undefined);
  return { ...result, notes: [...notes, ...result.notes] };
}

/**
 * The unit's EnvironmentFiles that exist; a missing optional one (`-path`)
 * is what systemd tolerates too. A unit that names none may still come
 * with /etc/etcd/etcd.conf (packaged layouts), which is then read as well.
 */
async function readEnvFiles(
  files: NodeFiles,
  unit: SystemdUnit,
  notes: string[],
): Promise<Array<{ path: string; file: EtcdEnvFile }>> {
  const refs = unit.environmentFiles.length > 0 ? unit.environmentFiles : [{ path: DEFAULT_ENV_FILE, optional: true }];
  const parsed: Array<{ path: string; file: EtcdEnvFile }> = [];
  for (const ref of refs) {
    const text = await files.read(ref.path);
    if (text === undefined) {
      if (!ref.optional) notes.push(`EnvironmentFile ${ref.path} is missing: systemd will refuse to start etcd`);
      continue;
    }
    if (unit.environmentFiles.length === 0) {
      notes.push(`the unit names no EnvironmentFile; read ${ref.path} too (its flags on ExecStart win)`);
    }
    parsed.push({ path: ref.path, file: parseEtcdEnvFile(text, files.real(ref.path)) });
  }
  return parsed;
}

/** The inventory these etcd settings describe, with what had to be guessed. */
function buildDiscovery(
  flags: EtcdFlags,
  localNode: InventoryNode,
  tls: TlsFiles,
  source: string,
  etcdVersion: string | undefined,
): DiscoveryResult {
  const notes: string[] = [];
  const localName = flags.name ?? 'default';
  const listed = flags.initialCluster ?? localOnly(flags, localName, source);
  let localIndex = listed.findIndex((member) => member.name === localName);
  if (localIndex < 0) {
    const ownPeers = new Set(flags.initialAdvertisePeerUrls ?? []);
    localIndex = listed.findIndex((member) => member.peerURLs.some((url) => ownPeers.has(url)));
  }
  if (localIndex < 0) notes.push(`this member ("${localName}") is not in --initial-cluster: its node is unknown`);
  const members = listed.map((member, index): InventoryMember => {
    const isLocal = index === localIndex;
    const clientURLs = isLocal ? flags.advertiseClientUrls : undefined;
    if (clientURLs && clientURLs.length > 0) return { ...member, clientURLs, node: localNode };
    const guessed = member.peerURLs.map(clientUrlGuess);
    notes.push(`client URL of ${member.name} guessed from its peer URL: ${guessed.join(', ')}`);
    return { ...member, clientURLs: guessed, guessed: ['clientURLs'], ...(isLocal && { node: localNode }) };
  });
  if (flags.initialCluster) {
    notes.push('members are as --initial-cluster listed them at start; the live member list is authoritative');
  }
  const cluster = definedOnly({ token: flags.initialClusterToken, etcdVersion });
  const inventory = {
    apiVersion: 'etcd-runbook/v1' as const,
    kind: 'Inventory' as const,
    ...(Object.keys(cluster).length > 0 && { cluster }),
    ...(Object.keys(tls).length > 0 && { tls }),
    members,
  };
  const inferred = inferOtherNodes(validated(inventory, source));
  const line = inferredNodesLine(inferred.inventory);
  if (line) notes.push(line);
  return { inventory: inferred.inventory, source, notes };
}

/** Without --initial-cluster (a single member), the member is itself. */
function localOnly(flags: EtcdFlags, name: string, source: string): Array<{ name: string; peerURLs: string[] }> {
  const peerURLs = flags.initialAdvertisePeerUrls ?? flags.listenPeerUrls;
  if (!peerURLs || peerURLs.length === 0) {
    throw new OperatorError(
      `${source}: neither --initial-cluster nor --initial-advertise-peer-urls is set: cannot tell the members; pass --endpoints or --inventory`,
    );
  }
  return [{ name, peerURLs }];
}

/** Peers listen on 2380, clients on 2379 by convention; the host and scheme are shared. */
export function clientUrlGuess(peerURL: string): string {
  const url = new URL(peerURL);
  return `${url.protocol}//${url.hostname}:${ETCD_CLIENT_PORT}`;
}

function validated(candidate: unknown, source: string): Inventory {
  const result = inventorySchema.safeParse(candidate);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = (issue?.path ?? []).filter((segment): segment is PathSegment => typeof segment !== 'symbol');
  throw new OperatorError(`${source}: the discovered description is not usable: ${formatPath(path)}: ${issue?.message ?? 'invalid'}`);
}

function definedOnly<T extends Record<string, string | undefined>>(values: T): { [K in keyof T]?: string } {
  const result: { [K in keyof T]?: string } = {};
  for (const [key, value] of Object.entries(values)) {
    if (value) result[key as keyof T] = value;
  }
  return result;
}
