import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Inventory } from '../inventory/schema.js';
import { loadClientTls, probeCluster, type ClientTls } from '../cluster/probe.js';
import type { ClusterReport } from '../cluster/types.js';
import { createPki, issueMemberCert, type LabPki } from './pki.js';
import { track, untrack } from './processes.js';
import { addressFor, claimSlot, type Slot } from './slots.js';
import { startLabSshd, type LabSshd } from './sshd.js';

/**
 * A real etcd cluster on loopback for tests, the drill and benchmarks:
 * TLS with client-cert auth from a PKI made at start, one address per member
 * (127.0.0.11, .12, …, a block per lab so labs run side by side), per-member
 * directories, and an inventory file describing it.
 *
 * Each member is configured the way a systemd install is: an env file of
 * ETCD_* variables (etcd reads them natively), so tools that edit a member's
 * configuration edit a real file and `restart` picks it up.
 */
export interface LabOptions {
  members?: number;
  /** independent single-member clusters instead of one cluster (split brain) */
  independent?: boolean;
  /** keep the directory after close */
  keep?: boolean;
  etcdBinary?: string;
  /** how long to wait for the cluster to become healthy */
  startTimeoutMs?: number;
  /**
   * reach every member's node over SSH, as in production: an sshd per member
   * on the member's own address, and an inventory that says transport ssh
   */
  ssh?: boolean;
}

export type MemberRunState = 'running' | 'stopped' | 'killed' | 'frozen';

export interface LabMember {
  name: string;
  ip: string;
  clientURL: string;
  peerURL: string;
  dir: string;
  dataDir: string;
  envFile: string;
  logFile: string;
  cert: string;
  key: string;
  state: MemberRunState;
  process?: ChildProcess;
  /** the member's node sshd, when the lab was started with ssh */
  sshd?: LabSshd;
}

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

export class LabCluster {
  readonly dir: string;
  readonly members: LabMember[];
  readonly pki: LabPki;
  readonly inventoryPath: string;
  private readonly slot: Slot;
  private readonly options: Required<Pick<LabOptions, 'keep' | 'etcdBinary'>>;
  private closed = false;

  private constructor(dir: string, slot: Slot, pki: LabPki, members: LabMember[], options: LabOptions) {
    this.dir = dir;
    this.slot = slot;
    this.pki = pki;
    this.members = members;
    this.inventoryPath = join(dir, 'inventory.yaml');
    this.options = { keep: options.keep ?? false, etcdBinary: options.etcdBinary ?? 'etcd' };
  }

