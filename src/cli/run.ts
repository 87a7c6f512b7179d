import { parseArgs } from 'node:util';
import { ProbeChannels } from '../cluster/channels.js';
import { probeThroughElection } from '../cluster/election.js';
import { probeCluster } from '../cluster/probe.js';
import { defaultJournalDir, Journal, readJournal, resumeState, latestJournal } from '../engine/journal.js';
import { ScriptedOperator, type Operator, type ScriptedOperatorOptions } from '../engine/operator.js';
import { initialState, reduce } from '../engine/reducer.js';
import type { RunState } from '../engine/types.js';
import { findRunbook, loadRunbookFile } from '../runbook/loader.js';
import { clusterTargetFrom, probeTargets, type ClusterTarget } from '../session/cluster-target.js';
import type { DriveOptions } from '../session/create.js';
import { judgeResumedStart, prepareRun } from '../session/prepare.js';
import { operatorName } from '../session/run-ids.js';
import { colorEnabled } from '../util/color.js';
import { OperatorError } from '../util/errors.js';
import { connectionFlags, connectionFlagsHelp } from './connection-flags.js';
import { driveRun } from './line-view.js';
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
      const { runInteractive } = await import('./full-screen-view.js');
      return await runInteractive({ kind: 'run', prepared, noColor: values['no-color'] });
    }
    return await drive(prepared.state, { ...prepared.options, operator: operator!, opening: prepared.opening, noColor: values['no-color'], channels });
  } finally {
    channels.close();
  }
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
    const { runInteractive } = await import('./full-screen-view.js');
    return runInteractive({ kind: 'run', prepared: { state, started: first, opening: [first], options: { journal, inventory, endpoints, tls }, target }, noColor: values['no-color'] });
  }
  const failed = values['retry-failed'] ? state.steps.find((step) => step.status === 'failed') : undefined;
  const script = { ...(unknown && forUnknown ? { [unknown.id]: forUnknown } : {}), ...(failed ? { [failed.id]: { type: 'retry' as const } } : {}) };
  const operator = chooseOperator(Boolean(values.yes), 'resume', script);
  await checkSshLogins(inventory);
  return drive(state, { journal, operator, inventory, endpoints, tls, noColor: values['no-color'] });
}

async function drive(state: RunState, options: DriveOptions): Promise<number> {
  return (await driveRun(state, options)).exitCode;
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
