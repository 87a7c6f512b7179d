import { readdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { ProbeChannels } from '../cluster/channels.js';
import { EtcdClusterClient } from '../cluster/client.js';
import { probeThroughElection } from '../cluster/election.js';
import { probeCluster, silentRecheck, type ClientTls, type ProbeTarget } from '../cluster/probe.js';
import type { ClusterReport, Verdict } from '../cluster/types.js';
import { defaultJournalDir, Journal, readJournal, resumeState, latestJournal } from '../engine/journal.js';
import { ScriptedOperator, type Operator, type ScriptedOperatorOptions } from '../engine/operator.js';
import { initialState, reduce } from '../engine/reducer.js';
import { Runner } from '../engine/runner.js';
import { transcriptMarkdown, writeTranscript } from '../engine/transcript.js';
import type { EngineEvent, RunState } from '../engine/types.js';
import type { Inventory } from '../inventory/schema.js';
import { memberRecord } from '../runbook/context.js';
import { FileChecks } from '../runbook/file-checks.js';
import type { GuardEnvironment, GuardMember } from '../runbook/guards/index.js';
import { CommandFragment } from '../runbook/template.js';
import { findRunbook, loadRunbookFile } from '../runbook/loader.js';
import type { Runbook } from '../runbook/schema.js';
import { appliesToJudgedOnResume, changesMembershipOrRestores, judgeAppliesTo, judgeOverrideValue, judgeServerVersions, type AppliesToJudgement } from '../runbook/preconditions.js';
import { renderRunbook } from '../runbook/render.js';
import type { RenderedRunbook } from '../runbook/rendered.js';
import { NodeTransports } from '../transport/for-node.js';
import { colorEnabled } from '../util/color.js';
import { ExitCode, OperatorError } from '../util/errors.js';
import { clusterTargetFrom, probeTargets, type ClusterTarget } from './cluster-target.js';
import { connectionFlags, connectionFlagsHelp } from './connection-flags.js';
import { parseSets, runTimestamp } from './plan.js';
import { checkSshLogins } from './ssh-logins.js';
import { StepLog } from './step-log.js';

export const runHelp = `Usage: etcd-runbook run <runbook|file.yaml> [--dry-run] [--yes] [--set name=value]... [--override-applies-to RUNBOOK] [connection flags]

Step through a runbook against this cluster: each step shows its host, the
exact command and its guards, and runs only once confirmed. Every transition
is journaled (JSONL, fsync'd, mode 0600); 'etcd-runbook resume' continues
an interrupted run. A Markdown transcript is written next to the journal.

  --dry-run            probes and read-only steps run; everything that would
                       change state is recorded, not run
  --yes                confirm every step without asking (guards still
                       apply and are never overridden): for drills and CI
  --set NAME=VALUE     a runbook input (e.g. --set member=m3)
  --override-applies-to RUNBOOK
                       run the runbook although the cluster's verdict is not one
                       it applies to (its appliesTo); the value is the runbook's
                       id. Without it such a run is refused before any step
                       (a dry run too); with it, the override is journaled and
                       shown in the step log, the view and the transcript
  --journal-dir DIR    where journals and transcripts go
                       (default $ETCD_RUNBOOK_JOURNAL_DIR or ~/.local/state/etcd-runbook/journal)

${connectionFlagsHelp}`;

export const resumeHelp = `Usage: etcd-runbook resume [journal.jsonl] [--yes [--retry-unknown | --skip-unknown REASON] [--retry-failed]] [--override-applies-to RUNBOOK] [--journal-dir DIR]

Continue an interrupted, aborted or failed run from its journal (default:
the newest unfinished run in the journal dir). Steps that finished are not
run again. A step that was running when the tool stopped is shown as
"unknown — check before re-running" and is never re-run silently: at the
prompt, retry or skip it; with --yes the run stops there unless you say
which, having checked what the step did:

  --retry-unknown        run the unknown step again
  --skip-unknown REASON  mark it skipped (it did complete), with the reason
  --retry-failed         run the step that failed again (e.g. a copy cut off
                         by a host that went away, once it is back)

A run none of whose steps has run yet is judged as a new one: the cluster
is probed and a verdict outside the runbook's appliesTo is refused unless
--override-applies-to RUNBOOK names it (or the run's journal already holds
that override). Once a step has run, the cluster is mid-recovery and its
verdict is expected to differ: it is not judged again.`;

const runFlags = {
  ...connectionFlags,
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  set: { type: 'string', multiple: true },
  'override-applies-to': { type: 'string' },
  'journal-dir': { type: 'string' },
} as const;

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: runFlags, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(`${runHelp}\n`);
    return 0;
  }
  const [name, ...extra] = positionals;
  if (!name || extra.length > 0) throw new OperatorError('run takes one runbook id or file: etcd-runbook run <runbook> (see --help)');
  const tui = wantsTui(Boolean(values.yes));
  const operator = tui ? undefined : chooseOperator(Boolean(values.yes), 'run');
  const target = await clusterTargetFrom(values);
  // the run's probes carry on from the detection's connections
  const channels = new ProbeChannels(target.tls);
  try {
    // the runbook is read and checked while the probe waits on the network
    const [runbook, detection] = await Promise.all([
      name.endsWith('.yaml') || name.endsWith('.yml') ? loadRunbookFile(name) : findRunbook(name),
      probeThroughElection(() => probeCluster(target.targets, { tls: target.tls, deadlineMs: target.deadlineMs, channels })),
    ]);
    if (!tui) await checkSshLogins(target.config.inventory);
    const prepared = await prepareRun({
      runbook,
      target,
      detection,
      sets: values.set ?? [],
      dryRun: Boolean(values['dry-run']),
      journalDir: values['journal-dir'],
      overrideAppliesTo: values['override-applies-to'],
    });
    if (tui) {
      const { runInteractive } = await import('./interactive.js');
      return await runInteractive({ kind: 'run', prepared, target, noColor: values['no-color'] });
    }
    return await drive(prepared.state, { ...prepared.options, operator: operator!, opening: prepared.opening, noColor: values['no-color'], channels });
  } finally {
    channels.close();
  }
}