  static async start(options: LabOptions = {}): Promise<LabCluster> {
    const count = options.members ?? 3;
    const slot = claimSlot();
    const dir = await mkdtemp(join(tmpdir(), 'etcd-runbook-lab-'));
    let lab: LabCluster | undefined;
    try {
      const pki = await createPki(join(dir, 'pki'));
      const members: LabMember[] = [];
      for (let i = 0; i < count; i++) members.push(await prepareMember(dir, pki, `m${i + 1}`, addressFor(slot.index, i)));
      lab = new LabCluster(dir, slot, pki, members, options);
      if (options.ssh) await lab.startSshds();
      await lab.writeMemberConfigs(options.independent ?? false);
      await lab.writeInventory();
      for (const member of members) await lab.spawnMember(member);
      await lab.waitHealthy(options.startTimeoutMs ?? 30_000, options.independent ? 'each' : 'all');
      return lab;
    } catch (err) {
      if (lab) await lab.close();
      else {
        slot.release();
        await rm(dir, { recursive: true, force: true });
      }
      throw err;
    }
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

  async probe(deadlineMs?: number): Promise<ClusterReport> {
    const tls = await this.clientTls();
    return probeCluster(
      this.members.map((m) => ({ endpoint: m.clientURL, expectedName: m.name, expectedPeerURLs: [m.peerURL] })),
      { tls, deadlineMs },
    );
  }

  // ---- faults -------------------------------------------------------------

  /** SIGKILL: the member dies with no chance to clean up. */
  async kill(name: string): Promise<void> {
    const member = this.member(name);
    await signalAndWait(member, 'SIGKILL');
    member.state = 'killed';
  }

  /** SIGSTOP: the member keeps its sockets but answers nothing. */
  freeze(name: string): void {
    const member = this.member(name);
    if (member.state !== 'running' || !member.process) throw new Error(`${name} is not running`);
    member.process.kill('SIGSTOP');
    member.state = 'frozen';
  }

  thaw(name: string): void {
    const member = this.member(name);
    if (member.state !== 'frozen' || !member.process) throw new Error(`${name} is not frozen`);
    member.process.kill('SIGCONT');
    member.state = 'running';
  }

  /** SIGTERM, as `systemctl stop etcd` does. */
  async stop(name: string): Promise<void> {
    const member = this.member(name);
    if (member.state === 'frozen') member.process?.kill('SIGCONT');
    await signalAndWait(member, 'SIGTERM');
    member.state = 'stopped';
  }

  /** Start a stopped or killed member from its env file (which may have been edited). */
  async startMember(name: string): Promise<void> {
    const member = this.member(name);
    if (member.state === 'running' || member.state === 'frozen') throw new Error(`${name} is already running`);
    await this.spawnMember(member);
  }

  async restart(name: string): Promise<void> {
    await this.stop(name);
    await this.startMember(name);
  }

  /** The data dir moved aside (never deleted), as a disk loss would leave it. */
  async wipeDataDir(name: string): Promise<string> {
    const member = this.member(name);
    const aside = `${member.dataDir}.wiped-${Date.now()}`;
    await rename(member.dataDir, aside).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    return aside;
  }

  async readEnvFile(name: string): Promise<Record<string, string>> {
    return parseEnvLines(await readFile(this.member(name).envFile, 'utf8'));
  }

  async writeEnvFile(name: string, vars: Record<string, string>): Promise<void> {
    await writeFile(this.member(name).envFile, formatEnv(vars), { mode: 0o600 });
  }

  /** Wait until every member (or each member on its own, for independent clusters) is healthy. */
  async waitHealthy(timeoutMs = 30_000, mode: 'all' | 'each' = 'all'): Promise<ClusterReport> {
    const deadline = Date.now() + timeoutMs;
    let last: ClusterReport | undefined;
    while (Date.now() < deadline) {
      last = await this.probe();
      const done = mode === 'all' ? last.verdict.verdict === 'healthy' : last.endpoints.every((e) => e.healthy);
      if (done) return last;
      await sleep(200);
    }
    const summary = last ? `${last.verdict.verdict}: ${last.verdict.summary}; ${last.verdict.evidence.join('; ')}` : 'no probe finished';
    throw new Error(`lab did not become healthy within ${timeoutMs} ms (${summary}); logs in ${this.dir}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.members.map(async (member) => {
        if (member.state === 'frozen') member.process?.kill('SIGCONT');
        await signalAndWait(member, 'SIGTERM', 3000).catch(() => signalAndWait(member, 'SIGKILL'));
      }),
    );
    await Promise.all(this.members.map((member) => member.sshd?.stop()));
    this.slot.release();
    if (!this.options.keep) await rm(this.dir, { recursive: true, force: true });
  }

  // ---- internals ----------------------------------------------------------

  private async writeMemberConfigs(independent: boolean): Promise<void> {
    const cluster = this.members.map((m) => `${m.name}=${m.peerURL}`).join(',');
    // one token for the whole cluster: the cluster ID is derived from it
    const token = `lab-${process.pid}-${Date.now()}`;
    for (const member of this.members) {
      await writeFile(member.envFile, formatEnv(memberEnv(member, this.pki, {
        initialCluster: independent ? `${member.name}=${member.peerURL}` : cluster,
        token: independent ? `${token}-${member.name}` : token,
      })), { mode: 0o600 });
    }
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
        node: {
          ...(m.sshd
            ? {
                host: m.sshd.host,
                transport: 'ssh' as const,
                ssh: { user: m.sshd.user, port: m.sshd.port, identityFile: m.sshd.identityFile, knownHosts: m.sshd.knownHostsFile },
              }
            : { host: 'local', transport: 'local' as const }),
          layout: 'systemd' as const,
          paths: { dataDir: m.dataDir, pkiDir: this.pki.dir, envFile: m.envFile },
        },
      })),
    };
    await writeFile(this.inventoryPath, `# generated by the etcd-runbook lab in ${this.dir}\n${stringify(inventory)}`);
  }

  /** One sshd per member node, on the member's own address; recorded for crash reaping. */
  private async startSshds(): Promise<void> {
    for (const member of this.members) {
      member.sshd = await startLabSshd({ host: member.ip });
      const pid = member.sshd.pid();
      if (pid) this.slot.recordPid(pid, member.sshd.dir);
    }
  }

  private async spawnMember(member: LabMember): Promise<void> {
    const vars = parseEnvLines(await readFile(member.envFile, 'utf8'));
    const log = await open(member.logFile, 'a');
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (!key.startsWith('ETCD')) env[key] = value;
    }
    // the lab dir in the environment lets a crashed run's leftovers be recognised (slots.ts)
    const child = spawn(this.options.etcdBinary, [], {
      env: { ...env, ...vars, ETCD_RUNBOOK_LAB: this.dir },
      stdio: ['ignore', log.fd, log.fd],
    });
    // listen before any await: 'spawn' fires on the next tick
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'ENOENT' ? new Error(`${this.options.etcdBinary} not found: install etcd (apt-get install etcd-server etcd-client)`) : err));
    });
    try {
      await spawned;
    } finally {
      await log.close();
    }
    track(child);
    if (child.pid) this.slot.recordPid(child.pid, this.dir);
    member.process = child;
    member.state = 'running';
    child.once('exit', () => {
      if (member.process === child && member.state === 'running') member.state = 'killed';
    });
  }
}

