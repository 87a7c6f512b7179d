import { existsSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ProbeChannels } from '../cluster/channels.js';
import type { ClientTls } from '../cluster/tls.js';
import type { ClusterReport, Verdict } from '../cluster/types.js';
import { quorumHeld } from '../cluster/verdict.js';
import { readJournal } from '../engine/journal.js';
import type { EngineEvent, RunStatus } from '../engine/types.js';
import { LabCluster } from '../lab/cluster.js';
import { EXPECTED_VERDICT, EXPIRED_DAYS_AGO, injectFault, labShapeFor, waitForReport, waitForVerdict, type Fault } from '../lab/faults.js';
import type { LabLayout } from '../lab/layouts.js';
import type { EtcdVersion } from '../lab/etcd-versions.js';
import { killAllTracked } from '../lab/processes.js';
import { BALLAST_PREFIX, ballastKeyCount, checkSample, countBallast, sampleEntries, writeBallast, writeSample, type SampleCheck } from '../lab/sample-data.js';
import { messageOf } from '../util/errors.js';
import { drillTiming, type DrillTiming } from './timing.js';

/**
 * A disaster-recovery rehearsal on a real local cluster of lab nodes
 * (systemd as PID 1, the layout at a master's real paths, reached over SSH
 * as a master is, or through nsenter): a lab started, sample data written, the fault injected
 * and detected, then the
 * recovery — unattended through the engine or by an operator in the view,
 * whichever the `Recovery` does — and at the end: the verdict, whether every
 * sample key survived, and where the time went. Everything the lab started
 * is stopped when the drill ends, however it ends.
 */
export interface DrillOptions {
  members: number;
  fault: Fault;
  layout: LabLayout;
  /** the nodes' etcd release */
  etcd: EtcdVersion;
  /** keep the lab directory (PKI, data, logs, journal, transcript) */
  keep: boolean;
  /** how the run reaches the nodes: ssh through each node's sshd, as masters are reached (default), or nsenter from here */
  transport?: 'ssh' | 'nsenter';
  /** sample keys written before the fault */
  sampleCount?: number;
  /** MiB of ballast written before the fault (a production-sized keyspace); 0 or none: just the sample */
  ballastMib?: number;
  /** default: <lab>/journal */
  journalDir?: string;
  /** progress lines */
  say: (line: string) => void;
}

export interface RecoveryContext {
  lab: LabCluster;
  /** the detection the run starts from (the fault's verdict) */
  detection: ClusterReport;
  /** the detection's connections, for the run's probes (the drill closes them) */
  channels: ProbeChannels;
  journalDir: string;
  /** runbook inputs the drill fills where the runbook declares them */
  inputDefaults: Record<string, string>;
}

export interface RecoveryResult {
  /** the run's journal; none when no runbook was run */
  journal?: string;
  /** the runbook that ran */
  runbook?: string;
  /** an operator answered (the view): the time before the run and at each confirmation is theirs */
  attended: boolean;
  /** why no runbook ran (none recommended, not installed, the view left early) */
  problem?: string;
}

/** How a drill's fault is recovered: unattended through the engine, or by an operator in the view. */
export interface Recovery {
  /**
   * What the tool does when it starts on a master, before its first probe
   * (read the inventory, load the runbooks). It runs before the fault: its
   * time is the tool's start-up (the bench's first frame), not the recovery's.
   */
  launch?(lab: LabCluster): Promise<void>;
  /** recover the fault the detection saw */
  recover(context: RecoveryContext): Promise<RecoveryResult>;
}

export interface DrillResult {
  fault: Fault;
  members: number;
  layout: LabLayout;
  etcd: EtcdVersion;
  victims: string[];
  expectedVerdict: Verdict;
  detectedVerdict: Verdict;
  runbook?: string;
  runStatus: RunStatus | 'not run';
  /** an operator stepped through the run in the view (not --yes) */
  attended: boolean;
  finalVerdict?: Verdict;
  sample?: SampleCheck;
  /** the ballast's keys after the recovery, when there was ballast */
  ballast?: { mib: number; expected: number; found: number };
  timing?: DrillTiming;
  /** the run's journal, when it outlives the drill (--keep, or a journal dir outside the lab) */
  journal?: string;
  /** the lab directory, when kept */
  keptIn?: string;
  ok: boolean;
  /** why not ok, one line each */
  reasons: string[];
}

