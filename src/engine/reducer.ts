import { RETRYABLE, SKIPPABLE } from './answers.js';
import type { RenderedRunbook, RenderedStep } from '../runbook/rendered.js';
import { ExitCode, OperatorError } from '../util/errors.js';
import { redact } from './redact.js';
import type { EngineEvent, GuardOutcome, RunState, RunStatus, StepState, StepStatus, TargetState } from './types.js';

/**
 * The engine's pure reducer: `(state, event) → state`. No I/O,
 * no clock (every time comes from the event), and the input is never
 * mutated: each transition returns new objects for what it changed.
 *
 * A transition the rules do not allow (confirming a blocked step, overriding
 * a guard that is not overridable, an event for a step that is not the
 * current one…) is refused: `canApply` says why, and `reduce` throws an
 * EngineRuleError with that reason. The runner asks `canApply` first.
 *
 * Commands, errors and output reach the state only through `redact`.
 */

export class EngineRuleError extends OperatorError {
  constructor(
    message: string,
    readonly event: EngineEvent['type'],
  ) {
    super(message, ExitCode.runFailed);
    this.name = 'EngineRuleError';
  }
}

/** An engine rule's answer to "may this event apply now?" (the cluster's state is a Verdict, in cluster/). */
export type Ruling = { ok: true } | { ok: false; reason: string };

/** Steps the cursor moves past. */
const DONE: ReadonlySet<StepStatus> = new Set(['succeeded', 'skipped', 'not-applicable']);
const GUARDABLE: ReadonlySet<StepStatus> = new Set(['pending', 'awaiting-confirmation', 'blocked']);
/** A step in these has not run, nor been skipped. */
const NOTHING_RAN: ReadonlySet<StepStatus> = new Set<StepStatus>(['pending', 'awaiting-confirmation', 'blocked', 'not-applicable']);

/** The output kept in state per node: the last 40 lines, at most 4 KiB. */
export const TAIL_MAX_CHARS = 4096;
export const TAIL_MAX_LINES = 40;

type Event<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;

export function initialState(event: Event<'run-started'>): RunState {
  const steps = event.runbook.steps.map((step) => freshStep(step, 0));
  const state: RunState = {
    runId: event.runId,
    runbook: event.runbook,
    dryRun: event.dryRun,
    operator: event.operator,
    startedAt: event.at,
    cursor: 0,
    steps,
    status: 'in-progress',
    ...(event.detection ? { detection: event.detection, lastProbe: event.detection } : {}),
  };
  return { ...state, cursor: nextCursor(state.steps, 0) };
}

function freshStep(step: RenderedStep, attempts: number): StepState {
  return {
    id: step.id,
    // a step no node's layout needs is settled at once
    status: step.targets.length === 0 ? 'not-applicable' : 'pending',
    guards: [],
    targets: step.targets.map((t) => ({ node: t.node, status: 'pending', outputTail: '' })),
    attempts,
  };
}

function nextCursor(steps: readonly StepState[], from: number): number {
  let i = from;
  while (i < steps.length && DONE.has(steps[i]!.status)) i++;
  return i;
}

const refuse = (reason: string): Ruling => ({ ok: false, reason });
const OK: Ruling = { ok: true };

/** Whether the rules allow this event now, and if not, why (one line, for the operator). */
export function canApply(state: RunState, event: EngineEvent): Ruling {
  switch (event.type) {
    case 'run-started':
      return refuse(`run ${state.runId} has already started: a journal holds one run`);
    case 'probe':
      return OK;
    case 'run-resumed':
      return state.status === 'succeeded' ? refuse(`run ${state.runId} already succeeded: there is nothing to resume`) : OK;
    case 'applies-to-overridden':
      if (event.runbook !== state.runbook.id) return refuse(`the override names runbook ${event.runbook}, this run is of ${state.runbook.id}`);
      if (state.status !== 'in-progress') return refuse(`run ${state.runId} has ended (${state.status}): resume it first`);
      // the verdict a run is judged on is the one it starts from: once a step ran, the cluster is mid-recovery
      return nothingRanYet(state) ? OK : refuse(`run ${state.runId} is under way: appliesTo is judged before its first step, not now`);
    case 'aborted':
      if (state.status !== 'in-progress') return refuse(`run ${state.runId} has already ended (${state.status})`);
      return event.reason.trim() ? OK : refuse('an abort needs a reason');
    case 'run-finished':
      return canFinish(state, event.status);
    default:
      return canApplyToStep(state, event);
  }
}

