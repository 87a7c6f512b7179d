import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { knownHostsName, matchesPatternList } from './hostPatterns.js';

/**
 * known_hosts as OpenSSH reads it (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):
 * `[@marker] hostpatterns keytype base64key [comment]`, where a host field is
 * either comma-separated patterns or one hashed entry `|1|salt|hash`
 * (hash = HMAC-SHA1 keyed by salt over the host name).
 */

export interface KnownHostEntry {
  /** 1-based, for messages ("known_hosts line 3") */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** the host field as written */
  hosts: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyCheck =
  | { status: 'known'; entry: KnownHostEntry }
  | { status: 'mismatch'; entry: KnownHostEntry }
  | { status: 'revoked'; entry: KnownHostEntry }
  | { status: 'unknown'; otherTypes: string[] };

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const entry = parseLine(raw.trim(), index + 1);
    if (entry) entries.push(entry);
  });
  return entries;
}

function parseLine(line: string, lineNumber: number): KnownHostEntry | undefined {
  if (line === '' || line.startsWith('#')) return undefined;
  const words = line.split(/\s+/);
  let marker: KnownHostEntry['marker'];
  if (words[0] === '@revoked' || words[0] === '@cert-authority') {
    marker = words[0] === '@revoked' ? 'revoked' : 'cert-authority';
    words.shift();
  }
  const [hosts, keyType, base64] = words;
  if (!hosts || !keyType || !base64) return undefined;
  return { line: lineNumber, ...(marker ? { marker } : {}), hosts, keyType, key: Buffer.from(base64, 'base64') };
}

/** Does this entry's host field name `host:port`? */
export function entryMatches(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (entry.hosts.startsWith('|1|')) return hashedMatches(entry.hosts, name);
  return matchesPatternList(name, entry.hosts.split(','));
}

function hashedMatches(field: string, name: string): boolean {
  const [, , salt, hash] = field.split('|');
  if (!salt || !hash) return false;
  const computed = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return computed === hash;
}

/** `|1|salt|hash` for name, as `ssh-keygen -H` writes it */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${hash}`;
}

/**
 * Check the key a server offered. Like OpenSSH: a revoked key is refused, a
 * listed key of the same type that differs is a mismatch, and a host with
 * keys of other types only is unknown for this type (the caller asks).
 */
export function checkHostKey(entries: readonly KnownHostEntry[], host: string, port: number, offered: Buffer): HostKeyCheck {
  const keyType = keyTypeOf(offered);
  const forHost = entries.filter((entry) => entry.marker !== 'cert-authority' && entryMatches(entry, host, port));
  const revoked = forHost.find((entry) => entry.marker === 'revoked' && entry.key.equals(offered));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = forHost.filter((entry) => entry.marker === undefined);
  const known = plain.find((entry) => entry.key.equals(offered));
  if (known) return { status: 'known', entry: known };
  const sameType = plain.find((entry) => entry.keyType === keyType);
  if (sameType) return { status: 'mismatch', entry: sameType };
  return { status: 'unknown', otherTypes: [...new Set(plain.map((entry) => entry.keyType))] };
}

/** Key types already recorded for a host, so negotiation can prefer them as OpenSSH does. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const types = entries
    .filter((entry) => entry.marker === undefined && entryMatches(entry, host, port))
    .map((entry) => entry.keyType);
  return [...new Set(types)];
}

/** The algorithm name at the start of an SSH public key blob (uint32 length + name). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** `SHA256:base64-without-padding`, as ssh-keygen -l and ssh print it */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function knownHostsLine(host: string, port: number, blob: Buffer, hashed: boolean): string {
  const name = knownHostsName(host, port);
  return `${hashed ? hashHostName(name) : name} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`;
}

export async function readKnownHosts(path: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Append one line, creating ~/.ssh (0700) and the file (0600) if needed. */
export async function appendKnownHost(path: string, line: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const existing = await readFile(path, 'utf8').catch(() => '');
  const separator = existing !== '' && !existing.endsWith('\n') ? '\n' : '';
  await appendFile(path, separator + line, { mode: 0o600 });
}
