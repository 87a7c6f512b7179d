import { useInput } from 'ink';
import type { Dispatch } from 'react';
import { currentStep } from '../../engine/reducer.js';
import type { AppAction, AppState } from './use-app-state.js';

export const INTERRUPTED = 'interrupted by the operator (Ctrl-C)';

/**
 * Ctrl-C and quitting, whatever the screen: during a running step, ask
 * whether to abandon it (y: the runner's AbortSignal, the journal records the
 * abort); while the runner waits for a decision, abort the run cleanly and
 * leave; before a run or on the summary, leave at once.
 */
export function useAppKeys(state: AppState, dispatch: Dispatch<AppAction>, exit: (code: number) => void) {
  useInput((input, key) => {
    const ctrlC = key.ctrl && input === 'c';
    if (state.confirmingAbandon) {
      if (input === 'y' || input === 'Y') {
        dispatch({ type: 'quit-requested' });
        state.run?.abandon();
      } else dispatch({ type: 'cancel-abandon' });
      return;
    }
    if (state.phase === 'summary') {
      if (ctrlC || input === 'q' || key.return) exit(state.outcome?.exitCode ?? 0);
      return;
    }
    if (state.phase === 'running' && state.run) {
      if (!ctrlC) return;
      const run = state.run;
      const step = currentStep(run.state.get());
      if (step?.status === 'running') return dispatch({ type: 'ask-abandon' });
      dispatch({ type: 'quit-requested' });
      if (!run.operator.answer({ type: 'abort', reason: INTERRUPTED })) run.abandon();
      return;
    }
    // detection, the picker: nothing has started, leave at once
    if (ctrlC || input === 'q') exit(130);
  });
}
