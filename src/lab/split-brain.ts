import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EtcdClusterClient } from '../cluster/client.js';
import type { LabCluster, LabMember } from './cluster.js';
import { NODE_PATHS } from './layouts.js';
import type { LabNode } from './node/node.js';

/** Where the split's snapshot waits in each node before it is restored. */
const SNAPSHOT_IN_NODE = '/var/tmp/split-brain.db';

/**
 * A running lab split into independent clusters, as an operator who
 * restored each member on its own leaves a cluster: one snapshot of the
 * cluster, then every member stopped and restored from it with the
 * initial-cluster of its group only (default: each member alone) and a
 * token of its group's, its old data dir moved aside. Each group starts as
 * a cluster of its own, with its own cluster ID and all the data the
 * cluster had: a split brain with the same keys on every side. (A lab can also
 * start split: LabOptions.independent.)
 */
export async function splitIntoClusters(lab: LabCluster, groups: string[][] = lab.members.map((m) => [m.name])): Promise<void> {
  const snapshot = join(lab.dir, `split-brain-${Date.now()}.db`);
  const client = new EtcdClusterClient(lab.endpoints, await lab.clientTls());
  try {
    await client.snapshotSave(snapshot);
  } finally {
    await client.close();
  }
  const bytes = await readFile(snapshot);
  for (const member of lab.members) await lab.stop(member.name);
  const token = `lab-split-${Date.now()}`;
  for (const member of lab.members) {
    const group = groups.find((g) => g.includes(member.name)) ?? [member.name];
    const initialCluster = lab.members.filter((m) => group.includes(m.name)).map((m) => `${m.name}=${m.peerURL}`).join(',');
    const groupToken = `${token}-${group.join('-')}`;
    await restoreAlone(member, member.node, bytes, initialCluster, groupToken);
    const env = await lab.readEnvFile(member.name);
    await lab.writeEnvFile(member.name, { ...env, ETCD_INITIAL_CLUSTER: initialCluster, ETCD_INITIAL_CLUSTER_STATE: 'new', ETCD_INITIAL_CLUSTER_TOKEN: groupToken });
  }
  // a group of several needs its members up together for a quorum: start all, then wait
  for (const member of lab.members) await lab.startMember(member.name);
  await lab.waitHealthy(30_000, 'each');
}

/**
 * The member's data dir moved aside and restored from the snapshot with the
 * node's own restore tool (etcdutl from 3.5, etcdctl on 3.4), as one member
 * of the cluster `initialCluster` names.
 */
async function restoreAlone(member: LabMember, node: LabNode, snapshot: Buffer, initialCluster: string, token: string): Promise<void> {
  await node.writeFile(SNAPSHOT_IN_NODE, snapshot, 0o600);
  const dataDir = NODE_PATHS.dataDir;
  const flags = ['--name', member.name, '--initial-cluster', initialCluster, '--initial-cluster-token', token, '--initial-advertise-peer-urls', member.peerURL, '--data-dir', dataDir];
  const script = [
    'set -e',
    'mv -- "$1" "$1.before-split-$(date +%s%N)"',
    'shift',
    'if command -v etcdutl >/dev/null; then etcdutl snapshot restore "$@"; else ETCDCTL_API=3 etcdctl snapshot restore "$@"; fi',
    `rm -f -- ${SNAPSHOT_IN_NODE}`,
  ].join('\n');
  const restored = await node.exec(['/bin/sh', '-c', script, 'sh', dataDir, SNAPSHOT_IN_NODE, ...flags], { timeoutMs: 60_000 });
  if (restored.exitCode !== 0) throw new Error(`${member.name}: restoring it alone from the split's snapshot failed (exit ${restored.exitCode}): ${restored.stderr.trim()}`);
}
