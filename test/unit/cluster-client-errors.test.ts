import { describe, expect, it } from 'vitest';
import { explainEtcdError, isEndpointFailure, isNotYet } from '../../src/cluster/client.js';

describe('etcd refusals', () => {
  it('waits out the refusals that pass by themselves', () => {
    expect(isNotYet(new Error('14 UNAVAILABLE: etcdserver: unhealthy cluster'))).toBe(true);
    expect(isNotYet(new Error('etcdserver: can only promote a learner member which is in sync with leader'))).toBe(true);
  });

  it('gives up at once on the ones that do not', () => {
    expect(isNotYet(new Error('etcdserver: re-configuration failed due to not enough started members'))).toBe(false);
    expect(isNotYet(new Error('etcdserver: too many learner members in cluster'))).toBe(false);
    expect(isNotYet(new Error('etcdserver: member not found'))).toBe(false);
  });

  it('treats an answer from etcd as final, a dead endpoint as a reason to try the next', () => {
    expect(isEndpointFailure(new Error('14 UNAVAILABLE: etcdserver: unhealthy cluster'))).toBe(false);
    expect(isEndpointFailure(new Error('connect ECONNREFUSED 127.0.0.11:2379'))).toBe(true);
    expect(explainEtcdError(new Error('etcdserver: unhealthy cluster'))).toMatch(/connected to every voting member for 5 s/);
  });
});
