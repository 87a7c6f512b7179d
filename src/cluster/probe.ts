import { Channel, connectivityState, credentials as grpcCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { noop } from 'cockatiel';
import { Etcd3, type IMemberListResponse, type IOptions } from 'etcd3';
import { AnswerClock } from './answer-clock.js';
import type { ProbeChannels } from './channels.js';
import { failureOf, outcomeWithin, startHandshake, type HandshakeFailure } from './handshake.js';
import { toHexId } from './ids.js';
import { secureContextFor, type ClientTls } from './tls.js';
import type { ClusterReport, EndpointProbe, MemberInfo, RaisedAlarm } from './types.js';
import { classify, quorumSize } from './verdict.js';

/**
 * Probing: every endpoint in parallel, one client per endpoint —
 * a shared client's retries would hide a dead endpoint behind a live one —
 * with no retries and a hard per-endpoint deadline, so a frozen member
 * (SIGSTOP, blackholed) costs at most the deadline and never stalls the verdict.
 * One-off probes (status, detection) connect afresh; the repeated probes of a
 * run or view keep their connections between probes (ProbeChannels).
 */
export interface ProbeTarget {
  endpoint: string;
  /** the inventory's member name for this endpoint */
  expectedName?: string;
  expectedPeerURLs?: string[];
}

export { loadClientTls, type ClientTls } from './tls.js';

export interface ProbeOptions {
  tls?: ClientTls;
  /** the whole probe of one endpoint, connection included: the ceiling (--timeout) */
  deadlineMs?: number;
  /** a shorter deadline for some endpoints (see silentRecheck) */
  deadlineFor?: (endpoint: string) => number | undefined;
  /** connections kept between the probes of one run or view (see ProbeChannels) */
  channels?: ProbeChannels;
  /**
   * the answers of the other endpoints probed with this one: a silent endpoint
   * is judged frozen once they have answered (see AnswerClock); probeCluster
   * makes one per round
   */
  clock?: AnswerClock;
}

export const DEFAULT_PROBE_DEADLINE_MS = 1200;

/**
 * How long the health read may take when the member's own status just said
 * it knows no leader: such a read can only succeed if an election ends in
 * the meantime, so waiting out the whole deadline only slows every probe of
 * a quorum-lost cluster (and every guard and wait step behind it).
 */
export const NO_LEADER_READ_MS = 250;

/** gRPC's own deadline on the calls of a client kept between probes (ProbeChannels) */
const KEPT_CLIENT_BACKSTOP_MS = 5000;

/** How long a member that was silent last probe gets next time (see silentRecheck). */
export const SILENT_RECHECK_MS = 300;

/**
 * A client bound to exactly one endpoint, failing fast instead of retrying.
 *
 * Its services (status, member list, reads) share one gRPC channel, so one
 * TLS connection: etcd3 gives every service its own channel, and with
 * connections not shared between channels (below) a fresh client opened
 * three TLS connections to the member, each verifying its certificate — most
 * of a probe's CPU. The channel's credentials come from the one TLS context
 * per set of client files (secureContextFor).
 */
export function singleEndpointClient(endpoint: string, tls: ClientTls | undefined, deadlineMs: number): Etcd3 {
  const address = endpoint.replace(/^[a-z]+:\/\//i, '');
  let channel: Channel | undefined;
  // etcd3 closes a host's services after a connection error and makes them
  // anew on the next call: they then get a new channel. (One made while the
  // old channel is still CONNECTING gets that channel, which etcd3 closes a
  // second later: no caller reuses a client after a failure — probes drop
  // it, the cluster client replaces it — so none is left on a closed one.)
  const sharedChannel = (): Channel => {
    if (!channel || channel.getConnectivityState(false) === connectivityState.SHUTDOWN) {
      channel = new Channel(address, tls ? channelCredentialsFor(tls) : grpcCredentials.createInsecure(), {
        // grpc-js otherwise shares connections between channels to the same
        // target: a connection stuck in a TLS handshake with a member that was
        // starting (or frozen) would then stall every later probe of it.
        'grpc.use_local_subchannel_pool': 1,
        // one quick connection attempt; the deadline bounds it anyway
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 500,
      });
    }
    return channel;
  };
  const options: IOptions = {
    // without its scheme, so etcd3 builds no TLS context of its own: the
    // shared channel is the connection, TLS or not
    hosts: [address],
    faultHandling: { host: () => noop, global: noop },
    // a little past the probe's own deadline, so the probe's timer (and its
    // clearer message) decides, and gRPC's only backs it up
    defaultCallOptions: () => ({ deadline: Date.now() + deadlineMs + 250 }),
    grpcOptions: { channelFactoryOverride: sharedChannel },
  };
  return new Etcd3(options);
}

const channelCredentials = new WeakMap<ClientTls, ChannelCredentials>();

function channelCredentialsFor(tls: ClientTls): ChannelCredentials {
  let made = channelCredentials.get(tls);
  if (!made) {
    made = grpcCredentials.createFromSecureContext(secureContextFor(tls));
    channelCredentials.set(tls, made);
  }
  return made;
}

/**
 * Probe the known endpoints; then probe, once, any member the live member
 * lists name that the caller did not know of (the live member list fills
 * in what discovery or flags left out), so `--endpoints` with one address still sees them all.
 */
export async function probeCluster(targets: ProbeTarget[], options: ProbeOptions = {}): Promise<ClusterReport> {
  const started = Date.now();
  const clock = new AnswerClock();
  const known = await Promise.all(targets.map((target) => probeEndpoint(target, { ...options, clock })));
  const extra = await Promise.all(membersNotProbed(known).map((target) => probeEndpoint(target, { ...options, clock: clock.next() })));
  const endpoints = [...known, ...extra];
  return {
    probedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    endpoints,
    verdict: classify(endpoints),
  };
}

function membersNotProbed(probes: EndpointProbe[]): ProbeTarget[] {
  const covered = new Set(probes.flatMap((p) => [p.endpoint, p.memberId ?? '']));
  const targets = new Map<string, ProbeTarget>();
  for (const member of probes.flatMap((p) => p.members ?? [])) {
    const endpoint = member.clientURLs[0];
    if (!endpoint || covered.has(member.id) || member.clientURLs.some((u) => covered.has(u))) continue;
    targets.set(endpoint, { endpoint, expectedName: member.name, expectedPeerURLs: member.peerURLs });
  }
  return [...targets.values()];
}

export async function probeEndpoint(target: ProbeTarget, options: ProbeOptions = {}): Promise<EndpointProbe> {
  const deadlineMs = options.deadlineFor?.(target.endpoint) ?? options.deadlineMs ?? DEFAULT_PROBE_DEADLINE_MS;
  const started = Date.now();
  const left = () => deadlineMs - (Date.now() - started);
  const { channels } = options;
  const warm = channels?.lend(target.endpoint);
  if (channels && warm) {
    const result = emptyProbe(target);
    await fillWithin(warm, result, deadlineMs, left(), options.clock, started);
    // answered now, or silent on an open connection for the whole deadline: that is the finding
    if (result.reachable || result.silent) {
      if (!result.reachable) channels.drop(target.endpoint, warm);
      result.latencyMs = Date.now() - started;
      return result;
    }
    // the connection broke (the member was killed or restarted since): ask it anew
    channels.drop(target.endpoint, warm);
  }
  const result = emptyProbe(target);
  const { clock } = options;
  const silence = (ms: number) => silentError(ms, deadlineMs, clock);
  const handshake = channels
    ? await channels.handshake(target.endpoint, left(), (err) => describeProbeError(err, deadlineMs), silence, clock)
    : await handshakeWithin(target.endpoint, options.tls, deadlineMs, clock);
  if (handshake) {
    result.error = handshake.error;
    result.silent = handshake.silent;
    if (handshake.certificate) result.certificate = handshake.certificate;
    if (handshake.silent) clock?.markFrozen(target.endpoint);
    else clock?.markDown(target.endpoint);
    result.latencyMs = Date.now() - started;
    return result;
  }
  // a client kept for later probes (whose deadlines differ) gets a backstop
  // past any of them: the probe's own timer decides, as always
  const client = singleEndpointClient(target.endpoint, options.tls ?? channels?.tls, channels ? KEPT_CLIENT_BACKSTOP_MS : left());
  await fillWithin(client, result, deadlineMs, left(), clock, started);
  result.latencyMs = Date.now() - started;
  if (channels && result.reachable) channels.keep(target.endpoint, client);
  else client.close();
  return result;
}

function emptyProbe(target: ProbeTarget): EndpointProbe {
  return {
    endpoint: target.endpoint,
    expectedName: target.expectedName,
    expectedPeerURLs: target.expectedPeerURLs,
    reachable: false,
    healthy: false,
    alarms: [],
    memberErrors: [],
    latencyMs: 0,
  };
}

/** Fill the probe from the member's answers within `ms`; what went wrong is written into it. */
async function fillWithin(client: Etcd3, result: EndpointProbe, deadlineMs: number, ms: number, clock?: AnswerClock, startedAt = Date.now()): Promise<void> {
  try {
    await withDeadline(fillProbe(client, result, clock, startedAt), Math.max(1, ms));
  } catch (err) {
    if (!result.reachable) {
      result.error = describeProbeError(err, deadlineMs);
      result.silent = err instanceof DeadlineExceeded;
      if (result.silent) clock?.markFrozen(result.endpoint);
      else clock?.markDown(result.endpoint);
    } else if (!result.healthy && !result.healthError) {
      // it answered status, so it is not frozen: the read is what hung
      result.healthError = err instanceof DeadlineExceeded
        ? `a linearizable read did not complete within ${deadlineMs} ms (no leader: quorum lost?)`
        : describeProbeError(err, deadlineMs);
    }
  }
}

async function fillProbe(client: Etcd3, result: EndpointProbe, clock: AnswerClock | undefined, startedAt: number): Promise<void> {
  // all three asked at once (one round trip); the read is judged by what status says
  const statusCall = client.maintenance.status();
  const membersCall = client.cluster.memberList({ linearizable: false });
  const readCall = linearizableRead(client);
  // a member that does not answer status fails these too: not unhandled
  membersCall.catch(() => undefined);
  readCall.catch(() => undefined);
  const status = await statusCall;
  result.reachable = true;
  // the pace the silent members are judged by (AnswerClock)
  clock?.answered(Date.now() - startedAt);
  result.memberId = toHexId(status.header.member_id);
  result.clusterId = toHexId(status.header.cluster_id);
  result.revision = Number(status.header.revision);
  result.version = status.version;
  result.leaderId = toHexId(status.leader);
  result.raftTerm = Number(status.raftTerm);
  result.raftIndex = Number(status.raftIndex);
  result.raftAppliedIndex = Number(status.raftAppliedIndex);
  result.dbSize = Number(status.dbSize);
  result.dbSizeInUse = Number(status.dbSizeInUse);
  result.isLearner = Boolean(status.isLearner);
  const errors = status.errors ?? [];
  result.memberErrors = errors.filter((e) => alarmsIn([e]).length === 0);

  // No Alarm RPC: etcd serves even an alarm GET as a raft proposal (a WAL
  // write on every member); the status errors already list active alarms,
  // and a probe must leave the cluster exactly as it found it.
  result.alarms = alarmsIn(errors);
  const read = result.leaderId === undefined
    ? withDeadline(readCall, NO_LEADER_READ_MS)
    : unlessReadCannotComplete(readCall, membersCall, result.leaderId, result.memberId, clock);
  const [members, health] = await Promise.allSettled([membersCall, read]);
  if (members.status === 'fulfilled') {
    result.members = members.value.members.map(toMemberInfo);
    result.name = result.members.find((m) => m.id === result.memberId)?.name;
  }
  if (health.status === 'fulfilled') {
    result.healthy = true;
  } else if (health.reason instanceof ReadCannotComplete) {
    result.healthError = health.reason.message;
  } else if (health.reason instanceof DeadlineExceeded) {
    result.healthError = `no leader, and a linearizable read did not complete within ${NO_LEADER_READ_MS} ms (quorum lost?)`;
  } else {
    result.healthError = describeProbeError(health.reason, 0);
  }
}

/**
 * The read, given up as soon as this probe knows it cannot complete: a
 * linearizable read goes through the leader and needs a quorum's heartbeat
 * answers. So once the leader the member follows is judged frozen
 * (AnswerClock), or fewer than a quorum of the voting members can still
 * answer (the others refused or were judged frozen), no read completes
 * before a new leader is elected or members come back, and waiting out the
 * whole deadline for it is what made such a cluster cost every probe its
 * ceiling. The member still answers: it counts as a voter that may be
 * electing (cluster/election.ts re-probes such a verdict).
 */
function unlessReadCannotComplete(read: Promise<void>, members: Promise<IMemberListResponse>, leaderId: string, self: string | undefined, clock?: AnswerClock): Promise<void> {
  if (!clock) return read;
  const never = new Promise<never>(() => undefined);
  // without the member list neither the leader's address nor the voters are known: the read has its deadline as before
  const cannot = members.catch(() => undefined).then(async (list) => {
    if (!list) return never;
    const voters = list.members.filter((m) => !m.isLearner && m.clientURLs.length > 0);
    const leader = list.members.find((m) => toHexId(m.ID) === leaderId);
    const leaderFrozen = leaderId !== self && leader && leader.clientURLs.length > 0
      ? Promise.race(leader.clientURLs.map((url) => clock.whenFrozen(url))).then(() => `its leader ${leader.name || leaderId} does not answer (frozen?): no linearizable read completes until a new leader is elected`)
      : never;
    const needed = quorumSize(list.members.filter((m) => !m.isLearner).length);
    const noQuorum = clock.whenFewerThan(voters.map((m) => m.clientURLs), needed)
      .then((left) => `only ${left} of ${list.members.filter((m) => !m.isLearner).length} voting members answer, ${needed} needed: no linearizable read can complete`);
    throw new ReadCannotComplete(await Promise.race([leaderFrozen, noQuorum]));
  });
  cannot.catch(() => undefined);
  read.catch(() => undefined);
  return Promise.race([read, cannot]);
}

class ReadCannotComplete extends Error {}

/**
 * "memberID:9480572042457873191 alarm:NOSPACE " → NOSPACE raised on member
 * 839195a1c1ba0e27 (etcd's AlarmMember.String(): the ID in decimal).
 */
export function alarmsIn(errors: string[]): RaisedAlarm[] {
  return errors.flatMap((error) => {
    const match = /alarm:\s*([A-Z_]+)/.exec(error);
    if (!match?.[1]) return [];
    const id = /memberID:\s*(\d+)/.exec(error)?.[1];
    return [{ alarm: match[1], memberId: id === undefined ? undefined : toHexId(id) }];
  });
}

/**
 * What `etcdctl endpoint health` does: a linearizable read, which needs the
 * leader and a quorum. "permission denied" still proves the read path works.
 */
async function linearizableRead(client: Etcd3): Promise<void> {
  try {
    await client.get('health').exec();
  } catch (err) {
    if (/permission denied/i.test(String((err as Error).message))) return;
    throw err;
  }
}

function toMemberInfo(member: { ID: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner?: boolean }): MemberInfo {
  return {
    id: toHexId(member.ID) ?? '0',
    name: member.name,
    peerURLs: member.peerURLs ?? [],
    clientURLs: member.clientURLs ?? [],
    isLearner: Boolean(member.isLearner),
  };
}

class DeadlineExceeded extends Error {}

/**
 * One connection attempt (see startHandshake) with a deadline we own; the
 * socket is destroyed either way. Undefined when the endpoint answered.
 */
export async function handshakeWithin(endpoint: string, tls: ClientTls | undefined, deadlineMs: number, clock?: AnswerClock): Promise<HandshakeFailure | undefined> {
  const attempt = startHandshake(endpoint, tls, (err) => describeProbeError(err, deadlineMs));
  const outcome = clock ? await clock.outcomeOf(attempt, deadlineMs) : await outcomeWithin(attempt, deadlineMs);
  attempt.destroy();
  return failureOf(outcome, silentError(Math.min(Date.now() - attempt.startedAt, deadlineMs), deadlineMs, clock), attempt.certificate());
}

/** Silence for `ms`: the whole deadline, or judged frozen early beside the members that answered (AnswerClock). */
function silentError(ms: number, deadlineMs: number, clock?: AnswerClock): string {
  const slowest = clock?.slowestAnswerMs();
  if (slowest === undefined || ms >= deadlineMs) return describeProbeError(new DeadlineExceeded(), ms);
  return `no answer within ${ms} ms while the members that answered took at most ${slowest} ms (member frozen, overloaded or blackholed?)`;
}

/**
 * Repeated probes of one cluster (a run's guards and after-checks, the live
 * health table) where a member that did not answer within the deadline last
 * time is re-checked with a short one: a frozen member otherwise costs the
 * whole deadline on every probe of a run. It is still probed every time, and
 * one answer within the short deadline puts it back on the full one. Safe
 * for every guard: a member judged silent counts as not healthy, which only
 * makes the quorum guards stricter; a port that is open still counts as a
 * running member for old-members-stopped (which does not use this probe).
 */
export function silentRecheck(
  targets: ProbeTarget[],
  options: ProbeOptions = {},
  recheckMs = SILENT_RECHECK_MS,
  /** the probe before these (a run's detection): who was silent there */
  previous?: ClusterReport,
): () => Promise<ClusterReport> {
  let silent = silentIn(previous);
  return async () => {
    const report = await probeCluster(targets, { ...options, deadlineFor: (endpoint) => (silent.has(endpoint) ? recheckMs : undefined) });
    silent = silentIn(report);
    return report;
  };
}

function silentIn(report: ClusterReport | undefined): Set<string> {
  return new Set((report?.endpoints ?? []).filter((p) => p.silent).map((p) => p.endpoint));
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded()), ms);
  });
  // the losing promise must not surface as an unhandled rejection
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** One line an operator can act on, from whatever gRPC / TLS / the OS threw. */
export function describeProbeError(err: unknown, deadlineMs: number): string {
  if (err instanceof DeadlineExceeded) return `no answer within ${deadlineMs} ms (member frozen, overloaded or blackholed?)`;
  const text = String(err instanceof Error ? err.message : err);
  const rules: Array<[RegExp, string]> = [
    [/ECONNREFUSED/i, 'connection refused (etcd not running on this endpoint?)'],
    [/EHOSTUNREACH|ENETUNREACH/i, 'host unreachable (network or firewall?)'],
    [/ENOTFOUND|EAI_AGAIN/i, 'host name does not resolve'],
    [/unable to verify|self[- ]signed|unknown authority|local issuer|certificate verify failed/i,
      'TLS: the server certificate is not signed by the CA given (--cacert or tls.cacert): wrong CA?'],
    [/altnames|Hostname\/IP does not match|subjectAltName/i, "TLS: the server certificate does not name this endpoint's host"],
    [/certificate required|bad certificate|unknown ca|alert/i,
      'TLS: the server rejected our client certificate (--cert/--key missing or signed by another CA?)'],
    [/wrong version number|packet length too long|http\/1/i, 'TLS: the endpoint does not speak TLS (http:// vs https:// mix-up?)'],
    [/deadline exceeded/i, 'deadline exceeded (no leader or member overloaded?)'],
    [/no leader/i, 'etcd has no leader (quorum lost?)'],
    [/timed out/i, 'request timed out (no leader / quorum lost?)'],
  ];
  for (const [pattern, message] of rules) if (pattern.test(text)) return message;
  return text.replace(/\s*\n\s*/g, ' ').slice(0, 200);
}