export const DEFAULT_SAMPLE_COUNT = 300;

/** Faults that leave an established cluster behind (a field cluster's members have long been connected). */
const SETTLE_BEFORE: ReadonlySet<Fault> = new Set(['minority', 'quorum', 'frozen']);

export async function runDrill(options: DrillOptions, recovery: Recovery): Promise<DrillResult> {
  const { say } = options;
  const cleanup = new DrillCleanup(options.keep, say);
  cleanup.install();
  try {
    say(`starting a ${options.members}-member etcd lab on loopback (${options.layout} layout, real lab nodes with etcd ${options.etcd}, reached ${options.transport === 'nsenter' ? 'through nsenter' : 'over SSH'})…`);
    const lab = await cleanup.track(
      LabCluster.start(
        labShapeFor(options.fault, {
          members: options.members,
          layout: options.layout,
          etcd: options.etcd,
          keep: options.keep,
          transport: options.transport ?? 'ssh',
          signal: cleanup.startAborted,
        }),
      ),
    );
    // the drill's detection and the run's probes share connections, as one `etcd-runbook run` does
    let channels: ProbeChannels | undefined;
    try {
      say(`lab: ${lab.dir}`);
      channels = new ProbeChannels(await lab.clientTls());
      return await rehearse(lab, options, recovery, channels);
    } finally {
      channels?.close();
      await lab.close();
      cleanup.closed();
      say(options.keep ? `lab stopped; kept in ${lab.dir} (inventory: ${lab.inventoryPath})` : 'lab stopped and removed');
    }
  } finally {
    cleanup.uninstall();
  }
}