function canFinish(state: RunState, status: RunStatus): Ruling {
  if (status === 'in-progress') return refuse('run-finished needs a final status, not in-progress');
  if (state.status === 'aborted' && status === 'aborted') return OK;
  if (state.status !== 'in-progress') return refuse(`run ${state.runId} has already ended (${state.status})`);
  if (status === 'succeeded') {
    const open = state.steps.find((s) => !DONE.has(s.status));
    if (open) return refuse(`the run cannot succeed: step ${open.id} is ${open.status}`);
  }
  return OK;
}

type StepEvent = Exclude<EngineEvent, { type: 'run-started' | 'probe' | 'run-resumed' | 'applies-to-overridden' | 'aborted' | 'run-finished' }>;

function canApplyToStep(state: RunState, event: StepEvent): Ruling {
  if (state.status !== 'in-progress') return refuse(`run ${state.runId} has ended (${state.status}): resume it first`);
  const index = state.steps.findIndex((s) => s.id === event.step);
  if (index < 0) return refuse(`runbook ${state.runbook.id} has no step ${event.step}`);
  if (index !== state.cursor) {
    const current = state.steps[state.cursor];
    return refuse(`step ${event.step} is not the current step (${current ? current.id : 'the run is past its last step'})`);
  }
  const step = state.steps[index]!;
  const def = state.runbook.steps[index]!;
  const is = (...statuses: StepStatus[]): boolean => statuses.includes(step.status);
  const where = `step ${step.id} is ${step.status}`;

  switch (event.type) {
    case 'guards-evaluated':
      return GUARDABLE.has(step.status) ? OK : refuse(`cannot evaluate guards: ${where}`);
    case 'guard-overridden': {
      if (!is('blocked', 'awaiting-confirmation')) return refuse(`cannot override a guard: ${where}`);
      const guard = step.guards.find((g) => g.check === event.check);
      if (!guard) return refuse(`step ${step.id} has no evaluated guard ${event.check}`);
      if (guard.ok) return refuse(`guard ${event.check} of step ${step.id} passed: there is nothing to override`);
      const rendered = def.guards.find((g) => g.check === event.check);
      if (!guard.overridable || rendered?.overridable === false) {
        return refuse(`guard ${event.check} of step ${step.id} is not overridable: ${guard.message}`);
      }
      if (guard.overriddenBecause !== undefined) return refuse(`guard ${event.check} of step ${step.id} is already overridden`);
      return event.reason.trim() ? OK : refuse(`overriding guard ${event.check} needs a reason`);
    }
    case 'confirmed':
      if (is('blocked')) return refuse(`cannot confirm step ${step.id}: ${failedGuardText(step)}`);
      return is('awaiting-confirmation') ? OK : refuse(`cannot confirm: ${where}`);
    case 'skipped':
      if (!SKIPPABLE.has(step.status)) return refuse(`cannot skip: ${where}`);
      return event.reason.trim() ? OK : refuse(`skipping step ${step.id} needs a reason`);
    case 'retry':
      return RETRYABLE.has(step.status) ? OK : refuse(`cannot retry: ${where}`);
    case 'step-started':
      if (!is('awaiting-confirmation')) return refuse(`cannot start: ${where}`);
      if (def.risk !== 'read-only' && step.confirmedBy === undefined) {
        return refuse(`step ${step.id} changes the cluster (${def.risk}) and has not been confirmed`);
      }
      return OK;
    case 'target-started': {
      if (!is('running')) return refuse(`cannot start node ${event.node}: ${where}`);
      const target = step.targets.find((t) => t.node === event.node);
      if (!target) return refuse(`step ${step.id} does not run on ${event.node}`);
      return target.status === 'pending' ? OK : refuse(`node ${event.node} of step ${step.id} is already ${target.status}`);
    }
    case 'output': {
      if (!is('running')) return refuse(`output for a step that is not running: ${where}`);
      const target = step.targets.find((t) => t.node === event.node);
      if (!target) return refuse(`step ${step.id} does not run on ${event.node}`);
      return target.status === 'running' ? OK : refuse(`output for node ${event.node} of step ${step.id}, which is ${target.status}`);
    }
    case 'target-finished': {
      if (!is('running')) return refuse(`cannot finish node ${event.node}: ${where}`);
      const target = step.targets.find((t) => t.node === event.node);
      if (!target) return refuse(`step ${step.id} does not run on ${event.node}`);
      // pending: the node could not even be reached to start
      return target.status === 'running' || target.status === 'pending'
        ? OK
        : refuse(`node ${event.node} of step ${step.id} has already finished (${target.status})`);
    }
    case 'check-evaluated':
      return is('running') ? OK : refuse(`cannot record the check: ${where}`);
    case 'step-finished': {
      if (!is('running')) return refuse(`cannot finish: ${where}`);
      if (!event.ok) return OK;
      const unfinished = step.targets.find((t) => t.status !== 'succeeded' && t.status !== 'recorded');
      if (unfinished) return refuse(`step ${step.id} cannot succeed: node ${unfinished.node} is ${unfinished.status}`);
      if (step.check && !step.check.ok) return refuse(`step ${step.id} cannot succeed: its check ${step.check.check} failed`);
      return OK;
    }
    case 'step-unknown':
      return is('running') ? OK : refuse(`only a running step can become unknown: ${where}`);
  }
}

