import type { Operator, OperatorDecision } from '../engine/operator.js';
import type { RunState } from '../engine/types.js';
import { Store } from './store.js';

/**
 * The operator at the full-screen view. The runner asks (decide); the step
 * view shows the question and, when a key settles it, answers. Until then the
 * runner waits: the UI never drives the run, it only answers for the operator.
 */
export class TuiOperator implements Operator {
  /** the state the runner is asking about, while it waits for an answer */
  readonly question = new Store<RunState | undefined>(undefined);
  private resolve: ((decision: OperatorDecision) => void) | undefined;

  decide(state: RunState): Promise<OperatorDecision> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.question.set(state);
    });
  }

  /** Settle the pending question; false when the runner is not asking. */
  answer(decision: OperatorDecision): boolean {
    const resolve = this.resolve;
    if (!resolve) return false;
    this.resolve = undefined;
    this.question.set(undefined);
    resolve(decision);
    return true;
  }

  get waiting(): boolean {
    return this.resolve !== undefined;
  }
}
