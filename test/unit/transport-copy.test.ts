import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyFile, partialName, type CopyOptions } from '../../src/transport/copy.js';
import { LocalTransport } from '../../src/transport/local.js';
import type { ExecOptions, ExecResult } from '../../src/transport/types.js';

let dir: string;
const local = new LocalTransport();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etcd-runbook-copy-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A node whose destination misbehaves in one chosen way. */
class FaultyNode extends LocalTransport {
  constructor(private readonly fault: 'chown' | 'checksum' | 'write' | 'no-sha256sum') {
    super('faulty');
  }
  override async chown(): Promise<void> {
    if (this.fault === 'chown') throw Object.assign(new Error('EPERM: operation not permitted, chown'), { code: 'EPERM' });
  }
  override async exec(command: string, options?: ExecOptions): Promise<ExecResult> {
    if (this.fault === 'checksum' && command.includes('sha256')) return fakeResult(`${'0'.repeat(64)}  x\n`, 0);
    if (this.fault === 'no-sha256sum' && command.includes('sha256')) return fakeResult('', 127);
    return super.exec(command, options);
  }
  override async openWrite(path: string, mode: number): Promise<Writable> {
    const real = await super.openWrite(path, mode);
    if (this.fault !== 'write') return real;
    let written = 0;
    // fails after the first MiB has reached the temporary file
    return new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        if (written > 1 << 20) return real.end(() => callback(new Error('No space left on device')));
        real.write(chunk, callback);
      },
      final(callback) {
        real.end(callback);
      },
    });
  }
}

function fakeResult(stdout: string, exitCode: number): ExecResult {
  return { exitCode, stdout, stderr: '', timedOut: false, durationMs: 1 };
}

async function sourceFile(size = 3 << 20): Promise<string> {
  const path = join(dir, 'source.db');
  await writeFile(path, Buffer.alloc(size, 7));
  await chmod(path, 0o640);
  return path;
}

describe('copyFile between transports', () => {
  it('names the temporary next to the destination, hidden, marked as ours', () => {
    expect(partialName('/var/lib/etcd/snap.db')).toMatch(/^\/var\/lib\/etcd\/\.snap\.db\.etcd-runbook-partial-[0-9a-f]{12}$/);
  });

  it.runIf(process.getuid?.() === 0)('keeps the mode and reports ownership it may not set as a warning, not a failure', async () => {
    const from = await sourceFile();
    await chown(from, 4242, 4343);
    const to = join(dir, 'out.db');
    const result = await copyFile({ transport: local, path: from }, { transport: new FaultyNode('chown'), path: to });
    expect((await stat(to)).mode & 0o777).toBe(0o640);
    expect(result.warnings).toEqual([`could not keep owner 4242:4343 on faulty:${to} (EPERM: operation not permitted, chown); it is owned by 0:0`]);
    const kept = await copyFile({ transport: local, path: from }, { transport: local, path: join(dir, 'kept.db') });
    expect(kept.warnings).toEqual([]);
    expect(await stat(join(dir, 'kept.db'))).toMatchObject({ uid: 4242, gid: 4343 });
  });

  it('leaves nothing behind and the final name untouched when the destination fails mid-write', async () => {
    const from = await sourceFile();
    const to = join(dir, 'out.db');
    await expect(copyFile({ transport: local, path: from }, { transport: new FaultyNode('write'), path: to })).rejects.toThrow(
      `copy local:${from} → faulty:${to} failed: No space left on device`,
    );
    expect(await readdir(dir)).toEqual(['source.db']);
  });

  it('refuses bytes whose checksum at the destination differs', async () => {
    const from = await sourceFile();
    const to = join(dir, 'out.db');
    await expect(copyFile({ transport: local, path: from }, { transport: new FaultyNode('checksum'), path: to })).rejects.toThrow(
      /failed: checksum mismatch at faulty:.*\.out\.db\.etcd-runbook-partial-\w+ \(sent [0-9a-f]{64}, destination has 0{64}\)$/,
    );
    expect(await readdir(dir)).toEqual(['source.db']);
  });

  it('falls back to reading the bytes back where the node cannot hash them', async () => {
    const from = await sourceFile();
    const result = await copyFile({ transport: local, path: from }, { transport: new FaultyNode('no-sha256sum'), path: join(dir, 'out.db') });
    expect(result.verifiedBy).toBe('read-back');
    expect((await readFile(join(dir, 'out.db'))).equals(await readFile(from))).toBe(true);
  });

  it('sweeps temporaries an interrupted copy to the same name left behind, and only those', async () => {
    const from = await sourceFile(10);
    await writeFile(join(dir, '.out.db.etcd-runbook-partial-abc123'), 'stale');
    await writeFile(join(dir, '.other.db.etcd-runbook-partial-abc123'), 'not ours to sweep now');
    await copyFile({ transport: local, path: from }, { transport: local, path: join(dir, 'out.db') });
    expect((await readdir(dir)).sort()).toEqual(['.other.db.etcd-runbook-partial-abc123', 'out.db', 'source.db']);
  });

  it('says what is missing', async () => {
    await expect(copyFile({ transport: local, path: join(dir, 'nope') }, { transport: local, path: join(dir, 'x') })).rejects.toThrow(
      `copy local:${join(dir, 'nope')} → local:${join(dir, 'x')} failed: local:${join(dir, 'nope')} does not exist`,
    );
  });

  it('stops when cancelled and cleans up', async () => {
    const from = await sourceFile(8 << 20);
    const controller = new AbortController();
    controller.abort();
    await expect(copyFile({ transport: local, path: from }, { transport: local, path: join(dir, 'out.db') }, { signal: controller.signal })).rejects.toThrow(/failed: cancelled$/);
    expect(await readdir(dir)).toEqual(['source.db']);
  });
});

