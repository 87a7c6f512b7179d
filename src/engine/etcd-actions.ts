import type { ClusterClient, SnapshotResult } from '../cluster/client.js';
import type { EndpointProbe, MemberInfo } from '../cluster/types.js';
import { isLeader } from '../cluster/verdict.js';
import type { ParamValue } from '../runbook/rendered.js';
import type { EtcdAction } from '../runbook/schema.js';
import { messageOf } from '../util/errors.js';
import { listParam } from './wait-conditions.js';

/**
 * An `etcd` step's action, through the cluster client (no shell). Never
 * throws: a refusal or failure is `ok: false` with the one-line reason.
 */
export interface EtcdActionResult {
  ok: boolean;
  /** one line for the step log */
  summary: string;
  detail?: unknown;
}

export interface EtcdActionOptions {
  /** the snapshot a snapshot-save wrote, with what it checked of the bytes as they streamed in */
  onSnapshotSaved?: (saved: SnapshotResult) => void;
  /** one member's defragmentation, and then its return to health */
  defragmentTimeoutMs?: number;
}

/**
 * NOSPACE again right after compaction, defragmentation and disarming: what
 * is left is live data, and it fills the quota. Running the same steps again
 * would loop; the quota has to grow.
 */
const QUOTA_TOO_SMALL =
  'etcd still refuses writes (database space exceeded) after compaction and defragmentation: the live data itself fills the quota. ' +
  'Raise --quota-backend-bytes on every member where its flags are set (systemd: ETCD_QUOTA_BACKEND_BYTES in the env file, e.g. /etc/etcd/etcd.conf; ' +
  'kubeadm: --quota-backend-bytes in /etc/kubernetes/manifests/etcd.yaml; etcd advises at most 8 GiB), restart the members one at a time, then etcdctl alarm disarm';

/** A member's defragmentation rewrites its whole database file: minutes for a few GiB. */
const DEFRAGMENT_TIMEOUT_MS = 10 * 60_000;
const HEALTH_POLL_MS = 500;

export async function runEtcdAction(client: ClusterClient, action: EtcdAction, params: Record<string, ParamValue>, options: EtcdActionOptions = {}): Promise<EtcdActionResult> {
  try {
    switch (action) {
      case 'snapshot-save': {
        const path = required(params, 'path', action);
        const saved = await client.snapshotSave(path);
        options.onSnapshotSaved?.(saved);
        return {
          ok: true,
          summary: `snapshot saved to ${saved.path} from ${saved.endpoint}: ${saved.sizeBytes} bytes, sha256 ${saved.sha256}${saved.revision !== undefined ? `, revision ${saved.revision}` : ''}`,
          detail: saved,
        };
      }
      case 'member-list': {
        const members = await client.memberList();
        return { ok: true, summary: `${members.length} members: ${members.map(describeMember).join(', ')}`, detail: members };
      }
      case 'member-add': {
        const name = required(params, 'name', action);
        const peerURL = required(params, 'peerURL', action);
        const learner = params.learner === true || params.learner === 'true';
        const added = await client.memberAdd([peerURL], { learner });
        const initialCluster = initialClusterFor(added.members, name, added.id);
        const summary = added.existed
          ? `${name} (${peerURL}) already in the member list as ${added.id}: reused, not added twice; initial-cluster ${initialCluster}`
          : `added ${name} as ${added.id}${learner ? ' (learner)' : ''}; start it with initial-cluster-state existing and initial-cluster ${initialCluster}`;
        return { ok: true, summary, detail: { ...added, initialCluster } };
      }
      case 'member-remove':
        // the others (down) first: etcd always lets a dead member go, and then the member being replaced
        return await removeMembers(client, [...listParam(params.also), required(params, 'member', action)]);
      case 'member-promote': {
        const member = await resolveMember(client, required(params, 'member', action));
        if (!member.isLearner) return { ok: true, summary: `${label(member)} is already a voting member` };
        const members = await client.memberPromote(member.id);
        return { ok: true, summary: `promoted ${label(member)} to a voting member`, detail: members };
      }
      case 'status': {
        const probes = await client.status();
        const lines = probes.map((p) =>
          p.reachable
            ? `${p.name ?? p.endpoint} ${p.memberId ?? '?'} v${p.version ?? '?'} ${p.memberId === p.leaderId ? 'leader' : 'follower'}${p.isLearner ? ' learner' : ''} term ${p.raftTerm ?? '?'} index ${p.raftIndex ?? '?'}${p.healthy ? '' : ` (unhealthy: ${p.healthError ?? '?'})`}`
            : `${p.endpoint} unreachable: ${p.error ?? '?'}`,
        );
        return { ok: probes.some((p) => p.reachable), summary: lines.join('; '), detail: probes };
      }
      case 'compact': {
        const { revision, endpoint } = await client.compact();
        return { ok: true, summary: `compacted the keyspace history up to revision ${revision} (through ${endpoint}): older versions of every key are gone, the space is free inside the database file`, detail: { revision } };
      }
      case 'defragment':
        return await defragmentEach(client, options.defragmentTimeoutMs ?? DEFRAGMENT_TIMEOUT_MS);
      case 'alarm-disarm': {
        const removedOnly = params.removedOnly === true || params.removedOnly === 'true';
        const alarms = await client.alarmDisarm({ removedOnly });
        const said = alarms.length === 0 ? (removedOnly ? 'no alarm of a member no longer in the member list was active' : 'no alarm was active') : `disarmed ${alarms.map((a) => `${a.alarm} on ${a.memberId ?? '?'}`).join(', ')}`;
        return { ok: true, summary: said, detail: alarms };
      }
      case 'write-probe': {
        const key = required(params, 'key', action);
        try {
          const revision = await client.writeProbe(key);
          return { ok: true, summary: `wrote ${key} (revision ${revision}) and deleted it: the cluster takes writes`, detail: { revision } };
        } catch (err) {
          if (/database space exceeded/i.test(messageOf(err))) return { ok: false, summary: QUOTA_TOO_SMALL };
          throw err;
        }
      }
    }
  } catch (err) {
    return { ok: false, summary: messageOf(err) };
  }
}

