import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ExitCode, OperatorError, messageOf } from '../util/errors.js';
import { shellQuote } from '../util/shell.js';
import { digestIn, sha256Command } from './sha256.js';
import { sameIdentity, unwrittenSince, type FileIdentity, type FileStat, type Transport } from './types.js';

/**
 * Copies between any two transports (local↔node, node↔node through this
 * process). Bytes stream with backpressure and are hashed as they pass;
 * the file is written under a temporary name next to the destination,
 * checked with sha256 at the destination, and renamed into place only when
 * complete and verified. On failure the temporary file is removed and the
 * final name is never touched.
 */

export interface FileRef {
  transport: Transport;
  path: string;
}

export interface CopyProgress {
  bytes: number;
  totalBytes: number;
  bytesPerSecond: number;
}

export interface CopyOptions {
  /** replace an existing destination (default: refuse) */
  overwrite?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: CopyProgress) => void;
  /** keep the source's uid/gid (default true); not being allowed to is a warning */
  keepOwner?: boolean;
  /**
   * A file whose every byte the copy hashed, with the identity it has now
   * (FileChecks): the source, when it stayed the same file while it was
   * read; the destination, verified at the destination and unchanged but for
   * the copy's own chmod, chown and rename into place.
   */
  onHashed?: (file: { side: 'from' | 'to'; path: string; identity: FileIdentity; sha256: string }) => void;
}

export interface CopyResult {
  /** `node:path` */
  from: string;
  to: string;
  bytes: number;
  sha256: string;
  /** how the destination's checksum was obtained */
  verifiedBy: 'hashed-at-destination' | 'read-back';
  mode: number;
  durationMs: number;
  /** e.g. ownership that could not be kept */
  warnings: string[];
}

const PARTIAL_MARK = '.etcd-runbook-partial-';
const PROGRESS_EVERY_MS = 250;

export function where(ref: FileRef): string {
  return `${ref.transport.node}:${ref.path}`;
}

/** `.name.etcd-runbook-partial-<random>` in the destination's directory */
export function partialName(path: string): string {
  return posix.join(posix.dirname(path), `.${posix.basename(path)}${PARTIAL_MARK}${randomBytes(6).toString('hex')}`);
}

function isPartialOf(entryName: string, finalPath: string): boolean {
  return entryName.startsWith(`.${posix.basename(finalPath)}${PARTIAL_MARK}`);
}

export async function copyFile(from: FileRef, to: FileRef, options: CopyOptions = {}): Promise<CopyResult> {
  const started = Date.now();
  const source = await from.transport.stat(from.path);
  if (!source) throw copyError(from, to, `${where(from)} does not exist`);
  if (source.type !== 'file') throw copyError(from, to, `${where(from)} is a ${source.type}, not a file (use copyTree for directories)`);
  await refuseExisting(from, to, options.overwrite ?? false);
  await removePartials(to);
  const temporary: FileRef = { transport: to.transport, path: partialName(to.path) };
  const identityOf = (ref: FileRef) => (options.onHashed ? ref.transport.identity(ref.path).catch(() => undefined) : Promise.resolve(undefined));
  try {
    const sourceBefore = await identityOf(from);
    const sent = await streamFile(from, temporary, source, options);
    const sourceAfter = await identityOf(from);
    const landed = await identityOf(temporary);
    const verifiedBy = await verifyAt(temporary, sent.sha256);
    const verified = await identityOf(temporary);
    await to.transport.chmod(temporary.path, source.mode);
    const warnings = options.keepOwner === false ? [] : await keepOwner(temporary, source, to);
    await refuseExisting(from, to, options.overwrite ?? false);
    await to.transport.rename(temporary.path, to.path);
    if (options.onHashed) {
      const { sha256 } = sent;
      if (sourceAfter && sameIdentity(sourceBefore, sourceAfter)) options.onHashed({ side: 'from', path: from.path, identity: sourceAfter, sha256 });
      const placed = await identityOf(to);
      // the hash at the destination read the bytes that landed, and nothing wrote them since: only the copy's own metadata changes moved ctime
      if (placed && sameIdentity(landed, verified) && unwrittenSince(verified, placed)) options.onHashed({ side: 'to', path: to.path, identity: placed, sha256 });
    }
    return { from: where(from), to: where(to), bytes: sent.bytes, sha256: sent.sha256, verifiedBy, mode: source.mode, durationMs: Date.now() - started, warnings };
  } catch (err) {
    // if the node is unreachable now, the next copy to this name removes it
    await to.transport.unlink(temporary.path).catch(() => undefined);
    throw copyError(from, to, err);
  }
}

