import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hasIntegrityHash, parseSnapshotVersion, StreamedIntegrity } from '../../src/cluster/snapshot-format.js';

/** a body of `pages` 512-byte pages with etcd's appended sha256 */
function snapshot(pages: number): Buffer {
  const body = randomBytes(pages * 512);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

/** the bytes in chunks of the given sizes, the last chunk whatever is left */
function chunks(bytes: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= bytes.length) break;
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  if (at < bytes.length) out.push(bytes.subarray(at));
  return out;
}

function streamed(parts: Buffer[]) {
  const integrity = new StreamedIntegrity();
  for (const part of parts) integrity.update(part);
  return integrity.result('as streamed');
}

describe('StreamedIntegrity: the appended sha256, checked as the bytes stream in', () => {
  const file = snapshot(40);

  it('matches however the stream is cut: big chunks, chunks shorter than the hash, a cut inside the hash', () => {
    const cuts = [
      [file.length],
      [4096, 4096, 4096],
      [1, 2, 3, 31, 32, 33, 511, 512, 513],
      [file.length - 40, 10, 10, 10, 10],
      [file.length - 32],
      [file.length - 1, 1],
      Array.from({ length: 700 }, () => 7),
    ];
    for (const sizes of cuts) expect(streamed(chunks(file, sizes))).toEqual({ kind: 'ok', size: file.length, by: 'as streamed' });
  });

  it('finds one flipped byte, in the body or in the hash, and says both hashes', () => {
    for (const at of [0, 20480 - 1, file.length - 1]) {
      const flipped = Buffer.from(file);
      flipped[at] = (flipped[at] as number) ^ 0xff;
      const found = streamed(chunks(flipped, [1000, 5, 3000]));
      expect(found.kind).toBe('mismatch');
      if (found.kind !== 'mismatch') continue;
      expect(found.expected).toBe(flipped.subarray(-32).toString('hex'));
      expect(found.actual).toBe(createHash('sha256').update(flipped.subarray(0, -32)).digest('hex'));
      expect(found.expected).not.toBe(found.actual);
    }
  });

  it("gives the whole file's sha256 from the same pass, however the stream is cut, before or after the check", () => {
    const truncated = file.subarray(0, file.length - 100);
    for (const bytes of [file, truncated, Buffer.alloc(0)]) {
      const whole = createHash('sha256').update(bytes).digest('hex');
      for (const sizes of [[bytes.length], [1, 31, 32, 33, 4096], [bytes.length - 1, 1]]) {
        const before = new StreamedIntegrity();
        for (const part of chunks(bytes, sizes)) before.update(part);
        expect(before.fileSha256()).toBe(whole);
        expect(before.result('as streamed').kind).toBe(bytes === file ? 'ok' : 'absent');
        const after = new StreamedIntegrity();
        for (const part of chunks(bytes, sizes)) after.update(part);
        expect(after.result('as streamed').kind).toBe(bytes === file ? 'ok' : 'absent');
        expect(after.fileSha256()).toBe(whole);
      }
    }
  });

  it('says absent for a size with no room for the hash (a raw db, a truncated stream), as snapshot restore would', () => {
    const truncated = file.subarray(0, file.length - 100);
    expect(hasIntegrityHash(truncated.length)).toBe(false);
    expect(streamed(chunks(truncated, [333]))).toEqual({ kind: 'absent', size: truncated.length, by: 'as streamed' });
    expect(streamed([])).toEqual({ kind: 'absent', size: 0, by: 'as streamed' });
  });
});

describe('the etcd version recorded in a snapshot', () => {
  it('is the highest clusterVersion found (a freed page may hold the one from before an upgrade)', () => {
    expect(parseSnapshotVersion('clusterVersion3.4.0\nclusterVersion3.5.0\n')).toBe('3.5.0');
    expect(parseSnapshotVersion('clusterVersion3.10.0\nclusterVersion3.9.2\n')).toBe('3.10.0');
  });
  it('is unknown when the snapshot records none', () => {
    expect(parseSnapshotVersion('')).toBeUndefined();
  });
});
