import type { ClusterReport, Verdict } from '../cluster/types.js';
import type { Inventory } from '../inventory/schema.js';
import type { RenderedRunbook } from '../runbook/rendered.js';

/**
 * The engine's state and the events that move it. The reducer
 * (engine/reducer.ts) is a pure `(state, event) → state`; every event is
 * also the journal's line, so replaying the journal rebuilds the state.
 */

export type StepStatus =
  | 'pending'
  /** guards evaluated, waiting for the operator */
  | 'awaiting-confirmation'
  /** a guard failed and was not overridden: the step may not run */
  | 'blocked'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  /** was running when the tool died: check before re-running */
  | 'unknown'
  /** no target node has a layout this step is for */
  | 'not-applicable';

export type TargetStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'recorded' | 'unknown';

export interface GuardOutcome {
  check: string;
  ok: boolean;
  message: string;
  overridable: boolean;
  /** set when the operator overrode a failure */
  overriddenBecause?: string;
  /** who overrode it */
  overriddenBy?: string;
  /** how long judging it took, its facts gathered included (the runner's clock) */
  ms?: number;
}

export interface TargetState {
  node: string;
  status: TargetStatus;
  /** the command (or action description) as run */
  ran?: string;
  exitCode?: number | null;
  /** sha256 of the whole output; the output itself may be long */
  outputDigest?: string;
  /** the last lines of output, bounded */
  outputTail: string;
  error?: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface StepState {
  id: string;
  status: StepStatus;
  guards: GuardOutcome[];
  check?: GuardOutcome;
  targets: TargetState[];
  attempts: number;
  skipReason?: string;
  /** who skipped it */
  skippedBy?: string;
  /** why it failed (step-finished error), redacted */
  error?: string;
  startedAt?: string;
  finishedAt?: string;
  /** who confirmed it */
  confirmedBy?: string;
}

export type RunStatus = 'in-progress' | 'succeeded' | 'failed' | 'aborted';

export interface RunState {
  runId: string;
  runbook: RenderedRunbook;
  dryRun: boolean;
  operator: string;
  startedAt: string;
  /** index into steps of the step being worked on; steps.length when done */
  cursor: number;
  steps: StepState[];
  status: RunStatus;
  abortReason?: string;
  /** when the run ended (aborted / run-finished) */
  finishedAt?: string;
  /** every resume of this run, oldest first: who, when, and how the run stood before */
  resumes?: Array<{ at: string; operator: string; previousStatus: RunStatus; previousAbortReason?: string }>;
  /** the latest probe, for the health table and guards */
  lastProbe?: ClusterReport;
  /** the detection the run started from (for the transcript) */
  detection?: ClusterReport;
  /** the operator ran the runbook on a verdict outside its appliesTo (--override-applies-to) */
  appliesToOverride?: AppliesToOverride;
}

export interface AppliesToOverride {
  /** the verdict the run started on */
  verdict: Verdict;
  /** the runbook's appliesTo, which did not include it */
  appliesTo: Verdict[];
  operator: string;
  at: string;
}

interface EventBase {
  /** ISO time the event happened */
  at: string;
}

/** Every transition. `run-started` carries the whole rendered runbook, so a journal is self-contained. */
export type EngineEvent = EventBase &
  (
    | {
        type: 'run-started';
        runId: string;
        runbook: RenderedRunbook;
        dryRun: boolean;
        operator: string;
        detection?: ClusterReport;
        /** how to reach the cluster again on resume (file paths only, never key material) */
        cluster?: { inventory: Inventory; endpoints: string[] };
      }
    | { type: 'run-resumed'; operator: string }
    /** before any step ran: the runbook runs on a verdict outside its appliesTo, as the operator said (--override-applies-to) */
    | { type: 'applies-to-overridden'; runbook: string; verdict: Verdict; appliesTo: Verdict[]; operator: string }
    | { type: 'guards-evaluated'; step: string; outcomes: GuardOutcome[] }
    | { type: 'guard-overridden'; step: string; check: string; reason: string; operator: string }
    | { type: 'confirmed'; step: string; operator: string }
    | { type: 'skipped'; step: string; reason: string; operator: string }
    | { type: 'retry'; step: string; operator: string }
    | { type: 'step-started'; step: string }
    | {
        type: 'target-started';
        step: string;
        node: string;
        ran: string;
        /**
         * the target changes nothing (a read-only step, or a dry run's
         * recorded one): run again after a crash, it does no harm, so its
         * line need not be on disk before it runs (engine/journal.ts)
         */
        changesNothing?: true;
      }
    | { type: 'output'; step: string; node: string; stream: 'stdout' | 'stderr'; chunk: string }
    | {
        type: 'target-finished';
        step: string;
        node: string;
        ok: boolean;
        recorded?: boolean;
        exitCode?: number | null;
        outputDigest?: string;
        error?: string;
        /**
         * ms from target-started's time to the target running: its journal
         * line written and flushed to disk first (write-ahead). The tool's
         * time, not the node's (drill/timing.ts)
         */
        writeAheadMs?: number;
      }
    | { type: 'check-evaluated'; step: string; outcome: GuardOutcome }
    | { type: 'step-finished'; step: string; ok: boolean; error?: string }
    | { type: 'probe'; report: ClusterReport }
    /** on resume: the step that was running when the tool died */
    | { type: 'step-unknown'; step: string }
    | { type: 'aborted'; reason: string; operator: string }
    | { type: 'run-finished'; status: RunStatus }
  );

export type EngineEventType = EngineEvent['type'];
