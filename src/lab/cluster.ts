import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { Inventory, InventoryNode } from '../inventory/schema.js';
import type { ProbeChannels } from '../cluster/channels.js';
import { loadClientTls, probeCluster, type ClientTls } from '../cluster/probe.js';
import type { ClusterReport } from '../cluster/types.js';
import { staticPodCommands } from '../runbook/context.js';
import { formatEnv, NODE_PATHS, parseEnvLines, type ClusterShape, type LabLayout } from './layouts.js';
import type { EtcdVersion } from './etcd-versions.js';
import {
  bootFreshNode,
  bootMemberNodes,
  checked,
  exportNodeFiles,
  inNodeCommand,
  SEAT_COMMAND,
  standInFiles,
  startMemberNode,
  stopNodes,
  systemctl,
  unitPid,
  writeMemberNode,
  CONTROL_PLANE_UNITS,
  type LabNodes,
  type MemberNodeOptions,
} from './node-members.js';
import { assertNothingMountedUnder, nsenterArgs, NODE_ENV, type LabNode } from './node/node.js';
import { kubeadmPackageFiles, labKubeletBinds, nodeEtcdVersion, parkedManifest, resyncKubelet, startKubeadmNode, writeKubeadmMemberNode } from './node-kubeadm.js';
import { NODE_SSH_PORT } from './node/sshd.js';
import { createPki, issueMemberCert, type LabPki, type MemberCert } from './pki.js';
import { trackPidsFile, untrackPidsFile } from './processes.js';
import { addressFor, claimSlot, isRunning, type Slot } from './slots.js';
import { fingerprintOf } from './sshd.js';
import { OperatorError } from '../util/errors.js';
import { isSingleFileExecutable } from '../util/single-file.js';

const run = promisify(execFile);

/**
 * A real etcd cluster on loopback for tests, the drill and benchmarks:
 * TLS with client-cert auth from a PKI made at start, one address per member
 * (127.0.0.11, .12, …, a block per lab so labs run side by side), and an
 * inventory file describing it.
 *
 * Each member is a real lab node (node-members.ts): systemd as PID 1, the
 * layout at its real paths (layouts.ts; systemd: etcd, the kubelet and the
 * control plane as units; kubeadm: their static pods run by kubelet.service,
 * node-kubeadm.ts), sshd on the member's address. The inventory reaches each
 * node over SSH as root (or through nsenter, or locally from the operator's
 * seat) with no command overrides and only the layout's own paths: the
 * runbooks run what they run on a master. The lab's own fault and service
 * methods act through each node's systemd.
 */
export interface LabOptions {
  members?: number;
  /** systemd (default) or kubeadm */
  layout?: LabLayout;
  /**
   * independent clusters instead of one (split brain): true for one cluster
   * per member, or groups of member names (`[['m1', 'm2'], ['m3']]`), one cluster each
   */
  independent?: boolean | string[][];
  /** keep the directory after close */
  keep?: boolean;
  /** how long to wait for the cluster to become healthy */
  startTimeoutMs?: number;
  /** abandons the start (a drill interrupted meanwhile): it fails at once and cleans up after itself */
  signal?: AbortSignal;
  /**
   * how the inventory reaches the nodes: ssh (default) through each node's
   * sshd, as a master is reached; nsenter into each node from this machine
   * (the commands unchanged, no SSH in the way)
   */
  transport?: 'ssh' | 'nsenter';
  /**
   * the operator's seat is the first node — the tool runs there
   * (seatCommand), reaching its own member locally and the others over SSH,
   * the production topology; without it, the inventory reaches every node
   * over SSH from the host
   */
  seat?: boolean;
  /** the nodes' etcd release (default 3.5, what masters run today) */
  etcd?: EtcdVersion;
  /**
   * /var/lib/etcd on its own mount (a dedicated disk: a directory of the lab dir
   * bind-mounted), which cannot be renamed; default a plain directory, as on a default master
   */
  dataDirMount?: boolean;
  /**
   * host directories every node sees too, read-write at the same path, as a
   * share mounted on every master (a backup share): where a test reads what
   * a run's commands left on the nodes
   */
  shared?: string[];
  /** etcd's --quota-backend-bytes on every member: a small one lets a test fill the cluster to the NOSPACE alarm */
  quotaBackendBytes?: number;
  /** etcd's WAL in its own dir (--wal-dir, NODE_PATHS.walDir), as masters that keep it on a faster disk have */
  walDir?: boolean;
  /** etcd.service carries every flag on ExecStart and there is no env file (kubeasz, hand-made installs) */
  flagsOnExecStart?: boolean;
}

