import { open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Etcd3, IMember, ISnapshotResponse } from 'etcd3';
import { identityOf, localIdentity } from '../transport/local.js';
import { unwrittenSince, type FileIdentity } from '../transport/types.js';
import { OperatorError, messageOf } from '../util/errors.js';
import { fromHexId, toHexId } from './ids.js';
import type { ProbeChannels } from './channels.js';
import { describeProbeError, probeEndpoint, singleEndpointClient, type ClientTls } from './probe.js';
import { StreamedIntegrity, type SnapshotIntegrity } from './snapshot-format.js';
import type { ClusterReport, EndpointProbe, MemberInfo, RaisedAlarm } from './types.js';
import { isLeader } from './verdict.js';

/**
 * The etcd API calls a runbook makes (member add/remove/promote, snapshot
 * save), each sent through ONE chosen endpoint: a probe at most half a
 * second old ranks the endpoints (the leader first, then healthy
 * followers), and a call that fails because its endpoint is dead or silent
 * moves on, explicitly, to the next —
 * never etcd3's hidden retries, which would make a dead member look alive.
 *
 * Answers from etcd itself ("member not found", "not enough started
 * members") are final: another endpoint would say the same.
 */
export interface SnapshotProgress {
  bytes: number;
  /** bytes received + bytes the server says remain; undefined before the first chunk */
  totalBytes?: number;
}

export interface SnapshotResult {
  path: string;
  sizeBytes: number;
  sha256: string;
  /** the sha256 etcd appends, checked against the bytes as they streamed in */
  integrity: SnapshotIntegrity;
  /**
   * the file's identity once in place, when nothing but the save's own
   * rename touched it after the bytes were written and flushed: the hashes
   * above are then the file's (FileChecks)
   */
  identity?: FileIdentity;
  /** the endpoint the snapshot was streamed from */
  endpoint: string;
  /** the store revision at the snapshot's point in time */
  revision?: number;
}

export interface MemberAddResult {
  /** hex */
  id: string;
  members: MemberInfo[];
  /** a member with the same peer URL was already present and is returned as is (guard 15) */
  existed: boolean;
}

export interface ClusterClient {
  memberList(): Promise<MemberInfo[]>;
  memberAdd(peerURLs: string[], opts: { learner: boolean }): Promise<MemberAddResult>;
  /** the member list after the removal */
  memberRemove(idHex: string): Promise<MemberInfo[]>;
  /** the member list after the promotion */
  memberPromote(idHex: string): Promise<MemberInfo[]>;
  snapshotSave(localPath: string, opts?: { onProgress?: (progress: SnapshotProgress) => void; signal?: AbortSignal }): Promise<SnapshotResult>;
  /** a fresh probe of every endpoint (what `status` shows) */
  status(): Promise<EndpointProbe[]>;
  /** compact the keyspace history up to the current revision, physically (the space is free when it returns) */
  compact(): Promise<{ revision: number; endpoint: string }>;
  /** defragment the backend of the member at this endpoint (that member only; it answers nothing meanwhile) */
  defragment(endpoint: string, timeoutMs: number): Promise<void>;
  /**
   * deactivate every active alarm, as `etcdctl alarm disarm` does; the alarms there were.
   * removedOnly: only the alarms of members no longer in the member list (a replaced CORRUPT member's)
   */
  alarmDisarm(opts?: { removedOnly?: boolean }): Promise<RaisedAlarm[]>;
  /** write a key and delete it: proves the cluster takes writes; the revision of the write */
  writeProbe(key: string): Promise<number>;
  /** the endpoint the last successful call went through */
  currentEndpoint(): string | undefined;
  close(): Promise<void>;
}

export interface EtcdClusterClientOptions {
  /** each unary call, connection included */
  callDeadlineMs?: number;
  /** the probe that ranks endpoints before each call */
  probeDeadlineMs?: number;
  /** a snapshot stream is cancelled when no bytes arrive for this long */
  snapshotIdleMs?: number;
  /**
   * how long a member add/promote keeps asking while etcd answers "not yet"
   * (leader connected to every voter for less than 5 s; learner still
   * catching up): etcd's own advice is to wait and retry
   */
  reconfigPatienceMs?: number;
  /** connections shared with the run's probes, for the probe that ranks endpoints before each call */
  channels?: ProbeChannels;
}