async function rehearse(lab: LabCluster, options: DrillOptions, recovery: Recovery, channels: ProbeChannels): Promise<DrillResult> {
  const { say, fault } = options;
  const tls = await lab.clientTls();
  const entries = sampleEntries(options.sampleCount ?? DEFAULT_SAMPLE_COUNT, basename(lab.dir));
  await onEverySide(lab, fault, (endpoints, tls) => writeSample(endpoints, tls, entries));
  say(`wrote ${entries.length} sample keys under /registry/${fault === 'split-brain' ? ' (the same keys on every side of the split)' : ''}`);
  const ballastMib = options.ballastMib ?? 0;
  if (ballastMib > 0) {
    say(`writing ${ballastMib} MiB of ballast under ${BALLAST_PREFIX} (a production-sized keyspace)…`);
    await onEverySide(lab, fault, (endpoints, tls) => writeBallast(endpoints, tls, ballastMib));
  }
  if (SETTLE_BEFORE.has(fault)) await lab.settled();
  await recovery.launch?.(lab);

  const faultAt = Date.now();
  const victims = await injectDrillFault(lab, fault);
  const expectedVerdict = EXPECTED_VERDICT[fault];
  say(`fault: ${describeFault(fault, victims, lab.members.length)}`);
  // the probe that saw the fault is the run's detection, as a master's operator's first probe is
  const detection = await waitForReport(lab, expectedVerdict, undefined, channels);
  const detectedAt = Date.now();
  const detectedVerdict = detection.verdict.verdict;
  const base = { fault, members: options.members, layout: options.layout, etcd: options.etcd, victims, expectedVerdict, detectedVerdict };
  if (detectedVerdict !== expectedVerdict) {
    return { ...base, runStatus: 'not run', attended: false, ok: false, reasons: [`the fault should produce ${expectedVerdict}, detection says ${detectedVerdict}`] };
  }
  say(`detected ${detectedVerdict}, as the fault implies`);

  const journalDir = options.journalDir ?? join(lab.dir, 'journal');
  const recovered = await recovery.recover({ lab, detection, channels, journalDir, inputDefaults: { backupDir: join(lab.dir, 'backups') } });
  const events: EngineEvent[] = recovered.journal ? readJournal(recovered.journal) : [];
  const finished = events.findLast((e) => e.type === 'run-finished' || e.type === 'aborted');
  const runStatus: RunStatus | 'not run' = !recovered.journal ? 'not run' : finished?.type === 'run-finished' ? finished.status : finished ? 'aborted' : 'in-progress';
  const healthyAt = finished ? Date.parse(finished.at) : Date.now();

  const reasons: string[] = [];
  if (runStatus !== 'succeeded') {
    reasons.push(recovered.journal ? `the runbook ${recovered.runbook ?? ''} ended ${runStatus}${abortReason(events)}` : `no runbook was run: ${recovered.problem ?? 'none chosen'}`);
  }
  // a run that succeeded ended waiting for health: a few seconds more for a probe to agree after a
  // learner's promotion; one that did not (aborted, failed, none) is judged at once, as it was left
  const finalVerdict = await waitForVerdict(lab, 'healthy', runStatus === 'succeeded' ? 5000 : 0);
  if (finalVerdict !== 'healthy') reasons.push(`the cluster is ${finalVerdict}, not healthy`);
  // the sample is read back only through a quorum that answers reads
  const readable = quorumHeld(finalVerdict);
  let sample: SampleCheck | undefined;
  if (!readable) {
    reasons.push(`the sample data was not read back: a ${finalVerdict} cluster has no quorum to read it through`);
  } else {
    try {
      sample = await checkSample(lab.endpoints, tls, entries);
      if (sample.intact !== sample.expected) reasons.push(`sample data lost: ${sample.missing.length} missing, ${sample.changed.length} changed of ${sample.expected}`);
    } catch (err) {
      reasons.push(`the sample data could not be read back: ${messageOf(err)}`);
    }
  }
  let ballast: DrillResult['ballast'];
  if (ballastMib > 0 && readable) {
    ballast = { mib: ballastMib, expected: ballastKeyCount(ballastMib), found: await countBallast(lab.endpoints, tls).catch(() => -1) };
    if (ballast.found !== ballast.expected) reasons.push(`ballast lost: ${ballast.found < 0 ? 'it could not be counted' : `${ballast.found} of ${ballast.expected} keys`}`);
  }
  const timing = drillTiming(events, { faultAt, detectedAt, healthyAt, interactive: recovered.attended });
  return {
    ...base,
    ...(recovered.runbook ? { runbook: recovered.runbook } : {}),
    runStatus,
    attended: recovered.attended,
    finalVerdict,
    ...(sample ? { sample } : {}),
    ...(ballast ? { ballast } : {}),
    timing,
    ...(recovered.journal && (options.keep || !recovered.journal.startsWith(`${lab.dir}/`)) ? { journal: recovered.journal } : {}),
    ...(options.keep ? { keptIn: lab.dir } : {}),
    ok: reasons.length === 0,
    reasons,
  };
}

/**
 * The lab's faults, except that the drill's minority is one member down on
 * 5 members too (the lab's kills the most quorum survives, 2 of 5):
 * replace-member brings back the member it replaces and removes the other
 * dead one for a run of its own, so with one down a single run ends with
 * every member back, as the drill checks.
 */
async function injectDrillFault(lab: LabCluster, fault: Fault): Promise<string[]> {
  if (fault !== 'minority') return injectFault(lab, fault);
  const victim = lab.members[lab.members.length - 1]?.name;
  if (!victim) return [];
  await lab.kill(victim);
  return [victim];
}

/**
 * Write to the lab's one cluster, or for a split brain to each member's own
 * cluster in turn: independent clusters, so the same keys go to each (the
 * data every side had before the split).
 */