export interface PrepareRunOptions {
  runbook: Runbook;
  target: ClusterTarget;
  detection: ClusterReport;
  /** --set name=value */
  sets: string[];
  dryRun: boolean;
  journalDir?: string;
  /** --override-applies-to: the runbook id, to run it on a verdict outside its appliesTo */
  overrideAppliesTo?: string | undefined;
}

/** A run ready to drive: rendered runbook, journal created, run-started appended. */
export interface PreparedRun {
  state: RunState;
  started: Extract<EngineEvent, { type: 'run-started' }>;
  /** what the journal opened with: run-started, and the appliesTo override when there is one */
  opening: EngineEvent[];
  options: Omit<DriveOptions, 'operator'>;
}

/**
 * Render the runbook for this cluster, open its journal and record
 * run-started. Every run is prepared here (run, the view, the drill), so
 * here it is refused, before a journal exists, when the runbook is not for
 * the detected verdict (unless overridden) or a server is too old for it.
 */
export async function prepareRun(options: PrepareRunOptions): Promise<PreparedRun> {
  const { runbook, target, detection } = options;
  // before rendering: a runbook for another verdict may lack the detection values it defaults from
  const applies = refuseUnlessApplies(runbook, detection, options.overrideAppliesTo);
  const journalDir = options.journalDir ?? defaultJournalDir();
  const now = await runStartTime(journalDir);
  const runId = newRunId(runbook.id, now);
  const rendered = renderRunbook(runbook, {
    inventory: target.config.inventory,
    report: detection,
    inputs: parseSets(options.sets),
    run: { id: runId, timestamp: runTimestamp(now) },
  });
  refuseOldServers(rendered, detection);
  const journal = await Journal.create(journalDir, runId);
  const started: Extract<EngineEvent, { type: 'run-started' }> = {
    type: 'run-started',
    at: new Date().toISOString(),
    runId,
    runbook: rendered,
    dryRun: options.dryRun,
    operator: operatorName(),
    detection,
    cluster: { inventory: target.config.inventory, endpoints: target.config.endpoints },
  };
  journal.append(started);
  let state = initialState(started);
  const opening: EngineEvent[] = [started];
  if (applies.kind === 'overridden') {
    const overridden = journal.append(overrideEvent(runbook.id, applies, started.operator));
    state = reduce(state, overridden);
    opening.push(overridden);
  }
  return {
    state,
    started,
    opening,
    options: { journal, inventory: target.config.inventory, endpoints: target.config.endpoints, tls: target.tls },
  };
}

