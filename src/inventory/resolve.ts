import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { certificateFacts, validityProblem } from '../cluster/certificates.js';
import { OperatorError } from '../util/errors.js';
import { discoverLocal } from './discover.js';
import { loadInventoryFile } from './file.js';
import { configFromFlags, type ConnectionFlags, type Environment, type FlagConfig } from './flags.js';
import { inventorySchema, isHttpUrl, URL_REQUIREMENT, type ClusterConfig, type Inventory, type InventoryMember, type TlsFiles } from './schema.js';

export interface ResolveOptions {
  inventoryPath?: string | undefined;
  flags: ConnectionFlags;
  env: Environment;
  /** prefix for discovery's file reads (tests) */
  discoveryRoot?: string | undefined;
  /** also parse the TLS files and match the cert to the key (the CLI does; unit fixtures are placeholders) */
  verifyTlsContents?: boolean;
}

type TlsField = keyof TlsFiles;
const TLS_FIELDS: ReadonlyArray<TlsField> = ['cacert', 'cert', 'key'];

/** A description before its endpoints and files are checked, with who said what. */
interface Described {
  inventory: Inventory;
  sources: string[];
  /** how to name each TLS setting in an error: `--cacert`, `cluster.yaml: tls.cacert` */
  tlsFrom: Partial<Record<TlsField, string>>;
  /** set when the description was built from the endpoints themselves */
  endpoints?: string[];
  from: NonNullable<ClusterConfig['from']>;
  discovered?: Inventory;
}

const NO_DESCRIPTION =
  'no cluster description: pass --inventory cluster.yaml, or --endpoints (or ETCDCTL_ENDPOINTS) with --cacert/--cert/--key, ' +
  'or run this on a master that has /etc/kubernetes/manifests/etcd.yaml or an etcd.service unit';

/**
 * The cluster description, from the first of: the inventory
 * file, the etcdctl flags/environment, discovery on this master. TLS flags
 * override whatever the description says. Endpoints and TLS files are
 * checked here, before anything touches the network, so a typo is one
 * clear line instead of a TLS handshake error per member.
 */
export async function resolveClusterConfig(options: ResolveOptions): Promise<ClusterConfig> {
  const flags = configFromFlags(options.flags, options.env);
  const described = withTlsFlags(await describe(options, flags), flags);
  const { endpoints, source } = endpointsToProbe(described, flags);
  await checkTlsFiles(described, options.verifyTlsContents ?? false);
  const sources = source ? [...described.sources, source] : described.sources;
  return { inventory: described.inventory, endpoints, sources, from: described.from, ...(described.discovered && { discovered: described.discovered }) };
}

async function describe(options: ResolveOptions, flags: FlagConfig): Promise<Described> {
  if (options.inventoryPath !== undefined) {
    const inventory = await loadInventoryFile(options.inventoryPath);
    return { inventory, sources: [`inventory ${options.inventoryPath}`], tlsFrom: tlsLabels(inventory, `${options.inventoryPath}: tls.`), from: 'file' };
  }
  const found = await discoverHere(options, flags.endpoints !== undefined);
  if (flags.endpoints) {
    const described = describeEndpoints(flags.endpoints.value, flags.endpoints.from, hasTls(flags));
    if (!found) return described;
    return { ...described, discovered: found.inventory };
  }
  if (!found) throw new OperatorError(NO_DESCRIPTION);
  return {
    inventory: found.inventory,
    sources: [`discovered from ${found.source}`, ...found.notes],
    tlsFrom: tlsLabels(found.inventory, `${found.source} (discovered) tls.`),
    from: 'discovery',
  };
}

/**
 * Discovery on this machine. Next to --endpoints it only lends its nodes,
 * so a machine that is no master (or one this user cannot read) is no error then.
 */
async function discoverHere(options: ResolveOptions, optional: boolean): Promise<Awaited<ReturnType<typeof discoverLocal>>> {
  const discover = () => discoverLocal(options.discoveryRoot === undefined ? {} : { root: options.discoveryRoot });
  if (!optional) return discover();
  return discover().catch(() => undefined);
}

function tlsLabels(inventory: Inventory, prefix: string): Partial<Record<TlsField, string>> {
  const labels: Partial<Record<TlsField, string>> = {};
  for (const field of TLS_FIELDS) if (inventory.tls?.[field]) labels[field] = `${prefix}${field}`;
  return labels;
}

function hasTls(flags: FlagConfig): boolean {
  return TLS_FIELDS.some((field) => flags[field] !== undefined);
}

/**
 * Only endpoints are known: one member per endpoint, named after its host
 * (host:port when two share a host), its peer URL guessed as port 2380.
 * The live member list replaces all of it; `guessed` says so.
 */
function describeEndpoints(raw: ReadonlyArray<string>, from: string, tls: boolean): Described {
  const endpoints = raw.map((endpoint) => normaliseEndpoint(endpoint, from, tls));
  const hosts = endpoints.map((endpoint) => new URL(endpoint).hostname);
  const members = endpoints.map((endpoint, index): InventoryMember => {
    const url = new URL(endpoint);
    const shared = hosts.filter((host) => host === url.hostname).length > 1;
    return {
      name: shared ? url.host : url.hostname,
      peerURLs: [`${url.protocol}//${url.hostname}:2380`],
      clientURLs: [endpoints[index] ?? endpoint],
      guessed: ['name', 'peerURLs'],
    };
  });
  const inventory = inventorySchema.parse({ members });
  return {
    inventory,
    sources: [
      `endpoints from ${from}`,
      'members named after their endpoint host, peer URLs guessed as port 2380: the live member list fills in the rest',
    ],
    tlsFrom: {},
    endpoints,
    from: 'endpoints',
  };
}

