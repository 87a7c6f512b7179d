import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ClusterClient } from '../../src/cluster/client.js';
import { hasIntegrityHash } from '../../src/cluster/snapshot-format.js';
import type { MemberInfo } from '../../src/cluster/types.js';
import {
  GUARDS,
  GUARD_NAMES,
  evaluateGuard,
  judgeDataDirAbsent,
  judgeDataDirEmpty,
  judgeEtcdVersion,
  judgeInitialClusterMatches,
  judgeMemberAbsent,
  judgeMemberAlreadyPresent,
  judgeNothingAt,
  judgeNoUnstartedMembers,
  judgeOldMembersStopped,
  judgeNodesDown,
  judgeOneLearnerAtATime,
  judgeOtherVotersHealthy,
  judgeQuorumChange,
  judgeQuorumHeld,
  judgeQuorumLost,
  judgeSameAsReference,
  judgeSameSnapshot,
  judgeSingleClusterId,
  judgeSingleLeader,
  judgeSnapshotVerified,
  judgeSplitBrainNow,
  restoreToolFor,
  type GuardEnvironment,
} from '../../src/runbook/guards/index.js';
import { OTHER_CLUSTER_ID, fakeCluster, reportOf } from '../helpers/probes.js';

const three = fakeCluster({ voting: 3 });
const five = fakeCluster({ voting: 5 });
const statesOf = (report: ReturnType<typeof reportOf>) => report.verdict.members;

describe('quorum-held', () => {
  it('passes with one of three down', () => {
    expect(judgeQuorumHeld(reportOf([three.up(0), three.up(1), three.down(2)]).verdict)).toEqual({
      ok: true,
      message: 'quorum held: 2 of 3 voting members healthy, quorum needs 2',
    });
  });
  it('fails with two of three down and points to the restore path', () => {
    const j = judgeQuorumHeld(reportOf([three.stranded(0), three.down(1), three.down(2)]).verdict);
    expect(j.ok).toBe(false);
    expect(j.message).toMatch(/^quorum lost: 0 of 3 .*restore path, never member replacement/);
  });
  it('fails on split brain', () => {
    const other = fakeCluster({ voting: 2, leader: 1, clusterId: OTHER_CLUSTER_ID });
    expect(judgeQuorumHeld(reportOf([three.up(0), other.up(1)]).verdict).message).toMatch(/^split brain/);
  });
  it('passes under an alarm: a CORRUPT member is replaced, and NOSPACE reclaimed, through the quorum', () => {
    const alarms = [{ alarm: 'CORRUPT', memberId: three.id(1) }];
    const verdict = reportOf([three.up(0, { alarms }), three.up(1, { alarms }), three.up(2, { alarms })]).verdict;
    expect(verdict.verdict).toBe('alarm');
    expect(judgeQuorumHeld(verdict)).toEqual({ ok: true, message: 'quorum held: 3 of 3 voting members healthy, quorum needs 2' });
  });
});

describe('split-brain-now', () => {
  it('passes on two cluster IDs, naming them', () => {
    const other = fakeCluster({ voting: 2, leader: 1, clusterId: OTHER_CLUSTER_ID });
    const j = judgeSplitBrainNow(reportOf([three.up(0), other.up(1)]).verdict);
    expect(j.ok).toBe(true);
    expect(j.message).toMatch(new RegExp(`^split brain: 2 cluster IDs: .*${OTHER_CLUSTER_ID}`));
  });
  it('passes on two leaders in one raft term', () => {
    const j = judgeSplitBrainNow(reportOf([three.up(0), three.up(1, { leaderId: three.id(1) }), three.up(2)]).verdict);
    expect(j).toEqual({ ok: true, message: `split brain: 2 leaders in raft term 7: ${three.leaderId}, ${three.id(1)}` });
  });
  it('refuses a healthy cluster: nothing to repair, and says what the runbook would do', () => {
    expect(judgeSplitBrainNow(reportOf([three.up(0), three.up(1), three.up(2)]).verdict)).toEqual({
      ok: false,
      message: `refusing: the members are not split (one cluster ID ${three.clusterId}, at most one leader per raft term; the cluster is healthy: all 3 members healthy, leader master-1 (term 7)): there is nothing for split-brain to repair, and its steps would stop every apiserver and restore every member from a snapshot`,
    });
  });
  it('refuses a cluster that lost quorum: that is restore-quorum', () => {
    const j = judgeSplitBrainNow(reportOf([three.stranded(0), three.down(1), three.down(2)]).verdict);
    expect(j.ok).toBe(false);
    expect(j.message).toMatch(/the cluster is quorum-lost/);
  });
});

