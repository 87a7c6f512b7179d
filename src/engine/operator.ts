import type { RunState, StepState } from './types.js';

/**
 * How the runner asks the operator what to do with the current step. The
 * step view (TUI), the line prompt and `--yes` (ScriptedOperator) answer
 * through this one interface; the runner turns the answer into an event.
 */
export type OperatorDecision =
  | { type: 'confirm' }
  | { type: 'skip'; reason: string }
  | { type: 'retry' }
  | { type: 'abort'; reason: string }
  | { type: 'override'; check: string; reason: string };

export interface Operator {
  decide(state: RunState): Promise<OperatorDecision>;
}

export interface ScriptedOperatorOptions {
  /**
   * Decisions for given steps, used in order before the default policy:
   * `{ 'take-snapshot': [{ type: 'retry' }, { type: 'skip', reason: '…' }] }`.
   */
  script?: Record<string, OperatorDecision | OperatorDecision[]>;
}

/**
 * `--yes` and tests: confirms every step awaiting confirmation, never
 * overrides a guard, and aborts — saying why — on a blocked, failed or
 * unknown step. A script can give other decisions for particular steps.
 */
export class ScriptedOperator implements Operator {
  private readonly script = new Map<string, OperatorDecision[]>();
  /** every decision given, in order (for tests and logs) */
  readonly decisions: Array<{ step: string; decision: OperatorDecision }> = [];

  constructor(options: ScriptedOperatorOptions = {}) {
    for (const [step, decisions] of Object.entries(options.script ?? {})) {
      this.script.set(step, Array.isArray(decisions) ? [...decisions] : [decisions]);
    }
  }

  decide(state: RunState): Promise<OperatorDecision> {
    const step = state.steps[state.cursor];
    const decision = step ? (this.script.get(step.id)?.shift() ?? defaultDecision(step)) : { type: 'abort' as const, reason: 'no step left to decide on' };
    this.decisions.push({ step: step?.id ?? '', decision });
    return Promise.resolve(decision);
  }
}

function defaultDecision(step: StepState): OperatorDecision {
  switch (step.status) {
    case 'awaiting-confirmation':
      return { type: 'confirm' };
    case 'blocked': {
      const failed = step.guards.filter((g) => !g.ok && g.overriddenBecause === undefined);
      const why = failed.map((g) => `${g.check}: ${g.message}`).join('; ') || 'a guard failed';
      return { type: 'abort', reason: `step ${step.id} is blocked (${why}); guards are never overridden without an operator` };
    }
    case 'failed':
      return { type: 'abort', reason: `step ${step.id} failed${step.error ? `: ${step.error}` : ''}` };
    case 'unknown':
      return { type: 'abort', reason: `step ${step.id} was running when the tool stopped: check what it did before re-running it` };
    default:
      return { type: 'abort', reason: `step ${step.id} is ${step.status}: nothing for the operator to decide` };
  }
}