export interface ServiceCommands {
  start: string;
  stop: string;
  isActive: string;
}

export interface LabSsh {
  user: string;
  host: string;
  port: number;
  identityFile: string;
  knownHostsFile: string;
  /** `SHA256:…`, as ssh prints it */
  hostKeyFingerprint: string;
}

export type MemberRunState = 'running' | 'stopped' | 'killed' | 'frozen';

export interface LabMember {
  name: string;
  ip: string;
  clientURL: string;
  peerURL: string;
  layout: LabLayout;
  /** the node's scratch dir on the host */
  dir: string;
  /** the node's own paths (its files are not the host's: reach them through `node`) */
  dataDir: string;
  /** systemd: /etc/etcd/pki; kubeadm: /etc/kubernetes/pki */
  pkiDir: string;
  /** the file holding etcd's settings: systemd the env file, kubeadm the static-pod manifest (in the manifests dir) */
  envFile: string;
  /** kubeadm: /etc/kubernetes/manifests */
  manifestsDir?: string;
  /** the node's commands for etcd, as the host runs them (nsenter into the node) */
  service: ServiceCommands;
  kubelet: ServiceCommands;
  /** systemd: the control plane's units; kubeadm: its static pods */
  controlPlane: ServiceCommands;
  cert: string;
  key: string;
  state: MemberRunState;
  /** the member's lab node: systemd as PID 1, sshd on the member's address */
  node: LabNode;
}

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

export class LabCluster {
  readonly dir: string;
  readonly members: LabMember[];
  readonly pki: LabPki;
  readonly inventoryPath: string;
  readonly layout: LabLayout;
  /** when the cluster was first healthy */
  startedAt = 0;
  private readonly slot: Slot;
  private readonly options: Required<Pick<LabOptions, 'keep' | 'transport'>> & Pick<LabOptions, 'quotaBackendBytes' | 'seat' | 'walDir' | 'flagsOnExecStart'>;
  private readonly nodes: LabNodes;
  /** how the nodes were booted: a replaced host boots the same way */
  private readonly nodeOptions: MemberNodeOptions;
  private closed = false;

  private constructor(dir: string, slot: Slot, pki: LabPki, members: LabMember[], options: LabOptions, nodes: LabNodes, nodeOptions: MemberNodeOptions) {
    this.nodes = nodes;
    this.nodeOptions = nodeOptions;
    this.dir = dir;
    this.slot = slot;
    this.pki = pki;
    this.members = members;
    this.layout = options.layout ?? 'systemd';
    this.inventoryPath = join(dir, 'inventory.yaml');
    this.options = {
      keep: options.keep ?? false,
      transport: options.transport ?? 'ssh',
      quotaBackendBytes: options.quotaBackendBytes,
      seat: options.seat,
      walDir: options.walDir,
      flagsOnExecStart: options.flagsOnExecStart,
    };
  }

