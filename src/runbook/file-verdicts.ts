import type { Transport } from '../transport/types.js';

/**
 * What a run has already verified about a file, kept while the file stays
 * the same file. restore-quorum checks its snapshot before each step up to
 * the point of no return (sha256 on every node, `snapshot status`), and on a
 * 2 GiB snapshot each check reads the whole file on every node: tens of
 * seconds of an outage, again and again, to learn what was known.
 *
 * A file whose identity — device, inode, size, and mtime and ctime to the
 * nanosecond (Transport.identity) — is what it was when it was checked has not been
 * written since, by anything that writes through the filesystem: ctime moves
 * on every write, truncate, chmod or rename over it, and cannot be set back.
 * Its identity is read before and after each check, so a file that changed
 * during one is not remembered; errors and timeouts are never remembered.
 * Every guard still reads the identity anew each time it is judged.
 */
export interface FileVerdict<T> {
  value: T;
  /** the value is the one found earlier in this run (the file is unchanged since) */
  remembered: boolean;
}

export class FileVerdicts {
  private readonly known = new Map<string, { identity: string; value: unknown }>();

  /**
   * `check` the file on the node, or the answer it gave for this same file
   * earlier; `keep` says which answers are findings (not errors) worth keeping.
   */
  async verdict<T>(transport: Transport, node: string, what: string, path: string, check: () => Promise<T>, keep: (value: T) => boolean): Promise<FileVerdict<T>> {
    const key = `${node}\0${what}\0${path}`;
    const before = await fileIdentity(transport, path);
    const known = this.known.get(key);
    if (before !== undefined && known?.identity === before) return { value: known.value as T, remembered: true };
    const value = await check();
    if (before !== undefined && keep(value) && (await fileIdentity(transport, path)) === before) this.known.set(key, { identity: before, value });
    else this.known.delete(key);
    return { value, remembered: false };
  }
}

/** see Transport.identity; a transport that fails to answer gives no identity (nothing is remembered) */
async function fileIdentity(transport: Transport, path: string): Promise<string | undefined> {
  return transport.identity(path).catch(() => undefined);
}
