import { createHash, type Hash } from 'node:crypto';

/**
 * etcd's snapshot format, as `snapshot restore` checks it: a file whose size
 * is 32 more than a multiple of 512 ends with the sha256 of everything
 * before it (`snapshot save` appends it; a raw member/snap/db copy has none).
 */
export type SnapshotIntegrity =
  | { kind: 'ok'; size: number; by?: string }
  | { kind: 'absent'; size: number; by?: string }
  | { kind: 'mismatch'; size: number; expected: string; actual: string; by?: string }
  | { kind: 'error'; size: number; error: string };

export function hasIntegrityHash(size: number): boolean {
  return size % 512 === 32;
}

const TRAILER = 32;

/**
 * The integrity check made on the bytes as they stream in (the save), so
 * the file need not be read again to make it: every byte but the last 32
 * seen goes into the body's hash, the last 32 are held back until the end.
 * The whole file's sha256 is that hash carried on over the held bytes: one
 * pass of hashing gives both (a 2 GiB snapshot is not hashed twice).
 */
export class StreamedIntegrity {
  private readonly body: Hash = createHash('sha256');
  private held: Buffer = Buffer.alloc(0);
  private size = 0;
  private digests: { body: string; file: string } | undefined;

  update(chunk: Buffer): void {
    this.size += chunk.length;
    if (chunk.length >= TRAILER) {
      this.body.update(this.held);
      this.body.update(chunk.subarray(0, chunk.length - TRAILER));
      // a copy: holding a view would keep the whole chunk alive
      this.held = Buffer.from(chunk.subarray(chunk.length - TRAILER));
      return;
    }
    const joined = Buffer.concat([this.held, chunk]);
    const cut = Math.max(0, joined.length - TRAILER);
    this.body.update(joined.subarray(0, cut));
    this.held = joined.subarray(cut);
  }

  /** what the file's last 32 bytes say of the rest; `by` says how it was checked */
  result(by: string): SnapshotIntegrity {
    if (!hasIntegrityHash(this.size)) return { kind: 'absent', size: this.size, by };
    const expected = this.held.toString('hex');
    const actual = this.finished().body;
    return expected === actual ? { kind: 'ok', size: this.size, by } : { kind: 'mismatch', size: this.size, expected, actual, by };
  }

  /** the sha256 of every byte streamed, trailer included: the file's own */
  fileSha256(): string {
    return this.finished().file;
  }

  /** both digests, made once the stream has ended (a digest ends a hash: the file's goes on from a copy) */
  private finished(): { body: string; file: string } {
    this.digests ??= { file: this.body.copy().update(this.held).digest('hex'), body: this.body.digest('hex') };
    return this.digests;
  }
}