function failedGuardText(step: StepState): string {
  const failed = step.guards.filter((g) => !g.ok && g.overriddenBecause === undefined);
  return failed.length === 0 ? 'a guard failed' : `guard ${failed.map((g) => `${g.check} failed (${g.message})`).join('; ')}`;
}

/** The next state. Throws EngineRuleError when canApply refuses the event. */
export function reduce(state: RunState, event: EngineEvent): RunState {
  const verdict = canApply(state, event);
  if (!verdict.ok) throw new EngineRuleError(verdict.reason, event.type);

  switch (event.type) {
    case 'run-started':
      return state; // unreachable: refused above
    case 'probe':
      return { ...state, lastProbe: event.report };
    case 'run-resumed': {
      const { abortReason, finishedAt: _finished, ...rest } = state;
      const resume = {
        at: event.at,
        operator: event.operator,
        previousStatus: state.status,
        ...(abortReason !== undefined ? { previousAbortReason: abortReason } : {}),
      };
      return { ...rest, status: 'in-progress', resumes: [...(state.resumes ?? []), resume] };
    }
    case 'applies-to-overridden':
      return { ...state, appliesToOverride: { verdict: event.verdict, appliesTo: event.appliesTo, operator: event.operator, at: event.at } };
    case 'aborted':
      return {
        ...state,
        status: 'aborted',
        abortReason: redact(event.reason.trim()),
        finishedAt: event.at,
        // a step cut off mid-way did not finish: nobody knows what it did
        steps: state.steps.map((s) => (s.status === 'running' ? markUnknown(s) : s)),
      };
    case 'run-finished':
      return { ...state, status: event.status, finishedAt: event.at };
    default:
      return reduceStep(state, event);
  }
}

function reduceStep(state: RunState, event: StepEvent): RunState {
  const index = state.cursor;
  const step = state.steps[index]!;
  const def = state.runbook.steps[index]!;
  const put = (next: StepState, advance = false): RunState => {
    const steps = state.steps.map((s, i) => (i === index ? next : s));
    return { ...state, steps, cursor: advance ? nextCursor(steps, index) : index };
  };

  switch (event.type) {
    case 'guards-evaluated': {
      // a failed guard the operator already overrode stays overridden when it still fails the same way
      const guards = event.outcomes.map((outcome): GuardOutcome => {
        const earlier = step.guards.find((g) => g.check === outcome.check);
        const keep = !outcome.ok && outcome.overridable && earlier?.overriddenBecause !== undefined;
        const { overriddenBecause: _b, overriddenBy: _o, ...plain } = outcome;
        return keep ? { ...plain, overriddenBecause: earlier.overriddenBecause, ...(earlier.overriddenBy ? { overriddenBy: earlier.overriddenBy } : {}) } : plain;
      });
      return put(withGuards(step, guards));
    }
    case 'guard-overridden': {
      const guards = step.guards.map((g) =>
        g.check === event.check ? { ...g, overriddenBecause: redact(event.reason.trim()), overriddenBy: event.operator } : g,
      );
      return put(withGuards(step, guards));
    }
    case 'confirmed':
      return put({ ...step, confirmedBy: event.operator });
    case 'skipped':
      return put(
        {
          ...step,
          status: 'skipped',
          skipReason: redact(event.reason.trim()),
          skippedBy: event.operator,
          finishedAt: event.at,
          targets: step.targets.map((t) => (t.status === 'running' ? { ...t, status: 'unknown' } : t)),
        },
        true,
      );
    case 'retry':
      return put(freshStep(def, step.attempts + 1));
    case 'step-started': {
      const { finishedAt: _f, error: _e, ...rest } = step;
      return put({ ...rest, status: 'running', startedAt: event.at });
    }
    case 'target-started':
      return put(
        updateTarget(step, event.node, (t) => ({ ...t, status: 'running', ran: redact(event.ran), startedAt: event.at, outputTail: '' })),
      );
    case 'output':
      return put(updateTarget(step, event.node, (t) => ({ ...t, outputTail: appendTail(t.outputTail, event.chunk) })));
    case 'target-finished':
      return put(
        updateTarget(step, event.node, (t) => ({
          ...t,
          status: !event.ok ? 'failed' : event.recorded ? 'recorded' : 'succeeded',
          finishedAt: event.at,
          ...(event.exitCode !== undefined ? { exitCode: event.exitCode } : {}),
          ...(event.outputDigest !== undefined ? { outputDigest: event.outputDigest } : {}),
          ...(event.error !== undefined ? { error: redact(event.error) } : {}),
        })),
      );
    case 'check-evaluated':
      return put({ ...step, check: { ...event.outcome, message: redact(event.outcome.message) } });
    case 'step-finished':
      if (event.ok) return put({ ...step, status: 'succeeded', finishedAt: event.at }, true);
      return put({
        ...step,
        status: 'failed',
        finishedAt: event.at,
        ...(event.error !== undefined ? { error: redact(event.error) } : {}),
        targets: step.targets.map((t) => (t.status === 'running' ? { ...t, status: 'unknown' } : t)),
      });
    case 'step-unknown':
      return put(markUnknown(step));
  }
}