function copyError(from: FileRef, to: FileRef, cause: unknown): OperatorError {
  const reason = cause instanceof Error && cause.name === 'AbortError' ? 'cancelled' : typeof cause === 'string' ? cause : messageOf(cause);
  return new OperatorError(`copy ${where(from)} → ${where(to)} failed: ${reason}`, ExitCode.runFailed);
}

async function refuseExisting(from: FileRef, to: FileRef, overwrite: boolean): Promise<void> {
  const existing = await to.transport.stat(to.path);
  if (!existing) return;
  if (existing.type === 'directory') throw copyError(from, to, `${where(to)} is a directory: give the full destination file name`);
  if (!overwrite) throw copyError(from, to, `${where(to)} already exists: move it aside, or copy with overwrite`);
}

/**
 * Remove temporaries an earlier, interrupted copy to this same name left
 * behind (the node may have been unreachable when it failed).
 */
export async function removePartials(to: FileRef): Promise<string[]> {
  const dir = posix.dirname(to.path);
  const dirStat = await to.transport.stat(dir);
  if (dirStat?.type !== 'directory') throw new OperatorError(`${to.transport.node}:${dir} is not a directory: create it first`, ExitCode.runFailed);
  const stale = (await to.transport.readdir(dir)).filter((entry) => (entry.type === 'file' || entry.type === 'symlink') && isPartialOf(entry.name, to.path));
  for (const entry of stale) await to.transport.unlink(posix.join(dir, entry.name));
  return stale.map((entry) => entry.name);
}

/** Hashes and counts the bytes passing through, and reports progress. */
class Meter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  private readonly started = Date.now();
  private lastReport = 0;

  constructor(
    private readonly totalBytes: number,
    private readonly onProgress?: (progress: CopyProgress) => void,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    const now = Date.now();
    if (now - this.lastReport >= PROGRESS_EVERY_MS) this.report(now);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.report(Date.now());
    callback();
  }

  private report(now: number): void {
    this.lastReport = now;
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    this.onProgress?.({ bytes: this.bytes, totalBytes: this.totalBytes, bytesPerSecond: Math.round(this.bytes / seconds) });
  }
}

async function streamFile(from: FileRef, to: FileRef, source: FileStat, options: CopyOptions): Promise<{ bytes: number; sha256: string }> {
  const reader = await from.transport.openRead(from.path);
  const writer = await to.transport.openWrite(to.path, source.mode).catch((err: unknown) => {
    reader.destroy();
    throw err;
  });
  const meter = new Meter(source.size, options.onProgress);
  await pipeline(reader, meter, writer, ...(options.signal ? [{ signal: options.signal }] : []));
  if (meter.bytes !== source.size) {
    throw new Error(`${where(from)} changed size during the copy (${source.size} → ${meter.bytes} bytes): copy it again once it is stable`);
  }
  return { bytes: meter.bytes, sha256: meter.hash.digest('hex') };
}

/** Check the bytes that landed: hashed on the node, else read back through the transport. */
async function verifyAt(ref: FileRef, expected: string): Promise<CopyResult['verifiedBy']> {
  const { sha256, by } = await sha256At(ref);
  if (sha256 !== expected) {
    throw new Error(`checksum mismatch at ${where(ref)} (sent ${expected}, destination has ${sha256})`);
  }
  return by;
}

export async function sha256At(ref: FileRef): Promise<{ sha256: string; by: CopyResult['verifiedBy'] }> {
  const result = await ref.transport.exec(sha256Command(ref.path));
  const hex = digestIn(result.stdout);
  if (result.exitCode === 0 && hex) return { sha256: hex, by: 'hashed-at-destination' };
  const hash = createHash('sha256');
  for await (const chunk of await ref.transport.openRead(ref.path)) hash.update(chunk as Buffer);
  return { sha256: hash.digest('hex'), by: 'read-back' };
}

async function keepOwner(temporary: FileRef, source: FileStat, to: FileRef): Promise<string[]> {
  const written = await temporary.transport.stat(temporary.path);
  if (written && written.uid === source.uid && written.gid === source.gid) return [];
  try {
    await temporary.transport.chown(temporary.path, source.uid, source.gid);
    return [];
  } catch (err) {
    const now = written ? `${written.uid}:${written.gid}` : 'the login user';
    return [`could not keep owner ${source.uid}:${source.gid} on ${where(to)} (${messageOf(err)}); it is owned by ${now}`];
  }
}