describe('quorum-lost', () => {
  const serving = [{ member: 'master-1', active: true }, { member: 'master-2', active: true }, { member: 'master-3', active: false }];
  const allStopped = serving.map((c) => ({ ...c, active: false }));
  it('passes when two of three are down: the restore path is the one (the nodes need not be asked)', () => {
    expect(judgeQuorumLost(reportOf([three.stranded(0), three.down(1), three.down(2)]).verdict)).toEqual({
      ok: true,
      message: 'quorum lost: 0 of 3 voting members healthy, quorum needs 2',
    });
  });
  it('refuses on a cluster that holds quorum while its control plane serves, and names replace-member', () => {
    for (const endpoints of [[three.up(0), three.up(1), three.up(2)], [three.up(0), three.up(1), three.down(2)]]) {
      const j = judgeQuorumLost(reportOf(endpoints).verdict, serving);
      expect(j.ok).toBe(false);
      expect(j.message).toMatch(/^quorum held \(\d of 3 voting members healthy, quorum needs 2\) and the control plane runs on master-1, master-2: a restore would stop a serving cluster; a lost minority is replaced with replace-member$/);
    }
  });
  it('refuses while a quorum of voting members answers without a leader (an election may be in progress) and the control plane runs', () => {
    const j = judgeQuorumLost(reportOf([three.stranded(0), three.stranded(1), three.down(2)]).verdict, serving);
    expect(j).toEqual({
      ok: false,
      message: 'no leader, but 2 of 3 voting members answer: an election may be in progress and the control plane runs on master-1, master-2: r checks again in a moment',
    });
  });
  it('refuses when it cannot be told whether a control plane runs (no isActive command)', () => {
    const j = judgeQuorumLost(reportOf([three.up(0), three.up(1), three.down(2)]).verdict, [...allStopped.slice(0, 2), { member: 'master-3' }]);
    expect(j.ok).toBe(false);
    expect(j.message).toMatch(/whether the control plane runs on master-3 cannot be told/);
  });
  it('passes a cluster that holds quorum when no master runs its control plane any more (a restore cut short, run again)', () => {
    const j = judgeQuorumLost(reportOf([three.up(0), three.up(1), three.down(2)]).verdict, allStopped);
    expect(j).toEqual({ ok: true, message: 'quorum held (2 of 3 voting members healthy, quorum needs 2), but the control plane runs on no master (a restore cut short?): restoring again stops nothing that serves' });
  });
  it('passes when no member answers at all, and refuses a split brain', () => {
    expect(judgeQuorumLost(reportOf([three.down(0), three.down(1), three.down(2)]).verdict).ok).toBe(true);
    const other = fakeCluster({ voting: 2, leader: 1, clusterId: OTHER_CLUSTER_ID });
    expect(judgeQuorumLost(reportOf([three.up(0), other.up(1)]).verdict, allStopped).message).toMatch(/^split brain.*split-brain runbook$/);
  });
});