async function prepareMember(labDir: string, pki: LabPki, name: string, ip: string): Promise<LabMember> {
  const dir = join(labDir, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const cert = await issueMemberCert(pki, name, ip);
  return {
    name,
    ip,
    clientURL: `https://${ip}:${CLIENT_PORT}`,
    peerURL: `https://${ip}:${PEER_PORT}`,
    dir,
    dataDir: join(dir, 'data'),
    envFile: join(dir, 'etcd.env'),
    logFile: join(dir, 'etcd.log'),
    cert: cert.cert,
    key: cert.key,
    state: 'stopped',
  };
}

function memberEnv(member: LabMember, pki: LabPki, cluster: { initialCluster: string; token: string }): Record<string, string> {
  return {
    ETCD_NAME: member.name,
    ETCD_DATA_DIR: member.dataDir,
    ETCD_LISTEN_CLIENT_URLS: member.clientURL,
    ETCD_ADVERTISE_CLIENT_URLS: member.clientURL,
    ETCD_LISTEN_PEER_URLS: member.peerURL,
    ETCD_INITIAL_ADVERTISE_PEER_URLS: member.peerURL,
    ETCD_INITIAL_CLUSTER: cluster.initialCluster,
    ETCD_INITIAL_CLUSTER_STATE: 'new',
    ETCD_INITIAL_CLUSTER_TOKEN: cluster.token,
    ETCD_CLIENT_CERT_AUTH: 'true',
    ETCD_TRUSTED_CA_FILE: pki.caCert,
    ETCD_CERT_FILE: member.cert,
    ETCD_KEY_FILE: member.key,
    ETCD_PEER_CLIENT_CERT_AUTH: 'true',
    ETCD_PEER_TRUSTED_CA_FILE: pki.caCert,
    ETCD_PEER_CERT_FILE: member.cert,
    ETCD_PEER_KEY_FILE: member.key,
    ETCD_LOGGER: 'zap',
    ETCD_LOG_OUTPUTS: 'stderr',
  };
}

function formatEnv(vars: Record<string, string>): string {
  return Object.entries(vars).map(([k, v]) => `${k}="${v}"`).join('\n') + '\n';
}

function parseEnvLines(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z_][A-Z0-9_]*)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (match?.[1]) vars[match[1]] = match[2] ?? '';
  }
  return vars;
}

async function signalAndWait(member: LabMember, signal: NodeJS.Signals, timeoutMs = 10_000): Promise<void> {
  const child = member.process;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${member.name} did not exit on ${signal} within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([exited, timeout]);
    untrack(child);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