export interface LinkCopyResult {
  /** `node:path` */
  to: string;
  /** the link's text, as on the source */
  target: string;
}

export interface TreeCopyResult {
  from: string;
  to: string;
  files: CopyResult[];
  symlinks: LinkCopyResult[];
  directories: number;
  bytes: number;
  durationMs: number;
  warnings: string[];
}

interface TreeItem {
  /** relative path, '' for the root */
  relative: string;
  stat: FileStat;
  /** a symlink's target text */
  link?: string;
}

/**
 * Copy a directory tree. A new destination is built under a temporary name
 * and renamed into place at the end, so it appears complete or not at all;
 * with overwrite, an existing directory is updated file by file (each file
 * still atomic). A symlink is copied as a symlink with the same target text
 * (never followed: kubeadm's kubelet-client-current.pem points at a dated
 * file beside it, and a dangling link is copied as is); special files are
 * skipped with a warning.
 */
export async function copyTree(from: FileRef, to: FileRef, options: CopyOptions = {}): Promise<TreeCopyResult> {
  const started = Date.now();
  const root = await from.transport.stat(from.path);
  if (root?.type !== 'directory') throw copyError(from, to, `${where(from)} is not a directory`);
  const existing = await to.transport.stat(to.path);
  if (existing && !options.overwrite) throw copyError(from, to, `${where(to)} already exists: move it aside, or copy with overwrite`);
  if (existing && existing.type !== 'directory') throw copyError(from, to, `${where(to)} exists and is not a directory`);
  const { items, warnings } = await listTree(from);
  const target: FileRef = existing ? to : { transport: to.transport, path: partialName(to.path) };
  try {
    const copied = await copyItems(from, target, items, { ...options, overwrite: Boolean(existing) }, warnings);
    if (!existing) await to.transport.rename(target.path, to.path);
    // name the files where they ended up, not where they were built
    const landed = (name: string): string => `${to.transport.node}:${to.path}${name.slice(where(target).length)}`;
    const files = copied.files.map((file) => ({ ...file, to: landed(file.to) }));
    const symlinks = copied.symlinks.map((link) => ({ ...link, to: landed(link.to) }));
    const bytes = files.reduce((sum, file) => sum + file.bytes, 0);
    const directories = items.filter((item) => item.stat.type === 'directory').length;
    return { from: where(from), to: where(to), files, symlinks, directories, bytes, durationMs: Date.now() - started, warnings };
  } catch (err) {
    if (!existing) await removeTree(target).catch(() => undefined);
    throw err instanceof OperatorError ? err : copyError(from, to, err);
  }
}

async function listTree(from: FileRef): Promise<{ items: TreeItem[]; warnings: string[] }> {
  const items: TreeItem[] = [];
  const warnings: string[] = [];
  const visit = async (relative: string): Promise<void> => {
    const path = posix.join(from.path, relative);
    const stat = await from.transport.stat(path);
    if (!stat) return;
    if (stat.type === 'symlink') {
      items.push({ relative, stat, link: await from.transport.readlink(path) });
      return;
    }
    if (stat.type !== 'file' && stat.type !== 'directory') {
      warnings.push(`skipped ${stat.type} ${from.transport.node}:${path}`);
      return;
    }
    items.push({ relative, stat });
    if (stat.type !== 'directory') return;
    const entries = await from.transport.readdir(path);
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) await visit(posix.join(relative, entry.name));
  };
  await visit('');
  return { items, warnings };
}