describe('would-lose-quorum', () => {
  it('refuses to remove a member when that leaves 1 of 3 started', () => {
    const members = statesOf(reportOf([three.up(0), three.up(1), three.down(2)]));
    expect(judgeQuorumChange({ members, target: 'master-2', change: 'remove' })).toEqual({
      ok: false,
      message: `refusing to remove master-2 (${three.id(1)}): 1 of 3 voting members would remain started, quorum of the new 2-member configuration needs 2`,
    });
  });
  it('allows removing the failed member of three: 2 remain, the new 2-member configuration needs 2', () => {
    const members = statesOf(reportOf([three.up(0), three.up(1), three.down(2)]));
    const j = judgeQuorumChange({ members, target: 'master-3', change: 'remove' });
    expect(j.ok).toBe(true);
    expect(j.message).toMatch(/removing master-3 .*\(not healthy\) leaves 2 started voting members, quorum of the new 2-member configuration needs 2/);
  });
  it('allows removing a dead member of five with two down (3 remain, quorum of 4 needs 3)', () => {
    const members = statesOf(reportOf([five.up(0), five.up(1), five.up(2), five.down(3), five.down(4)]));
    expect(judgeQuorumChange({ members, target: 'master-5', change: 'remove' }).ok).toBe(true);
  });
  it('refuses to remove a healthy member of five with two down', () => {
    const members = statesOf(reportOf([five.up(0), five.up(1), five.up(2), five.down(3), five.down(4)]));
    expect(judgeQuorumChange({ members, target: 'master-1', change: 'remove' }).message).toMatch(
      /refusing to remove master-1 .*: 2 of 5 voting members would remain started, quorum of the new 4-member configuration needs 3/,
    );
  });
  it('refuses to stop a member when the unchanged configuration would lose quorum', () => {
    const members = statesOf(reportOf([three.up(0), three.up(1), three.down(2)]));
    expect(judgeQuorumChange({ members, target: 'master-1', change: 'stop' }).message).toMatch(
      /refusing to stop master-1 .*: 1 of 3 voting members would remain started, quorum of the 3-member configuration needs 2/,
    );
  });
  it('never removes the last healthy member', () => {
    const one = fakeCluster({ voting: 1 });
    expect(judgeQuorumChange({ members: statesOf(reportOf([one.up(0)])), target: 'master-1', change: 'remove' }).message).toMatch(
      /refusing to remove master-1 .*: it is the last healthy voting member/,
    );
  });
  it('says so when the member is the one this tool talks through', () => {
    const members = statesOf(reportOf([five.up(0), five.up(1), five.up(2), five.up(3), five.up(4)]));
    const j = judgeQuorumChange({ members, target: 'master-1', change: 'remove', talkingThrough: five.clientURL(0) });
    expect(j.ok).toBe(true);
    expect(j.message).toContain('master-1 is the member this tool talks through');
  });
  it('lets a learner go without touching the quorum', () => {
    const c = fakeCluster({ voting: 3, learners: 1 });
    const members = statesOf(reportOf([c.up(0), c.up(1), c.down(2), c.up(3)]));
    expect(judgeQuorumChange({ members, target: 'learner-1', change: 'remove' }).message).toMatch(/is a learner: removing it does not change the quorum/);
  });
  it('refuses to add a voting member before the failed one is removed (adding raises the quorum)', () => {
    const members = statesOf(reportOf([three.up(0), three.up(1), three.down(2)]));
    expect(judgeQuorumChange({ members, target: 'master-4', change: 'add' }).message).toMatch(
      /refusing to add master-4 as a voting member: 2 of 4 voting members would be started until it joins, quorum of the new 4-member configuration needs 3/,
    );
    expect(judgeQuorumChange({ members, target: 'master-4', change: 'add', learner: true }).ok).toBe(true);
  });
  it('a member absent from the list is already removed (a later run for a member removed while down), and stopping it leaves the quorum as it is', () => {
    const members = statesOf(reportOf([three.up(0), three.up(1), three.up(2)]));
    expect(judgeQuorumChange({ members, target: 'm9', change: 'remove' })).toEqual({
      ok: true,
      message: 'm9 is not in the member list (master-1, master-2, master-3): already removed, the quorum stays as it is',
    });
    expect(judgeQuorumChange({ members, target: 'm9', change: 'stop' })).toEqual({ ok: true, message: 'm9 is not in the member list (master-1, master-2, master-3): stopping it leaves the quorum as it is' });
    expect(judgeQuorumChange({ members: [], target: 'm9', change: 'stop' }).ok).toBe(false);
    expect(judgeQuorumChange({ members: [], target: 'm9', change: 'remove' }).ok).toBe(false);
  });
  it('judges removing several members at once: two dead of five leave 3 started, quorum of the new 3-member configuration needs 2', () => {
    const members = statesOf(reportOf([five.up(0), five.down(1), five.up(2), five.down(3), five.up(4)]));
    const j = judgeQuorumChange({ members, target: 'master-2', also: ['master-4'], change: 'remove' });
    expect(j.ok).toBe(true);
    expect(j.message).toMatch(/^removing master-2 \(\w+\) \(not healthy\), master-4 \(\w+\) \(not healthy\) leaves 3 started voting members, quorum of the new 3-member configuration needs 2$/);
    // one of them already gone: said, and the rest judged
    const one = judgeQuorumChange({ members, target: 'master-2', also: ['m9'], change: 'remove' });
    expect(one.message).toMatch(/^removing master-2 \(\w+\) \(not healthy\) leaves 3 started voting members, quorum of the new 4-member configuration needs 3; m9 is not in the member list: already removed$/);
    expect(judgeQuorumChange({ members, target: 'm8', also: ['m9'], change: 'remove' })).toEqual({ ok: true, message: 'm8, m9 are not in the member list: already removed, the quorum stays as it is' });
  });
  it('refuses a removal of several members that leaves too few started voters', () => {
    // 5 members, 2 down: removing a dead one and a healthy one leaves 2 started of 3, quorum 2: allowed
    const members = statesOf(reportOf([five.up(0), five.down(1), five.up(2), five.down(3), five.up(4)]));
    expect(judgeQuorumChange({ members, target: 'master-2', also: ['master-1'], change: 'remove' }).message).toMatch(
      /^removing master-2 .* master-1 \(\w+\) \(healthy\) leaves 2 started voting members, quorum of the new 3-member configuration needs 2$/,
    );
    // 5 members, 3 up: removing two healthy ones leaves 1 started (master-4 down stays) of 3: quorum 2 refuses
    expect(judgeQuorumChange({ members, target: 'master-1', also: ['master-3'], change: 'remove' }).message).toMatch(
      /^refusing to remove master-1 \(\w+\) \(healthy\), master-3 \(\w+\) \(healthy\): 1 of 5 voting members would remain started, quorum of the new 3-member configuration needs 2$/,
    );
    const one = statesOf(reportOf([three.up(0), three.down(1), three.down(2)]));
    expect(judgeQuorumChange({ members: one, target: 'master-1', also: ['master-2', 'master-3'], change: 'remove' }).message).toMatch(/no voting member would remain/);
  });
});

const member = (id: string, name: string, ip: string, extra: Partial<MemberInfo> = {}): MemberInfo => ({
  id,
  name,
  peerURLs: [`https://${ip}:2380`],
  clientURLs: name ? [`https://${ip}:2379`] : [],
  isLearner: false,
  ...extra,
});
const list = [member('a1', 'm1', '10.0.0.1'), member('b2', 'm2', '10.0.0.2')];

describe('member-already-present (idempotent add)', () => {
  it('passes when the peer URL is absent: it will be added', () => {
    expect(judgeMemberAlreadyPresent({ members: list, name: 'm3', peerURL: 'https://10.0.0.3:2380' })).toEqual({
      ok: true,
      message: 'm3 (https://10.0.0.3:2380) is not in the member list: it will be added',
    });
  });
  it('passes with a note when an unstarted member has the peer URL: the add reuses it', () => {
    const members = [...list, member('c3', '', '10.0.0.3', { isLearner: true })];
    const j = judgeMemberAlreadyPresent({ members, name: 'm3', peerURL: 'https://10.0.0.3:2380/' });
    expect(j).toEqual({ ok: true, message: 'm3 is already in the member list as c3 (learner, added but not started yet): the add will reuse it, not add it twice' });
  });
  it('refuses when the name is still held by the failed member with another peer URL (remove first)', () => {
    expect(judgeMemberAlreadyPresent({ members: list, name: 'm2', peerURL: 'https://10.0.0.9:2380' }).message).toMatch(
      /^refusing to add m2 at https:\/\/10.0.0.9:2380: member m2 \(b2\) is still in the member list .*remove it first/,
    );
  });
  it('refuses when the peer URL belongs to another started member', () => {
    expect(judgeMemberAlreadyPresent({ members: list, name: 'm3', peerURL: 'https://10.0.0.2:2380' }).message).toBe(
      'refusing to add m3: peer URL https://10.0.0.2:2380 belongs to member m2 (b2)',
    );
  });
});

