import { describe, expect, it } from 'vitest';
import { formatInitialCluster, parseInitialCluster } from '../../src/inventory/initial-cluster.js';
import { thrownMessage } from './inventory-helpers.js';

describe('parseInitialCluster', () => {
  it('reads name=url pairs in the order they are listed', () => {
    expect(
      parseInitialCluster('etcd1=https://10.23.17.200:2380,etcd2=https://10.23.207.11:2380,etcd3=https://10.23.97.19:2380'),
    ).toEqual([
      { name: 'etcd1', peerURLs: ['https://10.23.17.200:2380'] },
      { name: 'etcd2', peerURLs: ['https://10.23.207.11:2380'] },
      { name: 'etcd3', peerURLs: ['https://10.23.97.19:2380'] },
    ]);
  });

  it('collects several peer URLs of a name listed twice', () => {
    expect(parseInitialCluster('a=https://10.0.0.1:2380,b=https://10.0.0.2:2380,a=https://[fd00::1]:2380')).toEqual([
      { name: 'a', peerURLs: ['https://10.0.0.1:2380', 'https://[fd00::1]:2380'] },
      { name: 'b', peerURLs: ['https://10.0.0.2:2380'] },
    ]);
  });

  it('tolerates spaces around entries, around "=", and a trailing comma', () => {
    expect(parseInitialCluster(' a = https://10.0.0.1:2380 ,\n b=https://10.0.0.2:2380, ')).toEqual([
      { name: 'a', peerURLs: ['https://10.0.0.1:2380'] },
      { name: 'b', peerURLs: ['https://10.0.0.2:2380'] },
    ]);
  });

  it('keeps names with inner spaces, shell metacharacters and unicode intact', () => {
    const names = ['master one', "m;rm -rf /'$(x)`y`", 'узел-1', '主节点'];
    const text = names.map((name, index) => `${name}=https://10.0.0.${index + 1}:2380`).join(',');
    expect(parseInitialCluster(text).map((member) => member.name)).toEqual(names);
  });

  it('names the entry that has no "="', () => {
    expect(thrownMessage(() => parseInitialCluster('a=https://10.0.0.1:2380,b https://10.0.0.2:2380'))).toBe(
      '--initial-cluster: entry "b https://10.0.0.2:2380" has no "=": expected name=https://host:2380',
    );
  });

  it('names the entry whose peer URL is not a URL, using the given source', () => {
    expect(thrownMessage(() => parseInitialCluster('a=10.0.0.1:2380', 'etcd.conf: ETCD_INITIAL_CLUSTER'))).toBe(
      'etcd.conf: ETCD_INITIAL_CLUSTER: entry "a=10.0.0.1:2380": peer URL must be an http:// or https:// URL with a host, e.g. https://10.0.0.1:2380',
    );
  });

  it('refuses an entry without a name', () => {
    expect(thrownMessage(() => parseInitialCluster('=https://10.0.0.1:2380'))).toBe(
      '--initial-cluster: entry "=https://10.0.0.1:2380" has no member name before "="',
    );
  });

  it('refuses an empty value', () => {
    expect(thrownMessage(() => parseInitialCluster(' , '))).toBe('--initial-cluster: is empty: expected name=https://host:2380,...');
  });
});

describe('formatInitialCluster', () => {
  it('writes one name=url per peer URL and reads back the same members', () => {
    const members = [
      { name: 'master one', peerURLs: ['https://10.0.0.1:2380', 'https://10.0.1.1:2380'] },
      { name: '主节点', peerURLs: ['https://10.0.0.2:2380'] },
    ];
    const text = formatInitialCluster(members);
    expect(text).toBe('master one=https://10.0.0.1:2380,master one=https://10.0.1.1:2380,主节点=https://10.0.0.2:2380');
    expect(parseInitialCluster(text)).toEqual(members);
  });

  it('refuses a name etcd would split', () => {
    expect(thrownMessage(() => formatInitialCluster([{ name: 'a,b', peerURLs: ['https://10.0.0.1:2380'] }]))).toBe(
      'member name "a,b" contains "," or "=": it cannot appear in --initial-cluster',
    );
  });
});