async function copyItems(from: FileRef, to: FileRef, items: TreeItem[], options: CopyOptions, warnings: string[]): Promise<{ files: CopyResult[]; symlinks: LinkCopyResult[] }> {
  const totalBytes = items.reduce((sum, item) => sum + (item.stat.type === 'file' ? item.stat.size : 0), 0);
  const treeStarted = Date.now();
  let doneBytes = 0;
  const files: CopyResult[] = [];
  const symlinks: LinkCopyResult[] = [];
  for (const item of items) {
    const source: FileRef = { transport: from.transport, path: posix.join(from.path, item.relative) };
    const target: FileRef = { transport: to.transport, path: posix.join(to.path, item.relative) };
    if (item.stat.type === 'directory') {
      // owner-only until filled, so a read-only source dir does not block writes into it
      if (!(await target.transport.stat(target.path))) await target.transport.mkdir(target.path, 0o700);
      continue;
    }
    if (item.link !== undefined) {
      await copyLink(source, target, item.link, options.overwrite ?? false);
      symlinks.push({ to: where(target), target: item.link });
      continue;
    }
    const onProgress = (progress: CopyProgress): void => {
      const bytes = doneBytes + progress.bytes;
      const seconds = Math.max((Date.now() - treeStarted) / 1000, 0.001);
      options.onProgress?.({ bytes, totalBytes, bytesPerSecond: Math.round(bytes / seconds) });
    };
    const result = await copyFile(source, target, { ...options, onProgress });
    doneBytes += result.bytes;
    warnings.push(...result.warnings);
    files.push(result);
  }
  await applyDirectoryModes(to, items, options, warnings);
  return { files, symlinks };
}

/**
 * A symlink made under a temporary name and renamed over the final one, so
 * the name always holds the old entry or the new link. Its mode means
 * nothing on Linux and its owner is left as made (no lchown over SFTP).
 */
async function copyLink(from: FileRef, to: FileRef, link: string, overwrite: boolean): Promise<void> {
  await refuseExisting(from, to, overwrite);
  await removePartials(to);
  const temporary = partialName(to.path);
  try {
    await to.transport.symlink(link, temporary);
    await to.transport.rename(temporary, to.path);
  } catch (err) {
    await to.transport.unlink(temporary).catch(() => undefined);
    throw copyError(from, to, err);
  }
}

/** Deepest first, after the files are in: modes and owners of the directories. */
async function applyDirectoryModes(to: FileRef, items: TreeItem[], options: CopyOptions, warnings: string[]): Promise<void> {
  const dirs = items.filter((item) => item.stat.type === 'directory').reverse();
  for (const dir of dirs) {
    const target: FileRef = { transport: to.transport, path: posix.join(to.path, dir.relative) };
    await to.transport.chmod(target.path, dir.stat.mode);
    if (options.keepOwner !== false) warnings.push(...(await keepOwner(target, dir.stat, target)));
  }
}

/** Remove one of our own temporary trees; refuses any other path. */
async function removeTree(ref: FileRef): Promise<void> {
  if (!posix.basename(ref.path).includes(PARTIAL_MARK)) return;
  await ref.transport.exec(`rm -rf -- ${shellQuote(ref.path)}`);
}

export interface DistributeProgress extends CopyProgress {
  node: string;
  path: string;
}

export type DistributeResult =
  | { node: string; path: string; ok: true; sha256: string; bytes: number; durationMs: number; warnings: string[] }
  | { node: string; path: string; ok: false; error: string };

export interface DistributeOptions extends Omit<CopyOptions, 'onProgress'> {
  onProgress?: (progress: DistributeProgress) => void;
}

/**
 * One source to many destinations in parallel (a snapshot to every member),
 * each verified on its own node. One destination failing does not stop the
 * others; the results say which succeeded.
 */
export async function distributeFile(from: FileRef, targets: readonly FileRef[], options: DistributeOptions = {}): Promise<DistributeResult[]> {
  const settled = await Promise.allSettled(
    targets.map((target) =>
      copyFile(from, target, {
        ...options,
        onProgress: (progress) => options.onProgress?.({ node: target.transport.node, path: target.path, ...progress }),
      }),
    ),
  );
  const results = settled.map((outcome, index): DistributeResult => {
    const target = targets[index] as FileRef;
    const base = { node: target.transport.node, path: target.path };
    if (outcome.status === 'rejected') return { ...base, ok: false, error: messageOf(outcome.reason) };
    const { sha256, bytes, durationMs, warnings } = outcome.value;
    return { ...base, ok: true, sha256, bytes, durationMs, warnings };
  });
  return flagDivergentSources(results);
}

/** Each destination read the source on its own: different hashes mean the source changed meanwhile. */
function flagDivergentSources(results: DistributeResult[]): DistributeResult[] {
  const hashes = new Set(results.flatMap((result) => (result.ok ? [result.sha256] : [])));
  if (hashes.size <= 1) return results;
  return results.map((result) =>
    result.ok
      ? { node: result.node, path: result.path, ok: false, error: `sha256 differs between destinations (${[...hashes].join(', ')}): the source changed during distribution; distribute it again` }
      : result,
  );
}