export const DEFAULT_CALL_DEADLINE_MS = 5000;
const DEFAULT_RANK_PROBE_MS = 1500;
const DEFAULT_SNAPSHOT_IDLE_MS = 15_000;
const DEFAULT_RECONFIG_PATIENCE_MS = 15_000;
const RECONFIG_RETRY_EVERY_MS = 1000;
/** how long one ranking probe serves later calls (see rankingProbes) */
const RANKING_FRESH_MS = 500;

interface Attempt {
  client: Etcd3;
  endpoint: string;
  /** 0 for the first endpoint tried; > 0 when an earlier one failed mid-call */
  index: number;
}

export class EtcdClusterClient implements ClusterClient {
  private readonly clients = new Map<string, Etcd3>();
  private readonly callDeadlineMs: number;
  private readonly probeDeadlineMs: number;
  private readonly snapshotIdleMs: number;
  private readonly reconfigPatienceMs: number;
  private readonly channels: ProbeChannels | undefined;
  private ranking: { at: number; each: Array<Promise<EndpointProbe>> } | undefined;
  private lastEndpoint: string | undefined;

  constructor(
    private readonly endpoints: string[],
    private readonly tls: ClientTls | undefined,
    options: EtcdClusterClientOptions = {},
  ) {
    if (endpoints.length === 0) throw new OperatorError('no etcd endpoints to talk to: give --endpoints or an inventory');
    this.callDeadlineMs = options.callDeadlineMs ?? DEFAULT_CALL_DEADLINE_MS;
    this.probeDeadlineMs = options.probeDeadlineMs ?? DEFAULT_RANK_PROBE_MS;
    this.snapshotIdleMs = options.snapshotIdleMs ?? DEFAULT_SNAPSHOT_IDLE_MS;
    this.reconfigPatienceMs = options.reconfigPatienceMs ?? DEFAULT_RECONFIG_PATIENCE_MS;
    this.channels = options.channels;
  }

  currentEndpoint(): string | undefined {
    return this.lastEndpoint;
  }

  /**
   * A probe of every endpoint taken elsewhere (a run's own, after each step)
   * ranks the endpoints for the calls made within RANKING_FRESH_MS of it, as
   * a ranking probe of the client's own would: a guard's member list then
   * costs one call, not a probe of every endpoint first. A ranking newer
   * than the probe is kept.
   */
  rankWith(report: ClusterReport): void {
    const byEndpoint = new Map(report.endpoints.map((probe) => [probe.endpoint, probe]));
    const each = this.endpoints.map((endpoint) => byEndpoint.get(endpoint));
    if (each.some((probe) => probe === undefined)) return;
    const at = Date.parse(report.probedAt);
    if (this.ranking && this.ranking.at >= at) return;
    this.ranking = { at, each: each.map((probe) => Promise.resolve(probe as EndpointProbe)) };
  }

  status(): Promise<EndpointProbe[]> {
    return Promise.all(this.endpoints.map((endpoint) => probeEndpoint({ endpoint }, { tls: this.tls, deadlineMs: this.probeDeadlineMs, channels: this.channels })));
  }

  memberList(): Promise<MemberInfo[]> {
    return this.call('member list', { allowUnhealthy: true }, async ({ client }) => listOf(client, this.callDeadlineMs));
  }

  memberAdd(peerURLs: string[], opts: { learner: boolean }): Promise<MemberAddResult> {
    if (peerURLs.length === 0) throw new OperatorError('member add needs at least one peer URL');
    const what = `member add ${peerURLs.join(',')}${opts.learner ? ' (as learner)' : ''}`;
    return this.patiently(() => this.call(what, { allowUnhealthy: false }, async ({ client }) => {
      // checked on every attempt: an add whose answer was lost on a dead endpoint
      // may have been applied, and must not be applied twice
      const before = await listOf(client, this.callDeadlineMs);
      const present = before.find((m) => m.peerURLs.some((u) => peerURLs.some((p) => sameUrl(u, p))));
      if (present) return { id: present.id, members: before, existed: true };
      const response = await client.cluster.memberAdd({ peerURLs, isLearner: opts.learner }, this.deadline());
      return { id: toHexId(response.member.ID) ?? '0', members: response.members.map(toMemberInfo), existed: false };
    }));
  }

