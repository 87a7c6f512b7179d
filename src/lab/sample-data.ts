import { createHash, randomBytes } from 'node:crypto';
import { Etcd3, type IOptions } from 'etcd3';
import type { ClientTls } from '../cluster/probe.js';

/**
 * Sample data for a drill: keys shaped like a Kubernetes keyspace
 * (/registry/<resource>/<namespace>/<name>) with values that carry their own
 * checksum, written before the fault and checked after the recovery.
 */
export interface SampleEntry {
  key: string;
  value: string;
}

const RESOURCES = ['pods', 'services/specs', 'configmaps', 'secrets', 'deployments', 'serviceaccounts'] as const;
const NAMESPACES = ['default', 'kube-system', 'payments', 'web', 'monitoring'] as const;

/** `count` entries, deterministic for a seed; each value names its key and hashes it. */
export function sampleEntries(count: number, seed: string, prefix = '/registry'): SampleEntry[] {
  const entries: SampleEntry[] = [];
  for (let i = 0; i < count; i++) {
    const resource = RESOURCES[i % RESOURCES.length] as string;
    const ns = NAMESPACES[Math.floor(i / RESOURCES.length) % NAMESPACES.length] as string;
    const name = `${resource.split('/')[0]?.replace(/s$/, '')}-${i.toString().padStart(4, '0')}`;
    const key = `${prefix}/${resource}/${ns}/${name}`;
    entries.push({ key, value: valueFor(key, seed) });
  }
  return entries;
}

export function valueFor(key: string, seed: string): string {
  const sum = createHash('sha256').update(`${seed}\0${key}`).digest('hex');
  return JSON.stringify({ key, seed, sha256: sum });
}

export function clientFor(endpoints: string[], tls: ClientTls | undefined): Etcd3 {
  const options: IOptions = { hosts: endpoints, defaultCallOptions: () => ({ deadline: Date.now() + 5000 }) };
  if (tls) options.credentials = { rootCertificate: tls.ca, privateKey: tls.key, certChain: tls.cert };
  return new Etcd3(options);
}

/** Write the entries through the etcd API, a batch of puts per transaction. */
export async function writeSample(endpoints: string[], tls: ClientTls | undefined, entries: SampleEntry[]): Promise<void> {
  const client = clientFor(endpoints, tls);
  try {
    for (let i = 0; i < entries.length; i += 50) {
      const batch = entries.slice(i, i + 50);
      await client.stm({ retries: 3 }).transact((tx) => Promise.all(batch.map((e) => tx.put(e.key).value(e.value))));
    }
  } finally {
    client.close();
  }
}

/**
 * Ballast: a keyspace the size of a real cluster's, so that etcd's own work
 * in a drill (the snapshot, a learner catching up, the restore) takes the
 * time it takes on a master, and the drill's timings mean something. 4 KiB
 * values (a Kubernetes object's usual size) under one prefix, written 16 to
 * a transaction (well under etcd's request size and txn-op limits). Only its
 * key count is checked afterwards: the sample keys carry the checksums.
 */
export const BALLAST_PREFIX = '/registry/events/drill-ballast/';
const BALLAST_VALUE_BYTES = 4096;
const BALLAST_PUTS_PER_TXN = 16;

export function ballastKeyCount(mib: number): number {
  return Math.ceil((mib * 1024 * 1024) / BALLAST_VALUE_BYTES);
}

export async function writeBallast(endpoints: string[], tls: ClientTls | undefined, mib: number): Promise<number> {
  const count = ballastKeyCount(mib);
  const client = clientFor(endpoints, tls);
  try {
    for (let i = 0; i < count; i += BALLAST_PUTS_PER_TXN) {
      const success = [];
      for (let j = i; j < Math.min(count, i + BALLAST_PUTS_PER_TXN); j++) {
        // random bytes, hex: etcd stores values as they are, so this is the size on disk too
        const value = randomBytes(BALLAST_VALUE_BYTES / 2).toString('hex');
        success.push({ request_put: { key: Buffer.from(`${BALLAST_PREFIX}${j.toString().padStart(8, '0')}`), value: Buffer.from(value) } });
      }
      await client.kv.txn({ compare: [], success, failure: [] });
    }
    return count;
  } finally {
    client.close();
  }
}

