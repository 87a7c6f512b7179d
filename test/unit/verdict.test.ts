import { describe, expect, it } from 'vitest';
import type { MemberInfo } from '../../src/cluster/types.js';
import { classify, mayBeElecting, quorumSize, RUNBOOK_FOR } from '../../src/cluster/verdict.js';
import { CLUSTER_ID, FROZEN, IDS, NO_LEADER, OTHER_CLUSTER_ID, REFUSED, fakeCluster } from '../helpers/probes.js';

describe('quorumSize', () => {
  it.each([
    [0, 1],
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [6, 4],
    [7, 4],
  ])('needs ⌊N/2⌋+1: %i voting members → %i', (voting, needed) => {
    expect(quorumSize(voting)).toBe(needed);
  });
});

describe('RUNBOOK_FOR', () => {
  it('proposes no runbook when nothing answered', () => {
    expect(RUNBOOK_FOR.unreachable).toEqual({ alternatives: [] });
  });
});

describe('classify: healthy', () => {
  it.each([1, 3, 5])('calls a %i-member cluster with every member healthy "healthy" and names the leader', (n) => {
    const c = fakeCluster({ voting: n });
    const v = classify(Array.from({ length: n }, (_, i) => c.up(i)));
    expect(v.verdict).toBe('healthy');
    const who = n === 1 ? 'the only member is' : `all ${n} members`;
    expect(v.summary).toBe(`${who} healthy, leader master-1 (term 7)`);
    expect(v.evidence).toEqual([`cluster ID ${CLUSTER_ID}`, `leader ${IDS[0]}`]);
    expect(v.recommendedRunbook).toBe('backup');
    expect(v.alternatives).toEqual([]);
    expect(v.votingMembers).toBe(n);
    expect(v.healthyVoting).toBe(n);
    expect(v.quorumSize).toBe(Math.floor(n / 2) + 1);
    expect(v.clusterIds).toEqual([CLUSTER_ID]);
    expect(v.leaders).toEqual([IDS[0]]);
    expect(v.warnings).toEqual([]);
    expect(v.members.map((m) => m.name)).toEqual(Array.from({ length: n }, (_, i) => `master-${i + 1}`));
    for (const m of v.members) {
      expect(m).toMatchObject({ healthy: true, reachable: true, unstarted: false, isLearner: false });
      expect(m.problem).toBeUndefined();
    }
  });

  it('names the leader that is not the first endpoint probed, with its term', () => {
    const c = fakeCluster({ voting: 3, leader: 2, term: 41 });
    const v = classify([c.up(0), c.up(1), c.up(2)]);
    expect(v.summary).toBe('all 3 members healthy, leader master-3 (term 41)');
    expect(v.evidence).toEqual([`cluster ID ${CLUSTER_ID}`, `leader ${IDS[2]}`]);
  });

  it('joins each member to its endpoint', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1), c.up(2)]);
    expect(v.members.map((m) => [m.id, m.endpoint])).toEqual([
      [IDS[0], 'https://10.0.0.1:2379'],
      [IDS[1], 'https://10.0.0.2:2379'],
      [IDS[2], 'https://10.0.0.3:2379'],
    ]);
  });

  it('matches a live member probed under another address (127.0.0.1) by its member ID, without a warning', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0, { endpoint: 'https://127.0.0.1:2379' }), c.up(1), c.up(2)]);
    expect(v.verdict).toBe('healthy');
    expect(v.members[0]?.endpoint).toBe('https://127.0.0.1:2379');
    expect(v.warnings).toEqual([]);
  });

  it('counts members from the member list, not the endpoints given: members never probed are not counted healthy', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0)]);
    // the other two members were never probed (status probes them itself; classify alone cannot)
    expect(v.verdict).toBe('quorum-lost');
    expect(v.votingMembers).toBe(3);
    expect(v.healthyVoting).toBe(1);
    expect(v.members.slice(1).map((m) => m.problem)).toEqual(['no endpoint probed for it', 'no endpoint probed for it']);
  });

  // Probes run in parallel; a leader change between two status calls shows
  // two leaders in two different terms. That is not split brain (see below),
  // but the summary should name the current leader (the newest term), not a
  // deposed one that happened to be probed first.
  it('names the leader of the newest term when a probe caught a leader change', () => {
    const c = fakeCluster({ voting: 3, term: 8, leader: 1 });
    const v = classify([c.up(0, { leaderId: IDS[0], raftTerm: 7 }), c.up(1), c.up(2)]);
    expect(v.verdict).toBe('healthy');
    expect(v.summary).toBe('all 3 members healthy, leader master-2 (term 8)');
  });
});

describe('classify: a member whose server certificate expired', () => {
  const expired = { certificate: { kind: 'expired' as const, date: '2026-11-29', subject: 'CN=master-3', issuer: 'CN=etcd-ca', message: 'TLS: the server certificate (CN=master-3) expired 2026-11-29' } };

  it('proposes renew-certificates (its data is fine), replace-member as the alternative', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1), c.down(2, expired)]);
    expect(v.verdict).toBe('minority-lost');
    expect(v.recommendedRunbook).toBe('renew-certificates');
    expect(v.alternatives).toEqual(['replace-member', 'backup']);
    expect(v.advice).toBe('the server certificate of master-3 expired: renew the certificates from the CA and restart etcd one member at a time (run renew-certificates)');
  });

  it('proposes replace-member when another member is down for another reason', () => {
    const c = fakeCluster({ voting: 5 });
    const v = classify([c.up(0), c.up(1), c.up(2), c.down(3), c.down(4, expired)]);
    expect(v.verdict).toBe('minority-lost');
    expect(v.recommendedRunbook).toBe('replace-member');
    expect(v.advice).toBeUndefined();
  });
});