/**
 * etcdctl accepts `10.0.0.1:2379` without a scheme and picks https when TLS
 * files are given; the same rule here, then the URL must be usable.
 */
function normaliseEndpoint(endpoint: string, from: string, tls: boolean): string {
  const url = endpoint.includes('://') ? endpoint : `${tls ? 'https' : 'http'}://${endpoint}`;
  if (!isHttpUrl(url)) throw new OperatorError(`${from} "${endpoint}": ${URL_REQUIREMENT}`);
  return url;
}

function withTlsFlags(described: Described, flags: FlagConfig): Described {
  const overridden = TLS_FIELDS.filter((field) => flags[field] !== undefined);
  if (overridden.length === 0) return described;
  const tls: TlsFiles = { ...described.inventory.tls };
  const tlsFrom = { ...described.tlsFrom };
  for (const field of overridden) {
    const setting = flags[field];
    if (!setting) continue;
    tls[field] = setting.value;
    tlsFrom[field] = setting.from;
  }
  const names = overridden.map((field) => flags[field]?.from ?? field).join(', ');
  return {
    ...described,
    inventory: { ...described.inventory, tls },
    sources: [...described.sources, `TLS files from ${names}`],
    tlsFrom,
  };
}

/**
 * What to probe: one client URL per member (the first), so each probe maps
 * to one member; `--endpoints` next to an inventory or discovery picks the
 * endpoints instead while the members stay as described.
 */
function endpointsToProbe(described: Described, flags: FlagConfig): { endpoints: string[]; source?: string } {
  if (described.endpoints) return { endpoints: described.endpoints };
  if (!flags.endpoints) return { endpoints: described.inventory.members.flatMap((member) => member.clientURLs.slice(0, 1)) };
  const { value, from } = flags.endpoints;
  const tls = Object.keys(described.inventory.tls ?? {}).length > 0;
  return {
    endpoints: value.map((endpoint) => normaliseEndpoint(endpoint, from, tls)),
    source: `probing the endpoints from ${from}`,
  };
}

/** Every TLS file must be a readable file, and cert and key come as a pair. */
async function checkTlsFiles(described: Described, contents: boolean): Promise<void> {
  const tls = described.inventory.tls ?? {};
  const label = (field: TlsField): string => described.tlsFrom[field] ?? `tls.${field}`;
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    const [given, missing] = tls.cert === undefined ? (['key', 'cert'] as const) : (['cert', 'key'] as const);
    throw new OperatorError(`${label(given)} is set but no client ${missing}: pass --${missing} (or ETCDCTL_${missing.toUpperCase()})`);
  }
  for (const field of TLS_FIELDS) {
    const path = tls[field];
    if (path !== undefined) await checkReadableFile(path, label(field));
  }
  if (contents) await checkTlsContents(tls, label);
}

/**
 * The files parse as what they claim to be, and the client cert belongs to
 * the key: otherwise OpenSSL's "DECODER routines::unsupported" or "key values
 * mismatch" would be all the operator saw, naming no file.
 */
async function checkTlsContents(tls: TlsFiles, label: (field: TlsField) => string): Promise<void> {
  const certOf = async (field: 'cacert' | 'cert', path: string): Promise<X509Certificate> => {
    try {
      return new X509Certificate(await readFile(path));
    } catch {
      throw new OperatorError(`${label(field)} ${path}: not a PEM certificate: give the ${field === 'cacert' ? "CA's certificate (ca.crt)" : 'client certificate (.crt)'}`);
    }
  };
  if (tls.cacert !== undefined) await certOf('cacert', tls.cacert);
  if (tls.cert === undefined || tls.key === undefined) return;
  const cert = await certOf('cert', tls.cert);
  // out of its dates, every member refuses it with a bare "bad certificate": say so once, before any probe
  const dated = validityProblem(certificateFacts(cert), new Date(), `${label('cert')} ${tls.cert}: the client certificate`);
  if (dated) throw new OperatorError(dated.message);
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(tls.key));
  } catch (err) {
    // the message is OpenSSL's reason only; it never quotes the file
    const encrypted = /passphrase|encrypted|bad decrypt/i.test((err as Error).message);
    throw new OperatorError(`${label('key')} ${tls.key}: ${encrypted ? 'the key is encrypted: etcd client keys must be unencrypted' : 'not a PEM private key: give the client key (.key) that goes with the certificate'}`);
  }
  if (!cert.checkPrivateKey(key)) {
    throw new OperatorError(`${label('key')} ${tls.key} is not the private key of ${label('cert')} ${tls.cert}: give the key that was issued with that certificate`);
  }
}

async function checkReadableFile(path: string, label: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new OperatorError(`${label} ${path}: not a file`);
    await access(path, constants.R_OK);
  } catch (err) {
    if (err instanceof OperatorError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? 'error'})`;
    throw new OperatorError(`${label} ${path}: ${what}`);
  }
}