  static async start(options: LabOptions = {}): Promise<LabCluster> {
    const count = options.members ?? 3;
    const layout = options.layout ?? 'systemd';
    if (options.seat && options.transport === 'nsenter') throw new OperatorError("the operator's seat reaches the other nodes over SSH: start the lab with transport ssh");
    if ((options.walDir || options.flagsOnExecStart) && layout !== 'systemd') throw new OperatorError('a WAL dir or flags on ExecStart are shapes of the systemd layout: start the lab with layout systemd');
    if (layout === 'kubeadm' && isSingleFileExecutable()) {
      // the lab kubelet is a Node script started with `node`; the one-file executable has no separate Node to run it
      throw new OperatorError("the kubeadm lab needs the npm package (its lab kubelet runs on Node): use 'npm run drill -- --layout kubeadm', or --layout systemd with this executable");
    }
    const slot = claimSlot();
    trackPidsFile(slot.pidsFile);
    const dir = await mkdtemp(join(tmpdir(), 'etcd-runbook-lab-'));
    let lab: LabCluster | undefined;
    try {
      const pki = await createPki(join(dir, 'pki'));
      const certs: MemberCert[] = [];
      const names = Array.from({ length: count }, (_, i) => ({ name: `m${i + 1}`, ip: addressFor(slot.index, i) }));
      for (const { name, ip } of names) certs.push(await issueMemberCert(pki, name, ip));
      const shapes = names.map(({ name, ip }) => ({ name, ip, ...urlsOf(ip) }));
      const binds = [...(layout === 'kubeadm' ? labKubeletBinds() : []), ...(options.shared ?? []).map((hostPath) => ({ hostPath }))];
      const nodeOptions: MemberNodeOptions = { version: options.etcd ?? '3.5', dataDirMount: options.dataDirMount ?? false, seat: options.seat ?? false, binds };
      const nodes = await bootMemberNodes(dir, slot, nodeOptions, shapes);
      const members = nodes.nodes.map((node, i) => nodeMemberFor(node, certs[i] as MemberCert, layout));
      lab = new LabCluster(dir, slot, pki, members, options, nodes, nodeOptions);
      await lab.setUpNodes(certs, options.independent ?? false);
      await lab.waitHealthy(options.startTimeoutMs ?? 30_000, options.independent ? 'each' : 'all', options.signal);
      lab.startedAt = Date.now();
      return lab;
    } catch (err) {
      if (lab) {
        if (err instanceof Error) await lab.addNodeJournal(err);
        await lab.close();
      } else {
        untrackPidsFile(slot.pidsFile);
        slot.release();
        // a node whose teardown failed may have left a mount under the lab dir: keep it then
        assertNothingMountedUnder(dir);
        await rm(dir, { recursive: true, force: true });
      }
      throw err;
    }
  }

  /** the lab's loopback address block (slots.ts): its lock and pids file say who holds it */
  get slotIndex(): number {
    return this.slot.index;
  }

  /** etcd's --quota-backend-bytes on every member, when the lab set one */
  get quotaBackendBytes(): number | undefined {
    return this.options.quotaBackendBytes;
  }

  /** The client TLS material, as the probe wants it. */
  async clientTls(): Promise<ClientTls> {
    const tls = await loadClientTls({ cacert: this.pki.caCert, cert: this.pki.clientCert, key: this.pki.clientKey });
    if (!tls) throw new Error('lab PKI has no CA');
    return tls;
  }