describe('member-absent', () => {
  it('fails while the member is listed, by name, ID or peer URL', () => {
    expect(judgeMemberAbsent(list, 'm2', '').message).toBe('m2 is still in the member list as m2 b2 (https://10.0.0.2:2380)');
    expect(judgeMemberAbsent(list, 'B2', '').ok).toBe(false);
    expect(judgeMemberAbsent(list, '', 'https://10.0.0.1:2380').ok).toBe(false);
  });
  it('the also list must be gone too (the guard names each one still listed)', async () => {
    // the probe found no leader: the list is asked through the client
    const client = { memberList: async () => list } as unknown as ClusterClient;
    const env = { client, probe: async () => reportOf([three.stranded(0), three.down(1), three.down(2)]) } as unknown as GuardEnvironment;
    const run = (also: string) => evaluateGuard({ check: 'member-absent', params: { member: 'm3', also }, overridable: false, description: '' }, env);
    expect(await run('m4,m2')).toMatchObject({ ok: false, message: 'm2 is still in the member list as m2 b2 (https://10.0.0.2:2380)' });
    expect(await run('m4')).toMatchObject({ ok: true, message: 'm3 is not in the member list; m4 is not in the member list' });
    expect(await run('')).toMatchObject({ ok: true, message: 'm3 is not in the member list' });
  });
  it('passes once it is gone', () => {
    expect(judgeMemberAbsent(list, 'm3', 'https://10.0.0.3:2380')).toEqual({ ok: true, message: 'm3 / https://10.0.0.3:2380 is not in the member list' });
  });
});

describe('the member list the membership guards judge', () => {
  const guard = (check: string, params: Record<string, string> = {}) => ({ check, params, overridable: false, description: '' });
  it('is the leader\'s own list in the probe: no call of its own', async () => {
    let asked = 0;
    const client = { memberList: async () => (asked++, list) } as unknown as ClusterClient;
    // the leader (member 0) lists a learner that a follower has not heard of yet
    const learner = member('c3', 'm3', '10.0.0.3', { isLearner: true });
    const report = reportOf([three.up(0, { members: [...three.members, learner] }), three.up(1), three.down(2)]);
    const env = { client, probe: async () => report } as unknown as GuardEnvironment;
    expect(await evaluateGuard(guard('one-learner-at-a-time'), env)).toMatchObject({ ok: false });
    expect(await evaluateGuard(guard('member-absent', { member: 'c3' }), env)).toMatchObject({ ok: false });
    expect(await evaluateGuard(guard('no-unstarted-members'), env)).toMatchObject({ ok: true });
    expect(asked).toBe(0);
  });
  it('is asked through the client when the probe saw no healthy leader listing its members', async () => {
    let asked = 0;
    const client = { memberList: async () => (asked++, list) } as unknown as ClusterClient;
    for (const report of [
      reportOf([three.stranded(0), three.up(1, { leaderId: undefined }), three.down(2)]),
      reportOf([three.up(0, { members: undefined }), three.up(1), three.down(2)]),
    ]) {
      const env = { client, probe: async () => report } as unknown as GuardEnvironment;
      expect(await evaluateGuard(guard('member-absent', { member: 'm3' }), env)).toMatchObject({ ok: true, message: 'm3 is not in the member list' });
    }
    expect(asked).toBe(2);
  });
});

describe('nothing-at-path', () => {
  it('passes on a path with nothing there, refuses one that exists (a file is never written over)', () => {
    expect(judgeNothingAt({ node: 'local', path: '/b/restore-1.db', kind: 'missing', entries: [] })).toEqual({ ok: true, message: 'nothing at /b/restore-1.db on local yet' });
    expect(judgeNothingAt({ node: 'local', path: '/b/restore-1.db', kind: 'file', entries: [] })).toEqual({
      ok: false,
      message: 'refusing: /b/restore-1.db on local already exists (file): this step never writes over it; move it aside with a timestamp, or give another path',
    });
  });
});

describe('initial-cluster-matches', () => {
  const joined: MemberInfo[] = [
    { id: 'a1', name: 'm1', peerURLs: ['https://10.0.0.1:2380'], clientURLs: ['https://10.0.0.1:2379'], isLearner: false },
    { id: 'b2', name: 'm2', peerURLs: ['https://10.0.0.2:2380'], clientURLs: ['https://10.0.0.2:2379'], isLearner: false },
    // added, not started yet: unnamed in the list
    { id: 'c3', name: '', peerURLs: ['https://10.0.0.3:2380'], clientURLs: [], isLearner: true },
  ];
  it('passes when the written initial-cluster is the member list, in any order, the joiner named by the run', () => {
    expect(judgeInitialClusterMatches('m3=https://10.0.0.3:2380,m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380', joined, 'm3')).toEqual({
      ok: true,
      message: 'initial-cluster matches the member list: m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380',
    });
  });
  it('refuses a list that differs, naming both', () => {
    expect(judgeInitialClusterMatches('m1=https://10.0.0.1:2380,m3=https://10.0.0.3:2380', joined, 'm3')).toEqual({
      ok: false,
      message: 'initial-cluster m1=https://10.0.0.1:2380,m3=https://10.0.0.3:2380 does not match the member list m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380: fix the inventory (or the member list) before starting m3',
    });
  });
});

