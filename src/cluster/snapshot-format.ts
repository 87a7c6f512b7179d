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

// ---- the etcd version a snapshot was taken with --------------------------------------

/**
 * etcd records the cluster version in its backend (key `clusterVersion` of
 * the `cluster` bucket, etcd 3.4 and 3.5 write it there), and
 * a snapshot is a copy of that backend; `snapshot status` prints it only
 * from etcd 3.6. The command reads it on the node with coreutils and grep
 * alone, in constant memory whatever the size (the file cut at every
 * unprintable byte, so no line is long): `clusterVersion3.5.0`, once per
 * copy of the bucket's page that the file holds.
 */
export function snapshotVersionCommand(quotedPath: string): string {
  return `LC_ALL=C tr -c '[:print:]' '\\n' < ${quotedPath} | grep -o -E '${VERSION_KEY}[0-9]+\\.[0-9]+\\.[0-9]+' | sort -u`;
}

const VERSION_KEY = 'clusterVersion';

/**
 * The version the command found; undefined when none (a cluster that never
 * settled its version). A bolt file may keep freed pages with an older copy
 * of the bucket (before an upgrade): cluster versions only go up, so the
 * highest is the one the cluster had when the snapshot was taken.
 */
export function parseSnapshotVersion(stdout: string): string | undefined {
  const versions = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(VERSION_KEY))
    .map((l) => l.slice(VERSION_KEY.length));
  const rank = (v: string) => v.split('.').map(Number) as [number, number, number];
  return versions.sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  })[versions.length - 1];
}