  memberRemove(idHex: string): Promise<MemberInfo[]> {
    const id = parseId(idHex);
    return this.call(`member remove ${idHex}`, { allowUnhealthy: false }, async ({ client, index }) => {
      const before = await listOf(client, this.callDeadlineMs);
      const member = before.find((m) => m.id === idHex.toLowerCase());
      if (!member) {
        // after a lost answer, gone means the earlier attempt did it
        if (index > 0) return before;
        throw new EtcdAnswer(`member ${idHex} is not in the member list (${describeList(before)})`);
      }
      const response = await client.cluster.memberRemove({ ID: id }, this.deadline());
      return response.members.map(toMemberInfo);
    });
  }

  memberPromote(idHex: string): Promise<MemberInfo[]> {
    const id = parseId(idHex);
    return this.patiently(() => this.call(`member promote ${idHex}`, { allowUnhealthy: false }, async ({ client }) => {
      const before = await listOf(client, this.callDeadlineMs);
      const member = before.find((m) => m.id === idHex.toLowerCase());
      if (!member) throw new EtcdAnswer(`member ${idHex} is not in the member list (${describeList(before)})`);
      if (!member.isLearner) return before;
      const response = await client.cluster.memberPromote({ ID: id }, this.deadline());
      return response.members.map(toMemberInfo);
    }));
  }

  async snapshotSave(
    localPath: string,
    opts: { onProgress?: (progress: SnapshotProgress) => void; signal?: AbortSignal } = {},
  ): Promise<SnapshotResult> {
    if (await exists(localPath)) {
      throw new OperatorError(`refusing to save a snapshot to ${localPath}: a file is already there (snapshots are never overwritten; choose a new path)`);
    }
    const partial = `${localPath}.partial`;
    if (await exists(partial)) {
      throw new OperatorError(`refusing to save a snapshot to ${localPath}: ${partial} exists (an interrupted save, or another one running?): remove it first`);
    }
    return this.call('snapshot save', { allowUnhealthy: true }, async ({ client, endpoint }) => {
      const saved = await this.streamSnapshot(client, partial, opts);
      if (await exists(localPath)) {
        await unlink(partial).catch(() => undefined);
        throw new EtcdAnswer(`${localPath} appeared while the snapshot was streaming: not overwriting it`);
      }
      await rename(partial, localPath);
      await syncDir(dirname(localPath));
      const placed = await localIdentity(localPath);
      // the rename moves ctime only; a write by anything else since the flush would have moved mtime or size
      const { written, ...rest } = saved;
      return { path: localPath, endpoint, ...rest, ...(placed && unwrittenSince(written, placed) ? { identity: placed } : {}) };
    });
  }

  compact(): Promise<{ revision: number; endpoint: string }> {
    return this.call('compact', { allowUnhealthy: false }, async ({ client, endpoint }) => {
      const revision = Number((await client.maintenance.status(this.deadline())).header.revision);
      try {
        await client.kv.compact({ revision, physical: true }, this.deadline());
      } catch (err) {
        // a compaction to this revision already done (a retry) is done
        if (!/required revision has been compacted/i.test(messageOf(err))) throw new EtcdAnswer(messageOf(err));
      }
      return { revision, endpoint };
    });
  }

  async defragment(endpoint: string, timeoutMs: number): Promise<void> {
    try {
      await this.clientFor(endpoint).maintenance.defragment({ deadline: Date.now() + timeoutMs });
    } catch (err) {
      throw new OperatorError(`defragment ${endpoint} failed: ${explainEtcdError(err)}`);
    }
  }

  alarmDisarm(opts: { removedOnly?: boolean } = {}): Promise<RaisedAlarm[]> {
    return this.call('alarm disarm', { allowUnhealthy: false }, async ({ client }) => {
      const { alarms: active } = await client.maintenance.alarm({ action: 'Get', alarm: 'None', memberID: '0' }, this.deadline());
      const members = opts.removedOnly ? new Set((await listOf(client, this.callDeadlineMs)).map((m) => m.id)) : undefined;
      const alarms = members ? active.filter((a) => !members.has(toHexId(a.memberID) ?? '')) : active;
      for (const alarm of alarms) {
        await client.maintenance.alarm({ action: 'Deactivate', alarm: alarm.alarm, memberID: alarm.memberID }, this.deadline());
      }
      return alarms.map((a) => ({ alarm: String(a.alarm).toUpperCase(), memberId: toHexId(a.memberID) }));
    });
  }