describe('classify: minority lost', () => {
  it('calls a 3-member cluster with one member killed "minority-lost" and proposes replace-member', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1), c.down(2)]);
    expect(v.verdict).toBe('minority-lost');
    expect(v.summary).toBe('1 of 3 members unreachable: quorum held (2 of 3 voting members healthy, 2 needed)');
    expect(v.evidence).toEqual([`master-3 ${IDS[2]} (voting member, https://10.0.0.3:2379): unreachable: ${REFUSED}`]);
    expect(v.recommendedRunbook).toBe('replace-member');
    expect(v.alternatives).toEqual(['replace-master', 'backup']);
    expect(v).toMatchObject({ votingMembers: 3, healthyVoting: 2, quorumSize: 2 });
    expect(v.members[2]).toEqual({
      id: IDS[2],
      name: 'master-3',
      isLearner: false,
      unstarted: false,
      healthy: false,
      reachable: false,
      endpoint: 'https://10.0.0.3:2379',
      problem: `unreachable: ${REFUSED}`,
    });
    expect(v.warnings).toEqual([]);
  });

  it('treats a frozen member (SIGSTOP: probe timed out) like a dead one', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.frozen(1), c.up(2)]);
    expect(v.verdict).toBe('minority-lost');
    expect(v.members[1]?.problem).toBe(`unreachable: ${FROZEN}`);
    expect(v.evidence).toEqual([`master-2 ${IDS[1]} (voting member, https://10.0.0.2:2379): unreachable: ${FROZEN}`]);
  });

  it('says "no answer" for an unreachable endpoint without an error message', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1), c.down(2, { error: undefined })]);
    expect(v.members[2]?.problem).toBe('unreachable: no answer');
  });

  it('calls a reachable member that cannot complete a linearizable read unhealthy, with its health error', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1), c.stranded(2)]);
    expect(v.verdict).toBe('minority-lost');
    expect(v.summary).toMatch(/^1 of 3 members .+: quorum held \(2 of 3 voting members healthy, 2 needed\)$/);
    expect(v.members[2]).toMatchObject({ reachable: true, healthy: false, problem: `unhealthy: ${NO_LEADER}` });
  });

  it('falls back to "linearizable read failed" when an unhealthy member gives no reason', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1), c.stranded(2, { healthError: undefined })]);
    expect(v.members[2]?.problem).toBe('unhealthy: linearizable read failed');
  });

  it('calls a 5-member cluster with 2 members down "minority-lost": 3 of 5 is still quorum', () => {
    const c = fakeCluster({ voting: 5 });
    const v = classify([c.up(0), c.down(1), c.up(2), c.frozen(3), c.up(4)]);
    expect(v.verdict).toBe('minority-lost');
    expect(v.summary).toBe('2 of 5 members unreachable: quorum held (3 of 5 voting members healthy, 3 needed)');
    expect(v).toMatchObject({ votingMembers: 5, healthyVoting: 3, quorumSize: 3, recommendedRunbook: 'replace-member' });
    expect(v.evidence).toEqual([
      `master-2 ${IDS[1]} (voting member, https://10.0.0.2:2379): unreachable: ${REFUSED}`,
      `master-4 ${IDS[3]} (voting member, https://10.0.0.4:2379): unreachable: ${FROZEN}`,
    ]);
  });

  it('still calls it minority-lost when the leader itself was the member lost and a new one was elected', () => {
    const c = fakeCluster({ voting: 3, leader: 1, term: 9 });
    const v = classify([c.down(0), c.up(1), c.up(2)]);
    expect(v.verdict).toBe('minority-lost');
    expect(v.members[0]).toMatchObject({ name: 'master-1', reachable: false });
  });
});

