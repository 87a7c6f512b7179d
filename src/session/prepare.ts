import { probeThroughElection } from '../cluster/election.js';
import { probeCluster } from '../cluster/probe.js';
import type { ClusterReport, Verdict } from '../cluster/types.js';
import { defaultJournalDir, Journal } from '../engine/journal.js';
import { initialState, reduce } from '../engine/reducer.js';
import type { EngineEvent, RunState } from '../engine/types.js';
import { appliesToJudgedOnResume, changesMembershipOrRestores, judgeAppliesTo, judgeOverrideValue, judgeServerVersions, type AppliesToJudgement } from '../runbook/preconditions.js';
import { renderRunbook } from '../runbook/render.js';
import type { RenderedRunbook } from '../runbook/rendered.js';
import type { Runbook } from '../runbook/schema.js';
import { ExitCode, OperatorError } from '../util/errors.js';
import { liveTarget, type ClusterTarget } from './cluster-target.js';
import type { DriveOptions } from './create.js';
import { parseSets } from './inputs.js';
import { newRunId, operatorName, runStartTime, runTimestamp } from './run-ids.js';

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
  /** the cluster as the run sees it: the live member list's names, inferred nodes */
  target: ClusterTarget;
}

/**
 * Render the runbook for this cluster, open its journal and record
 * run-started. Every run is prepared here (run, the view, the drill), so
 * here it is refused, before a journal exists, when the runbook is not for
 * the detected verdict (unless overridden) or a server is too old for it.
 */
export async function prepareRun(options: PrepareRunOptions): Promise<PreparedRun> {
  const { runbook, detection } = options;
  // names and URLs that were guessed come from the member list the detection saw
  const target = liveTarget(options.target, detection);
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
    target,
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
export async function judgeResumedStart(state: RunState, target: ClusterTarget, override: string | undefined, operator: string): Promise<EngineEvent[]> {
  const named = judgeOverrideValue(state.runbook.id, override);
  if (!named.ok) throw new OperatorError(named.message, ExitCode.configError);
  if (!appliesToJudgedOnResume(state)) return [];
  const report = await probeThroughElection(() => probeCluster(target.targets, { tls: target.tls, deadlineMs: target.deadlineMs }));
  const applies = refuseUnlessApplies({ id: state.runbook.id, appliesTo: state.runbook.appliesTo ?? [] }, report, override);
  refuseOldServers(state.runbook, report);
  const probed: EngineEvent = { type: 'probe', at: new Date().toISOString(), report };
  return applies.kind === 'overridden' ? [probed, overrideEvent(state.runbook.id, applies, operator)] : [probed];
}

