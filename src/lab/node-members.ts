import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperatorError } from '../util/errors.js';
import { shellQuote } from '../util/shell.js';
import { etcdBinDir, type EtcdVersion } from './etcd-versions.js';
import { NODE_PATHS, systemdNodeFiles, type ClusterShape, type NodeFile, type NodeMember } from './layouts.js';
import { bootNode, nsenterArgs, type LabNode, type NodeBind } from './node/node.js';
import { createNodeSshKeys, writeKnownHosts, type NodeSshKeys } from './node/sshd.js';
import type { LabPki, MemberCert } from './pki.js';
import type { Slot } from './slots.js';

/**
 * The members of a lab on real nodes (node/node.ts): one node per member,
 * laid out as a systemd master at the real paths, with etcd, the kubelet
 * and the control plane as units that `systemctl` manages, and sshd on the
 * node's address. Everything is written through the node, never from the
 * host into its root (node/setup-script.ts says why).
 */
export const CONTROL_PLANE_UNITS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;

/**
 * The kubelet and the control plane are stand-ins. kube-apiserver acts
 * where it matters: it writes to its --etcd-servers, renewing its lease
 * every 2 s (as an apiserver renews its identity Lease), so whether it is
 * stopped shows in etcd. The others are a process that runs until stopped,
 * which is all the runbooks' stop/start steps observe.
 */
const STAND_IN_UNITS = ['kubelet', ...CONTROL_PLANE_UNITS] as const;
export const APISERVER_BIN = '/usr/local/bin/kube-apiserver';

/** Where a node's kube-apiserver stand-in renews its lease (`apiserver-<hostname>`). */
export const APISERVER_LEASE_PREFIX = '/registry/leases/kube-system/apiserver-';

const APISERVER_SCRIPT = `#!/bin/sh
# etcd-runbook lab stand-in for kube-apiserver: renews its lease in etcd every 2 s
for arg; do
  case "$arg" in
    --etcd-servers=*) servers=\${arg#*=} ;;
    --etcd-cafile=*) cafile=\${arg#*=} ;;
    --etcd-certfile=*) certfile=\${arg#*=} ;;
    --etcd-keyfile=*) keyfile=\${arg#*=} ;;
  esac
done
lease="${APISERVER_LEASE_PREFIX}$(hostname)"
while :; do
  ETCDCTL_API=3 etcdctl --endpoints="$servers" --cacert="$cafile" --cert="$certfile" --key="$keyfile" \\
    --dial-timeout=2s --command-timeout=2s put "$lease" "renewed $(date -u +%Y-%m-%dT%H:%M:%SZ)" >/dev/null ||
    echo "lease renewal failed" >&2
  sleep 2
done
`;

export interface LabNodes {
  nodes: LabNode[];
  keys: NodeSshKeys;
  knownHosts: string;
}

/** Boot one node per member, in parallel; a boot that fails stops the ones that booted. */
export interface MemberNodeOptions {
  version: EtcdVersion;
  /** /var/lib/etcd on its own mount (node.ts etcdDataOnDisk) rather than a plain directory */
  dataDirMount: boolean;
  /** host directories every node sees too (the lab kubelet's program) */
  binds?: NodeBind[];
}

export async function bootMemberNodes(labDir: string, slot: Slot, options: MemberNodeOptions, members: NodeMember[]): Promise<LabNodes> {
  const bin = etcdBinDir(options.version);
  const keys = await createNodeSshKeys(labDir);
  const knownHosts = await writeKnownHosts(keys, members.map((m) => m.ip));
  const boots = await Promise.allSettled(
    members.map((m) => bootNode({ name: m.name, address: m.ip, labDir, etcdBinDir: bin, ssh: keys, slot, etcdDataOnDisk: options.dataDirMount, binds: options.binds })),
  );
  const nodes = boots.flatMap((b) => (b.status === 'fulfilled' ? [b.value] : []));
  const failed = boots.find((b): b is PromiseRejectedResult => b.status === 'rejected');
  if (failed) {
    await stopNodes(nodes).catch(() => undefined);
    throw failed.reason;
  }
  return { nodes, keys, knownHosts };
}