describe('classify: quorum lost', () => {
  it('calls a 3-member cluster with 2 killed "quorum-lost" and proposes restore-quorum, with single-survivor as alternative', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.stranded(0), c.down(1), c.down(2)]);
    expect(v.verdict).toBe('quorum-lost');
    expect(v.summary).toContain('3 of 3 voting members');
    expect(v.summary).toContain('quorum lost (0 healthy, 2 needed)');
    expect(v.recommendedRunbook).toBe('restore-quorum');
    expect(v.alternatives).toEqual(['single-survivor']);
    expect(v).toMatchObject({ votingMembers: 3, healthyVoting: 0, quorumSize: 2 });
    expect(v.evidence).toEqual([
      `master-1 ${IDS[0]} (voting member, https://10.0.0.1:2379): unhealthy: ${NO_LEADER}`,
      `master-2 ${IDS[1]} (voting member, https://10.0.0.2:2379): unreachable: ${REFUSED}`,
      `master-3 ${IDS[2]} (voting member, https://10.0.0.3:2379): unreachable: ${REFUSED}`,
    ]);
  });

  it('refuses to call quorum held when 2 of 3 are down even if the survivor still answered a read', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.down(1), c.down(2)]);
    expect(v.verdict).toBe('quorum-lost');
    expect(v.summary).toBe('2 of 3 voting members unreachable: quorum lost (1 healthy, 2 needed)');
    expect(v).toMatchObject({ healthyVoting: 1, quorumSize: 2, recommendedRunbook: 'restore-quorum' });
  });

  it('refuses to call quorum held when 3 of 5 are down, even with two survivors claiming health', () => {
    const c = fakeCluster({ voting: 5 });
    const v = classify([c.up(0), c.up(1), c.down(2), c.down(3), c.frozen(4)]);
    expect(v.verdict).toBe('quorum-lost');
    expect(v.summary).toBe('3 of 5 voting members unreachable: quorum lost (2 healthy, 3 needed)');
    expect(v).toMatchObject({ votingMembers: 5, healthyVoting: 2, quorumSize: 3 });
    expect(v.evidence).toHaveLength(3);
  });

  it('calls 5 members with 3 down and 2 leaderless survivors "quorum-lost"', () => {
    const c = fakeCluster({ voting: 5 });
    const v = classify([c.stranded(0), c.stranded(1), c.down(2), c.down(3), c.down(4)]);
    expect(v.verdict).toBe('quorum-lost');
    expect(v).toMatchObject({ votingMembers: 5, healthyVoting: 0, quorumSize: 3 });
    expect(v.summary).toContain('5 of 5 voting members');
    expect(v.summary).toContain('quorum lost (0 healthy, 3 needed)');
    expect(v.leaders).toEqual([]);
  });

  it('calls every member reachable but none able to complete a linearizable read (no leader) "quorum-lost"', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.stranded(0), c.stranded(1), c.stranded(2)]);
    expect(v.verdict).toBe('quorum-lost');
    expect(v.leaders).toEqual([]);
    expect(v.clusterIds).toEqual([CLUSTER_ID]);
    expect(v.summary).toContain('quorum lost (0 healthy, 2 needed)');
    expect(v.members.every((m) => m.reachable && !m.healthy)).toBe(true);
    expect(v.recommendedRunbook).toBe('restore-quorum');
  });

  it('refuses to call quorum held with an even split: 2 of 4 healthy', () => {
    const c = fakeCluster({ voting: 4 });
    const v = classify([c.up(0), c.up(1), c.down(2), c.down(3)]);
    expect(v.verdict).toBe('quorum-lost');
    expect(v).toMatchObject({ votingMembers: 4, healthyVoting: 2, quorumSize: 3 });
  });
});

describe('mayBeElecting: quorum lost by the count, yet a quorum of voters answers', () => {
  const three = fakeCluster({ voting: 3 });
  const five = fakeCluster({ voting: 5 });
  it('the seconds after a leader died: the two survivors answer, neither serves a read', () => {
    expect(mayBeElecting(classify([three.stranded(0), three.stranded(1), three.down(2)]))).toBe(true);
    expect(mayBeElecting(classify([five.stranded(0), five.stranded(1), five.stranded(2), five.down(3), five.down(4)]))).toBe(true);
  });
  it('not when fewer than a quorum answers, nor when quorum is held', () => {
    expect(mayBeElecting(classify([three.stranded(0), three.down(1), three.down(2)]))).toBe(false);
    expect(mayBeElecting(classify([five.stranded(0), five.stranded(1), five.frozen(2), five.down(3), five.down(4)]))).toBe(false);
    expect(mayBeElecting(classify([three.up(0), three.up(1), three.down(2)]))).toBe(false);
  });
  it('a learner that answers does not make up the quorum', () => {
    const withLearner = fakeCluster({ voting: 3, learners: 1 });
    expect(mayBeElecting(classify([withLearner.stranded(0), withLearner.down(1), withLearner.down(2), withLearner.stranded(3)]))).toBe(false);
  });
});

