import { execFileSync } from 'node:child_process';
import { mkdtemp, rename, rm, utimes, writeFile, copyFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_SHA256, FileChecks } from '../../src/runbook/file-checks.js';
import { LocalTransport } from '../../src/transport/local.js';

/**
 * A finding about a file (its sha256, `snapshot status`) is reused only for
 * the same, unwritten file: every way of changing it through the filesystem
 * makes the next guard check it again. Real files, real `stat`.
 */
describe('FileChecks', () => {
  const local = new LocalTransport();
  let dir: string;
  let checks: number;
  const sha = (path: string) => async () => {
    checks++;
    return execFileSync('sha256sum', ['--', path]).toString().slice(0, 64);
  };
  const keepAll = () => true;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'file-checks-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers from a finding learned outside a guard (the save that wrote the file) while the file is unchanged, and checks it once written', async () => {
    const path = join(dir, 'saved.db');
    await writeFile(path, 's'.repeat(4096));
    const fileChecks = new FileChecks();
    fileChecks.learn('local', 'snapshot integrity', path, (await local.identity(path))!, 'matched as it streamed in');
    checks = 0;
    expect(await fileChecks.checkOnce(local, 'local', 'snapshot integrity', path, sha(path), keepAll)).toEqual({ value: 'matched as it streamed in', remembered: true });
    expect(checks).toBe(0);
    // only for that node, and for that finding
    expect((await fileChecks.checkOnce(local, 'm1', 'snapshot integrity', path, sha(path), keepAll)).remembered).toBe(false);
    expect((await fileChecks.checkOnce(local, 'local', 'snapshot status', path, sha(path), keepAll)).remembered).toBe(false);
    await writeFile(path, 's'.repeat(4096));
    checks = 0;
    const written = execFileSync('sha256sum', ['--', path]).toString().slice(0, 64);
    expect(await fileChecks.checkOnce(local, 'local', 'snapshot integrity', path, sha(path), keepAll)).toEqual({ value: written, remembered: false });
    expect(checks).toBe(1);
  });

  it('checks once while the file is unchanged, and says the answer is remembered', async () => {
    const path = join(dir, 'snap.db');
    await writeFile(path, 'a'.repeat(4096));
    const fileChecks = new FileChecks();
    checks = 0;
    const first = await fileChecks.checkOnce(local, 'm1', 'sha256', path, sha(path), keepAll);
    const second = await fileChecks.checkOnce(local, 'm1', 'sha256', path, sha(path), keepAll);
    expect(first.remembered).toBe(false);
    expect(second).toEqual({ value: first.value, remembered: true });
    expect(checks).toBe(1);
    // another node's copy, or another kind of check, is its own finding
    await fileChecks.checkOnce(local, 'm2', 'sha256', path, sha(path), keepAll);
    await fileChecks.checkOnce(local, 'm1', 'snapshot status', path, sha(path), keepAll);
    expect(checks).toBe(3);
  });

  it('checks again after the bytes change, even with the same size and the old mtime put back', async () => {
    const path = join(dir, 'same-size.db');
    await writeFile(path, 'a'.repeat(4096));
    const fileChecks = new FileChecks();
    checks = 0;
    const before = await fileChecks.checkOnce(local, 'm1', 'sha256', path, sha(path), keepAll);
    const { mtime, atime } = await stat(path);
    await writeFile(path, `b${'a'.repeat(4095)}`);
    // `touch -r`-style: mtime restored; ctime cannot be
    await utimes(path, atime, mtime);
    const after = await fileChecks.checkOnce(local, 'm1', 'sha256', path, sha(path), keepAll);
    expect(after.remembered).toBe(false);
    expect(after.value).not.toBe(before.value);
    expect(checks).toBe(2);
  });

  it('checks again when another file is renamed over it (same content, new inode)', async () => {
    const path = join(dir, 'renamed.db');
    await writeFile(path, 'c'.repeat(1024));
    const fileChecks = new FileChecks();
    checks = 0;
    await fileChecks.checkOnce(local, 'm1', 'sha256', path, sha(path), keepAll);
    await copyFile(path, `${path}.new`);
    await rename(`${path}.new`, path);
    expect((await fileChecks.checkOnce(local, 'm1', 'sha256', path, sha(path), keepAll)).remembered).toBe(false);
    expect(checks).toBe(2);
  });

  it('does not keep what `keep` rejects (errors), a file changed during its check, or a missing file', async () => {
    const path = join(dir, 'flaky.db');
    await writeFile(path, 'd'.repeat(1024));
    const fileChecks = new FileChecks();
    checks = 0;
    const failing = async () => {
      checks++;
      return { error: 'timed out' };
    };
    await fileChecks.checkOnce(local, 'm1', 'sha256', path, failing, (v) => !('error' in v));
    expect((await fileChecks.checkOnce(local, 'm1', 'sha256', path, failing, (v) => !('error' in v))).remembered).toBe(false);
    expect(checks).toBe(2);

    const writtenWhileChecked = async () => {
      checks++;
      await writeFile(path, 'e'.repeat(1024));
      return 'hash of a file that moved under it';
    };
    await fileChecks.checkOnce(local, 'm1', 'sha256', path, writtenWhileChecked, keepAll);
    expect((await fileChecks.checkOnce(local, 'm1', 'sha256', path, sha(path), keepAll)).remembered).toBe(false);

    const missing = join(dir, 'missing.db');
    const nothing = async () => {
      checks++;
      return 'no such file';
    };
    await fileChecks.checkOnce(local, 'm1', 'sha256', missing, nothing, keepAll);
    expect((await fileChecks.checkOnce(local, 'm1', 'sha256', missing, nothing, keepAll)).remembered).toBe(false);
  });

  describe('by content', () => {
    const status = (path: string) => async () => {
      checks++;
      return `snapshot status of ${path}`;
    };
    const hashOf = (path: string) => async () => execFileSync('sha256sum', ['--', path]).toString().slice(0, 64);

    /** the source checked and hashed, and a copy of it whose hash the copy learned */
    async function sourceAndCopy(name: string, copyContent?: string): Promise<{ fileChecks: FileChecks; source: string; copy: string }> {
      const source = join(dir, `${name}.db`);
      const copy = join(dir, `${name}-copy.db`);
      await writeFile(source, 'f'.repeat(2048));
      await writeFile(copy, copyContent ?? 'f'.repeat(2048));
      const fileChecks = new FileChecks();
      await fileChecks.checkOnce(local, 'local', 'snapshot status', source, status(source), keepAll, { byContent: true });
      await fileChecks.checkOnce(local, 'local', FILE_SHA256, source, hashOf(source), keepAll);
      const identity = await local.identity(copy);
      fileChecks.learnSha256('m2', copy, identity!, (await hashOf(copy)()) as string);
      return { fileChecks, source, copy };
    }

    it("answers a check that depends on the bytes alone for a copy with the same sha256, naming where it was found", async () => {
      checks = 0;
      const { fileChecks, source, copy } = await sourceAndCopy('twin');
      const answer = await fileChecks.checkOnce(local, 'm2', 'snapshot status', copy, status(copy), keepAll, { byContent: true });
      expect(answer).toEqual({ value: `snapshot status of ${source}`, remembered: true, sameContentAs: `local:${source}` });
      expect(checks).toBe(1);
      // not for a check that is about the file itself
      expect((await fileChecks.checkOnce(local, 'm2', 'snapshot status', copy, status(copy), keepAll)).remembered).toBe(false);
      // the learned hash serves the sha256 guard too
      expect(await fileChecks.checkOnce(local, 'm2', FILE_SHA256, copy, async () => 'never asked', keepAll)).toMatchObject({ remembered: true });
    });

    it('checks a copy whose bytes differ, or that was written after its hash was learned', async () => {
      checks = 0;
      const differs = await sourceAndCopy('differs', 'g'.repeat(2048));
      expect((await differs.fileChecks.checkOnce(local, 'm2', 'snapshot status', differs.copy, status(differs.copy), keepAll, { byContent: true })).remembered).toBe(false);

      const written = await sourceAndCopy('written');
      await new Promise((resolve) => setTimeout(resolve, 20));
      await writeFile(written.copy, 'f'.repeat(2048));
      expect((await written.fileChecks.checkOnce(local, 'm2', 'snapshot status', written.copy, status(written.copy), keepAll, { byContent: true })).remembered).toBe(false);
      expect(checks).toBe(4);
    });

    it('does not answer from a source that changed after it was checked', async () => {
      checks = 0;
      const { fileChecks, source, copy } = await sourceAndCopy('moved-source');
      await new Promise((resolve) => setTimeout(resolve, 20));
      await writeFile(source, 'f'.repeat(2048));
      // the source's hash is learned anew, but its status finding was about the file as it was
      await fileChecks.checkOnce(local, 'local', FILE_SHA256, source, hashOf(source), keepAll);
      expect((await fileChecks.checkOnce(local, 'm2', 'snapshot status', copy, status(copy), keepAll, { byContent: true })).remembered).toBe(false);
    });

    it('keeps no hash that failed, or of a file written while it was hashed', async () => {
      const path = join(dir, 'hash-fails.db');
      await writeFile(path, 'h'.repeat(1024));
      const fileChecks = new FileChecks();
      await expect(fileChecks.checkOnce(local, 'm1', FILE_SHA256, path, async () => Promise.reject(new Error('sha256sum exit 1')), keepAll)).rejects.toThrow('sha256sum exit 1');
      await fileChecks.checkOnce(local, 'm1', FILE_SHA256, path, async () => {
        // past the kernel's clock tick, so the write's timestamps are new values
        await new Promise((resolve) => setTimeout(resolve, 20));
        await writeFile(path, 'i'.repeat(1024));
        return 'stale';
      }, keepAll);
      expect(await fileChecks.checkOnce(local, 'm1', FILE_SHA256, path, hashOf(path), keepAll)).toMatchObject({ remembered: false });
      expect(await fileChecks.checkOnce(local, 'm1', FILE_SHA256, path, hashOf(path), keepAll)).toMatchObject({ remembered: true });
    });
  });
});
