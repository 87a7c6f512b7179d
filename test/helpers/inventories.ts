import type { Inventory, InventoryNode } from '../../src/inventory/schema.js';

/**
 * The three-master inventory the render and plan unit tests share: m1 on
 * this machine (local), m2 and m3 at 10.0.0.2 and .3, the cluster's TLS
 * files under /etc/etcd. Each test gives what differs: the node's layout
 * and paths by member number.
 */
export function threeMasters(node: (i: '1' | '2' | '3') => Omit<InventoryNode, 'host'>): Inventory {
  return {
    cluster: { name: 'prod', token: 'etcd-cluster-0' },
    tls: { cacert: '/etc/etcd/ca.pem', cert: '/etc/etcd/client.pem', key: '/etc/etcd/client-key.pem' },
    members: (['1', '2', '3'] as const).map((i) => ({
      name: `m${i}`,
      peerURLs: [`https://10.0.0.${i}:2380`],
      clientURLs: [`https://10.0.0.${i}:2379`],
      node: { host: i === '1' ? 'local' : `10.0.0.${i}`, ...node(i) },
    })),
  };
}