describe('classify: learners', () => {
  it('does not count an unhealthy learner toward quorum: 3 voting healthy + learner down is minority-lost, quorum 2', () => {
    const c = fakeCluster({ voting: 3, learners: 1 });
    const v = classify([c.up(0), c.up(1), c.up(2), c.down(3)]);
    expect(v.verdict).toBe('minority-lost');
    expect(v).toMatchObject({ votingMembers: 3, healthyVoting: 3, quorumSize: 2 });
    expect(v.summary).toBe('1 of 4 members unreachable: quorum held (3 of 3 voting members healthy, 2 needed)');
    expect(v.evidence).toEqual([`learner-1 ${IDS[3]} (learner, https://10.0.0.4:2379): unreachable: ${REFUSED}`]);
    expect(v.members[3]).toMatchObject({ name: 'learner-1', isLearner: true, healthy: false });
  });

  it('still calls one voting member down minority-lost when a healthy learner is also present', () => {
    const c = fakeCluster({ voting: 3, learners: 1 });
    const v = classify([c.up(0), c.up(1), c.down(2), c.up(3)]);
    expect(v.verdict).toBe('minority-lost');
    expect(v).toMatchObject({ votingMembers: 3, healthyVoting: 2, quorumSize: 2 });
    expect(v.summary).toBe('1 of 4 members unreachable: quorum held (2 of 3 voting members healthy, 2 needed)');
  });

  it('does not let a healthy learner make up quorum: 1 of 3 voting healthy + healthy learner is quorum-lost', () => {
    const c = fakeCluster({ voting: 3, learners: 1 });
    const v = classify([c.up(0), c.down(1), c.down(2), c.up(3)]);
    expect(v.verdict).toBe('quorum-lost');
    expect(v).toMatchObject({ votingMembers: 3, healthyVoting: 1, quorumSize: 2 });
    expect(v.summary).toBe('2 of 3 voting members unreachable: quorum lost (1 healthy, 2 needed)');
  });

  it('calls 3 voting + 1 learner, all healthy, "healthy" with 4 members', () => {
    const c = fakeCluster({ voting: 3, learners: 1 });
    const v = classify([c.up(0), c.up(1), c.up(2), c.up(3)]);
    expect(v.verdict).toBe('healthy');
    expect(v.summary).toBe('all 4 members healthy, leader master-1 (term 7)');
    expect(v).toMatchObject({ votingMembers: 3, healthyVoting: 3, quorumSize: 2 });
  });
});

describe('classify: unstarted members', () => {
  const UNSTARTED = IDS[3];

  it('counts a member added but never started as voting: 3 healthy of 4 holds quorum (3 ≥ 3) → minority-lost, with a removal warning', () => {
    const c = fakeCluster({ voting: 3, unstarted: 1 });
    const v = classify([c.up(0), c.up(1), c.up(2)]);
    expect(v.verdict).toBe('minority-lost');
    expect(v).toMatchObject({ votingMembers: 4, healthyVoting: 3, quorumSize: 3 });
    expect(v.summary).toBe('1 of 4 members unstarted: quorum held (3 of 4 voting members healthy, 3 needed)');
    expect(v.members[3]).toEqual({
      id: UNSTARTED,
      name: `(unstarted ${UNSTARTED})`,
      isLearner: false,
      unstarted: true,
      healthy: false,
      reachable: false,
      endpoint: undefined,
      problem: 'added but never started',
    });
    expect(v.evidence).toEqual([`(unstarted ${UNSTARTED}) ${UNSTARTED} (voting member): added but never started`]);
    expect(v.warnings).toEqual([
      `member ${UNSTARTED} was added but never started: start it, or remove it (etcdctl member remove ${UNSTARTED})`,
    ]);
  });

  it('calls 2 healthy + 1 dead + 1 unstarted of 4 voting "quorum-lost" (2 < 3)', () => {
    const c = fakeCluster({ voting: 3, unstarted: 1 });
    const v = classify([c.up(0), c.up(1), c.down(2)]);
    expect(v.verdict).toBe('quorum-lost');
    expect(v).toMatchObject({ votingMembers: 4, healthyVoting: 2, quorumSize: 3, recommendedRunbook: 'restore-quorum' });
    expect(v.summary).toContain('2 of 4 voting members');
    expect(v.summary).toContain('quorum lost (2 healthy, 3 needed)');
    expect(v.warnings).toContain(
      `member ${UNSTARTED} was added but never started: start it, or remove it (etcdctl member remove ${UNSTARTED})`,
    );
  });

  it('calls 2 unstarted of 4 with 2 healthy "quorum-lost" and says they are unstarted', () => {
    const c = fakeCluster({ voting: 2, unstarted: 2 });
    const v = classify([c.up(0), c.up(1)]);
    expect(v.verdict).toBe('quorum-lost');
    expect(v.summary).toBe('2 of 4 voting members unstarted: quorum lost (2 healthy, 3 needed)');
    expect(v.warnings).toHaveLength(2);
  });

  it("names an unstarted member after the inventory's endpoint matched by peer URL, without a stray-endpoint warning", () => {
    const c = fakeCluster({ voting: 3, unstarted: 1 });
    const newNode = c.down(3, { expectedName: 'master-4', expectedPeerURLs: [c.peerURL(3)] });
    const v = classify([c.up(0), c.up(1), c.up(2), newNode]);
    expect(v.verdict).toBe('minority-lost');
    expect(v.members[3]).toMatchObject({
      id: UNSTARTED,
      name: 'master-4',
      unstarted: true,
      endpoint: 'https://10.0.0.4:2379',
      problem: 'added but never started',
    });
    expect(v.warnings).toEqual([
      `member ${UNSTARTED} was added but never started: start it, or remove it (etcdctl member remove ${UNSTARTED})`,
    ]);
  });

  it('does not count an unstarted learner toward quorum', () => {
    const c = fakeCluster({ voting: 3, unstarted: 1, unstartedLearners: true });
    const v = classify([c.up(0), c.up(1), c.up(2)]);
    expect(v.verdict).toBe('minority-lost');
    expect(v).toMatchObject({ votingMembers: 3, healthyVoting: 3, quorumSize: 2 });
    expect(v.members[3]).toMatchObject({ isLearner: true, unstarted: true });
  });
});

