import { OperatorError } from '../util/errors.js';
import { parseInitialCluster, type InitialClusterMember } from './initial-cluster.js';

/**
 * The etcd settings discovery cares about, however etcd was started: the
 * flags of a kubeadm static pod, the ExecStart of a systemd unit, or ETCD_*
 * variables in an environment file. Every loader produces this one shape.
 * Paths are as etcd sees them (inside the container for kubeadm).
 */
export interface EtcdFlags {
  name?: string;
  dataDir?: string;
  walDir?: string;
  certFile?: string;
  keyFile?: string;
  trustedCaFile?: string;
  peerCertFile?: string;
  peerKeyFile?: string;
  peerTrustedCaFile?: string;
  listenClientUrls?: string[];
  advertiseClientUrls?: string[];
  listenPeerUrls?: string[];
  initialAdvertisePeerUrls?: string[];
  initialCluster?: InitialClusterMember[];
  initialClusterState?: string;
  initialClusterToken?: string;
}

type FlagKind = 'text' | 'urls' | 'initial-cluster';

interface FlagSpec {
  key: keyof EtcdFlags;
  /** the command-line name, without dashes */
  flag: string;
  kind: FlagKind;
}

/**
 * The one table of etcd settings we read. The environment variable of each
 * is derived the way etcd derives it (flags.SetFlagsFromEnv): ETCD_ plus the
 * flag name upper-cased with "-" as "_".
 */
export const ETCD_FLAG_TABLE: ReadonlyArray<FlagSpec> = [
  { key: 'name', flag: 'name', kind: 'text' },
  { key: 'dataDir', flag: 'data-dir', kind: 'text' },
  { key: 'walDir', flag: 'wal-dir', kind: 'text' },
  { key: 'certFile', flag: 'cert-file', kind: 'text' },
  { key: 'keyFile', flag: 'key-file', kind: 'text' },
  { key: 'trustedCaFile', flag: 'trusted-ca-file', kind: 'text' },
  { key: 'peerCertFile', flag: 'peer-cert-file', kind: 'text' },
  { key: 'peerKeyFile', flag: 'peer-key-file', kind: 'text' },
  { key: 'peerTrustedCaFile', flag: 'peer-trusted-ca-file', kind: 'text' },
  { key: 'listenClientUrls', flag: 'listen-client-urls', kind: 'urls' },
  { key: 'advertiseClientUrls', flag: 'advertise-client-urls', kind: 'urls' },
  { key: 'listenPeerUrls', flag: 'listen-peer-urls', kind: 'urls' },
  { key: 'initialAdvertisePeerUrls', flag: 'initial-advertise-peer-urls', kind: 'urls' },
  { key: 'initialCluster', flag: 'initial-cluster', kind: 'initial-cluster' },
  { key: 'initialClusterState', flag: 'initial-cluster-state', kind: 'text' },
  { key: 'initialClusterToken', flag: 'initial-cluster-token', kind: 'text' },
];

export function envVarOf(spec: FlagSpec): string {
  return `ETCD_${spec.flag.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * etcd's boolean flags: written bare (`--client-cert-auth`) they never take
 * the next word as their value, so `--flag value` parsing must not eat it.
 */
const BOOLEAN_FLAGS = new Set([
  'client-cert-auth',
  'peer-client-cert-auth',
  'auto-tls',
  'peer-auto-tls',
  'force-new-cluster',
  'strict-reconfig-check',
  'enable-v2',
  'enable-pprof',
  'debug',
]);

/** What the command line said, plus the flags we do not model (kept for display). */
export interface ParsedEtcdArgs {
  flags: EtcdFlags;
  otherFlags: Record<string, string>;
}

/**
 * Reads etcd's arguments (without the binary) in both Go flag forms,
 * `--flag=value` and `--flag value` (one or two dashes). An empty value
 * (`--wal-dir=`) means "etcd's default", so it is treated as not set.
 */
export function parseEtcdArgs(args: ReadonlyArray<string>, source: string): ParsedEtcdArgs {
  const values = new Map<string, string>();
  for (let index = 0; index < args.length; index++) {
    const word = args[index] ?? '';
    const match = /^--?([A-Za-z0-9][\w.-]*)(?:=([\s\S]*))?$/.exec(word);
    if (!match) continue;
    const flag = match[1] ?? '';
    let value = match[2];
    if (value === undefined) {
      const next = args[index + 1];
      if (BOOLEAN_FLAGS.has(flag) || next === undefined || next.startsWith('-')) value = 'true';
      else {
        value = next;
        index++;
      }
    }
    values.set(flag, value);
  }
  return splitKnown(values, (spec) => values.get(spec.flag), (spec) => `${source}: --${spec.flag}`);
}

/** Reads ETCD_* variables (an EnvironmentFile, Environment= lines) into flags. */
export function flagsFromEnvironment(
  variables: Readonly<Record<string, string>>,
  source: string,
): EtcdFlags {
  return splitKnown(
    new Map(),
    (spec) => variables[envVarOf(spec)],
    (spec) => `${source}: ${envVarOf(spec)}`,
  ).flags;
}

function splitKnown(
  values: Map<string, string>,
  lookup: (spec: FlagSpec) => string | undefined,
  label: (spec: FlagSpec) => string,
): ParsedEtcdArgs {
  const flags: EtcdFlags = {};
  const known = new Set<string>();
  for (const spec of ETCD_FLAG_TABLE) {
    known.add(spec.flag);
    const raw = lookup(spec)?.trim();
    if (raw === undefined || raw === '') continue;
    setFlag(flags, spec, raw, label(spec));
  }
  const otherFlags: Record<string, string> = {};
  for (const [flag, value] of values) if (!known.has(flag)) otherFlags[flag] = value;
  return { flags, otherFlags };
}

function setFlag(flags: EtcdFlags, spec: FlagSpec, raw: string, label: string): void {
  switch (spec.kind) {
    case 'initial-cluster':
      flags.initialCluster = parseInitialCluster(raw, label);
      return;
    case 'urls':
      (flags[spec.key] as string[] | undefined) = splitUrls(raw, label);
      return;
    case 'text':
      (flags[spec.key] as string | undefined) = raw;
      return;
  }
}

function splitUrls(raw: string, label: string): string[] {
  const urls = raw
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
  for (const url of urls) {
    try {
      new URL(url);
    } catch {
      throw new OperatorError(`${label}: "${url}" is not a URL`);
    }
  }
  return urls;
}

/** `override` wins field by field, as etcd's flags win over its ETCD_* variables. */
export function mergeEtcdFlags(base: EtcdFlags, override: EtcdFlags): EtcdFlags {
  const merged: EtcdFlags = { ...base };
  for (const spec of ETCD_FLAG_TABLE) {
    const value = override[spec.key];
    if (value !== undefined) (merged[spec.key] as typeof value) = value;
  }
  return merged;
}
