import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLabSshd, type LabSshd } from '../../src/lab/sshd.js';
import { copyFile, copyTree, distributeFile, type DistributeProgress } from '../../src/transport/copy.js';
import { LocalTransport } from '../../src/transport/local.js';
import type { SshTransport } from '../../src/transport/ssh.js';
import { labTransport, writeRandomishFile } from '../helpers/sshLab.js';

const SIZE = 200 * 1024 * 1024;

let hostA: LabSshd;
let hostB: LabSshd;
let nodeA: SshTransport;
let nodeB: SshTransport;
let work: string;
let bigFile: string;
let bigSha: string;
const local = new LocalTransport();

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

beforeAll(async () => {
  [hostA, hostB] = await Promise.all([startLabSshd({ host: '127.0.0.1' }), startLabSshd({ host: '127.0.0.2' })]);
  nodeA = labTransport(hostA, { node: 'member-a' });
  nodeB = labTransport(hostB, { node: 'member-b' });
  work = await mkdtemp(join(tmpdir(), 'etcd-runbook-copy-'));
  bigFile = join(work, 'snapshot.db');
  await writeRandomishFile(bigFile, SIZE);
  bigSha = await sha256Of(bigFile);
});

afterAll(async () => {
  await Promise.all([nodeA?.close(), nodeB?.close()]);
  await Promise.all([hostA?.stop(), hostB?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('copyFile over ssh', () => {
  it('copies 200 MB local → node, verified by hashing there, mode kept, nothing left over', async () => {
    const to = join(hostA.dir, 'snapshot.db');
    const result = await copyFile({ transport: local, path: bigFile }, { transport: nodeA, path: to });
    expect(result).toMatchObject({ bytes: SIZE, sha256: bigSha, verifiedBy: 'hashed-at-destination', mode: 0o640, warnings: [] });
    expect(await sha256Of(to)).toBe(bigSha);
    expect((await stat(to)).mode & 0o777).toBe(0o640);
    expect((await readdir(hostA.dir)).filter((name) => name.includes('partial'))).toEqual([]);
  });

  it('copies 200 MB node → local with the same checksum', async () => {
    const to = join(work, 'back.db');
    const result = await copyFile({ transport: nodeA, path: join(hostA.dir, 'snapshot.db') }, { transport: local, path: to });
    expect(result).toMatchObject({ bytes: SIZE, sha256: bigSha, verifiedBy: 'hashed-at-destination' });
    expect(await sha256Of(to)).toBe(bigSha);
  });

  it('copies node → node through this process', async () => {
    const to = join(hostB.dir, 'from-a.db');
    const result = await copyFile({ transport: nodeA, path: join(hostA.dir, 'snapshot.db') }, { transport: nodeB, path: to });
    expect(result).toMatchObject({ from: `member-a:${join(hostA.dir, 'snapshot.db')}`, to: `member-b:${to}`, sha256: bigSha });
    expect(await sha256Of(to)).toBe(bigSha);
  });

  it('refuses to overwrite an existing destination unless asked', async () => {
    const to = join(hostA.dir, 'existing.txt');
    await writeFile(to, 'keep me');
    const from = join(work, 'new.txt');
    await writeFile(from, 'new content');
    await expect(copyFile({ transport: local, path: from }, { transport: nodeA, path: to })).rejects.toThrow(
      `copy local:${from} → member-a:${to} failed: member-a:${to} already exists: move it aside, or copy with overwrite`,
    );
    expect(await readFile(to, 'utf8')).toBe('keep me');
    await copyFile({ transport: local, path: from }, { transport: nodeA, path: to }, { overwrite: true });
    expect(await readFile(to, 'utf8')).toBe('new content');
  });
});

describe('copyTree over ssh', () => {
  it('copies a directory tree with its modes there and back', async () => {
    const source = join(work, 'pki');
    await mkdir(join(source, 'etcd', 'private'), { recursive: true });
    await writeFile(join(source, 'ca.crt'), 'CA\n');
    await writeFile(join(source, 'etcd', 'server.crt'), 'SERVER\n');
    await writeFile(join(source, 'etcd', 'private', 'server.key'), 'KEY\n');
    await writeFile(join(source, 'etcd', 'hook.sh'), '#!/bin/sh\n');
    await chmod(join(source, 'etcd', 'private', 'server.key'), 0o600);
    await chmod(join(source, 'etcd', 'hook.sh'), 0o755);
    await chmod(join(source, 'etcd', 'private'), 0o700);
    await chmod(join(source, 'etcd'), 0o750);

    const remote = join(hostA.dir, 'pki');
    const there = await copyTree({ transport: local, path: source }, { transport: nodeA, path: remote });
    expect(there.files.map((file) => file.to)).toEqual(
      ['ca.crt', 'etcd/hook.sh', 'etcd/private/server.key', 'etcd/server.crt'].map((name) => `member-a:${join(remote, name)}`),
    );
    expect(there.directories).toBe(3);
    const back = join(work, 'pki-back');
    await copyTree({ transport: nodeA, path: remote }, { transport: local, path: back });
    const modeOf = async (path: string): Promise<string> => ((await stat(path)).mode & 0o777).toString(8);
    expect(await modeOf(join(back, 'etcd'))).toBe('750');
    expect(await modeOf(join(back, 'etcd', 'private'))).toBe('700');
    expect(await modeOf(join(back, 'etcd', 'private', 'server.key'))).toBe('600');
    expect(await modeOf(join(back, 'etcd', 'hook.sh'))).toBe('755');
    expect(await readFile(join(back, 'etcd', 'private', 'server.key'), 'utf8')).toBe('KEY\n');
    expect((await readdir(hostA.dir)).filter((name) => name.includes('partial'))).toEqual([]);
  });
});

describe('distributeFile', () => {
  it('sends one snapshot to two nodes in parallel with per-node progress', async () => {
    const events: DistributeProgress[] = [];
    const targets = [
      { transport: nodeA, path: join(hostA.dir, 'dist.db') },
      { transport: nodeB, path: join(hostB.dir, 'dist.db') },
    ];
    const results = await distributeFile({ transport: local, path: bigFile }, targets, { onProgress: (event) => events.push(event) });
    expect(results).toEqual([
      expect.objectContaining({ node: 'member-a', ok: true, sha256: bigSha, bytes: SIZE }),
      expect.objectContaining({ node: 'member-b', ok: true, sha256: bigSha, bytes: SIZE }),
    ]);
    for (const node of ['member-a', 'member-b']) {
      const mine = events.filter((event) => event.node === node);
      expect(mine.length).toBeGreaterThan(1);
      expect(mine.at(-1)).toMatchObject({ bytes: SIZE, totalBytes: SIZE });
      expect(mine.every((event) => event.bytesPerSecond > 0)).toBe(true);
    }
    expect(await sha256Of(join(hostB.dir, 'dist.db'))).toBe(bigSha);
  });

  it('fails per destination, not all or nothing', async () => {
    const small = join(work, 'small.db');
    await writeFile(small, 'snapshot bytes');
    const results = await distributeFile({ transport: local, path: small }, [
      { transport: nodeA, path: join(hostA.dir, 'small.db') },
      { transport: nodeB, path: join(hostB.dir, 'no-such-dir', 'small.db') },
    ]);
    expect(results[0]).toMatchObject({ node: 'member-a', ok: true });
    expect(results[1]).toMatchObject({ node: 'member-b', ok: false });
    expect(results[1]?.ok === false && results[1].error).toContain(`member-b:${join(hostB.dir, 'no-such-dir')} is not a directory: create it first`);
  });
});
