import { createElement } from 'react';
import { render } from 'ink';
import type { ProbeChannels } from '../cluster/channels.js';
import { probeThroughElection } from '../cluster/election.js';
import type { ClusterReport } from '../cluster/types.js';
import { inferredNodesLine } from '../inventory/infer-nodes.js';
import { sshMembers } from '../inventory/schema.js';
import { loadCatalogue, shippedRunbookDir, type RunbookCatalogue } from '../runbook/loader.js';
import type { ClusterTarget } from '../session/cluster-target.js';
import type { PreparedRun } from '../session/prepare.js';
import { App } from '../ui/app/app.js';
import { LiveHealth } from '../ui/live-health.js';
import type { RunbookChoice, RunHandle, RunOutcome, TuiSession } from '../ui/session.js';
import { Store } from '../ui/store.js';
import { TuiOperator } from '../ui/tui-operator.js';
import { colorEnabled } from '../util/color.js';
import { ExitCode, messageOf, OperatorError } from '../util/errors.js';

/**
 * The full-screen view: detection, the runbook picker and the step view,
 * opened by the interactive command, by run and resume on a terminal, and
 * by the drill.
 */

const NO_TTY = "the interactive view needs a terminal: use 'etcd-runbook status' for the health table and verdict, 'etcd-runbook plan <runbook>' for a runbook's steps, or 'etcd-runbook run <runbook> --yes'";

export type InteractiveStart =
  | {
      kind: 'detect';
      target: ClusterTarget;
      dryRun: boolean;
      sets: string[];
      journalDir?: string;
      noColor?: boolean;
      /** input values for whichever runbook is chosen, where it declares the input (the drill's backupDir); --set wins */
      inputDefaults?: Record<string, string>;
    }
  /** run <runbook> / resume: straight to the step view */
  | { kind: 'run'; prepared: PreparedRun; noColor?: boolean };

/** The view needs a terminal on both sides; without one, say what to use instead. */
export function refuseWithoutTerminal(): void {
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new OperatorError(NO_TTY, ExitCode.configError);
}