/**
 * Fill the cluster to its space quota as a cluster without compaction fills
 * in the field: the same few keys rewritten (their history grows, the live
 * data stays small, so compaction and defragmentation can win the space back)
 * until etcd refuses a write with "database space exceeded" — the NOSPACE
 * alarm is then raised. Bounded: a cluster that never refuses is an error.
 * Returns how many bytes were written.
 */
export const NOSPACE_PREFIX = '/registry/events/drill-nospace/';
const NOSPACE_VALUE_BYTES = 16 * 1024;

export async function fillToNoSpace(endpoints: string[], tls: ClientTls | undefined, maxBytes: number): Promise<number> {
  const client = clientFor(endpoints, tls);
  let written = 0;
  try {
    while (written < maxBytes) {
      const success = Array.from({ length: BALLAST_PUTS_PER_TXN }, (_, j) => ({
        request_put: { key: Buffer.from(`${NOSPACE_PREFIX}${j.toString().padStart(2, '0')}`), value: Buffer.from(randomBytes(NOSPACE_VALUE_BYTES / 2).toString('hex')) },
      }));
      try {
        await client.kv.txn({ compare: [], success, failure: [] });
      } catch (err) {
        if (/database space exceeded/i.test(String((err as Error).message))) return written;
        throw err;
      }
      written += BALLAST_PUTS_PER_TXN * NOSPACE_VALUE_BYTES;
    }
    throw new Error(`wrote ${written} bytes and etcd still accepts writes: is --quota-backend-bytes set?`);
  } finally {
    client.close();
  }
}

export async function countBallast(endpoints: string[], tls: ClientTls | undefined): Promise<number> {
  const client = clientFor(endpoints, tls);
  try {
    return await client.getAll().prefix(BALLAST_PREFIX).count();
  } finally {
    client.close();
  }
}

export interface SampleCheck {
  expected: number;
  /** present with the value written */
  intact: number;
  missing: string[];
  /** present with another value */
  changed: string[];
}

/** Read every expected key back (a linearizable range read over the prefix). */
export async function checkSample(endpoints: string[], tls: ClientTls | undefined, entries: SampleEntry[], prefix = '/registry/'): Promise<SampleCheck> {
  const client = clientFor(endpoints, tls);
  try {
    // each namespace's directory of the sample, not the whole prefix: a drill's ballast shares it
    const dirs = [...new Set(entries.map((e) => e.key.slice(0, e.key.lastIndexOf('/') + 1)))].filter((d) => d.startsWith(prefix));
    const found: Record<string, string> = {};
    for (const dir of dirs) Object.assign(found, await client.getAll().prefix(dir).strings());
    const check: SampleCheck = { expected: entries.length, intact: 0, missing: [], changed: [] };
    for (const entry of entries) {
      const value = found[entry.key];
      if (value === undefined) check.missing.push(entry.key);
      else if (value !== entry.value) check.changed.push(entry.key);
      else check.intact++;
    }
    return check;
  } finally {
    client.close();
  }
}

export function describeCheck(check: SampleCheck, what: string): string {
  const head = `${check.intact}/${check.expected} ${what} intact`;
  if (check.missing.length === 0 && check.changed.length === 0) return head;
  const parts = [head];
  if (check.missing.length > 0) parts.push(`${check.missing.length} missing (e.g. ${check.missing[0]})`);
  if (check.changed.length > 0) parts.push(`${check.changed.length} changed (e.g. ${check.changed[0]})`);
  return parts.join(', ');
}