function withGuards(step: StepState, guards: GuardOutcome[]): StepState {
  const blocked = guards.some((g) => !g.ok && g.overriddenBecause === undefined);
  const guarded: StepState = { ...step, guards: guards.map((g) => ({ ...g, message: redact(g.message) })), status: blocked ? 'blocked' : 'awaiting-confirmation' };
  if (blocked) {
    // a confirmation given before a guard failed no longer stands
    const { confirmedBy: _c, ...rest } = guarded;
    return rest;
  }
  return guarded;
}

function markUnknown(step: StepState): StepState {
  return { ...step, status: 'unknown', targets: step.targets.map((t) => (t.status === 'running' ? { ...t, status: 'unknown' } : t)) };
}

function updateTarget(step: StepState, node: string, change: (t: TargetState) => TargetState): StepState {
  return { ...step, targets: step.targets.map((t) => (t.node === node ? change(t) : t)) };
}

/** The tail of a node's output: redacted as a whole (a key may straddle chunks), then bounded. */
export function appendTail(tail: string, chunk: string): string {
  let text = redact(tail + chunk);
  if (text.length > TAIL_MAX_CHARS) text = text.slice(-TAIL_MAX_CHARS);
  const lines = text.split('\n');
  // a trailing newline leaves an empty last element: it is not a line of its own
  const limit = text.endsWith('\n') ? TAIL_MAX_LINES + 1 : TAIL_MAX_LINES;
  if (lines.length > limit) text = lines.slice(-limit).join('\n');
  // bounding may have cut a key block in two: redact its remains again
  return redact(text);
}

/* ---------- selectors ---------- */

/** No step has run or been skipped yet: the run has not touched the cluster (nor has the operator by hand, for it). */
export function nothingRanYet(state: RunState): boolean {
  return state.steps.every((s) => NOTHING_RAN.has(s.status));
}

/** The step being worked on, or undefined once every step is done. */
export function currentStep(state: RunState): StepState | undefined {
  return state.steps[state.cursor];
}

/** The runbook's definition of a step (title, why, risk, rendered commands). */
export function stepDefinition(runbook: RenderedRunbook, stepId: string): RenderedStep {
  const def = runbook.steps.find((s) => s.id === stepId);
  if (!def) throw new EngineRuleError(`runbook ${runbook.id} has no step ${stepId}`, 'run-started');
  return def;
}

/**
 * Nothing more to work on: the run has ended (succeeded, failed, aborted), or
 * every step is done and only run-finished is left to record.
 */
export function isFinished(state: RunState): boolean {
  return state.status !== 'in-progress' || state.cursor >= state.steps.length;
}

export interface RunSummary {
  total: number;
  /** ran and succeeded */
  ran: number;
  skipped: number;
  failed: number;
  unknown: number;
  notApplicable: number;
  /** not reached yet (pending, awaiting confirmation, blocked, running) */
  notReached: number;
}

export function summary(state: RunState): RunSummary {
  const count = (status: StepStatus): number => state.steps.filter((s) => s.status === status).length;
  const ran = count('succeeded');
  const skipped = count('skipped');
  const failed = count('failed');
  const unknown = count('unknown');
  const notApplicable = count('not-applicable');
  const total = state.steps.length;
  return { total, ran, skipped, failed, unknown, notApplicable, notReached: total - ran - skipped - failed - unknown - notApplicable };
}
