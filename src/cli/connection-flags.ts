import type { ParseArgsConfig } from 'node:util';

/**
 * The flags every cluster-facing command shares, named as etcdctl names them,
 * defined once (STYLE: flags defined once and shared).
 */
export const connectionFlags = {
  endpoints: { type: 'string' },
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  inventory: { type: 'string' },
  /** per-endpoint probe deadline, e.g. 1200ms or 2s */
  timeout: { type: 'string' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const connectionFlagsHelp = `Connection (as etcdctl; flags win over ETCDCTL_ENDPOINTS/CACERT/CERT/KEY):
  --endpoints URLS     comma-separated client URLs
  --cacert FILE        CA that signed the members' server certs
  --cert FILE          client certificate
  --key FILE           client key
  --inventory FILE     cluster description (YAML; 'etcd-runbook inventory'
                       prints one); without it and without --endpoints, the
                       local kubeadm manifest or systemd unit is read
  --timeout DURATION   per-endpoint probe deadline (default 1200ms)`;
