import { describe, expect, it } from 'vitest';
import { conditionMet } from '../../src/engine/wait-conditions.js';
import { OTHER_CLUSTER_ID, fakeCluster, reportOf } from '../helpers/probes.js';

describe('wait conditions', () => {
  const three = fakeCluster({ voting: 3 });

  it('cluster-healthy is met when every member is healthy', () => {
    expect(conditionMet('cluster-healthy', {}, reportOf([three.up(0), three.up(1), three.up(2)])).met).toBe(true);
  });

  it('cluster-healthy is not met with a member down, and says the verdict', () => {
    const result = conditionMet('cluster-healthy', {}, reportOf([three.up(0), three.up(1), three.down(2)]));
    expect(result).toMatchObject({ met: false, detail: expect.stringMatching(/^minority-lost: /) });
  });

  it('member-healthy waits for the named member and says what is wrong with it', () => {
    const down = conditionMet('member-healthy', { member: 'master-3' }, reportOf([three.up(0), three.up(1), three.down(2)]));
    expect(down).toMatchObject({ met: false, detail: expect.stringContaining('master-3: unreachable') });
    expect(conditionMet('member-healthy', { member: 'master-3' }, reportOf([three.up(0), three.up(1), three.up(2)])).met).toBe(true);
  });

  it('member-healthy accepts a hex member ID', () => {
    expect(conditionMet('member-healthy', { member: three.id(1) }, reportOf([three.up(0), three.up(1), three.up(2)])).met).toBe(true);
  });

  it('member-healthy is not met for a member not in the list yet', () => {
    expect(conditionMet('member-healthy', { member: 'master-9' }, reportOf([three.up(0)])).detail).toBe('master-9 is not in the member list yet');
  });

  it('member-in-sync is met when the learner trails the leader by at most maxLag entries', () => {
    const c = fakeCluster({ voting: 3, learners: 1 });
    const report = (applied: number) => reportOf([c.up(0, { raftAppliedIndex: 1000 }), c.up(1), c.up(2), c.up(3, { raftAppliedIndex: applied })]);
    expect(conditionMet('member-in-sync', { member: 'learner-1', maxLag: 50 }, report(960)).met).toBe(true);
    const behind = conditionMet('member-in-sync', { member: 'learner-1', maxLag: 50 }, report(900));
    expect(behind).toMatchObject({ met: false, detail: expect.stringContaining('100 entries behind') });
  });

  it('member-in-sync is not met while the learner does not answer', () => {
    const c = fakeCluster({ voting: 3, learners: 1 });
    expect(conditionMet('member-in-sync', { member: 'learner-1' }, reportOf([c.up(0), c.up(1), c.up(2), c.down(3)])).met).toBe(false);
  });

  it('quorum is met with one of three down and not with two down', () => {
    expect(conditionMet('quorum', {}, reportOf([three.up(0), three.up(1), three.down(2)])).met).toBe(true);
    const lost = conditionMet('quorum', {}, reportOf([three.stranded(0), three.down(1), three.down(2)]));
    expect(lost).toMatchObject({ met: false, detail: '0 of 3 voting members healthy, quorum needs 2 (quorum-lost)' });
  });

  it('member-rejoined is met once the member is healthy and voting with quorum held, naming members still down without waiting for them', () => {
    const five = fakeCluster({ voting: 5 });
    const twoDown = conditionMet('member-rejoined', { member: 'master-3' }, reportOf([five.up(0), five.up(1), five.up(2), five.down(3), five.up(4)]));
    expect(twoDown).toEqual({ met: true, detail: 'master-3 is healthy and voting; 4 of 5 voting members healthy, quorum needs 3; master-4 is still down: run replace-member again for it' });
    expect(conditionMet('member-rejoined', { member: 'master-3' }, reportOf([five.up(0), five.up(1), five.up(2), five.up(3), five.up(4)]))).toEqual({
      met: true,
      detail: 'master-3 is healthy and voting; 5 of 5 voting members healthy, quorum needs 3',
    });
    // members the run removed while down: named with how to add each back (only once absent from the list)
    const removed = conditionMet('member-rejoined', { member: 'master-2', removed: 'master-4,master-5' }, reportOf([five.up(0), five.up(1), five.up(2), five.down(3), five.up(4)]));
    expect(removed.detail).toBe(
      'master-2 is healthy and voting; 4 of 5 voting members healthy, quorum needs 3; master-4 is still down: run replace-member again for it',
    );
    const three = fakeCluster({ voting: 3 });
    expect(conditionMet('member-rejoined', { member: 'master-2', removed: 'master-4' }, reportOf([three.up(0), three.up(1), three.up(2)])).detail).toBe(
      'master-2 is healthy and voting; 3 of 3 voting members healthy, quorum needs 2; master-4 was removed from the member list while down: run replace-member --set member=master-4 --override-applies-to replace-member to add it back',
    );
    expect(conditionMet('member-rejoined', { member: 'master-2', removed: '' }, reportOf([three.up(0), three.up(1), three.up(2)])).detail).not.toMatch(/removed/);
    // the member itself down: not met
    expect(conditionMet('member-rejoined', { member: 'master-3' }, reportOf([five.up(0), five.up(1), five.down(2), five.down(3), five.up(4)])).met).toBe(false);
  });

  it('member-rejoined is not met while the member is a learner, or without quorum', () => {
    const c = fakeCluster({ voting: 3, learners: 1 });
    const learner = conditionMet('member-rejoined', { member: 'learner-1' }, reportOf([c.up(0), c.up(1), c.up(2), c.up(3)]));
    expect(learner).toEqual({ met: false, detail: 'learner-1 is healthy but still a learner: it does not vote yet' });
    const lost = conditionMet('member-rejoined', { member: 'master-1' }, reportOf([three.stranded(0), three.down(1), three.down(2)]));
    expect(lost.met).toBe(false);
    expect(conditionMet('member-rejoined', { member: 'master-9' }, reportOf([three.up(0)])).detail).toBe('master-9 is not in the member list yet');
  });

  it('single-cluster-id is met with one cluster ID and one leader', () => {
    expect(conditionMet('single-cluster-id', {}, reportOf([three.up(0), three.up(1), three.up(2)])).met).toBe(true);
  });

  it('single-cluster-id is not met when three restored members each lead their own cluster (kubeasz bug)', () => {
    const a = fakeCluster({ voting: 1 });
    const b = fakeCluster({ voting: 2, leader: 1, clusterId: OTHER_CLUSTER_ID });
    const result = conditionMet('single-cluster-id', {}, reportOf([a.up(0), b.up(1)]));
    expect(result.met).toBe(false);
    expect(result.detail).toMatch(/2 cluster IDs .*; 2 leaders/);
  });

  it('single-cluster-id is not met while a member knows no leader', () => {
    const result = conditionMet('single-cluster-id', {}, reportOf([three.up(0), three.up(1), three.stranded(2)]));
    expect(result).toMatchObject({ met: false, detail: 'no leader known by master-3' });
  });

  it('members-stopped waits until none of the named members answers', () => {
    expect(conditionMet('members-stopped', { members: 'master-2,master-3' }, reportOf([three.up(0), three.up(1), three.down(2)])))
      .toMatchObject({ met: false, detail: 'still answering: master-2' });
    expect(conditionMet('members-stopped', { members: 'master-2 master-3' }, reportOf([three.up(0), three.down(1), three.down(2)])).met).toBe(true);
  });

  it('members-stopped does not take a frozen member (port open, nothing answering) for a stopped one: it still holds its data dir', () => {
    expect(conditionMet('members-stopped', { members: 'master-2 master-3' }, reportOf([three.up(0), three.down(1), three.frozen(2)]))).toMatchObject({
      met: false,
      detail: 'not answering but still listening (frozen or shutting down): master-3',
    });
  });

  it('members-stopped waits for the peer port too: etcd closes it after the client port as it shuts down', () => {
    const report = reportOf([three.up(0), three.down(1), three.down(2)]);
    expect(conditionMet('members-stopped', { members: 'master-2 master-3' }, report, { peerListening: ['master-3'] })).toMatchObject({
      met: false,
      detail: 'client port closed, peer port still listening (shutting down): master-3',
    });
    expect(conditionMet('members-stopped', { members: 'master-2 master-3' }, report, { peerListening: ['master-1'] }).met).toBe(true);
  });

  it('throws at once when a required parameter is missing', () => {
    expect(() => conditionMet('member-healthy', {}, reportOf([three.up(0)]))).toThrow('wait member-healthy needs the parameter "member"');
  });
});
