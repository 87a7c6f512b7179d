import { describe, expect, it } from 'vitest';
import { configFromFlags } from '../../src/inventory/flags.js';

describe('configFromFlags', () => {
  it('reads the ETCDCTL_* environment when no flags are given', () => {
    expect(
      configFromFlags(
        {},
        {
          ETCDCTL_ENDPOINTS: '10.23.17.200:2379,10.23.207.11:2379',
          ETCDCTL_CACERT: '/etc/kubernetes/ssl/ca.pem',
          ETCDCTL_CERT: '/etc/kubernetes/ssl/etcd.pem',
          ETCDCTL_KEY: '/etc/kubernetes/ssl/etcd-key.pem',
        },
      ),
    ).toEqual({
      endpoints: { value: ['10.23.17.200:2379', '10.23.207.11:2379'], from: 'ETCDCTL_ENDPOINTS' },
      cacert: { value: '/etc/kubernetes/ssl/ca.pem', from: 'ETCDCTL_CACERT' },
      cert: { value: '/etc/kubernetes/ssl/etcd.pem', from: 'ETCDCTL_CERT' },
      key: { value: '/etc/kubernetes/ssl/etcd-key.pem', from: 'ETCDCTL_KEY' },
    });
  });

  it('lets each flag win over its variable, field by field', () => {
    const config = configFromFlags(
      { endpoints: 'https://10.0.0.1:2379', cacert: '/flag/ca.pem' },
      { ETCDCTL_ENDPOINTS: 'https://10.9.9.9:2379', ETCDCTL_CACERT: '/env/ca.pem', ETCDCTL_CERT: '/env/cert.pem' },
    );
    expect(config.endpoints).toEqual({ value: ['https://10.0.0.1:2379'], from: '--endpoints' });
    expect(config.cacert).toEqual({ value: '/flag/ca.pem', from: '--cacert' });
    expect(config.cert).toEqual({ value: '/env/cert.pem', from: 'ETCDCTL_CERT' });
    expect(config.key).toBeUndefined();
  });

  it('splits --endpoints on commas and forgives spaces and empty entries', () => {
    expect(configFromFlags({ endpoints: ' https://a:2379 , ,https://b:2379,' }, {}).endpoints?.value).toEqual([
      'https://a:2379',
      'https://b:2379',
    ]);
  });

  it('treats empty values as not given', () => {
    expect(configFromFlags({ cacert: '' }, { ETCDCTL_CACERT: '  ', ETCDCTL_ENDPOINTS: '' })).toEqual({});
  });
});
