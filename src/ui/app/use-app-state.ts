import { useReducer } from 'react';
import type { ClusterReport } from '../../cluster/types.js';
import type { RunbookChoice, RunHandle, RunOutcome } from '../session.js';

/** Which screen is up, and what it was given. */
export type Phase = 'detecting' | 'picking' | 'starting' | 'running' | 'summary';

export interface AppState {
  phase: Phase;
  report?: ClusterReport;
  detectError?: string;
  choices: RunbookChoice[];
  problems: string[];
  notice?: string;
  run?: RunHandle;
  outcome?: RunOutcome;
  /** Ctrl-C during a running step: asking whether to abandon it */
  confirmingAbandon: boolean;
  /** the operator asked to quit: leave once the run has recorded its end */
  quitting: boolean;
}

export type AppAction =
  | { type: 'detected'; report: ClusterReport }
  | { type: 'detect-failed'; error: string }
  | { type: 'choices-loaded'; choices: RunbookChoice[]; problems: string[] }
  | { type: 'picked' }
  | { type: 'start-failed'; error: string }
  | { type: 'run-started'; run: RunHandle }
  | { type: 'run-finished'; outcome: RunOutcome }
  | { type: 'ask-abandon' }
  | { type: 'cancel-abandon' }
  | { type: 'quit-requested' };

export function initialAppState(run?: RunHandle): AppState {
  return { phase: run ? 'running' : 'detecting', run, choices: [], problems: [], confirmingAbandon: false, quitting: false };
}

export function appReducer(state: AppState, action: AppAction): AppState {
  switch (action.type) {
    case 'detected':
      return { ...state, report: action.report };
    case 'detect-failed':
      return { ...state, detectError: action.error };
    case 'choices-loaded':
      return state.phase === 'detecting' ? { ...state, phase: 'picking', choices: action.choices, problems: action.problems } : state;
    case 'picked':
      return { ...state, phase: 'starting', notice: undefined };
    case 'start-failed':
      return { ...state, phase: 'picking', notice: action.error };
    case 'run-started':
      return { ...state, phase: 'running', run: action.run };
    case 'run-finished':
      return { ...state, phase: 'summary', outcome: action.outcome, confirmingAbandon: false };
    case 'ask-abandon':
      return { ...state, confirmingAbandon: true };
    case 'cancel-abandon':
      return { ...state, confirmingAbandon: false };
    case 'quit-requested':
      return { ...state, quitting: true, confirmingAbandon: false };
  }
}

export function useAppState(run?: RunHandle) {
  return useReducer(appReducer, run, initialAppState);
}