describe('data-dir-empty and data-dir-absent', () => {
  it('passes on a missing or empty data dir', () => {
    expect(judgeDataDirEmpty({ node: 'm2', path: '/var/lib/etcd', kind: 'missing', entries: [] }).ok).toBe(true);
    expect(judgeDataDirEmpty({ node: 'm2', path: '/var/lib/etcd', kind: 'directory', entries: [] }).ok).toBe(true);
  });
  it('refuses a non-empty data dir, naming a few entries and how to move it aside', () => {
    const j = judgeDataDirEmpty({ node: 'm2', path: '/var/lib/etcd', kind: 'directory', entries: ['a', 'b', 'c', 'd', 'member'] });
    expect(j.ok).toBe(false);
    expect(j.message).toMatch(/^refusing: data dir \/var\/lib\/etcd on m2 is not empty \(a, b, c, d, … \(5 entries\)\): move it aside .*never delete it$/);
  });
  it('refuses a file where the data dir should be', () => {
    expect(judgeDataDirEmpty({ node: 'm2', path: '/x', kind: 'file', entries: [] }).message).toMatch(/is a file, not a directory/);
  });
  it('data-dir-absent refuses even an empty directory (restore creates it)', () => {
    expect(judgeDataDirAbsent({ node: 'm1', path: '/d', kind: 'directory', entries: [] }).message).toBe(
      'refusing: /d on m1 already exists (directory, 0 entries): move it aside with a timestamp first, never delete it',
    );
    expect(judgeDataDirAbsent({ node: 'm1', path: '/d', kind: 'missing', entries: [] }).ok).toBe(true);
  });
});

describe('snapshot-verified', () => {
  const base = { node: 'm1', path: '/backup/snap.db', exists: true, tool: 'etcdutl', exitCode: 0, stderr: '', integrity: { kind: 'ok' as const, size: 2097184 } };
  const status = '{"hash":3700355443,"revision":15022,"totalKey":1042,"totalSize":2097152}\n';
  it('passes when snapshot status reports hash, revision and key count, and the appended sha256 matches', () => {
    const j = judgeSnapshotVerified({ ...base, stdout: status });
    expect(j).toEqual({ ok: true, message: 'snapshot /backup/snap.db on m1 verified with etcdutl snapshot status: revision 15022, 1042 keys, 2097152 bytes, hash dc8ef173, sha256 integrity hash matches' });
  });
  it('fails a file snapshot status accepts whose appended sha256 does not match (corrupt page)', () => {
    const j = judgeSnapshotVerified({ ...base, stdout: status, integrity: { kind: 'mismatch', size: 2097184, expected: 'a'.repeat(64), actual: 'b'.repeat(64) } });
    expect(j.ok).toBe(false);
    expect(j.message).toBe(`snapshot /backup/snap.db on m1 is corrupt: the sha256 of its first 2097152 bytes is ${'b'.repeat(16)}…, the hash saved at its end is ${'a'.repeat(16)}… (snapshot restore would refuse it): take or copy the snapshot again`);
  });
  it('fails a file without the appended sha256 unless skipHashCheck, and then warns', () => {
    const raw = { ...base, stdout: status, integrity: { kind: 'absent' as const, size: 2097152 } };
    expect(judgeSnapshotVerified(raw)).toMatchObject({ ok: false, message: expect.stringMatching(/has no sha256 integrity hash \(2097152 bytes\): truncated, or a raw member\/snap\/db copy/) });
    expect(judgeSnapshotVerified({ ...raw, skipHashCheck: true })).toMatchObject({ ok: true, message: expect.stringMatching(/WARNING: no sha256 integrity hash .*--skip-hash-check/) });
    const { integrity: _unchecked, ...unchecked } = base;
    expect(judgeSnapshotVerified({ ...unchecked, stdout: status }).ok).toBe(false);
  });
  it('refuses a snapshot taken with another etcd major.minor than the servers run, and says what to do', () => {
    const j = judgeSnapshotVerified({ ...base, stdout: status, etcdVersion: '3.4.0', serverVersion: '3.5.16' });
    expect(j).toEqual({
      ok: false,
      message:
        "refusing: snapshot /backup/snap.db on m1 was taken with etcd 3.4 (cluster version 3.4.0), and the servers run etcd 3.5.16: a snapshot restores with the etcd version it came from; use a snapshot taken from these servers, or restore this one with etcd 3.4's tools onto etcd 3.4 servers",
    });
  });
  it('names the snapshot\'s etcd version when it matches the servers\' major.minor, and says when none is recorded', () => {
    expect(judgeSnapshotVerified({ ...base, stdout: status, etcdVersion: '3.5.0', serverVersion: '3.5.16' })).toMatchObject({ ok: true, message: expect.stringContaining('hash dc8ef173, taken with etcd 3.5.0, sha256 integrity hash matches') });
    expect(judgeSnapshotVerified({ ...base, stdout: status, serverVersion: '3.5.16' })).toMatchObject({
      ok: true,
      message: expect.stringContaining("no etcd version recorded in it (not compared with the servers' 3.5.16)"),
    });
  });
  it('passes the operator\'s snapshot input when it names no file (a snapshot is saved later in the run)', () => {
    expect(judgeSnapshotVerified({ ...base, path: 'new', exists: false, stdout: '', noneGiven: true })).toEqual({
      ok: true,
      message: 'no snapshot file given: the snapshot this run saves is checked once it is saved',
    });
  });
  it('says a crashed snapshot status on a file with no hash is a truncated file', () => {
    const j = judgeSnapshotVerified({ ...base, tool: 'etcdctl', exitCode: 2, stdout: '', stderr: 'unexpected fault address 0x7f\nfatal error: fault\n', integrity: { kind: 'absent', size: 10256 } });
    expect(j.message).toBe('snapshot /backup/snap.db on m1 failed verification (etcdctl snapshot status, exit 2): fatal error: fault; 10256 bytes with no sha256 integrity hash at the end: truncated, or not a snapshot');
  });
  it('knows which sizes carry the hash, as etcd does', () => {
    expect(hasIntegrityHash(20512)).toBe(true);
    expect(hasIntegrityHash(20480)).toBe(false);
    expect(hasIntegrityHash(10256)).toBe(false);
  });
  it('fails on a truncated file with the tool\'s own message', () => {
    const j = judgeSnapshotVerified({ ...base, tool: 'etcdctl', exitCode: 1, stdout: '', stderr: 'Error: file size too small\n' });
    expect(j.message).toBe('snapshot /backup/snap.db on m1 failed verification (etcdctl snapshot status, exit 1): Error: file size too small');
  });
  it('fails when the output has no revision', () => {
    expect(judgeSnapshotVerified({ ...base, stdout: '{"hash":1}' }).ok).toBe(false);
  });
  it('fails when the file is missing or no tool is installed', () => {
    expect(judgeSnapshotVerified({ ...base, exists: false, stdout: '' }).message).toBe('no snapshot at /backup/snap.db on m1');
    expect(judgeSnapshotVerified({ ...base, tool: undefined, stdout: '' }).message).toMatch(/neither etcdutl nor etcdctl is installed on m1/);
  });
});