/** Every node stopped, whatever the others do; the first failure is thrown once all are done. */
export async function stopNodes(nodes: LabNode[]): Promise<void> {
  const failed = (await Promise.allSettled(nodes.map((node) => node.stop()))).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** etcd's files (PKI, env file, unit) and the stand-in units, written through the node. */
export async function writeMemberNode(node: LabNode, member: NodeMember, pki: LabPki, cert: MemberCert, cluster: ClusterShape): Promise<void> {
  checked(await node.exec(['install', '-d', '-m', '0700', NODE_PATHS.systemd.pkiDir]), node, 'mkdir pki');
  const files: NodeFile[] = [
    ...(await systemdNodeFiles(member, pki, cert, cluster)),
    ...STAND_IN_UNITS.filter((unit) => unit !== 'kube-apiserver').map((unit) => standInUnit(unit, '/bin/sleep infinity')),
    standInUnit('kube-apiserver', apiserverCommand(member)),
    apiserverStandIn(),
  ];
  for (const file of files) await node.writeFile(file.path, file.content, file.mode);
  await systemctl(node, 'daemon-reload');
}

/**
 * Start the node's etcd (Type=notify: it returns once etcd is ready, which
 * takes a quorum, so the nodes of a new cluster are started together), then
 * the rest of a master: what restore-quorum stops first and starts last.
 */
export async function startMemberNode(node: LabNode): Promise<void> {
  await systemctl(node, 'start', 'etcd');
  await systemctl(node, 'start', ...STAND_IN_UNITS);
}

/** The kube-apiserver stand-in program, at the path the units and static pods run it from. */
export function apiserverStandIn(): NodeFile {
  return { path: APISERVER_BIN, content: APISERVER_SCRIPT, mode: 0o755 };
}

/** The flags a kubeadm apiserver reaches etcd with; its own member, as kubeadm's talks to the local one. */
function apiserverCommand(member: NodeMember): string {
  const pki = NODE_PATHS.systemd.pkiDir;
  return [
    APISERVER_BIN,
    `--etcd-servers=${member.clientURL}`,
    `--etcd-cafile=${pki}/ca.crt`,
    `--etcd-certfile=${pki}/server.crt`,
    `--etcd-keyfile=${pki}/server.key`,
  ].join(' ');
}

function standInUnit(name: string, execStart: string): NodeFile {
  const content = `[Unit]
Description=${name} (etcd-runbook lab stand-in)

[Service]
ExecStart=${execStart}

[Install]
WantedBy=multi-user.target
`;
  return { path: `/etc/systemd/system/${name}.service`, content, mode: 0o644 };
}

/** `systemctl …` in the node; throws with its stderr when it fails. */
export async function systemctl(node: LabNode, ...args: string[]): Promise<void> {
  checked(await node.exec(['systemctl', ...args], { timeoutMs: 90_000 }), node, `systemctl ${args.join(' ')}`);
}

/**
 * A host shell command that runs `command` (an argv) in the node: the
 * node's start/stop/is-active commands as the lab and its tests run them.
 */
export function inNodeCommand(node: LabNode, command: readonly string[]): string {
  return ['nsenter', ...nsenterArgs(node.pid, command)].map(shellQuote).join(' ');
}

/** The unit's processes named `comm`, by their host pids, from the node's cgroup (sync: no exec into the node). */
export function unitPid(node: LabNode, unit: string, comm: string): number | undefined {
  let procs: string;
  try {
    procs = readFileSync(join(node.cgroup, 'system.slice', `${unit}.service`, 'cgroup.procs'), 'utf8');
  } catch {
    // no such cgroup: the unit has never run, or it is stopped
    return undefined;
  }
  for (const pid of procs.split('\n').filter(Boolean).map(Number)) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm) return pid;
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}

export function notOnNodes(what: string): never {
  throw new OperatorError(`${what} is not supported on real lab nodes yet`);
}

export function checked(result: { exitCode: number; stderr: string }, node: LabNode, what: string): void {
  if (result.exitCode !== 0) throw new Error(`${what} on lab node ${node.name} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
}
