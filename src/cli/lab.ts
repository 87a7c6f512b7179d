import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeFault } from '../drill/drill.js';
import { ETCD_VERSIONS, type EtcdVersion } from '../lab/etcd-versions.js';
import type { Fault } from '../lab/faults.js';
import { LAB_LAYOUTS, type LabLayout } from '../lab/layouts.js';
import {
  askHolder,
  claimLabState,
  cleanUpAfterHolder,
  holderAlive,
  holderLogPath,
  holdLab,
  readLabState,
  removeLabState,
  statePath,
  HOLDER_MARKER,
  type LabState,
} from '../lab/held-lab.js';
import { isNodePid, NODE_ENV, nsenterArgs } from '../lab/node/node.js';
import { requireLabNodes } from '../lab/node/prerequisites.js';
import { OperatorError } from '../util/errors.js';
import { isSingleFileExecutable } from '../util/single-file.js';

const LAB_FAULTS = ['minority', 'quorum', 'frozen', 'split-brain'] as const;
type LabCliFault = (typeof LAB_FAULTS)[number];
const MAX_MEMBERS = 9;

export const labHelp = `Usage: etcd-runbook lab up [--members N] [--etcd 3.4|3.5] [--layout systemd|kubeadm] [--ssh]
       etcd-runbook lab exec <node> -- <command…>
       etcd-runbook lab fault <${LAB_FAULTS.join('|')}>
       etcd-runbook lab down

A lab to practise on by hand (or drive from a script): one lab node per etcd
member (m1, m2, …: systemd as PID 1 in its own namespaces, a master's layout
at its real paths, etcd under systemctl or the kubelet, sshd on the node's
loopback address), TLS with the lab's own PKI. It keeps running after 'lab up' returns,
until 'lab down'. One lab at a time. Needs root (namespaces, mounts, cgroups).

  up       boot the nodes and the cluster; print the lab dir and the inventory
           to give etcd-runbook (--inventory <path>)
    --members N   members (default 3, at most ${MAX_MEMBERS})
    --etcd V      the nodes' etcd release: 3.5 (default, etcdutl) or 3.4
    --layout L    systemd (default: etcd.service, /etc/etcd/etcd.conf) or kubeadm
                  (static pods in /etc/kubernetes/manifests run by kubelet.service)
    --ssh         the operator's seat is m1: 'etcd-runbook' is on its PATH, and
                  the inventory has m1 local and the others over SSH, as on
                  a master (default: the inventory reaches every node through
                  nsenter from this host, the commands unchanged)
  exec     run a command inside a node as root (its exit code, its output)
  fault    minority  the most members quorum survives killed (SIGKILL)
           quorum    a majority killed: quorum lost, m1 survives
           frozen    the last member SIGSTOPped
           split-brain  every member restored alone from one snapshot:
                     single-member clusters, each with all the data
  down     stop every node (and all it runs) and remove the lab dir; safe twice

The lab's state is in ${statePath()}.`;

export async function labCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const help = (flag: string | undefined) => flag === '--help' || flag === '-h';
  // exec's command may have a --help of its own: only exec's first argument is ours
  if (sub === undefined || help(sub) || (sub === 'exec' ? help(rest[0]) : rest.some(help))) {
    process.stdout.write(`${labHelp}\n`);
    return 0;
  }
  switch (sub) {
    case 'up':
      return up(rest);
    case 'exec':
      return exec(rest);
    case 'fault':
      return fault(rest);
    case 'down':
      return down(rest);
    case '_hold':
      return hold(rest);
    default:
      throw new OperatorError(`lab ${sub}: choose up, exec, fault or down (see etcd-runbook lab --help)`);
  }
}

interface UpOptions {
  members: number;
  etcd: EtcdVersion;
  layout: LabLayout;
  ssh: boolean;
}

function upOptions(argv: string[]): UpOptions {
  const { values } = parseArgs({
    args: argv,
    options: { members: { type: 'string', default: '3' }, etcd: { type: 'string', default: '3.5' }, layout: { type: 'string', default: 'systemd' }, ssh: { type: 'boolean', default: false } },
    strict: true,
  });
  if (!LAB_LAYOUTS.includes(values.layout as LabLayout)) throw new OperatorError(`lab up --layout ${values.layout}: choose ${LAB_LAYOUTS.join(' or ')}`);
  const members = Number(values.members);
  if (!Number.isInteger(members) || members < 1 || members > MAX_MEMBERS) throw new OperatorError(`lab up --members ${values.members}: a whole number from 1 to ${MAX_MEMBERS}`);
  if (!ETCD_VERSIONS.includes(values.etcd as EtcdVersion)) throw new OperatorError(`lab up --etcd ${values.etcd}: choose ${ETCD_VERSIONS.join(' or ')}`);
  return { members, etcd: values.etcd as EtcdVersion, layout: values.layout as LabLayout, ssh: values.ssh };
}

/**
 * Start the holder (held-lab.ts) detached, in its own session, and wait for
 * its one message: the lab is up, or why not. Then leave it running.
 */