describe('same-snapshot-everywhere', () => {
  const A = 'a'.repeat(64);
  const B = 'b'.repeat(64);
  it('passes when every node has the same sha256', () => {
    expect(judgeSameSnapshot('/s.db', [{ node: 'm1', sha256: A }, { node: 'm2', sha256: A }]).ok).toBe(true);
  });
  it('names the odd one out against the majority', () => {
    const j = judgeSameSnapshot('/s.db', [{ node: 'm1', sha256: A }, { node: 'm2', sha256: B }, { node: 'm3', sha256: A }]);
    expect(j.ok).toBe(false);
    expect(j.message).toBe('refusing: /s.db differs between nodes (m2 has bbbbbbbbbbbbbbbb…; vs aaaaaaaaaaaaaaaa… on m1, m3): copy the same snapshot everywhere');
  });
  it('compares with the expected hash when given', () => {
    expect(judgeSameSnapshot('/s.db', [{ node: 'm1', sha256: A }, { node: 'm2', sha256: A }], B).message).toMatch(/m1 has .*m2 has .*the expected bbbb/);
  });
  it('fails naming a node where the file could not be hashed', () => {
    expect(judgeSameSnapshot('/s.db', [{ node: 'm1', sha256: A }, { node: 'm2', error: 'No such file or directory' }]).message).toMatch(/m2: No such file or directory/);
  });

  it('same-snapshot-everywhere against a reference copy: a node whose copy differs from the distributed one is refused, an unhashable reference too', () => {
    const ok = judgeSameAsReference('/m1/etcd.snapshot.db', [{ node: 'm1', sha256: A }], { node: 'local', sha256: A }, '/backup/restore.db');
    expect(ok.ok).toBe(true);
    expect(ok.message).toMatch(/reference: local:\/backup\/restore\.db/);
    const odd = judgeSameAsReference('/m3/etcd.snapshot.db', [{ node: 'm3', sha256: B }], { node: 'local', sha256: A }, '/backup/restore.db');
    expect(odd.ok).toBe(false);
    expect(odd.message).toMatch(/m3 has bbbb.*the expected aaaa.*reference: local:/);
    const lost = judgeSameAsReference('/m1/etcd.snapshot.db', [{ node: 'm1', sha256: A }], { node: 'local', error: 'No such file or directory' }, '/backup/restore.db');
    expect(lost).toEqual({ ok: false, message: 'cannot hash the reference copy local:/backup/restore.db: No such file or directory' });
  });
});

describe('nodes-down', () => {
  it('passes when neither the kubelet nor the control plane runs, saying where nothing could be asked', () => {
    expect(judgeNodesDown([{ member: 'm1', kubelet: false, controlPlane: false }, { member: 'm2' }])).toEqual({
      ok: true,
      message: 'the kubelet and the control plane are down on m1; no command to ask on m2',
    });
  });
  it('refuses naming what still runs where', () => {
    const j = judgeNodesDown([{ member: 'm1', kubelet: true, controlPlane: false }, { member: 'm2', kubelet: true, controlPlane: true }]);
    expect(j.ok).toBe(false);
    expect(j.message).toBe('refusing: still running: the kubelet on m1; the kubelet and the control plane on m2; stop it first (a kubelet restarts static pods, an apiserver writes to etcd)');
  });
});