describe('what the copy hashed, for the guards after it (onHashed)', () => {
  const sha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');
  type Hashed = Parameters<NonNullable<CopyOptions['onHashed']>>[0];

  it('gives the source and the destination, at the identities they have now, with the sha256 of every byte', async () => {
    const from = await sourceFile();
    const to = join(dir, 'copy.db');
    const hashed: Hashed[] = [];
    const result = await copyFile({ transport: local, path: from }, { transport: local, path: to }, { onHashed: (f) => hashed.push(f) });
    expect(hashed.map((h) => [h.side, h.path])).toEqual([
      ['from', from],
      ['to', to],
    ]);
    expect(hashed.every((h) => h.sha256 === result.sha256)).toBe(true);
    expect(result.sha256).toBe(await sha(to));
    expect(hashed[0]?.identity).toEqual(await local.identity(from));
    // the destination as it is in place: after the copy's chmod and rename
    expect(hashed[1]?.identity).toEqual(await local.identity(to));
  });

  it('leaves out a source rewritten (same size) while it was read: the bytes hashed are no longer what it holds', async () => {
    const from = await sourceFile();
    // written an hour ago: the rewrite's timestamps differ even within the kernel's clock tick
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(from, hourAgo, hourAgo);
    const to = join(dir, 'copy.db');
    /** the source's node: once its bytes have been read, something rewrites the file in place */
    class RewrittenWhileRead extends LocalTransport {
      override async openRead(path: string) {
        const stream = await super.openRead(path);
        stream.once('end', () => writeFileSync(path, Buffer.alloc(3 << 20, 8)));
        return stream;
      }
    }
    const hashed: Hashed[] = [];
    await copyFile({ transport: new RewrittenWhileRead('local'), path: from }, { transport: local, path: to }, { onHashed: (f) => hashed.push(f) });
    expect(hashed.map((h) => h.side)).toEqual(['to']);
  });

  it('asks no identities when nobody listens', async () => {
    let asked = 0;
    class Counting extends LocalTransport {
      override async identity(path: string) {
        asked++;
        return super.identity(path);
      }
    }
    const node = new Counting('local');
    await copyFile({ transport: node, path: await sourceFile() }, { transport: node, path: join(dir, 'copy.db') });
    expect(asked).toBe(0);
  });
});