  writeProbe(key: string): Promise<number> {
    return this.call('write probe', { allowUnhealthy: false }, async ({ client }) => {
      try {
        const put = await client.put(key).value(new Date().toISOString()).exec();
        await client.delete().key(key).exec();
        return Number(put.header.revision);
      } catch (err) {
        // etcd's refusal (NOSPACE, corrupt cluster) is the finding, not an endpoint to move on from
        throw new EtcdAnswer(messageOf(err));
      }
    });
  }

  async close(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  // ---- internals ----------------------------------------------------------

  /** Retry while etcd says "not yet" (see reconfigPatienceMs); any other failure is final at once. */
  private async patiently<T>(attempt: () => Promise<T>): Promise<T> {
    const giveUpAt = Date.now() + this.reconfigPatienceMs;
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof NotYet) || Date.now() + RECONFIG_RETRY_EVERY_MS > giveUpAt) throw err;
        await new Promise((resolve) => setTimeout(resolve, RECONFIG_RETRY_EVERY_MS));
      }
    }
  }

  private deadline(): { deadline: number } {
    return { deadline: Date.now() + this.callDeadlineMs };
  }

  private clientFor(endpoint: string): Etcd3 {
    let client = this.clients.get(endpoint);
    if (!client) {
      client = singleEndpointClient(endpoint, this.tls, this.callDeadlineMs);
      this.clients.set(endpoint, client);
    }
    return client;
  }

  /**
   * Rank the endpoints by a recent probe: the leader, then healthy members,
   * then (for reads and snapshots only) reachable ones without quorum — a
   * stranded survivor's snapshot is exactly what a quorum-lost restore needs.
   */
  private ranked(allowUnhealthy: boolean): { leader: Promise<string | undefined>; all: Promise<{ order: string[]; probes: EndpointProbe[] }> } {
    const each = this.rankingProbes();
    const all = Promise.all(each).then((probes) => rankedOrder(probes, allowUnhealthy));
    // a healthy member that is its own leader ranks first whatever the others
    // say: the call need not wait for a frozen member's probe to time out
    // (the full order is only needed if the call through the leader fails)
    const leader = new Promise<string | undefined>((resolve) => {
      for (const probe of each) void probe.then((p) => p.healthy && isLeader(p) && !raisedCorrupt(p) && resolve(p.endpoint));
      all.then(() => resolve(undefined), () => resolve(undefined));
    });
    return { leader, all };
  }

  /**
   * The probe of every endpoint that ranks them, shared by the calls made
   * within RANKING_FRESH_MS of it (a step's guards list the members at the
   * same moment). Ranking only orders the endpoints: a call that fails on
   * one moves on to the next, and an endpoint failure drops the ranking.
   */
  private rankingProbes(): Array<Promise<EndpointProbe>> {
    const now = Date.now();
    if (this.ranking && now - this.ranking.at < RANKING_FRESH_MS) return this.ranking.each;
    const each = this.endpoints.map((endpoint) => probeEndpoint({ endpoint }, { tls: this.tls, deadlineMs: this.probeDeadlineMs, channels: this.channels }));
    this.ranking = { at: now, each };
    return each;
  }

  private async call<T>(
    what: string,
    how: { allowUnhealthy: boolean },
    fn: (attempt: Attempt) => Promise<T>,
  ): Promise<T> {
    const { leader, all } = this.ranked(how.allowUnhealthy);
    const failures: string[] = [];
    const tried = new Set<string>();
    const attempt = async (endpoint: string): Promise<{ result: T } | undefined> => {
      const index = tried.size;
      tried.add(endpoint);
      try {
        const result = await fn({ client: this.clientFor(endpoint), endpoint, index });
        this.lastEndpoint = endpoint;
        return { result };
      } catch (err) {
        if (err instanceof OperatorError) throw err;
        if (err instanceof EtcdAnswer || !isEndpointFailure(err)) {
          const message = `${what} through ${endpoint} failed: ${explainEtcdError(err)}`;
          throw isNotYet(err) ? new NotYet(message) : new OperatorError(message);
        }
        failures.push(`${endpoint}: ${describeProbeError(err, this.callDeadlineMs)}`);
        this.ranking = undefined;
        // a client whose connection broke is not reused
        this.clients.get(endpoint)?.close();
        this.clients.delete(endpoint);
        return undefined;
      }
    };
    const first = await leader;
    const early = first === undefined ? undefined : await attempt(first);
    if (early) return early.result;
    const { order, probes } = await all;
    if (order.length === 0 && tried.size === 0) {
      const why = probes.map((p) => `${p.endpoint}: ${p.reachable ? (p.healthError ?? 'unhealthy') : (p.error ?? 'unreachable')}`).join('; ');
      throw new OperatorError(`${what}: no ${how.allowUnhealthy ? 'reachable' : 'healthy'} etcd endpoint (${why})`);
    }
    for (const endpoint of order.filter((e) => !tried.has(e))) {
      const done = await attempt(endpoint);
      if (done) return done.result;
    }
    throw new OperatorError(`${what}: every endpoint failed (${failures.join('; ')})`);
  }

  private async streamSnapshot(
    client: Etcd3,
    partial: string,
    opts: { onProgress?: (progress: SnapshotProgress) => void; signal?: AbortSignal },
  ): Promise<Omit<SnapshotResult, 'path' | 'endpoint' | 'identity'> & { written: FileIdentity }> {
    // no overall deadline (a big backend takes minutes); a silence watchdog instead
    const stream = (await client.maintenance.snapshot({ deadline: Infinity })) as unknown as AsyncIterable<ISnapshotResponse> & {
      cancel?: () => void;
      destroy?: (err?: Error) => void;
    };
    const file = await open(partial, 'wx', 0o600);
    // the file's sha256 and etcd's appended one, in one pass over the bytes
    const integrity = new StreamedIntegrity();
    let bytes = 0;
    let remaining: bigint | undefined;
    let revision: number | undefined;
    let stalled = false;
    let watchdog: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        stream.cancel?.();
      }, this.snapshotIdleMs);
    };
    const onAbort = (): void => stream.cancel?.();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      arm();
      for await (const message of stream) {
        arm();
        if (revision === undefined && message.header?.revision) revision = Number(message.header.revision);
        const blob = message.blob ?? Buffer.alloc(0);
        if (blob.length > 0) {
          integrity.update(blob);
          // awaiting each write is the backpressure: memory stays flat
          await file.write(blob);
          bytes += blob.length;
        }
        remaining = BigInt(message.remaining_bytes ?? '0');
        opts.onProgress?.({ bytes, totalBytes: bytes + Number(remaining) });
      }
      if (opts.signal?.aborted) throw new EtcdAnswer('cancelled by the operator');
      if (stalled) throw new EtcdAnswer(`no snapshot bytes for ${this.snapshotIdleMs} ms after ${bytes} bytes (member frozen or overloaded?)`);
      if (bytes === 0 || remaining === undefined || remaining !== 0n) {
        throw new EtcdAnswer(`the snapshot stream ended early after ${bytes} bytes${remaining ? ` (${remaining} bytes still to come)` : ''}`);
      }
      await file.sync();
      const written = identityOf(await file.stat({ bigint: true }));
      await file.close();
      return {
        sizeBytes: bytes,
        sha256: integrity.fileSha256(),
        integrity: integrity.result('as etcd streamed it to the save'),
        written,
        ...(revision !== undefined ? { revision } : {}),
      };
    } catch (err) {
      await file.close().catch(() => undefined);
      await unlink(partial).catch(() => undefined);
      // a failure after bytes arrived is not the endpoint's silence: do not try the next one
      if (bytes > 0 && !(err instanceof EtcdAnswer)) throw new EtcdAnswer(`the snapshot stream broke after ${bytes} bytes: ${explainEtcdError(err)}`);
      if (stalled && !(err instanceof EtcdAnswer)) throw new EtcdAnswer(`no snapshot bytes for ${this.snapshotIdleMs} ms (member frozen or overloaded?)`);
      throw err;
    } finally {
      clearTimeout(watchdog);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** A final answer (from etcd or from our own checks): never retried on another endpoint. */
class EtcdAnswer extends Error {}

/** etcd refused a reconfiguration for a reason that passes with time. */
class NotYet extends OperatorError {}

/** "unhealthy cluster" (leader connected to every voter < 5 s) and "learner not in sync" pass by themselves. */
export function isNotYet(err: unknown): boolean {
  return /unhealthy cluster|in sync with leader/i.test(messageOf(err));
}

/** The leader first, then healthy members, then (reads and snapshots) reachable ones without quorum; the rest never. */
/** The member reports a CORRUPT alarm raised on itself. */
function raisedCorrupt(probe: EndpointProbe): boolean {
  return probe.alarms.some((a) => a.alarm === 'CORRUPT' && a.memberId !== undefined && a.memberId === probe.memberId);
}

function rankedOrder(probes: EndpointProbe[], allowUnhealthy: boolean): { order: string[]; probes: EndpointProbe[] } {
  const leaderIds = new Set(probes.filter((p) => p.healthy && p.leaderId).map((p) => p.leaderId));
  // a member whose data etcd found CORRUPT answers, but no snapshot is to come from it: it goes after every other healthy one
  const score = (p: EndpointProbe): number =>
    p.healthy && raisedCorrupt(p)
      ? 1.5
      : p.healthy && p.memberId !== undefined && leaderIds.has(p.memberId) ? 0 : p.healthy ? 1 : p.reachable && allowUnhealthy ? 2 : 3;
  const order = probes
    .map((p, i) => ({ p, i, s: score(p) }))
    .filter((x) => x.s < 3)
    .sort((a, b) => a.s - b.s || a.p.latencyMs - b.p.latencyMs || a.i - b.i)
    .map((x) => x.p.endpoint);
  return { order, probes };
}

async function listOf(client: Etcd3, deadlineMs: number): Promise<MemberInfo[]> {
  const response = await client.cluster.memberList({ linearizable: false }, { deadline: Date.now() + deadlineMs });
  return response.members.map(toMemberInfo);
}

export function toMemberInfo(member: IMember): MemberInfo {
  return {
    id: toHexId(member.ID) ?? '0',
    name: member.name ?? '',
    peerURLs: member.peerURLs ?? [],
    clientURLs: member.clientURLs ?? [],
    isLearner: Boolean(member.isLearner),
  };
}

function parseId(idHex: string): string {
  try {
    return fromHexId(idHex);
  } catch (err) {
    throw new OperatorError(messageOf(err));
  }
}

function describeList(members: MemberInfo[]): string {
  return members.map((m) => `${m.name || '(unstarted)'}=${m.id}`).join(', ') || 'empty';
}

/** The endpoint is dead, silent or unreachable: the next one may do. */
export function isEndpointFailure(err: unknown): boolean {
  // etcd answered (e.g. UNAVAILABLE "etcdserver: unhealthy cluster"): another endpoint says the same
  if (/etcdserver:/i.test(messageOf(err))) return false;
  const name = err instanceof Error ? err.constructor.name : '';
  if (name === 'GRPCUnavailableError' || name === 'GRPCDeadlineExceededError' || name === 'GRPCCancelledError') return true;
  return /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|No connection established|failed to connect|Deadline exceeded|UNAVAILABLE/i.test(messageOf(err));
}

/** etcd's own words, made actionable. */
export function explainEtcdError(err: unknown): string {
  const text = messageOf(err);
  const rules: Array<[RegExp, string]> = [
    [/not enough started members/i, 'etcd refused: not enough started members would remain for quorum (strict reconfig check)'],
    [/in sync with leader/i, 'etcd refused: the learner is not in sync with the leader yet (is it started? wait and retry)'],
    [/too many learner/i, 'etcd refused: a learner is already joining (one learner at a time: promote or remove it first)'],
    [/member not found/i, 'etcd says: member not found'],
    [/peer ?URLs? already exists/i, 'etcd says: a member with this peer URL already exists'],
    [/unhealthy cluster/i, 'etcd refused (unhealthy cluster): the leader has not been connected to every voting member for 5 s (a member down? remove it first; just started? retry)'],
    [/not a learner|promote.*learner/i, 'etcd says: the member is not a learner'],
  ];
  for (const [pattern, message] of rules) if (pattern.test(text)) return message;
  return describeProbeError(err, 0);
}

function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // not every filesystem lets a directory be fsync'd; the rename is done
  }
}