  member(name: string): LabMember {
    const member = this.members.find((m) => m.name === name);
    if (!member) throw new Error(`no lab member named ${name}`);
    return member;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.clientURL);
  }

  /** etcdctl's global flags for this lab, for tests and benchmark baselines. */
  etcdctlFlags(endpoints: string[] = this.endpoints): string[] {
    return [`--endpoints=${endpoints.join(',')}`, `--cacert=${this.pki.caCert}`, `--cert=${this.pki.clientCert}`, `--key=${this.pki.clientKey}`];
  }

  async probe(deadlineMs?: number, channels?: ProbeChannels): Promise<ClusterReport> {
    const tls = await this.clientTls();
    return probeCluster(
      this.members.map((m) => ({ endpoint: m.clientURL, expectedName: m.name, expectedPeerURLs: [m.peerURL] })),
      { tls, deadlineMs, channels },
    );
  }

  /**
   * Wait until the members have been connected for `ms` (default 6 s):
   * etcd refuses membership changes (strict reconfig check) until the member
   * taking the request has been connected to every voting member for 5 s,
   * which a cluster in the field always has been, and a fresh lab has not.
   */
  async settled(ms = 6000): Promise<void> {
    const wait = this.startedAt + ms - Date.now();
    if (wait > 0) await sleep(wait);
  }

  /** The operator's seat (labs started with seat): the first node, where the tool runs. */
  get seat(): LabMember | undefined {
    return this.options.seat ? this.members[0] : undefined;
  }

  /**
   * A host command (argv) that runs `etcd-runbook <args>` on the seat as
   * root, as an operator logged in there would: the node's own environment,
   * its cwd /root.
   */
  seatCommand(args: readonly string[]): string[] {
    const node = this.seat?.node;
    if (!node) throw new Error('this lab has no seat: start it with nodes and seat');
    return ['nsenter', ...nsenterArgs(node.pid, ['env', '-i', ...Object.entries(NODE_ENV).map(([k, v]) => `${k}=${v}`), SEAT_COMMAND, ...args])];
  }

  /** The running etcd's pid on the member's node (from its pidfile), if any. */
  pidOf(name: string): number | undefined {
    const member = this.member(name);
    // a kubeadm node's etcd is a static pod: a child of the kubelet, in kubelet.service's cgroup
    return unitPid(member.node, member.layout === 'kubeadm' ? 'kubelet' : 'etcd', 'etcd');
  }

  /** How to reach a member's node over SSH, as the inventory says it (user, address, port, keys). */
  sshOf(name: string): LabSsh {
    const member = this.member(name);
    const { keys, knownHosts } = this.nodes;
    return { user: 'root', host: member.ip, port: NODE_SSH_PORT, identityFile: keys.identityFile, knownHostsFile: knownHosts, hostKeyFingerprint: fingerprintOf(keys.hostPublicKey) };
  }

  // ---- faults -------------------------------------------------------------

  /** The node's sshd and every connection it serves killed, and left down (a host unreachable over SSH). */
  async killSshd(name: string): Promise<void> {
    const node = this.member(name).node;
    await systemctl(node, 'kill', '--kill-whom=all', '--signal=SIGKILL', 'sshd');
    await systemctl(node, 'stop', 'sshd');
  }

  async startSshd(name: string): Promise<void> {
    await systemctl(this.member(name).node, 'start', 'sshd');
  }

  /** SIGKILL: the member dies with no chance to clean up (a kubeadm node's kubelet leaves it dead). */
  async kill(name: string): Promise<void> {
    const member = this.member(name);
    if (member.layout === 'systemd') await this.killOnNode(member, member.node);
    else await this.signalAndWait(member, 'SIGKILL');
    member.state = 'killed';
  }

  /** SIGSTOP: the member keeps its sockets but answers nothing. */
  freeze(name: string): void {
    const member = this.member(name);
    const pid = this.pidOf(name);
    if (member.state !== 'running' || pid === undefined) throw new Error(`${name} is not running`);
    process.kill(pid, 'SIGSTOP');
    member.state = 'frozen';
  }

  thaw(name: string): void {
    const member = this.member(name);
    const pid = this.pidOf(name);
    if (member.state !== 'frozen' || pid === undefined) throw new Error(`${name} is not frozen`);
    process.kill(pid, 'SIGCONT');
    member.state = 'running';
  }

  /** SIGTERM and wait, as `systemctl stop etcd` (or the container runtime stopping the pod) does. */
  async stop(name: string): Promise<void> {
    const member = this.member(name);
    // systemctl stop's SIGTERM would wait on a frozen etcd until the unit's stop timeout
    const frozen = member.state === 'frozen' ? this.pidOf(name) : undefined;
    if (frozen !== undefined) signal(frozen, 'SIGCONT');
    if (member.layout === 'systemd') await sh(member.service.stop);
    else await this.signalAndWait(member, 'SIGTERM');
    member.state = 'stopped';
  }

  /**
   * Start a stopped or killed member from its configuration (which may have
   * been edited), without waiting for it to be ready: members are started one
   * at a time here, and one that needs another for quorum would wait for it.
   * systemd: the node's service start --no-block. kubeadm: the manifest
   * back into the manifests dir if it was moved out, the kubelet told to
   * restart the dead pod, the kubelet started if it is not running.
   */
  async startMember(name: string): Promise<void> {
    const member = this.member(name);
    if (this.pidOf(name) !== undefined) throw new Error(`${name} is already running`);
    if (member.layout === 'systemd') await sh(`${member.service.start} --no-block`);
    else await this.startOnKubeadmNode(member, member.node);
    member.state = 'running';
  }

  async restart(name: string): Promise<void> {
    await this.stop(name);
    await this.startMember(name);
  }

  /** Stop a node's kubelet. kubeadm: its pods stop with it (they are in kubelet.service's cgroup, lab-kubelet.ts). */
  async stopKubelet(name: string): Promise<void> {
    await sh(this.member(name).kubelet.stop);
  }

  async startKubelet(name: string): Promise<void> {
    await sh(this.member(name).kubelet.start);
  }

  /**
   * Whether etcd, the kubelet or the control plane runs on the node, by the
   * node's own is-active command (kubeadm: the static pod's manifest in the
   * manifests dir, what the kubelet runs).
   */
  async isActive(name: string, what: 'etcd' | 'kubelet' | 'controlPlane'): Promise<boolean> {
    const member = this.member(name);
    const command = what === 'etcd' ? member.service.isActive : what === 'kubelet' ? member.kubelet.isActive : member.controlPlane.isActive;
    return sh(command).then(
      () => true,
      () => false,
    );
  }

  /** The data dir moved aside (never deleted), as a disk loss would leave it. */
  async wipeDataDir(name: string): Promise<string> {
    const member = this.member(name);
    const aside = `${member.dataDir}.wiped-${Date.now()}`;
    const moved = await member.node.exec(['/bin/sh', '-c', 'if [ -e "$1" ]; then mv -- "$1" "$2"; fi', 'sh', member.dataDir, aside]);
    if (moved.exitCode !== 0) throw new Error(`${name}: moving ${member.dataDir} aside failed: ${moved.stderr.trim()}`);
    return aside;
  }

  /**
   * The member's host is gone and a freshly installed one took its address
   * and name (what replace-master repairs). What its disk held (etcd's,
   * Kubernetes' and systemd's configuration, the kubelet's drop-ins, root's
   * home, /var/lib/etcd*, /var/lib/kubelet) is copied to
   * <lab>/<name>.lost-<ms> on the host (what a test compares the restored
   * files with), the node is killed with everything in it, and a fresh node
   * boots at its address with its name and the packages' files only
   * (bootFreshNode; kubeadm: kubeadmPackageFiles). Returns the copy.
   */
  async replaceHost(name: string): Promise<string> {
    const member = this.member(name);
    const node = member.node;
    const lost = join(this.dir, `${member.name}.lost-${Date.now()}`);
    await mkdir(lost, { mode: 0o700 });
    // the host dies first: nothing writes while its disk is read (a kubeadm node's pods are in kubelet.service's cgroup)
    const units = member.layout === 'kubeadm' ? ['kubelet'] : ['etcd', 'kubelet', ...CONTROL_PLANE_UNITS];
    await node.exec(['systemctl', 'kill', '--signal=SIGKILL', ...units]);
    await waitFor(() => this.pidOf(member.name) === undefined, 10_000, `${member.name}: etcd did not die on SIGKILL`);
    const dataDirs = (await node.exec(['/bin/sh', '-c', 'ls -d /var/lib/etcd* 2>/dev/null || true'])).stdout.split('\n').filter(Boolean);
    const dropIns = posix.dirname(NODE_PATHS.kubeadm.kubeletPackageDropIn);
    await exportNodeFiles(node, ['/etc/etcd', '/etc/kubernetes', '/etc/systemd/system', dropIns, '/root', '/var/lib/kubelet', ...dataDirs], lost);
    await node.stop();
    const shape = { name: member.name, ip: member.ip, ...urlsOf(member.ip) };
    const packaged = member.layout === 'kubeadm' ? kubeadmPackageFiles() : standInFiles(shape);
    const fresh = await bootFreshNode(this.dir, this.slot, this.nodeOptions, shape, this.nodes, packaged);
    this.nodes.nodes[this.nodes.nodes.indexOf(node)] = fresh;
    Object.assign(member, nodeMemberFor(fresh, { cert: member.cert, key: member.key }, member.layout), { state: 'killed' });
    // nsenter reaches a node by its PID 1, which the new node does not share
    await this.writeInventory();
    return lost;
  }

  /** systemd nodes: the ETCD_* variables of the env file. */
  async readEnvFile(name: string): Promise<Record<string, string>> {
    const member = this.member(name);
    if (member.layout !== 'systemd') throw new Error(`${name} is a ${member.layout} node: its settings are in ${member.envFile}`);
    return parseEnvLines(await member.node.readFile(member.envFile));
  }

  async writeEnvFile(name: string, vars: Record<string, string>): Promise<void> {
    const member = this.member(name);
    if (member.layout !== 'systemd') throw new Error(`${name} is a ${member.layout} node: its settings are in ${member.envFile}`);
    await member.node.writeFile(member.envFile, formatEnv(vars), 0o600);
  }

  /** Wait until every member (or each member on its own, for independent clusters) is healthy. */
  async waitHealthy(timeoutMs = 30_000, mode: 'all' | 'each' = 'all', signal?: AbortSignal): Promise<ClusterReport> {
    const deadline = Date.now() + timeoutMs;
    let last: ClusterReport | undefined;
    while (Date.now() < deadline) {
      if (signal?.aborted) throw new Error('lab start interrupted');
      last = await this.probe();
      const done = mode === 'all' ? last.verdict.verdict === 'healthy' : last.endpoints.every((e) => e.healthy);
      if (done) return last;
      await sleep(200);
    }
    const summary = last ? `${last.verdict.verdict}: ${last.verdict.summary}; ${last.verdict.evidence.join('; ')}` : 'no probe finished';
    throw new Error(`lab did not become healthy within ${timeoutMs} ms (${summary}); logs in ${this.dir}`);
  }

  /** Every node stopped (its PID 1 killed, its cgroup and scratch dir removed), then the lab dir removed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // a node's teardown kills its PID 1, and with it everything it ran; one that fails keeps the
    // lab dir (its mounts might still be under it, and rm -rf would reach through them)
    await stopNodes(this.nodes.nodes);
    untrackPidsFile(this.slot.pidsFile);
    this.slot.release();
    if (!this.options.keep) await rm(this.dir, { recursive: true, force: true });
  }

  // ---- internals ----------------------------------------------------------

  /** Each member's initial cluster and token: one cluster, or (independent) a cluster each. */
  private clusterShapes(independent: boolean | string[][]): ClusterShape[] {
    // one token per cluster: the cluster ID is derived from it
    const token = `lab-${process.pid}-${Date.now()}`;
    const groupOf = (name: string): string[] => {
      if (independent === false) return this.members.map((m) => m.name);
      if (independent === true) return [name];
      return independent.find((g) => g.includes(name)) ?? [name];
    };
    return this.members.map((member) => {
      const group = groupOf(member.name);
      return {
        initialCluster: this.members.filter((m) => group.includes(m.name)).map((m) => `${m.name}=${m.peerURL}`).join(','),
        token: independent === false ? token : `${token}-${group.join('-')}`,
        quotaBackendBytes: this.options.quotaBackendBytes,
        ...(this.options.walDir ? { walDir: NODE_PATHS.walDir } : {}),
        ...(this.options.flagsOnExecStart ? { flagsOnExecStart: true } : {}),
      };
    });
  }

  /** Each node's etcd files written through the node, the inventory, then every node started together. */
  private async setUpNodes(certs: MemberCert[], independent: boolean | string[][]): Promise<void> {
    const shapes = this.clusterShapes(independent);
    const kubeadm = this.layout === 'kubeadm';
    const etcdVersion = kubeadm ? await nodeEtcdVersion((this.members[0] as LabMember).node) : '';
    await Promise.all(
      this.members.map((m, i) => {
        const [cert, shape] = [certs[i] as MemberCert, shapes[i] as ClusterShape];
        if (kubeadm) return writeKubeadmMemberNode(m.node, m, this.pki, cert, shape, { etcdVersion, first: i === 0 });
        return writeMemberNode(m.node, m, this.pki, cert, shape);
      }),
    );
    await this.writeInventory();
    await Promise.all(this.members.map((m) => (kubeadm ? startKubeadmNode(m.node) : startMemberNode(m.node))));
    for (const m of this.members) m.state = 'running';
  }

  /**
   * A node lab that did not start: the error gets the end of the journal of
   * the first node whose etcd is down (kubeadm: its kubelet's, where the pod's
   * output goes), since the nodes and their journals go with the lab.
   */
  private async addNodeJournal(err: Error): Promise<void> {
    const member = this.members.find((m) => this.pidOf(m.name) === undefined) ?? this.members[0];
    if (!member) return;
    const unit = member.layout === 'kubeadm' ? 'kubelet' : 'etcd';
    const journal = await member.node.exec(['journalctl', '-u', unit, '-n', '5', '--no-pager', '-o', 'cat'], { timeoutMs: 5000 }).catch(() => undefined);
    const lines = journal?.stdout.trim().split('\n').join(' / ');
    if (lines) err.message += ` (${member.name}'s ${unit}.service journal ends: ${lines})`;
  }

  /**
   * A kubeadm node's etcd: its manifest back into the manifests dir if it
   * was parked, then the kubelet started, or (running) asked to run again
   * the pods whose process died (lab-kubelet.ts leaves a killed pod down).
   */
  private async startOnKubeadmNode(member: LabMember, node: LabNode): Promise<void> {
    const unpark = 'if [ ! -e "$1" ] && [ -e "$2" ]; then mv -- "$2" "$1"; fi';
    checked(await node.exec(['/bin/sh', '-c', unpark, 'sh', member.envFile, parkedManifest('etcd')]), node, 'etcd.yaml back into the manifests dir');
    if (await this.isActive(member.name, 'kubelet')) await resyncKubelet(node);
    else await startKubeadmNode(node);
    await waitFor(() => this.pidOf(member.name) !== undefined, 15_000, `${member.name}'s kubelet did not start etcd (see: etcd-runbook lab exec ${member.name} -- journalctl -u kubelet)`);
  }

  /**
   * SIGKILL from the node's systemd, then the unit stopped: etcd.service
   * restarts on failure (as on masters), and the fault must last, as a
   * member that keeps crashing does.
   */
  private async killOnNode(member: LabMember, node: LabNode): Promise<void> {
    const pid = this.pidOf(member.name);
    // already dead (an earlier fault): nothing to kill
    if (pid === undefined) return;
    await systemctl(node, 'kill', '--signal=SIGKILL', 'etcd');
    await systemctl(node, 'stop', 'etcd');
    await waitFor(() => !isRunning(pid), 10_000, `${member.name} (pid ${pid}) did not exit on SIGKILL within 10 s`);
  }

  private async writeInventory(): Promise<void> {
    const inventory: Inventory = {
      apiVersion: 'etcd-runbook/v1',
      kind: 'Inventory',
      cluster: { name: 'lab' },
      tls: { cacert: this.pki.caCert, cert: this.pki.clientCert, key: this.pki.clientKey },
      members: this.members.map((m) => ({
        name: m.name,
        peerURLs: [m.peerURL],
        clientURLs: [m.clientURL],
        node: this.nodeEntry(m),
      })),
    };
    await writeFile(this.inventoryPath, `# generated by the etcd-runbook lab in ${this.dir} (${this.layout} layout)\n${stringify(inventory)}`);
  }

  /**
   * A real node: reached over SSH at its address as root (the seat's own
   * node: local), or through nsenter by its PID 1; the layout's own paths,
   * no command overrides.
   */
  private nodeEntry(m: LabMember): InventoryNode {
    const { keys, knownHosts } = this.nodes;
    const p = NODE_PATHS.systemd;
    const k = NODE_PATHS.kubeadm;
    const reach = (): Pick<InventoryNode, 'host' | 'transport' | 'ssh' | 'nsenter'> => {
      if (this.seat === m) return { host: 'local', transport: 'local' };
      if (this.options.transport === 'nsenter') return { host: m.ip, transport: 'nsenter', nsenter: { pid: m.node.pid } };
      return { host: m.ip, transport: 'ssh', ssh: { user: 'root', port: NODE_SSH_PORT, identityFile: keys.identityFile, knownHosts } };
    };
    return {
      ...reach(),
      layout: m.layout,
      // what discovery reads from the member's own etcd.yaml or etcd.service (src/inventory/discover.ts)
      paths:
        m.layout === 'kubeadm'
          ? { dataDir: NODE_PATHS.dataDir, pkiDir: k.pkiDir, manifestsDir: k.manifestsDir }
          : {
              dataDir: NODE_PATHS.dataDir,
              ...(this.options.walDir ? { walDir: NODE_PATHS.walDir } : {}),
              pkiDir: p.pkiDir,
              ...(this.options.flagsOnExecStart ? {} : { envFile: p.envFile }),
              unitFile: p.unitFile,
            },
    };
  }

  private async signalAndWait(member: LabMember, sig: NodeJS.Signals, timeoutMs = 10_000): Promise<void> {
    const pid = this.pidOf(member.name);
    if (pid === undefined) return;
    if (member.state === 'frozen' && sig !== 'SIGKILL') signal(pid, 'SIGCONT');
    signal(pid, sig);
    await waitFor(() => !isRunning(pid), timeoutMs, `${member.name} (pid ${pid}) did not exit on ${sig} within ${timeoutMs} ms`);
  }
}