/**
 * Defragment every member that answers, one at a time, as etcd's maintenance
 * guide says: a member answers nothing while its file is rewritten, so the
 * followers go first and the leader last (one leader change at most), and
 * each must be healthy again before the next starts. The DB size before and
 * after is said per member.
 */
async function defragmentEach(client: ClusterClient, timeoutMs: number): Promise<EtcdActionResult> {
  const probes = await client.status();
  const order = [...probes.filter((p) => p.reachable && !isLeader(p)), ...probes.filter((p) => p.reachable && isLeader(p))];
  const skipped = probes.filter((p) => !p.reachable).map((p) => `${p.name ?? p.expectedName ?? p.endpoint} (unreachable, not defragmented)`);
  const said: string[] = [];
  for (const member of order) {
    const name = `${member.name ?? member.endpoint}${isLeader(member) ? ' (leader)' : ''}`;
    try {
      await client.defragment(member.endpoint, timeoutMs);
      const after = await healthyAgain(client, member.endpoint, timeoutMs);
      said.push(`${name} ${mib(member.dbSize)} → ${mib(after.dbSize)}`);
    } catch (err) {
      return { ok: false, summary: [...said, `${name}: ${messageOf(err)}`].join('; ') };
    }
  }
  return { ok: order.length > 0, summary: `defragmented one at a time: ${[...said, ...skipped].join('; ') || 'no member answers'}` };
}

async function healthyAgain(client: ClusterClient, endpoint: string, timeoutMs: number): Promise<EndpointProbe> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const probe = (await client.status()).find((p) => p.endpoint === endpoint);
    if (probe?.healthy) return probe;
    if (Date.now() >= until) throw new Error(`not healthy again within ${Math.round(timeoutMs / 1000)} s after defragmenting: ${probe?.healthError ?? probe?.error ?? 'no answer'}`);
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
  }
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Remove the members one by one, each resolved from the live list just
 * before (IDs are what etcd takes). One already absent is done, and says so:
 * a replacement re-run, or run for a member an earlier run removed while it
 * was down, goes on from there.
 */
async function removeMembers(client: ClusterClient, names: string[]): Promise<EtcdActionResult> {
  const said: string[] = [];
  let members: MemberInfo[] = [];
  for (const name of [...new Set(names)]) {
    try {
      members = await client.memberList();
      const member = findListed(members, name);
      if (!member) {
        said.push(`${name} is not in the member list: already removed, nothing to do`);
        continue;
      }
      members = await client.memberRemove(member.id);
      said.push(`removed ${label(member)}`);
    } catch (err) {
      // what was removed before the failure is said too: a retry finds those absent
      return { ok: false, summary: [...said, `removing ${name} failed: ${messageOf(err)}`].join('; ') };
    }
  }
  return { ok: true, summary: `${said.join('; ')}; ${members.length} members remain: ${members.map(describeMember).join(', ')}`, detail: members };
}

/** A member by name, hex ID or peer URL, from the live member list. */
export async function resolveMember(client: ClusterClient, member: string): Promise<MemberInfo> {
  const members = await client.memberList();
  const found = findListed(members, member);
  if (!found) throw new Error(`no member ${member} in the member list (${members.map(describeMember).join(', ') || 'empty'})`);
  return found;
}

/** By name, hex ID or peer URL; undefined when absent; two members with the name is an error. */
function findListed(members: MemberInfo[], member: string): MemberInfo | undefined {
  const key = member.toLowerCase();
  const byName = members.filter((m) => m.name !== '' && m.name === member);
  if (byName.length > 1) throw new Error(`${byName.length} members are named ${member} (${byName.map((m) => m.id).join(', ')}): give the hex ID`);
  return byName[0] ?? members.find((m) => m.id === key) ?? members.find((m) => m.peerURLs.includes(member));
}

/** The --initial-cluster a joining member must start with: the member list exactly (guard 6). */
export function initialClusterFor(members: MemberInfo[], newName: string, newId: string): string {
  return members
    .map((m) => (m.id === newId ? `${newName}=${m.peerURLs[0] ?? ''}` : m.name ? `${m.name}=${m.peerURLs[0] ?? ''}` : ''))
    .filter((s) => s !== '')
    .join(',');
}

function required(params: Record<string, ParamValue>, name: string, action: string): string {
  const value = params[name];
  if (value === undefined || value === '') throw new Error(`etcd ${action} needs the parameter "${name}"`);
  return String(value);
}

function label(member: MemberInfo): string {
  return `${member.name || '(unstarted)'} (${member.id})`;
}

function describeMember(member: MemberInfo): string {
  return `${member.name || '(unstarted)'}=${member.id}${member.isLearner ? ' (learner)' : ''}`;
}