/** Open the full-screen view; resolves with the exit code once the operator leaves. */
export async function runInteractive(start: InteractiveStart): Promise<number> {
  refuseWithoutTerminal();
  const target = start.kind === 'run' ? start.prepared.target : start.target;
  // SSH questions (unknown host key, key passphrase) answered before ink
  // takes the terminal; the SSH modules load only when a node needs them
  if (sshMembers(target.config.inventory).length > 0) {
    const [{ checkSshLogins }, { terminalSshPrompts }] = await Promise.all([import('./ssh-logins.js'), import('./ssh-prompts.js')]);
    await checkSshLogins(target.config.inventory, terminalSshPrompts());
  }
  // the etcd client (gRPC) loads on the first probe, after the first frame
  // is on screen; the engine (session/) when a run starts
  // the table's refreshes keep their connections open (see ProbeChannels) until the view closes
  let channels: ProbeChannels | undefined;
  const probe = async (): Promise<ClusterReport> => {
    const [{ probeCluster }, { ProbeChannels }] = await Promise.all([import('../cluster/probe.js'), import('../cluster/channels.js')]);
    channels ??= new ProbeChannels(target.tls);
    return probeCluster(target.targets, { tls: target.tls, deadlineMs: target.deadlineMs, channels });
  };
  const health = new LiveHealth(probe);
  // the runbooks are read once, while the first probe is out (after the first frame)
  let catalogue: Promise<RunbookCatalogue> | undefined;
  const runbooks = () => (catalogue ??= loadCatalogue().catch((err: unknown) => ({ runbooks: [], problems: [messageOf(err)] })));
  let current: RunHandle | undefined;
  const session: TuiSession = {
    dryRun: start.kind === 'detect' ? start.dryRun : start.prepared.state.dryRun,
    targets: target.targets.map((t) => ({ name: t.expectedName ?? t.endpoint, endpoint: t.endpoint })),
    notes: [inferredNodesLine(target.config.inventory)].filter((line): line is string => line !== undefined),
    health,
    detect: () => {
      if (start.kind === 'detect') void runbooks();
      // the table shows every probe; the verdict a runbook is proposed for waits out an election
      return probeThroughElection(() => health.refresh());
    },
    choices: async (report) => runbookChoices(report, await runbooks()),
    begin: async (id, report) => {
      if (start.kind !== 'detect') throw new Error('a run is already open');
      const runbook = (await runbooks()).runbooks.find((r) => r.runbook.id === id)?.runbook;
      if (!runbook) throw new OperatorError(`runbook ${id} is not installed (${shippedRunbookDir()})`);
      const defaults = Object.entries(start.inputDefaults ?? {}).filter(([name]) => runbook.inputs.some((input) => input.name === name));
      const sets = [...defaults.map(([name, value]) => `${name}=${value}`), ...start.sets];
      const { prepareRun } = await import('../session/prepare.js');
      const prepared = await prepareRun({ runbook, target, detection: report, sets, dryRun: start.dryRun, journalDir: start.journalDir });
      current = await startRun(prepared);
      return current;
    },
  };
  if (start.kind === 'run') {
    current = await startRun(start.prepared);
    session.run = current;
    if (start.prepared.state.lastProbe) health.seed(start.prepared.state.lastProbe);
  }

  let code = 130;
  const instance = render(createElement(App, { session, color: colorEnabled(start.noColor), onExit: (c: number) => (code = c) }), { exitOnCtrlC: false });
  // a SIGINT from outside the terminal (kill -INT): leave as Ctrl-C at a prompt does
  const onSigint = () => {
    if (current && !current.operator.answer({ type: 'abort', reason: 'interrupted by SIGINT' })) current.abandon();
    if (!current) instance.unmount();
  };
  process.on('SIGINT', onSigint);
  let outcome: RunOutcome | undefined;
  try {
    await instance.waitUntilExit();
    if (current) {
      // the view leaves only after the run recorded its end; this is immediate then
      outcome = await current.finished.catch(() => undefined);
      if (outcome) code = outcome.exitCode;
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    health.stop();
    channels?.close();
  }
  if (outcome) process.stdout.write(`run ${outcome.state.status}\njournal: ${outcome.journal}\ntranscript: ${outcome.transcript}\n`);
  return code;
}

/** The runner, driven as the line view drives it, with the view as its operator. */
async function startRun(prepared: PreparedRun): Promise<RunHandle> {
  const { createRun } = await import('../session/create.js');
  const state = new Store(prepared.state);
  const operator = new TuiOperator();
  const interrupt = new AbortController();
  const { run } = createRun(prepared.state, {
    ...prepared.options,
    operator,
    signal: interrupt.signal,
    onEvent: (_event, next) => state.set(next),
  });
  // the runner stops between events once aborted; a question it is waiting on is answered too
  const abandon = () => {
    interrupt.abort();
    operator.answer({ type: 'abort', reason: 'interrupted by the operator (Ctrl-C)' });
  };
  return { state, operator, abandon, finished: run() };
}

/**
 * The runbooks offered for a verdict: the recommended one first (with the
 * verdict as its reason), then the ones the verdict table names, then any
 * other that declares it applies. A runbook that failed to load is not
 * offered; its problem is shown instead.
 */
export function runbookChoices(report: ClusterReport, catalogue: RunbookCatalogue, dir: string = shippedRunbookDir()): { choices: RunbookChoice[]; problems: string[] } {
  const problems = [...catalogue.problems];
  const loaded = catalogue.runbooks.map((r) => r.runbook);
  const { verdict, summary } = report.verdict;
  // the verdict's own choice: an alarm's runbook depends on which alarm
  const table = { recommended: report.verdict.recommendedRunbook, alternatives: report.verdict.alternatives };
  const byId = new Map(loaded.map((r) => [r.id, r]));
  const order = [...(table.recommended ? [table.recommended] : []), ...table.alternatives, ...loaded.filter((r) => r.appliesTo.includes(verdict)).map((r) => r.id)];
  const choices: RunbookChoice[] = [];
  for (const id of [...new Set(order)]) {
    const runbook = byId.get(id);
    if (!runbook) {
      if (id === table.recommended) problems.unshift(`${id} is the runbook for ${verdict}, but it is not installed (${dir})`);
      continue;
    }
    const recommended = id === table.recommended;
    const reason = recommended ? `recommended for ${verdict}: ${summary}` : table.alternatives.includes(id) ? `also fits ${verdict}` : `applies to ${runbook.appliesTo.join(', ')}`;
    choices.push({ id, title: runbook.title, description: firstLine(runbook.description), reason, recommended });
  }
  return { choices, problems };
}

function firstLine(text: string): string {
  const sentence = text.replace(/\s+/g, ' ').trim();
  const end = sentence.search(/[.;:](\s|$)/);
  return end > 0 ? sentence.slice(0, end + 1) : sentence;
}