describe('old-members-stopped', () => {
  const stopped = { clientAnswers: false, peerAnswers: false, clientAddress: '10.0.0.1:2379', peerAddress: '10.0.0.1:2380' };
  it('passes when every port is closed and services are inactive', () => {
    expect(judgeOldMembersStopped([{ member: 'm1', ...stopped, serviceActive: false }, { member: 'm2', ...stopped }]).ok).toBe(true);
  });
  it('fails naming each member still running and why', () => {
    const j = judgeOldMembersStopped([
      { member: 'm1', ...stopped, peerAnswers: true },
      { member: 'm2', ...stopped },
      { member: 'm3', ...stopped, serviceActive: true, isActiveCommand: 'systemctl is-active --quiet etcd' },
    ]);
    expect(j.message).toBe(
      'refusing: 2 old members are still running: m1 (peer port 10.0.0.1:2380 answers); m3 (`systemctl is-active --quiet etcd` says it runs); stop them first, or the restored members meet a cluster ID mismatch',
    );
  });
  it('with service=false judges by the ports alone: the node\'s service is not asked (single-survivor parks it next)', async () => {
    // a loopback port that was just closed: nothing answers there
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const asked: string[] = [];
    const env: GuardEnvironment = {
      probe: () => Promise.reject(new Error('no probe')),
      transport: (node) => {
        asked.push(node);
        throw new Error(`no transport to ${node} in unit tests`);
      },
      client: {} as ClusterClient,
      members: [{ name: 'm2', clientURL: `https://127.0.0.1:${port}`, peerURL: `https://127.0.0.1:${port}`, isActiveCommand: 'test -f /etc/kubernetes/manifests/etcd.yaml' }],
    };
    const guard = (params: Record<string, string | boolean>) => ({ check: 'old-members-stopped', params: { nodes: 'm2', ...params }, overridable: false, description: '' });
    expect(await evaluateGuard(guard({ service: false }), env)).toMatchObject({ ok: true, message: 'm2 stopped: client and peer ports closed' });
    expect(asked).toEqual([]);
    expect((await evaluateGuard(guard({}), env)).message).toMatch(/^could not check: no transport to m2/);
    expect(asked).toEqual(['m2']);
  });
});

describe('single-cluster-id and single-leader', () => {
  const other = fakeCluster({ voting: 3, leader: 2, clusterId: OTHER_CLUSTER_ID });
  it('pass on one healthy cluster', () => {
    const report = reportOf([three.up(0), three.up(1), three.up(2)]);
    expect(judgeSingleClusterId(report).ok).toBe(true);
    expect(judgeSingleLeader(report).ok).toBe(true);
  });
  it('fail when members restored alone report their own cluster IDs and leaders', () => {
    const report = reportOf([three.up(0), other.up(2)]);
    expect(judgeSingleClusterId(report).message).toMatch(/^2 cluster IDs: .*\(master-1\); .*\(master-3\)/);
    expect(judgeSingleLeader(report).message).toMatch(/^2 leaders: .*restored alone/);
  });
  it('single-leader fails while a member knows no leader', () => {
    expect(judgeSingleLeader(reportOf([three.up(0), three.up(1), three.stranded(2)])).message).toBe('no leader known by master-3');
  });
  it('fail when no member answers', () => {
    expect(judgeSingleClusterId(reportOf([three.down(0)])).ok).toBe(false);
  });
});

describe('other-voters-healthy', () => {
  const five = fakeCluster({ voting: 5, learners: 1 });
  const states = (down: number[]) => reportOf([0, 1, 2, 3, 4, 5].map((i) => (down.includes(i) ? five.down(i) : five.up(i)))).verdict.members;

  it('passes when only the member being replaced is down (a learner elsewhere does not count)', () => {
    expect(judgeOtherVotersHealthy(states([2, 5]), 'master-3')).toEqual({ ok: true, message: 'every other voting member is healthy (4)' });
  });

  it('refuses before anything changes when another voter is down: etcd would refuse to add the member back', () => {
    const j = judgeOtherVotersHealthy(states([1, 3]), 'master-2');
    expect(j.ok).toBe(false);
    expect(j.message).toBe(
      'master-4 is down too: etcd refuses to add a member while any voting member is unreachable, so master-2 would be removed and could not be added back: ' +
        'start master-4 again if its data is intact, or remove it in the same step (--set alsoRemove=master-4) and add it back with its own run afterwards',
    );
    expect(judgeOtherVotersHealthy(states([1, 3, 4]), five.id(1)).message).toMatch(/^master-4, master-5 are down too: .* start master-4, master-5 again if their data is intact, or remove them in the same step \(--set alsoRemove=master-4,master-5\)/);
  });

  it('passes when the other voters that are down are removed in the same step; names the ones still kept', () => {
    expect(judgeOtherVotersHealthy(states([1, 3]), 'master-2', ['master-4'])).toEqual({
      ok: true,
      message: 'every other voting member is healthy (3); master-4 is down and removed in the same step',
    });
    expect(judgeOtherVotersHealthy(states([1, 3, 4]), 'master-2', ['master-4']).message).toMatch(/^master-5 is down too: .*--set alsoRemove=master-4,master-5\)/);
    // a member already absent from the list (an earlier run removed it) is no obstacle
    expect(judgeOtherVotersHealthy(states([]), 'master-9', ['master-8']).ok).toBe(true);
  });

  it('refuses to replace a healthy member together with the ones that are down', () => {
    expect(judgeOtherVotersHealthy(states([3]), 'master-1', ['master-4'])).toEqual({
      ok: false,
      message: 'refusing: master-1 is healthy: removing it together with master-4 would shrink the cluster to its healthy rest; replace the members that are down first (one run each), then master-1',
    });
  });

  it('refuses to remove a healthy member along with the replaced one', () => {
    expect(judgeOtherVotersHealthy(states([1]), 'master-2', ['master-5'])).toEqual({
      ok: false,
      message: 'refusing: master-5 is healthy: only voting members that are down are removed along with master-2 (leave it out of alsoRemove)',
    });
  });
});