/** The appliesTo judgement, thrown as the one-line refusal when the run may not start. */
function refuseUnlessApplies(runbook: { id: string; appliesTo: readonly Verdict[] }, detection: ClusterReport, override: string | undefined): Exclude<AppliesToJudgement, { kind: 'refused' }> {
  const judged = judgeAppliesTo(runbook, detection.verdict.verdict, override, detection.verdict.summary);
  if (judged.kind === 'refused') throw new OperatorError(judged.message, judged.exitCode);
  return judged;
}

/** A runbook that changes the member list or restores runs on etcd 3.4+ servers only. */
function refuseOldServers(rendered: RenderedRunbook, detection: ClusterReport): void {
  if (!changesMembershipOrRestores(rendered)) return;
  const judged = judgeServerVersions(detection);
  if (!judged.ok) throw new OperatorError(`${rendered.id}: ${judged.message}`, ExitCode.configError);
}

function overrideEvent(runbook: string, applies: Extract<AppliesToJudgement, { kind: 'overridden' }>, operator: string): EngineEvent {
  return { type: 'applies-to-overridden', at: new Date().toISOString(), runbook, verdict: applies.verdict, appliesTo: applies.appliesTo, operator };
}

/**
 * A resumed run that has not started yet is judged as a new one
 * (appliesToJudgedOnResume), on a probe of the cluster now. Returns the
 * events to journal: that probe, and the override when one was given and
 * needed.
 */
async function judgeResumedStart(state: RunState, target: ClusterTarget, override: string | undefined, operator: string): Promise<EngineEvent[]> {
  const named = judgeOverrideValue(state.runbook.id, override);
  if (!named.ok) throw new OperatorError(named.message, ExitCode.configError);
  if (!appliesToJudgedOnResume(state)) return [];
  const report = await probeThroughElection(() => probeCluster(target.targets, { tls: target.tls, deadlineMs: target.deadlineMs }));
  const applies = refuseUnlessApplies({ id: state.runbook.id, appliesTo: state.runbook.appliesTo ?? [] }, report, override);
  refuseOldServers(state.runbook, report);
  const probed: EngineEvent = { type: 'probe', at: new Date().toISOString(), report };
  return applies.kind === 'overridden' ? [probed, overrideEvent(state.runbook.id, applies, operator)] : [probed];
}

