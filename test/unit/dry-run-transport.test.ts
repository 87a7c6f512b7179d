import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DryRunTransport, NOT_EXECUTED } from '../../src/transport/dry-run.js';
import type { DirEntry, ExecResult, FileIdentity, FileStat, Transport } from '../../src/transport/types.js';

/**
 * A real transport on this machine, small enough to read here: the dry run
 * wraps it, so anything that reaches it really happens.
 */
class FsTransport implements Transport {
  readonly kind = 'local' as const;
  execs = 0;
  constructor(readonly node: string) {}
  exec(command: string): Promise<ExecResult> {
    this.execs++;
    const stdout = execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' });
    return Promise.resolve({ exitCode: 0, stdout, stderr: '', timedOut: false, durationMs: 1 });
  }
  async stat(path: string): Promise<FileStat | undefined> {
    const s = await fsp.lstat(path).catch(() => undefined);
    return s && { type: s.isFile() ? 'file' : s.isDirectory() ? 'directory' : 'other', size: s.size, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, mtimeMs: s.mtimeMs };
  }
  async identity(path: string): Promise<FileIdentity | undefined> {
    const s = await fsp.stat(path, { bigint: true }).catch(() => undefined);
    return s && { file: `${s.ino} ${s.size}`, ctime: `${s.ctimeNs}` };
  }
  readFile(path: string): Promise<Buffer> {
    return fsp.readFile(path);
  }
  async readdir(path: string): Promise<DirEntry[]> {
    return (await fsp.readdir(path, { withFileTypes: true })).map((d) => ({ name: d.name, type: d.isFile() ? 'file' : d.isDirectory() ? 'directory' : 'other' }));
  }
  mkdir(path: string, mode?: number): Promise<void> {
    return fsp.mkdir(path, { mode }).then(() => undefined);
  }
  openRead(path: string): Promise<Readable> {
    return Promise.resolve(createReadStream(path));
  }
  openWrite(path: string, mode: number) {
    return Promise.resolve(createWriteStream(path, { mode }));
  }
  rename(from: string, to: string): Promise<void> {
    return fsp.rename(from, to);
  }
  chmod(path: string, mode: number): Promise<void> {
    return fsp.chmod(path, mode);
  }
  chown(path: string, uid: number, gid: number): Promise<void> {
    return fsp.chown(path, uid, gid);
  }
  unlink(path: string): Promise<void> {
    return fsp.unlink(path);
  }
  readlink(path: string): Promise<string> {
    return fsp.readlink(path);
  }
  symlink(target: string, path: string): Promise<void> {
    return fsp.symlink(target, path);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Every path under root with its type, mode, size and sha256: equal before and after means nothing changed. */
function fingerprint(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const s = lstatSync(path);
      const hash = s.isFile() ? createHash('sha256').update(readFileSync(path)).digest('hex') : '';
      out.push(`${relative(root, path)} ${s.isDirectory() ? 'd' : 'f'} ${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid} ${s.size} ${s.mtimeMs} ${hash}`);
      if (s.isDirectory()) walk(path);
    }
  };
  walk(root);
  return out;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dry-run-test-'));
  mkdirSync(join(dir, 'etcd', 'member', 'snap'), { recursive: true });
  writeFileSync(join(dir, 'etcd', 'member', 'snap', 'db'), 'the etcd database');
  writeFileSync(join(dir, 'etcd.yaml'), 'apiVersion: v1\nkind: Pod\n', { mode: 0o600 });
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('DryRunTransport', () => {
  it('leaves a directory byte-identical through every mutating operation, and records each', async () => {
    const real = new FsTransport('master-1');
    const dry = new DryRunTransport(real, { now: () => new Date('2025-03-01T10:00:00.000Z') });
    const before = fingerprint(dir);

    const seen: string[] = [];
    const result = await dry.exec(`mv ${dir}/etcd ${dir}/etcd.old && rm -rf ${dir}`, { onStdout: (c) => seen.push(c) });
    await dry.mkdir(join(dir, 'etcd-new'), 0o700);
    const sink = await dry.openWrite(join(dir, 'etcd.yaml'), 0o600);
    await pipeline(Readable.from([Buffer.from('overwritten '), Buffer.from('manifest')]), sink);
    await dry.rename(join(dir, 'etcd.yaml'), join(dir, 'etcd.yaml.moved'));
    await dry.chmod(join(dir, 'etcd.yaml'), 0o777);
    await dry.chown(join(dir, 'etcd.yaml'), 1234, 1234);
    await dry.unlink(join(dir, 'etcd', 'member', 'snap', 'db'));

    expect(fingerprint(dir)).toEqual(before);
    expect(real.execs).toBe(0);
    expect(result).toEqual({ exitCode: 0, stdout: NOT_EXECUTED, stderr: '', timedOut: false, durationMs: 0 });
    expect(seen).toEqual(['(dry run: not executed)\n']);
    const at = '2025-03-01T10:00:00.000Z';
    expect(dry.recorded()).toEqual([
      { node: 'master-1', kind: 'exec', detail: `mv ${dir}/etcd ${dir}/etcd.old && rm -rf ${dir}`, at },
      { node: 'master-1', kind: 'mkdir', detail: `${join(dir, 'etcd-new')} (mode 0700)`, at },
      { node: 'master-1', kind: 'write', detail: `${join(dir, 'etcd.yaml')} (mode 0600)`, at, bytes: 20 },
      { node: 'master-1', kind: 'rename', detail: `${join(dir, 'etcd.yaml')} → ${join(dir, 'etcd.yaml.moved')}`, at },
      { node: 'master-1', kind: 'chmod', detail: `${join(dir, 'etcd.yaml')} 0777`, at },
      { node: 'master-1', kind: 'chown', detail: `${join(dir, 'etcd.yaml')} 1234:1234`, at },
      { node: 'master-1', kind: 'unlink', detail: join(dir, 'etcd', 'member', 'snap', 'db'), at },
    ]);
  });

  it('passes reads through to the real node', async () => {
    const dry = new DryRunTransport(new FsTransport('master-2'));
    expect(dry.node).toBe('master-2');
    expect(dry.kind).toBe('dry-run');
    expect((await dry.stat(join(dir, 'etcd.yaml')))?.mode).toBe(0o600);
    expect(await dry.stat(join(dir, 'missing'))).toBeUndefined();
    expect((await dry.readFile(join(dir, 'etcd.yaml'))).toString()).toBe('apiVersion: v1\nkind: Pod\n');
    expect((await dry.readdir(dir)).map((e) => e.name).sort()).toEqual(['etcd', 'etcd.yaml']);
    const chunks: Buffer[] = [];
    for await (const chunk of await dry.openRead(join(dir, 'etcd', 'member', 'snap', 'db'))) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('the etcd database');
    expect(dry.recorded()).toEqual([]);
  });

  it('returns a copy of what it recorded', async () => {
    const dry = new DryRunTransport(new FsTransport('m'));
    await dry.unlink('/x');
    dry.recorded().pop();
    expect(dry.recorded()).toHaveLength(1);
  });
});