function urlsOf(ip: string): { clientURL: string; peerURL: string } {
  return { clientURL: `https://${ip}:${CLIENT_PORT}`, peerURL: `https://${ip}:${PEER_PORT}` };
}

/**
 * A member on a real node: the node's own paths, and the commands a runbook
 * runs for the layout (src/runbook/context.ts: systemctl; kubeadm: static-pod
 * manifests moved out of and back into the manifests dir) as the host runs
 * them (nsenter into the node), so the lab's service methods and a test's
 * `sh(member.service.stop)` act on the node.
 */
function nodeMemberFor(node: LabNode, cert: MemberCert, layout: LabLayout): LabMember {
  const inNode = (command: { toString(): string }) => inNodeCommand(node, ['/bin/sh', '-c', String(command)]);
  const systemctlIn = (probe: string, units: readonly string[]): ServiceCommands => ({
    start: inNodeCommand(node, ['systemctl', 'start', ...units]),
    stop: inNodeCommand(node, ['systemctl', 'stop', ...units]),
    isActive: inNodeCommand(node, ['systemctl', 'is-active', '--quiet', probe]),
  });
  const staticPodsIn = (pods: readonly string[], probe: string): ServiceCommands => {
    const { start, stop, isActive } = staticPodCommands(NODE_PATHS.kubeadm.manifestsDir, pods, probe);
    return { start: inNode(start), stop: inNode(stop), isActive: inNode(isActive) };
  };
  const common = {
    name: node.name,
    ip: node.address,
    ...urlsOf(node.address),
    layout,
    dir: node.scratch,
    dataDir: NODE_PATHS.dataDir,
    kubelet: systemctlIn('kubelet', ['kubelet']),
    cert: cert.cert,
    key: cert.key,
    state: 'stopped' as const,
    node,
  };
  if (layout === 'kubeadm') {
    const k = NODE_PATHS.kubeadm;
    return {
      ...common,
      pkiDir: k.pkiDir,
      envFile: `${k.manifestsDir}/etcd.yaml`,
      manifestsDir: k.manifestsDir,
      service: staticPodsIn(['etcd'], 'etcd'),
      controlPlane: staticPodsIn(CONTROL_PLANE_UNITS, 'kube-apiserver'),
    };
  }
  const p = NODE_PATHS.systemd;
  return {
    ...common,
    pkiDir: p.pkiDir,
    envFile: p.envFile,
    service: systemctlIn('etcd', ['etcd']),
    controlPlane: systemctlIn('kube-apiserver', CONTROL_PLANE_UNITS),
  };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

async function sh(command: string): Promise<void> {
  try {
    await run('/bin/sh', ['-c', command], { timeout: 60_000 });
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    throw new Error(`${command} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

async function waitFor(done: () => boolean, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(message);
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