describe('classify: split brain', () => {
  it('calls two cluster IDs split brain (one member restored alone as its own cluster)', () => {
    const c = fakeCluster({ voting: 3, leader: 1 });
    const alone: MemberInfo[] = [c.members[0]!];
    const v = classify([
      c.up(0, { clusterId: OTHER_CLUSTER_ID, leaderId: IDS[0], raftTerm: 2, members: alone }),
      c.up(1),
      c.up(2),
    ]);
    expect(v.verdict).toBe('split-brain');
    const expected =
      `2 cluster IDs: ${OTHER_CLUSTER_ID} (master-1 (https://10.0.0.1:2379)); ` +
      `${CLUSTER_ID} (master-2 (https://10.0.0.2:2379), master-3 (https://10.0.0.3:2379))`;
    expect(v.evidence).toEqual([
      expected,
      `side ${OTHER_CLUSTER_ID}: master-1 (1 of 3 members), revision 15022, DB size 20 kB, leader master-1`,
      `side ${CLUSTER_ID}: master-2, master-3 (2 of 3 members), revision 15022, DB size 20 kB, leader master-2`,
    ]);
    expect(v.summary).toBe(`members disagree about the cluster: ${expected}`);
    expect(v.clusterIds).toEqual([OTHER_CLUSTER_ID, CLUSTER_ID]);
    expect(v.recommendedRunbook).toBe('split-brain');
    expect(v.alternatives).toEqual([]);
  });

  it('calls every member restored alone split brain, with each cluster ID and the leaders of the shared term', () => {
    const c = fakeCluster({ voting: 3 });
    const ids = ['1111111111111111', '2222222222222222', '3333333333333333'];
    const v = classify(
      [0, 1, 2].map((i) => c.up(i, { clusterId: ids[i], leaderId: IDS[i], raftTerm: 2, members: [c.members[i]!] })),
    );
    expect(v.verdict).toBe('split-brain');
    expect(v.evidence[0]).toMatch(/^3 cluster IDs: 1111111111111111 \(master-1 /);
    expect(v.evidence).toContain(`3 leaders in raft term 2: ${IDS[0]}, ${IDS[1]}, ${IDS[2]}`);
    expect(v.leaders).toEqual([IDS[0], IDS[1], IDS[2]]);
  });

  it('calls two different leaders in the same raft term split brain even with one cluster ID', () => {
    const c = fakeCluster({ voting: 3, term: 9 });
    const v = classify([c.up(0), c.up(1, { leaderId: IDS[1] }), c.up(2, { leaderId: IDS[1] })]);
    expect(v.verdict).toBe('split-brain');
    expect(v.clusterIds).toEqual([CLUSTER_ID]);
    expect(v.evidence).toEqual([`2 leaders in raft term 9: ${IDS[0]}, ${IDS[1]}`]);
    expect(v.summary).toBe(`members disagree about the cluster: 2 leaders in raft term 9: ${IDS[0]}, ${IDS[1]}`);
  });

  it('calls several endpoints reporting the same member ID split brain (one data dir copied everywhere)', () => {
    const c = fakeCluster({ voting: 3 });
    const copy = { memberId: IDS[0], name: 'master-1', leaderId: IDS[0], members: [c.members[0]!] };
    const v = classify([c.up(0, copy), c.up(1, copy), c.up(2, copy)]);
    expect(v.verdict).toBe('split-brain');
    expect(v.clusterIds).toEqual([CLUSTER_ID]);
    expect(v.leaders).toEqual([IDS[0]]);
    expect(v.evidence).toEqual([
      `3 endpoints claim to be member ${IDS[0]}: https://10.0.0.1:2379, https://10.0.0.2:2379, https://10.0.0.3:2379 (one data dir copied to several nodes?)`,
    ]);
    expect(v.recommendedRunbook).toBe('split-brain');
  });

  it('puts split brain ahead of quorum: two cluster IDs with members down is still split-brain', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0, { clusterId: OTHER_CLUSTER_ID, members: [c.members[0]!] }), c.up(1), c.down(2)]);
    expect(v.verdict).toBe('split-brain');
  });

  it('does not call different leaders in DIFFERENT terms split brain on their own', () => {
    const c = fakeCluster({ voting: 3, term: 8, leader: 1 });
    const v = classify([c.up(0, { leaderId: IDS[0], raftTerm: 7 }), c.up(1), c.up(2)]);
    expect(v.verdict).toBe('healthy');
    expect(v.leaders).toEqual([IDS[0], IDS[1]]);
    expect(v.evidence.join('\n')).not.toMatch(/leaders in raft term/);
  });

  it('ignores what unreachable endpoints claim: a stale cluster ID on a dead probe is not split brain', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1), c.down(2, { clusterId: OTHER_CLUSTER_ID, leaderId: IDS[2] })]);
    expect(v.verdict).toBe('minority-lost');
    expect(v.clusterIds).toEqual([CLUSTER_ID]);
  });
});

