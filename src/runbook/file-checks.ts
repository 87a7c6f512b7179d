import type { FileIdentity, Transport } from '../transport/types.js';

/**
 * What a run has already verified about a file, kept while the file stays
 * the same file. restore-quorum checks its snapshot before each step up to
 * the point of no return (sha256 on every node, `snapshot status`), and on a
 * 2 GiB snapshot each check reads the whole file on every node: tens of
 * seconds of an outage, again and again, to learn what was known.
 *
 * A file whose identity — device, inode, size, and mtime and ctime to the
 * nanosecond (Transport.identity) — is what it was when it was checked has
 * not been written since, by anything that writes through the filesystem:
 * ctime moves on every write, truncate, chmod or rename over it, and cannot
 * be set back. Its identity is read before and after each check, so a file
 * that changed during one is not remembered; errors and timeouts are never
 * remembered. Every guard still reads the identity anew each time it is judged.
 *
 * Files are also known by their content: a file's whole sha256, hashed by a
 * guard or by the copy that put it there (verified at its destination), is
 * kept with its identity. A check whose answer depends on the bytes alone
 * (`snapshot status` and the appended sha256) is then answered for a file by
 * what it found for another file with the same sha256 — the snapshot copied
 * to every node is the one verified where it was taken.
 */
export interface FileCheck<T> {
  value: T;
  /** the value is the one found earlier in this run (the file is unchanged since) */
  remembered: boolean;
  /** remembered from another file with the same sha256 (node:path) */
  sameContentAs?: string;
}

interface Known {
  node: string;
  what: string;
  path: string;
  identity: string;
  value: unknown;
}

/** the finding that is a file's whole sha256: what `sameContent` compares files by */
export const FILE_SHA256 = 'sha256';

/** the finding that is a snapshot's appended sha256 checked against its body (SnapshotIntegrity) */
export const SNAPSHOT_INTEGRITY = 'snapshot integrity';

export class FileChecks {
  private readonly known = new Map<string, Known>();

  /**
   * `check` the file on the node, or the answer it gave for this same file
   * earlier; `keep` says which answers are findings (not errors) worth keeping.
   * `byContent`: the answer depends on the file's bytes alone, so it may come
   * from another file known to have the same sha256.
   */
  async checkOnce<T>(
    transport: Transport,
    node: string,
    what: string,
    path: string,
    check: () => Promise<T>,
    keep: (value: T) => boolean,
    options: { byContent?: boolean } = {},
  ): Promise<FileCheck<T>> {
    const key = knownKey(node, what, path);
    const before = await fileIdentity(transport, path);
    const known = this.known.get(key);
    if (before !== undefined && known?.identity === before) return { value: known.value as T, remembered: true };
    const twin = before !== undefined && options.byContent ? this.sameContent(node, what, path, before) : undefined;
    if (twin) return { value: twin.value as T, remembered: true, sameContentAs: `${twin.node}:${twin.path}` };
    const value = await check();
    if (before !== undefined && keep(value) && (await fileIdentity(transport, path)) === before) this.known.set(key, { node, what, path, identity: before, value });
    else this.known.delete(key);
    return { value, remembered: false };
  }

  /** A file's whole sha256 learned outside a guard: the copy that wrote (or read) it hashed every byte, the file unchanged since. */
  learnSha256(node: string, path: string, identity: FileIdentity, sha256: string): void {
    this.learn(node, FILE_SHA256, path, identity, sha256);
  }

  /** A finding made outside a guard on the bytes of the file at this identity (the save or copy that wrote them). */
  learn(node: string, what: string, path: string, identity: FileIdentity, value: unknown): void {
    this.known.set(knownKey(node, what, path), { node, what, path, identity: identityKey(identity), value });
  }

  /** A finding of `what` about another file whose sha256 (at the identity it was checked at) equals this file's, as it is now. */
  private sameContent(node: string, what: string, path: string, identity: string): Known | undefined {
    const mine = this.known.get(knownKey(node, FILE_SHA256, path));
    if (mine?.identity !== identity) return undefined;
    for (const known of this.known.values()) {
      if (known.what !== what) continue;
      const theirs = this.known.get(knownKey(known.node, FILE_SHA256, known.path));
      if (theirs?.identity === known.identity && theirs.value === mine.value) return known;
    }
    return undefined;
  }
}

function knownKey(node: string, what: string, path: string): string {
  return `${node}\0${what}\0${path}`;
}

function identityKey(identity: FileIdentity): string {
  return `${identity.file}|${identity.ctime}`;
}

/** see Transport.identity; a transport that fails to answer gives no identity (nothing is remembered) */
async function fileIdentity(transport: Transport, path: string): Promise<string | undefined> {
  const identity = await transport.identity(path).catch(() => undefined);
  return identity && identityKey(identity);
}