describe('one-learner-at-a-time and no-unstarted-members', () => {
  it('refuses a second learner while one is joining', () => {
    const j = judgeOneLearnerAtATime([...list, member('c3', 'm3', '10.0.0.3', { isLearner: true })]);
    expect(j.message).toBe('refusing: learner m3 c3 is still joining: promote it (or remove it) before adding another member');
    expect(judgeOneLearnerAtATime(list).ok).toBe(true);
  });
  it('names members added but never started and suggests removing them', () => {
    const j = judgeNoUnstartedMembers([...list, member('c3', '', '10.0.0.3')]);
    expect(j.message).toBe('a member was added but never started: c3 (https://10.0.0.3:2380): start it or remove (etcdctl member remove c3)');
  });
  it('lets through the unstarted member the next step will start', () => {
    expect(judgeNoUnstartedMembers([...list, member('c3', '', '10.0.0.3')], ['https://10.0.0.3:2380']).ok).toBe(true);
  });
});

describe('etcd-version-matches and restoreToolFor', () => {
  it('restores 3.4 with etcdctl and 3.5+ with etcdutl', () => {
    expect(restoreToolFor('3.4.23').command).toBe('etcdctl snapshot restore');
    expect(restoreToolFor('3.5.21')).toEqual({ tool: 'etcdutl', command: 'etcdutl snapshot restore', canBumpRevision: true });
    expect(restoreToolFor('3.6.0').tool).toBe('etcdutl');
  });
  it('passes on matching 3.4 tools and says which restore tool', () => {
    expect(judgeEtcdVersion({ node: 'm1', etcd: '3.4.23', etcdctl: '3.4.23' }).message).toBe('m1: etcd 3.4.23, etcdctl 3.4.23; restore will use etcdctl snapshot restore');
  });
  it('refuses tools that disagree on major.minor', () => {
    expect(judgeEtcdVersion({ node: 'm1', etcd: '3.5.9', etcdctl: '3.4.23' }).message).toMatch(/^refusing: etcd tools on m1 disagree on major.minor/);
  });
  it('refuses a snapshot from another major.minor', () => {
    expect(judgeEtcdVersion({ node: 'm1', etcd: '3.5.9', etcdutl: '3.5.9', snapshotVersion: '3.4.20' }).message).toMatch(/snapshot comes from etcd 3.4.20/);
  });
  it('refuses 3.6 without etcdutl, and falls back to etcdctl on 3.5 with a warning', () => {
    expect(judgeEtcdVersion({ node: 'm1', etcd: '3.6.1', etcdctl: '3.6.1' }).ok).toBe(false);
    const j = judgeEtcdVersion({ node: 'm1', etcd: '3.5.9', etcdctl: '3.5.9' });
    expect(j.ok).toBe(true);
    expect(j.message).toMatch(/etcdctl snapshot restore \(deprecated in 3.5/);
  });
});

describe('evaluateGuard', () => {
  const env = (probe: () => Promise<never>): GuardEnvironment => ({
    probe,
    transport: () => {
      throw new Error('no transport in unit tests');
    },
    client: {} as ClusterClient,
    members: [],
  });
  const rendered = (check: string, params = {}, message?: string) => ({ check, params, overridable: false, description: check, ...(message ? { message } : {}) });

  it('registers every guard under its own name', () => {
    for (const name of GUARD_NAMES) expect(GUARDS[name].name).toBe(name);
    expect(GUARD_NAMES).toContain('would-lose-quorum');
  });
  it('turns an unknown guard into a failure, not an exception', async () => {
    const outcome = await evaluateGuard(rendered('no-such-guard'), env(() => Promise.reject(new Error('x'))));
    expect(outcome).toMatchObject({ ok: false, message: expect.stringMatching(/^unknown guard "no-such-guard"/) });
  });
  it('turns a failure to gather facts into a failed guard with the reason', async () => {
    const outcome = await evaluateGuard(rendered('quorum-held', {}, 'quorum must hold'), env(() => Promise.reject(new Error('probe exploded'))));
    expect(outcome).toEqual({ check: 'quorum-held', ok: false, message: 'quorum must hold (could not check: probe exploded)', overridable: false });
  });
  it('fails when a required parameter is missing', async () => {
    const outcome = await evaluateGuard(rendered('data-dir-empty'), env(() => Promise.reject(new Error('x'))));
    expect(outcome.message).toMatch(/^guard data-dir-empty needs the parameter "node"/);
  });
});
