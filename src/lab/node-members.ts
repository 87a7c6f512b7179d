import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isSingleFileExecutable } from '../util/single-file.js';
import { shellQuote } from '../util/shell.js';
import { etcdBinDir, type EtcdVersion } from './etcd-versions.js';
import { NODE_PATHS, systemdNodeFiles, type ClusterShape, type NodeFile, type NodeMember } from './layouts.js';
import { bootNode, nsenterArgs, type LabNode, type NodeBind } from './node/node.js';
import type { SeedEntry } from './node/seed.js';
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
const run = promisify(execFile);

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
  /**
   * the operator's seat: the first node also sees the lab dir and this
   * package, and has `etcd-runbook` on its PATH, so the tool runs there as
   * on a master (seatBinds says why each)
   */
  seat: boolean;
  /** host directories every node sees too (the lab kubelet's program) */
  binds?: NodeBind[];
}

/** The seat's command: this package's CLI, run by the host's node (the node's / is an overlay of the host's). */
export const SEAT_COMMAND = '/usr/local/bin/etcd-runbook';

/**
 * The package root: the directory above this module holding package.json
 * (dist/src/lab/ under tsc, dist/ in the bundle).
 */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

/**
 * What the seat needs of the host: the lab dir (its inventory, keys and PKI,
 * where a run's journal and backups go) and the package, each at its own
 * path — a node's /tmp and /root are its own, so a checkout or lab dir there
 * would be invisible — and a command that starts the CLI with the host's node.
 */
function seatBinds(labDir: string): { binds: NodeBind[]; seed: SeedEntry[] } {
  const cli = seatCli();
  const script = `#!/bin/sh\n# etcd-runbook lab: the operator's seat runs this CLI\nexec ${cli.argv.map(shellQuote).join(' ')} "$@"\n`;
  return {
    binds: [{ hostPath: labDir }, { hostPath: cli.dir, readOnly: true }],
    seed: [{ path: SEAT_COMMAND, content: script, mode: 0o755 }],
  };
}

/** The CLI this process is part of: the one-file executable itself, or this package's under the host's node. */
function seatCli(): { argv: string[]; dir: string } {
  if (isSingleFileExecutable()) return { argv: [process.execPath], dir: dirname(process.execPath) };
  const root = packageRoot();
  const tsc = join(root, 'dist', 'src', 'cli', 'main.js');
  return { argv: [process.execPath, existsSync(tsc) ? tsc : join(root, 'dist', 'etcd-runbook.cjs')], dir: root };
}

export async function bootMemberNodes(labDir: string, slot: Slot, options: MemberNodeOptions, members: NodeMember[]): Promise<LabNodes> {
  const bin = etcdBinDir(options.version);
  const keys = await createNodeSshKeys(labDir);
  const knownHosts = await writeKnownHosts(keys, members.map((m) => m.ip));
  const boots = await Promise.allSettled(
    members.map((m, i) => {
      const seat = options.seat && i === 0 ? seatBinds(labDir) : { binds: [], seed: [] };
      return bootNode({ name: m.name, address: m.ip, labDir, etcdBinDir: bin, ssh: keys, slot, etcdDataOnDisk: options.dataDirMount, binds: [...(options.binds ?? []), ...seat.binds], seed: seat.seed });
    }),
  );
  const nodes = boots.flatMap((b) => (b.status === 'fulfilled' ? [b.value] : []));
  const failed = boots.find((b): b is PromiseRejectedResult => b.status === 'rejected');
  if (failed) {
    await stopNodes(nodes).catch(() => undefined);
    throw failed.reason;
  }
  return { nodes, keys, knownHosts };
}

/**
 * A node booted afresh in place of one that is gone (its address, name and
 * SSH host keys): what a freshly installed master is before anyone restores
 * its etcd files. It has the packages' files only (`packaged`: the
 * kubelet's and the control plane's units and programs) and no /etc/etcd,
 * no etcd.service, nothing in /var/lib/etcd. Nothing is started.
 */
export async function bootFreshNode(labDir: string, slot: Slot, options: MemberNodeOptions, member: NodeMember, nodes: LabNodes, packaged: NodeFile[]): Promise<LabNode> {
  const node = await bootNode({
    name: member.name,
    address: member.ip,
    labDir,
    etcdBinDir: etcdBinDir(options.version),
    ssh: nodes.keys,
    slot,
    etcdDataOnDisk: options.dataDirMount,
    binds: options.binds,
  });
  try {
    for (const file of packaged) await node.writeFile(file.path, file.content, file.mode);
    await systemctl(node, 'daemon-reload');
    return node;
  } catch (err) {
    await node.stop();
    throw err;
  }
}

/**
 * Copy paths of a node (its own, absolute; those that do not exist are left
 * out) into a host directory, modes and owners kept: `tar` in the node piped
 * into `tar` on the host. What a lost host's disk would still show.
 */
export async function exportNodeFiles(node: LabNode, paths: readonly string[], dest: string): Promise<void> {
  const inNode = ['/bin/sh', '-c', 'for p; do [ -e "$p" ] && printf "%s\\0" "${p#/}"; done | tar -C / --null -T - -cf -', 'sh', ...paths];
  const pipeline = `${inNodeCommand(node, inNode)} | tar -C ${shellQuote(dest)} -xpf -`;
  await run('/bin/bash', ['-o', 'pipefail', '-c', pipeline]).catch((err: Error) => {
    throw new Error(`copying ${paths.join(', ')} out of lab node ${node.name} failed: ${err.message}`);
  });
}

/** Every node stopped, whatever the others do; the first failure is thrown once all are done. */
export async function stopNodes(nodes: LabNode[]): Promise<void> {
  const failed = (await Promise.allSettled(nodes.map((node) => node.stop()))).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** etcd's files (PKI, env file, unit) and the stand-in units, written through the node. */
export async function writeMemberNode(node: LabNode, member: NodeMember, pki: LabPki, cert: MemberCert, cluster: ClusterShape): Promise<void> {
  checked(await node.exec(['install', '-d', '-m', '0700', NODE_PATHS.systemd.pkiDir]), node, 'mkdir pki');
  const files: NodeFile[] = [...(await systemdNodeFiles(member, pki, cert, cluster)), ...standInFiles(member)];
  for (const file of files) await node.writeFile(file.path, file.content, file.mode);
  await systemctl(node, 'daemon-reload');
}

/** The kubelet's and the control plane's units and the apiserver stand-in: what a systemd master's packages install. */
export function standInFiles(member: NodeMember): NodeFile[] {
  return [
    ...STAND_IN_UNITS.filter((unit) => unit !== 'kube-apiserver').map((unit) => standInUnit(unit, '/bin/sleep infinity')),
    standInUnit('kube-apiserver', apiserverCommand(member)),
    apiserverStandIn(),
  ];
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

export function checked(result: { exitCode: number; stderr: string }, node: LabNode, what: string): void {
  if (result.exitCode !== 0) throw new Error(`${what} on lab node ${node.name} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
}
