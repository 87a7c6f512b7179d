import type { ProbeTarget } from '../cluster/probe.js';
import { loadClientTls, type ClientTls } from '../cluster/tls.js';
import { keyFileWarnings } from '../inventory/key-permissions.js';
import type { ClusterConfig } from '../inventory/schema.js';
import { resolveClusterConfig } from '../inventory/resolve.js';
import { OperatorError } from '../util/errors.js';
import { parseDuration } from './connection-flags.js';

/** What a cluster-facing command needs before it can probe: config, targets, TLS. */
export interface ClusterTarget {
  config: ClusterConfig;
  targets: ProbeTarget[];
  tls?: ClientTls;
  deadlineMs?: number;
}

export interface ConnectionValues {
  endpoints?: string;
  cacert?: string;
  cert?: string;
  key?: string;
  inventory?: string;
  timeout?: string;
}

export async function clusterTargetFrom(values: ConnectionValues, env: NodeJS.ProcessEnv = process.env): Promise<ClusterTarget> {
  const config = await resolveClusterConfig({
    inventoryPath: values.inventory,
    flags: { endpoints: values.endpoints, cacert: values.cacert, cert: values.cert, key: values.key },
    env,
    discoveryRoot: env.ETCD_RUNBOOK_DISCOVERY_ROOT,
    verifyTlsContents: true,
  });
  for (const warning of await keyFileWarnings(config.inventory)) process.stderr.write(`etcd-runbook: ${warning}\n`);
  const targets = probeTargets(config);
  let deadlineMs: number | undefined;
  try {
    deadlineMs = parseDuration(values.timeout, '--timeout');
  } catch (err) {
    throw new OperatorError((err as Error).message);
  }
  const tls = await loadClientTls(config.inventory.tls ?? {});
  return { config, targets, tls, deadlineMs };
}

/** One probe per endpoint, carrying the inventory's name and peer URLs for it. */
export function probeTargets(config: ClusterConfig): ProbeTarget[] {
  return config.endpoints.map((endpoint) => {
    const member = config.inventory.members.find((m) => m.clientURLs.includes(endpoint));
    return member ? { endpoint, expectedName: member.name, expectedPeerURLs: member.peerURLs } : { endpoint };
  });
}
