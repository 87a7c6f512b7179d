import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  checkHostKey,
  entryMatches,
  fingerprint,
  hashHostName,
  keyTypeOf,
  knownHostsLine,
  knownKeyTypes,
  parseKnownHosts,
} from '../../src/transport/knownHosts.js';
import { preferKnownTypes } from '../../src/transport/sshConnect.js';

const run = promisify(execFile);

/** an SSH public key blob: uint32 length + type name, then (here) filler */
function blob(type: string, filler: string): Buffer {
  const name = Buffer.from(type);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  return Buffer.concat([length, name, Buffer.from(filler)]);
}

const ED_A = blob('ssh-ed25519', 'key-a');
const ED_B = blob('ssh-ed25519', 'key-b');
const ECDSA = blob('ecdsa-sha2-nistp256', 'key-c');
const line = (hosts: string, key: Buffer): string => `${hosts} ${keyTypeOf(key)} ${key.toString('base64')}`;

describe('known_hosts parsing and matching', () => {
  it('parses markers, comments and blank lines, keeping 1-based line numbers', () => {
    const entries = parseKnownHosts(['# comment', '', line('a.example,10.0.0.1', ED_A), `@revoked * ${keyTypeOf(ED_B)} ${ED_B.toString('base64')}`, 'broken-line'].join('\n'));
    expect(entries.map((entry) => [entry.line, entry.marker, entry.hosts, entry.keyType])).toEqual([
      [3, undefined, 'a.example,10.0.0.1', 'ssh-ed25519'],
      [4, 'revoked', '*', 'ssh-ed25519'],
    ]);
    expect(entries[0]?.key.equals(ED_A)).toBe(true);
  });

  it('names non-22 ports as [host]:port, and matches wildcards and negation', () => {
    const [plain, bracketed, wildcard] = parseKnownHosts([line('db1', ED_A), line('[db1]:2222', ED_A), line('*.prod,!bad.prod', ED_A)].join('\n'));
    expect(plain && entryMatches(plain, 'db1', 22)).toBe(true);
    expect(plain && entryMatches(plain, 'db1', 2222)).toBe(false);
    expect(bracketed && entryMatches(bracketed, 'db1', 2222)).toBe(true);
    expect(bracketed && entryMatches(bracketed, 'db1', 22)).toBe(false);
    expect(wildcard && entryMatches(wildcard, 'etcd1.prod', 22)).toBe(true);
    expect(wildcard && entryMatches(wildcard, 'bad.prod', 22)).toBe(false);
  });

  it('matches hashed entries by HMAC-SHA1 of the host name keyed by the salt', () => {
    const salt = Buffer.from('0123456789abcdefghij');
    const expectedHash = createHmac('sha1', salt).update('[10.0.0.5]:2222').digest('base64');
    expect(hashHostName('[10.0.0.5]:2222', salt)).toBe(`|1|${salt.toString('base64')}|${expectedHash}`);
    const [entry] = parseKnownHosts(line(hashHostName('[10.0.0.5]:2222', salt), ED_A));
    expect(entry && entryMatches(entry, '10.0.0.5', 2222)).toBe(true);
    expect(entry && entryMatches(entry, '10.0.0.5', 22)).toBe(false);
    expect(entry && entryMatches(entry, '10.0.0.6', 2222)).toBe(false);
  });

  it('classifies an offered key: known, mismatch (same type), unknown (only other types), revoked', () => {
    const entries = parseKnownHosts([line('h1', ED_A), line('h2', ECDSA), `@revoked h3 ${keyTypeOf(ED_B)} ${ED_B.toString('base64')}`].join('\n'));
    expect(checkHostKey(entries, 'h1', 22, ED_A)).toMatchObject({ status: 'known', entry: { line: 1 } });
    expect(checkHostKey(entries, 'h1', 22, ED_B)).toMatchObject({ status: 'mismatch', entry: { line: 1 } });
    expect(checkHostKey(entries, 'h2', 22, ED_A)).toEqual({ status: 'unknown', otherTypes: ['ecdsa-sha2-nistp256'] });
    expect(checkHostKey(entries, 'h9', 22, ED_A)).toEqual({ status: 'unknown', otherTypes: [] });
    expect(checkHostKey(entries, 'h3', 22, ED_B)).toMatchObject({ status: 'revoked', entry: { line: 3 } });
  });

  it('asks the server for key types already known for the host first', () => {
    const entries = parseKnownHosts([line('h2', ECDSA), line('h2', blob('ssh-rsa', 'r'))].join('\n'));
    expect(knownKeyTypes(entries, 'h2', 22)).toEqual(['ecdsa-sha2-nistp256', 'ssh-rsa']);
    expect(preferKnownTypes(knownKeyTypes(entries, 'h2', 22)).slice(0, 5)).toEqual([
      'ecdsa-sha2-nistp256',
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ssh-ed25519',
    ]);
  });
});

describe('known_hosts against OpenSSH itself', () => {
  let dir: string;
  let publicKey: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'etcd-runbook-kh-'));
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host')]);
    publicKey = (await readFile(join(dir, 'host.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('matches entries hashed by ssh-keygen -H', async () => {
    const file = join(dir, 'known_hosts');
    await writeFile(file, `[10.1.2.3]:2222 ${publicKey}\netcd-2 ${publicKey}\n`);
    await run('ssh-keygen', ['-H', '-f', file]);
    const entries = parseKnownHosts(await readFile(file, 'utf8'));
    expect(entries.every((entry) => entry.hosts.startsWith('|1|'))).toBe(true);
    const key = Buffer.from(publicKey.split(' ')[1] ?? '', 'base64');
    expect(checkHostKey(entries, '10.1.2.3', 2222, key).status).toBe('known');
    expect(checkHostKey(entries, 'etcd-2', 22, key).status).toBe('known');
    expect(checkHostKey(entries, 'etcd-3', 22, key).status).toBe('unknown');
  });

  it('writes lines ssh-keygen -F finds, and fingerprints as ssh-keygen -l prints them', async () => {
    const file = join(dir, 'sub', 'known_hosts_saved');
    const key = Buffer.from(publicKey.split(' ')[1] ?? '', 'base64');
    await appendKnownHost(file, knownHostsLine('10.9.9.9', 2200, key, true));
    await appendKnownHost(file, knownHostsLine('etcd-9', 22, key, false));
    expect((await readFile(file, 'utf8')).split('\n')[1]).toBe(`etcd-9 ${publicKey}`);
    const found = await run('ssh-keygen', ['-F', '[10.9.9.9]:2200', '-f', file]);
    expect(found.stdout).toContain('Host [10.9.9.9]:2200 found: line 1');
    const printed = (await run('ssh-keygen', ['-lf', join(dir, 'host.pub')])).stdout.split(' ')[1];
    expect(fingerprint(key)).toBe(printed);
  });
});