async function onEverySide(lab: LabCluster, fault: Fault, write: (endpoints: string[], tls: ClientTls) => Promise<unknown>): Promise<void> {
  const tls = await lab.clientTls();
  if (fault === 'split-brain') for (const endpoint of lab.endpoints) await write([endpoint], tls);
  else await write(lab.endpoints, tls);
}

export function describeFault(fault: Fault, victims: string[], members: number): string {
  const who = victims.join(', ');
  switch (fault) {
    case 'none':
      return 'none (a healthy cluster)';
    case 'minority':
      return `${who} killed (SIGKILL): ${victims.length} of ${members} down, quorum held`;
    case 'quorum':
      return `${who} killed (SIGKILL): ${victims.length} of ${members} down, quorum lost`;
    case 'frozen':
      return `${who} frozen (SIGSTOP): sockets open, answers nothing`;
    case 'split-brain':
      return `${members} single-member clusters on the cluster's addresses`;
    case 'nospace':
      return `filled through the API to its space quota: NOSPACE raised on ${who}, every write refused`;
    case 'corrupt':
      return `CORRUPT raised on ${who} through the maintenance API: its data is not to be trusted, writes refused`;
    case 'expired-certs':
      return `${who} restarted with a server certificate that expired ${EXPIRED_DAYS_AGO} days ago: no client completes a handshake`;
  }
}

function abortReason(events: EngineEvent[]): string {
  const aborted = events.findLast((e) => e.type === 'aborted');
  return aborted?.type === 'aborted' ? `: ${aborted.reason}` : '';
}

/**
 * The drill's share of cleanup beyond lab.close(): on an uncaught error or a
 * signal the process exits without unwinding, so a synchronous exit handler
 * kills every recorded lab process (processes.ts) and removes the lab's
 * directories; a signal exits with 128+n. A signal while the lab is still
 * starting lets the start fail (its processes are killed) and clean itself up.
 */
class DrillCleanup {
  private lab: LabCluster | undefined;
  private starting = false;
  private interrupted: NodeJS.Signals | undefined;
  private done = false;
  private readonly abortStart = new AbortController();
  /** aborted by a signal while the lab starts */
  readonly startAborted = this.abortStart.signal;
  private readonly onExit = () => this.exitNow();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    // the lab's own handler re-raises the signal once it has killed its processes
    if (this.interrupted) return;
    this.interrupted = signal;
    this.say(`\ndrill interrupted (${signal}): stopping the lab…`);
    if (this.starting) this.abortStart.abort();
    else process.exit(exitCodeFor(signal));
  };

  constructor(
    private readonly keep: boolean,
    private readonly say: (line: string) => void,
  ) {}

  install(): void {
    process.on('exit', this.onExit);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, this.onSignal);
  }

  uninstall(): void {
    process.removeListener('exit', this.onExit);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(signal, this.onSignal);
  }

  /** The lab being started; a signal meanwhile is acted on once the start settles. */
  async track(starting: Promise<LabCluster>): Promise<LabCluster> {
    this.starting = true;
    try {
      this.lab = await starting;
    } catch (err) {
      // a start cut short by the signal cleaned up after itself
      if (this.interrupted) process.exit(exitCodeFor(this.interrupted));
      throw err;
    } finally {
      this.starting = false;
    }
    if (this.interrupted) {
      await this.lab.close();
      this.done = true;
      process.exit(exitCodeFor(this.interrupted));
    }
    return this.lab;
  }

  closed(): void {
    this.done = true;
  }

  /** Synchronous: it runs from process 'exit'. */
  private exitNow(): void {
    killAllTracked();
    if (this.done || !this.lab || this.keep) return;
    const dirs = [this.lab.dir];
    // a SIGKILLed etcd may finish the write it was in: retry until the directories stay gone (≤ 1 s)
    for (let i = 0; i < 20; i++) {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      if (!dirs.some((dir) => existsSync(dir))) return;
    }
  }
}

/** 128 + the signal's number, as a shell reports a process a signal ended. */
function exitCodeFor(signal: NodeJS.Signals): number {
  return 128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15);
}