describe('classify: unreachable', () => {
  it("calls nothing answering 'unreachable' and lists each endpoint's error as evidence", () => {
    const c = fakeCluster({ voting: 3 });
    const tls = "TLS: the server certificate does not name this endpoint's host";
    const v = classify([c.down(0), c.frozen(1), c.down(2, { error: tls })]);
    expect(v.verdict).toBe('unreachable');
    expect(v.summary).toBe('no endpoint answered (3 of 3 unreachable): check endpoints, certificates and network');
    expect(v.evidence).toEqual([
      `https://10.0.0.1:2379: ${REFUSED}`,
      `https://10.0.0.2:2379: ${FROZEN}`,
      `https://10.0.0.3:2379: ${tls}`,
    ]);
    expect(v.recommendedRunbook).toBeUndefined();
    expect(v.alternatives).toEqual([]);
    expect(v).toMatchObject({ votingMembers: 3, healthyVoting: 0, clusterIds: [], leaders: [] });
    expect(v.warnings).toEqual([]);
  });

  it("says 'unreachable' for an endpoint without an error message", () => {
    const c = fakeCluster({ voting: 1 });
    const v = classify([c.down(0, { error: undefined })]);
    expect(v.verdict).toBe('unreachable');
    expect(v.summary).toBe('no endpoint answered (1 of 1 unreachable): check endpoints, certificates and network');
    expect(v.evidence).toEqual(['https://10.0.0.1:2379: unreachable']);
  });

  it('names unreachable members after the inventory when no member list is available', () => {
    const c = fakeCluster({ voting: 2 });
    const v = classify([c.down(0, { expectedName: 'etcd-a' }), c.down(1)]);
    expect(v.members.map((m) => m.name)).toEqual(['etcd-a', 'https://10.0.0.2:2379']);
  });
});

describe('classify: warnings', () => {
  it('warns about an endpoint that answers but is not in the member list', () => {
    const c = fakeCluster({ voting: 3 });
    const removed = c.up(0, {
      endpoint: 'https://10.0.0.9:2379',
      memberId: 'deadbeefcafe0001',
      name: 'old-master',
      leaderId: undefined,
      healthy: false,
      healthError: NO_LEADER,
    });
    const v = classify([c.up(0), c.up(1), c.up(2), removed]);
    expect(v.verdict).toBe('healthy');
    expect(v.votingMembers).toBe(3);
    expect(v.warnings).toEqual([
      'old-master (https://10.0.0.9:2379) answered but is not in the member list (removed member still running?)',
    ]);
  });

  it('warns about an endpoint that neither answers nor matches any member', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1), c.up(2), c.down(0, { endpoint: 'https://10.0.0.9:2379', expectedName: 'etcd-x' })]);
    expect(v.verdict).toBe('healthy');
    expect(v.warnings).toEqual(['etcd-x (https://10.0.0.9:2379) is not in the member list and does not answer']);
  });

  it('warns once about an alarm other than NOSPACE or CORRUPT, whoever reports it, without changing the verdict', () => {
    const c = fakeCluster({ voting: 3 });
    const alarms = [{ alarm: 'SOMETHING_NEW', memberId: c.id(0) }];
    const v = classify([c.up(0, { alarms }), c.up(1, { alarms }), c.up(2)]);
    expect(v.verdict).toBe('healthy');
    expect(v.alarms).toEqual([]);
    expect(v.warnings).toEqual([`alarm SOMETHING_NEW raised on ${c.id(0)}`]);
  });

  it("passes a member's own status errors on as warnings", () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1, { memberErrors: ['slow fdatasync'] }), c.up(2)]);
    expect(v.warnings).toEqual(['master-2 (https://10.0.0.2:2379): reports "slow fdatasync"']);
  });

  it('labels a warning with the bare endpoint when no name is known', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0, { name: undefined, memberErrors: ['slow fdatasync'] }), c.up(1), c.up(2)]);
    expect(v.warnings).toEqual(['https://10.0.0.1:2379: reports "slow fdatasync"']);
  });
});

describe('classify: matching unreachable endpoints to members', () => {
  it('matches by client URL', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1), c.down(2)]);
    expect(v.members[2]).toMatchObject({ name: 'master-3', endpoint: 'https://10.0.0.3:2379', problem: `unreachable: ${REFUSED}` });
    expect(v.warnings).toEqual([]);
  });

  it('matches by client URL despite a trailing slash', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1), c.down(2, { endpoint: 'https://10.0.0.3:2379/' })]);
    expect(v.members[2]).toMatchObject({ endpoint: 'https://10.0.0.3:2379/', problem: `unreachable: ${REFUSED}` });
    expect(v.warnings).toEqual([]);
  });

  it("matches by the inventory's expected peer URLs when the endpoint address differs from the client URL", () => {
    const c = fakeCluster({ voting: 3 });
    const probe = c.down(2, { endpoint: 'https://master-3.example:2379', expectedPeerURLs: ['https://10.0.0.3:2380/'], error: 'dns lookup failed' });
    const v = classify([c.up(0), c.up(1), probe]);
    expect(v.members[2]).toMatchObject({ name: 'master-3', endpoint: 'https://master-3.example:2379', problem: 'unreachable: dns lookup failed' });
    expect(v.warnings).toEqual([]);
  });

  it("matches by the inventory's expected name as a last resort", () => {
    const c = fakeCluster({ voting: 3 });
    const probe = c.down(2, { endpoint: 'https://etcd-c.internal:2379', expectedName: 'master-3', error: 'no route to host' });
    const v = classify([c.up(0), c.up(1), probe]);
    expect(v.members[2]).toMatchObject({ name: 'master-3', endpoint: 'https://etcd-c.internal:2379', problem: 'unreachable: no route to host' });
    expect(v.warnings).toEqual([]);
  });

  it('leaves a member it cannot match as "no endpoint probed for it" and warns about the stray endpoint', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0), c.up(1), c.down(2, { endpoint: 'https://elsewhere:2379' })]);
    expect(v.verdict).toBe('minority-lost');
    expect(v.members[2]).toMatchObject({ name: 'master-3', reachable: false, endpoint: 'https://10.0.0.3:2379', problem: 'no endpoint probed for it' });
    expect(v.warnings).toEqual(['https://elsewhere:2379 is not in the member list and does not answer']);
  });
});