export async function resumeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      yes: { type: 'boolean', short: 'y' },
      'retry-unknown': { type: 'boolean' },
      'skip-unknown': { type: 'string' },
      'retry-failed': { type: 'boolean' },
      'override-applies-to': { type: 'string' },
      'journal-dir': { type: 'string' },
      'no-color': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${resumeHelp}\n`);
    return 0;
  }
  const path = positionals[0] ?? (await latestJournal(values['journal-dir'] ?? defaultJournalDir()));
  if (!path) throw new OperatorError(`no unfinished run in ${values['journal-dir'] ?? defaultJournalDir()}: pass the journal file`);
  if (values['retry-unknown'] && values['skip-unknown'] !== undefined) throw new OperatorError('--retry-unknown and --skip-unknown contradict each other: pick one');
  const events = await readJournal(path);
  const first = events[0];
  if (!first || first.type !== 'run-started' || !first.cluster) throw new OperatorError(`${path}: not a run journal (no run-started event with the cluster)`);
  let state = events.slice(1).reduce(reduce, initialState(first));
  if (state.status === 'succeeded') throw new OperatorError(`${path}: run ${state.runId} already succeeded; nothing to resume`);
  // refused before the journal is touched: a resume that cannot go on records nothing
  if (!values.yes && !wantsTui(false)) chooseOperator(false, 'resume');
  const { inventory, endpoints } = first.cluster;
  const { loadClientTls } = await import('../cluster/probe.js');
  const tls = await loadClientTls(inventory.tls ?? {});
  const target: ClusterTarget = { config: { inventory, endpoints, sources: [`journal ${path}`] }, targets: probeTargets({ inventory, endpoints, sources: [] }), tls };
  const judged = await judgeResumedStart(state, target, values['override-applies-to'], operatorName());
  const journal = await Journal.open(path);
  const log = new StepLog(colorEnabled(values['no-color']));
  const quiet = wantsTui(Boolean(values.yes));
  for (const event of [...resumeState(events, new Date().toISOString(), operatorName()), ...judged]) {
    state = reduce(state, journal.append(event));
    const line = log.line(event, state);
    if (line && !quiet) process.stdout.write(`${line}\n`);
  }
  const unknown = state.steps.find((step) => step.status === 'unknown');
  const forUnknown = values['retry-unknown'] ? { type: 'retry' as const } : values['skip-unknown'] !== undefined ? { type: 'skip' as const, reason: values['skip-unknown'] } : undefined;
  if (wantsTui(Boolean(values.yes))) {
    const { runInteractive } = await import('./interactive.js');
    return runInteractive({ kind: 'run', prepared: { state, started: first, opening: [first], options: { journal, inventory, endpoints, tls } }, target, noColor: values['no-color'] });
  }
  const failed = values['retry-failed'] ? state.steps.find((step) => step.status === 'failed') : undefined;
  const script = { ...(unknown && forUnknown ? { [unknown.id]: forUnknown } : {}), ...(failed ? { [failed.id]: { type: 'retry' as const } } : {}) };
  const operator = chooseOperator(Boolean(values.yes), 'resume', script);
  await checkSshLogins(inventory);
  return drive(state, { journal, operator, inventory, endpoints, tls, noColor: values['no-color'] });
}

export interface DriveOptions {
  journal: Journal;
  operator: Operator;
  inventory: Inventory;
  endpoints: string[];
  tls?: ClientTls;
  /** the run's opening events (run-started, an appliesTo override), printed before the runner starts */
  opening?: EngineEvent[];
  noColor?: boolean;
  /** connections the detection opened, for the run's probes (their owner closes them) */
  channels?: ProbeChannels;
}

async function drive(state: RunState, options: DriveOptions): Promise<number> {
  return (await driveRun(state, options)).exitCode;
}

/** Run to the end (or until Ctrl-C), printing the step log, then write the transcript. */
export async function driveRun(state: RunState, options: DriveOptions): Promise<RunOutcome> {
  const log = new StepLog(colorEnabled(options.noColor));
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  for (const event of options.opening ?? []) {
    const line = log.line(event, state);
    if (line) process.stdout.write(`${line}\n`);
  }
  const run = createRun(state, {
    ...options,
    signal: interrupt.signal,
    onEvent: (event, next) => {
      const line = log.line(event, next);
      if (line) process.stdout.write(`${line}\n`);
    },
  });
  let outcome: RunOutcome;
  try {
    outcome = await run.run();
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  process.stdout.write(`journal: ${outcome.journal}\ntranscript: ${outcome.transcript}\n`);
  return outcome;
}

export interface RunOutcome {
  state: RunState;
  journal: string;
  transcript: string;
  /** 0 when the run succeeded, else runFailed */
  exitCode: number;
}

export interface CreateRunOptions extends DriveOptions {
  signal: AbortSignal;
  onEvent: (event: EngineEvent, state: RunState) => void;
}

/**
 * The Runner wired to this cluster (transports, client, probes, guards);
 * run() drives it to the end, closes what it opened, and writes the transcript.
 */
export function createRun(state: RunState, options: CreateRunOptions): { runner: Runner; run: () => Promise<RunOutcome> } {
  const targets: ProbeTarget[] = probeTargets({ inventory: options.inventory, endpoints: options.endpoints, sources: [] });
  // a member that stayed silent (frozen) is re-checked with a short deadline on every later probe of the run
  // the run's probes and the client's endpoint ranking share open connections
  const channels = options.channels ?? new ProbeChannels(options.tls);
  const client = new EtcdClusterClient(options.endpoints, options.tls, { channels });
  const probeOnly = silentRecheck(targets, { tls: options.tls, channels }, undefined, state.lastProbe);
  // each probe of the run also ranks the client's endpoints (see rankWith)
  const probe = async (): Promise<ClusterReport> => {
    const report = await probeOnly();
    client.rankWith(report);
    return report;
  };
  const transports = new NodeTransports(options.inventory);
  const guardEnvironment: GuardEnvironment = {
    probe,
    transport: (node) => transports.get(node),
    client,
    members: guardMembers(options.inventory),
    // a snapshot verified at one step and unchanged since is not read whole again at the next
    fileChecks: new FileChecks(),
  };
  const runner = new Runner(state, {
    transport: (node) => transports.get(node),
    client,
    probe,
    guardEnvironment,
    operator: options.operator,
    journal: options.journal,
    signal: options.signal,
    onEvent: options.onEvent,
  });
  const run = async (): Promise<RunOutcome> => {
    let final: RunState;
    try {
      final = await runner.run();
    } finally {
      await client.close();
      if (!options.channels) channels.close();
      await transports.closeAll();
      options.journal.close();
    }
    const transcript = options.journal.path.replace(/\.jsonl$/, '.md');
    await writeTranscript(transcript, transcriptMarkdown(final));
    return { state: final, journal: options.journal.path, transcript, exitCode: final.status === 'succeeded' ? 0 : ExitCode.runFailed };
  };
  return { runner, run };
}

/** The members as guards see them, with the service's is-active command the runbooks use too. */
function guardMembers(inventory: Inventory): GuardMember[] {
  return inventory.members.map((m, index) => {
    const record = memberRecord(inventory, index);
    const isActive = isActiveOf(record.service);
    const controlPlaneActive = isActiveOf(record.controlPlane);
    return {
      name: m.name,
      peerURL: m.peerURLs[0] ?? '',
      clientURL: m.clientURLs[0] ?? '',
      ...(m.node?.paths?.dataDir ? { dataDir: m.node.paths.dataDir } : {}),
      ...(isActive ? { isActiveCommand: isActive } : {}),
      ...(controlPlaneActive ? { controlPlaneActiveCommand: controlPlaneActive } : {}),
    };
  });
}

/** A service record's is-active command (service, controlPlane), when the inventory or layout gives one. */
function isActiveOf(service: unknown): string | undefined {
  const isActive = service && typeof service === 'object' && 'isActive' in service ? service.isActive : undefined;
  return isActive instanceof CommandFragment ? isActive.command : undefined;
}

/** The full-screen view answers for the operator on a terminal unless --yes. */
function wantsTui(yes: boolean): boolean {
  return !yes && Boolean(process.stdin.isTTY) && Boolean(process.stdout.isTTY);
}

/** Without the full-screen view, only --yes can answer: each step confirmed, guards never overridden. */
function chooseOperator(yes: boolean, command: string, script: ScriptedOperatorOptions['script'] = {}): Operator {
  if (yes) return new ScriptedOperator({ script });
  throw new OperatorError(`${command} needs a terminal to confirm each step: pass --yes to confirm every step (guards still apply), or use 'etcd-runbook plan' to see the steps`);
}

/** 20261124T183000Z-backup-k3x9: sortable, unique, names the runbook. */
/**
 * The run's timestamp names what it leaves behind (snapshot-<ts>.db,
 * <data dir>.old-<ts>, backups of edited files), and those are never
 * overwritten: a run that starts in the same second as the last one in this
 * journal dir (a refused run re-run at once) waits for the next second.
 */
export async function runStartTime(journalDir: string): Promise<Date> {
  const names = await readdir(journalDir).catch(() => [] as string[]);
  for (;;) {
    const now = new Date();
    const prefix = `${runTimestamp(now)}-`;
    if (!names.some((name) => name.startsWith(prefix))) return now;
    await new Promise((resolve) => setTimeout(resolve, 1000 - now.getMilliseconds() + 5));
  }
}

export function newRunId(runbookId: string, now = new Date()): string {
  return `${runTimestamp(now)}-${runbookId}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Who ran it: the person behind sudo when there is one. */
export function operatorName(): string {
  return process.env.SUDO_USER || userInfo().username;
}

