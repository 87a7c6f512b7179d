import type { ProbeTarget } from '../cluster/probe.js';
import { loadClientTls, type ClientTls } from '../cluster/tls.js';
import type { ClusterReport } from '../cluster/types.js';
import { inferOtherNodes, withNodesFrom } from '../inventory/infer-nodes.js';
import { keyFileWarnings } from '../inventory/key-permissions.js';
import { withLiveMembers } from '../inventory/live-members.js';
import { resolveClusterConfig } from '../inventory/resolve.js';
import type { ClusterConfig } from '../inventory/schema.js';
import { parseDuration } from '../util/duration.js';
import { OperatorError } from '../util/errors.js';

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

/**
 * The target as the cluster itself describes it, once probed: names and
 * URLs that were guessed (from endpoints, or another master's
 * --initial-cluster) come from the live member list, members the
 * description lacked are added, and on a discovered master their nodes are
 * inferred like the others'. An inventory file is taken as written.
 */
export function liveTarget(target: ClusterTarget, report: ClusterReport): ClusterTarget {
  const { config } = target;
  if (config.from === undefined || config.from === 'file') return target;
  const live = withLiveMembers(config.inventory, report.endpoints, { addMissing: true, dropUnlisted: config.from === 'discovery' });
  const located = config.discovered ? withNodesFrom(live.inventory, config.discovered) : { inventory: live.inventory, lent: [] };
  const inventory = config.from === 'discovery' ? inferOtherNodes(located.inventory).inventory : located.inventory;
  const endpoints = config.endpoints.map((endpoint) => renamedEndpoint(endpoint, config.inventory, inventory));
  const lent = located.lent.length > 0 ? [`nodes of ${located.lent.join(', ')} as this master's discovery describes them (same peer URLs)`] : [];
  const next: ClusterConfig = { ...config, inventory, endpoints, sources: [...config.sources, ...live.notes, ...lent] };
  return { ...target, config: next, targets: probeTargets(next) };
}

/** A probed endpoint that was a member's guessed client URL follows the member to its real one. */
function renamedEndpoint(endpoint: string, before: ClusterConfig['inventory'], after: ClusterConfig['inventory']): string {
  const index = before.members.findIndex((member) => member.clientURLs[0] === endpoint);
  const now = index < 0 ? undefined : after.members[index]?.clientURLs[0];
  return now ?? endpoint;
}