describe('classify: whose member list counts', () => {
  it("takes the member list from the leader when members disagree, whatever the probe order", () => {
    const c = fakeCluster({ voting: 3 });
    const stale: MemberInfo[] = [
      ...c.members,
      { id: 'deadbeefcafe0001', name: 'old-master', peerURLs: ['https://10.0.0.9:2380'], clientURLs: ['https://10.0.0.9:2379'], isLearner: false },
    ];
    const v = classify([c.up(2, { members: stale, raftIndex: 99_999 }), c.up(1), c.up(0)]);
    expect(v.verdict).toBe('healthy');
    expect(v.votingMembers).toBe(3);
    expect(v.members.map((m) => m.name)).toEqual(['master-1', 'master-2', 'master-3']);
  });

  it('without a healthy leader, takes the member list from the member with the newest raft term', () => {
    const c = fakeCluster({ voting: 5 });
    const older: MemberInfo[] = c.members.slice(0, 3);
    const v = classify([
      c.stranded(1, { raftTerm: 11, members: older }),
      c.stranded(0, { raftTerm: 12 }),
      c.down(2),
      c.down(3),
      c.down(4),
    ]);
    expect(v.verdict).toBe('quorum-lost');
    expect(v.votingMembers).toBe(5);
    expect(v.quorumSize).toBe(3);
  });

  it('breaks a raft-term tie by raft index', () => {
    const c = fakeCluster({ voting: 5 });
    const older: MemberInfo[] = c.members.slice(0, 3);
    const v = classify([c.stranded(1, { members: older, raftIndex: 10 }), c.stranded(0, { raftIndex: 20 }), c.down(2), c.down(3), c.down(4)]);
    expect(v.votingMembers).toBe(5);
  });

  it('without any member list, counts each probed endpoint as one voting member', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify([c.up(0, { members: undefined }), c.up(1, { members: undefined }), c.down(2, { expectedName: 'master-3' })]);
    expect(v.verdict).toBe('minority-lost');
    expect(v).toMatchObject({ votingMembers: 3, healthyVoting: 2, quorumSize: 2 });
    expect(v.members.map((m) => [m.name, m.problem])).toEqual([
      ['master-1', undefined],
      ['master-2', undefined],
      ['master-3', `unreachable: ${REFUSED}`],
    ]);
  });
});