async function up(argv: string[]): Promise<number> {
  const options = upOptions(argv);
  requireLabNodes('lab up', options.etcd);
  await claimLabState();
  const log = openSync(holderLogPath(), 'w');
  // the npm bin runs main.js under node; the one-file executable is its own entry point
  const entry = isSingleFileExecutable() ? [] : [process.argv[1] as string];
  const holder = spawn(process.execPath, [...entry, 'lab', '_hold', '--members', String(options.members), '--etcd', options.etcd, '--layout', options.layout, ...(options.ssh ? ['--ssh'] : [])], {
    cwd: '/',
    detached: true,
    env: { ...process.env, [HOLDER_MARKER]: statePath() },
    stdio: ['ignore', log, log, 'ipc'],
  });
  closeSync(log);
  // Ctrl-C while it starts: the holder, cut off, abandons the start and cleans up after itself
  const interrupted = () => holder.connected && holder.disconnect();
  process.once('SIGINT', interrupted);
  try {
    const state = await new Promise<LabState>((resolve, reject) => {
      holder.once('message', (message: { state?: LabState; error?: string }) => (message.state ? resolve(message.state) : reject(new OperatorError(`lab up: ${message.error ?? 'no answer'}`))));
      holder.once('exit', (code, signal) => reject(new OperatorError(`lab up: the lab's holder exited (${code ?? signal}) before the lab was up: see ${holderLogPath()}`)));
    });
    if (holder.connected) holder.disconnect();
    holder.unref();
    process.stdout.write(`lab up: ${state.nodes.length} nodes (${state.nodes.map((n) => `${n.name} ${n.address}`).join(', ')}), etcd ${state.etcd}\n`);
    process.stdout.write(`lab dir: ${state.labDir}\ninventory: ${state.inventory}\n`);
    if (state.seat) process.stdout.write(`seat: ${state.seat} (the tool runs there: etcd-runbook lab exec ${state.seat} -- etcd-runbook --inventory ${state.inventory})\n`);
    return 0;
  } catch (err) {
    if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGTERM');
    removeLabState();
    throw err;
  } finally {
    process.off('SIGINT', interrupted);
  }
}

/** The detached holder: start the lab, tell `lab up`, serve until `lab down`. */
async function hold(argv: string[]): Promise<number> {
  const options = upOptions(argv);
  const abort = new AbortController();
  // `lab up` gone (Ctrl-C, killed) before the lab is up: give up the start, cleaning up
  const orphaned = () => abort.abort();
  process.once('disconnect', orphaned);
  try {
    const state = await holdLab({ ...options, signal: abort.signal });
    process.off('disconnect', orphaned);
    process.send?.({ state });
  } catch (err) {
    if (process.connected) process.send?.({ error: (err as Error).message });
    removeLabState();
    return 1;
  }
  // the socket server keeps this process until `lab down`
  return new Promise<number>(() => undefined);
}

function runningLab(): LabState {
  const state = readLabState();
  if (!state) throw new OperatorError('no lab is running: start one with etcd-runbook lab up');
  if (state.starting) throw new OperatorError('the lab is still starting: wait for lab up to finish');
  return state;
}

async function exec(argv: string[]): Promise<number> {
  const [name, dashes, ...command] = argv;
  if (name === undefined || dashes !== '--' || command.length === 0) throw new OperatorError('usage: etcd-runbook lab exec <node> -- <command…>');
  const state = runningLab();
  const node = state.nodes.find((n) => n.name === name);
  if (!node) throw new OperatorError(`lab exec ${name}: no such node; the lab has ${state.nodes.map((n) => n.name).join(', ')}`);
  if (!isNodePid(node.pid, node.scratch)) throw new OperatorError(`lab node ${name} (PID 1 ${node.pid}) is not running: run etcd-runbook lab down, then lab up`);
  const child = spawn('nsenter', nsenterArgs(node.pid, command), { cwd: '/', env: NODE_ENV, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
  });
}

async function fault(argv: string[]): Promise<number> {
  const [name, ...extra] = argv;
  if (name === undefined || extra.length > 0 || !LAB_FAULTS.includes(name as LabCliFault)) {
    throw new OperatorError(`lab fault ${argv.join(' ')}: choose one of ${LAB_FAULTS.join(', ')}`);
  }
  const state = runningLab();
  if (!holderAlive(state)) throw new OperatorError(`the lab's holder (pid ${state.holderPid}) is gone: run etcd-runbook lab down, then lab up`);
  const reply = await askHolder({ op: 'fault', fault: name as Fault }, 120_000);
  if (!reply.ok) throw new OperatorError(`lab fault ${name}: ${reply.error}`);
  process.stdout.write(`lab fault ${name}: ${describeFault(name as Fault, reply.victims ?? [], reply.members ?? state.nodes.length)}\n`);
  return 0;
}

async function down(argv: string[]): Promise<number> {
  if (argv.length > 0) throw new OperatorError(`lab down takes no arguments (got ${argv.join(' ')})`);
  const state = readLabState();
  if (!state) {
    process.stdout.write('lab down: no lab is running\n');
    return 0;
  }
  if (state.starting && holderAlive(state)) throw new OperatorError('the lab is still starting: wait for lab up to finish, then run lab down');
  let answered = false;
  if (holderAlive(state)) {
    const reply = await askHolder({ op: 'down' }, 120_000).catch((err: Error) => ({ ok: false as const, error: err.message }));
    if (!reply.ok) process.stderr.write(`lab down: the holder could not stop the lab (${reply.error}): cleaning up directly\n`);
    answered = reply.ok;
  }
  if (!answered) await cleanUpAfterHolder(state);
  process.stdout.write(`lab down: ${state.nodes.length} nodes stopped${state.labDir ? `, ${state.labDir} removed` : ''}\n`);
  return 0;
}