describe('classify: alarms', () => {
  // etcd keeps alarms cluster-wide: every member's status lists every member's alarms
  const everywhere = (c: ReturnType<typeof fakeCluster>, n: number, alarms: Array<{ alarm: string; memberId?: string }>) =>
    Array.from({ length: n }, (_, i) => c.up(i, { alarms }));

  it('calls a cluster with every member healthy but NOSPACE raised "alarm", never healthy, and names the members', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify(everywhere(c, 3, [{ alarm: 'NOSPACE', memberId: c.id(0) }, { alarm: 'NOSPACE', memberId: c.id(2) }]));
    expect(v.verdict).toBe('alarm');
    expect(v.summary).toBe('alarm NOSPACE on master-1, master-3 (writes refused: the database reached its space quota): quorum held (3 of 3 voting members healthy, 2 needed)');
    expect(v.alarms.map((a) => [a.alarm, a.member, a.memberId])).toEqual([
      ['NOSPACE', 'master-1', c.id(0)],
      ['NOSPACE', 'master-3', c.id(2)],
    ]);
    expect(v.evidence).toHaveLength(1);
    expect(v.evidence[0]).toMatch(new RegExp(`^NOSPACE raised on master-1 \\(${c.id(0)}\\), master-3 \\(${c.id(2)}\\): .*etcd refuses every write`));
    // in the verdict, not repeated among the warnings
    expect(v.warnings).toEqual([]);
  });

  it('proposes reclaim-space for NOSPACE, with backup beside it', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify(everywhere(c, 3, [{ alarm: 'NOSPACE', memberId: c.id(1) }]));
    expect(v.recommendedRunbook).toBe('reclaim-space');
    expect(v.alternatives).toEqual(['backup']);
    expect(v.advice).toBeUndefined();
  });

  it('names the CORRUPT member and proposes replacing it from the healthy majority, never a restore from it', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify(everywhere(c, 3, [{ alarm: 'CORRUPT', memberId: c.id(1) }]));
    expect(v.verdict).toBe('alarm');
    expect(v.summary).toMatch(/^alarm CORRUPT on master-2 \(/);
    expect(v.evidence[0]).toMatch(/^CORRUPT raised on master-2 .*disagrees with the other members'.*never take a snapshot or restore from it/);
    expect(v.recommendedRunbook).toBe('replace-member');
    expect(v.alternatives).toEqual([]);
    expect(v.advice).toMatch(/^replace master-2 from the healthy majority \(run replace-member --set member=master-2\), never restore from its data/);
  });

  it('with NOSPACE and CORRUPT both active, names both and proposes replacing the corrupt member', () => {
    const c = fakeCluster({ voting: 5 });
    const v = classify(everywhere(c, 5, [{ alarm: 'NOSPACE', memberId: c.id(0) }, { alarm: 'CORRUPT', memberId: c.id(4) }]));
    expect(v.verdict).toBe('alarm');
    expect(v.summary).toMatch(/NOSPACE on master-1 .*; CORRUPT on master-5 /);
    expect(v.recommendedRunbook).toBe('replace-member');
  });

  it('counts an alarm once however many members report it, and also when only one member answers with it', () => {
    const c = fakeCluster({ voting: 3 });
    const alarms = [{ alarm: 'NOSPACE', memberId: c.id(2) }];
    const v = classify([c.up(0, { alarms }), c.up(1), c.up(2, { alarms })]);
    expect(v.alarms).toHaveLength(1);
    expect(v.verdict).toBe('alarm');
  });

  it('names an alarm by member ID when the member list does not name the member, and says it is no longer listed', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify(everywhere(c, 3, [{ alarm: 'NOSPACE', memberId: 'abc123' }]));
    expect(v.alarms[0]).toMatchObject({ member: 'abc123', removed: true });
    expect(v.summary).toMatch(/^alarm NOSPACE on abc123 /);
    expect(v.evidence[0]).toMatch(/^NOSPACE raised on abc123 \(no longer in the member list\): /);
    expect(v.recommendedRunbook).toBe('reclaim-space');
  });

  it('a CORRUPT member already replaced (its ID gone from the member list): still an alarm, no runbook, says to disarm it', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify(everywhere(c, 3, [{ alarm: 'CORRUPT', memberId: 'f492e0aa3a8d6d36' }]));
    expect(v.verdict).toBe('alarm');
    expect(v.recommendedRunbook).toBeUndefined();
    expect(v.advice).toBe('the alarm was raised on f492e0aa3a8d6d36, no longer a member (replaced): etcd refuses writes until it is disarmed: etcdctl alarm disarm');
  });

  it('a replaced CORRUPT member beside one still listed: replace the listed one', () => {
    const c = fakeCluster({ voting: 3 });
    const v = classify(everywhere(c, 3, [{ alarm: 'CORRUPT', memberId: 'f492e0aa3a8d6d36' }, { alarm: 'CORRUPT', memberId: c.id(1) }]));
    expect(v.recommendedRunbook).toBe('replace-member');
    expect(v.advice).toMatch(/^replace master-2 /);
  });

  it('wins over a lost minority, whose members stay in the evidence, with replace-member among the alternatives', () => {
    const c = fakeCluster({ voting: 3 });
    const alarms = [{ alarm: 'NOSPACE', memberId: c.id(0) }];
    const v = classify([c.up(0, { alarms }), c.up(1, { alarms }), c.down(2)]);
    expect(v.verdict).toBe('alarm');
    expect(v.summary).toMatch(/quorum held \(2 of 3 voting members healthy, 2 needed\)/);
    expect(v.evidence.slice(1)).toEqual([`master-3 ${c.id(2)} (voting member, https://10.0.0.3:2379): unreachable: ${REFUSED}`]);
    expect(v.alternatives).toEqual(['backup', 'replace-member']);
  });

  it('loses to a lost quorum, and the alarm is still named among the warnings', () => {
    const c = fakeCluster({ voting: 3 });
    const alarms = [{ alarm: 'NOSPACE', memberId: c.id(0) }];
    const v = classify([c.up(0, { alarms }), c.down(1), c.down(2)]);
    expect(v.verdict).toBe('quorum-lost');
    expect(v.recommendedRunbook).toBe('restore-quorum');
    expect(v.alarms).toHaveLength(1);
    expect(v.warnings[0]).toMatch(/^alarm NOSPACE raised on master-1 \(/);
  });

  it('loses to split brain, and the alarm is still named among the warnings', () => {
    const c = fakeCluster({ voting: 3 });
    const alarms = [{ alarm: 'CORRUPT', memberId: c.id(0) }];
    const v = classify([c.up(0, { alarms }), c.up(1, { clusterId: OTHER_CLUSTER_ID }), c.up(2)]);
    expect(v.verdict).toBe('split-brain');
    expect(v.warnings[0]).toMatch(/^alarm CORRUPT raised on master-1 /);
  });

  it('is not raised by an unreachable endpoint (it reports no alarms) nor by a learner-only alarm-free cluster', () => {
    const c = fakeCluster({ voting: 3, learners: 1 });
    const v = classify([c.up(0), c.up(1), c.up(2), c.up(3)]);
    expect(v.verdict).toBe('healthy');
    expect(v.alarms).toEqual([]);
  });
});
