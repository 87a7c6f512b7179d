import { useCallback, useRef, useState } from 'react';
import { eraseLast } from '../text-prompt/prompt-edits.js';

/**
 * The step view's own state: which prompt is open, a one-line notice, and
 * how far the output pane is scrolled back. Nothing here is about the run:
 * the run's state comes from the runner.
 */
export type Prompt =
  | { kind: 'none' }
  | { kind: 'skip-reason' }
  | { kind: 'override-reason'; check: string }
  | { kind: 'confirm-abort' }
  /** a destructive step: type these names (comma-separated) to run it */
  | { kind: 'type-names'; expected: string[] }
  | { kind: 'help' }
  | { kind: 'full-command' }
  /** every guard and node in full (the view condenses them when the terminal is short) */
  | { kind: 'guards' };

export interface StepViewState {
  prompt: Prompt;
  notice?: string;
  /** lines scrolled back from the newest output */
  scrollBack: number;
  /** what has been typed at a text prompt */
  draft: string;
}

export type StepViewAction =
  | { type: 'open-prompt'; prompt: Prompt }
  | { type: 'close-prompt'; notice?: string }
  | { type: 'say'; notice: string }
  | { type: 'scroll-output'; by: number; max: number }
  | { type: 'type-text'; text: string }
  | { type: 'delete-char' }
  | { type: 'clear-text' }
  | { type: 'reset' };

export const initialStepViewState: StepViewState = { prompt: { kind: 'none' }, scrollBack: 0, draft: '' };

export function stepViewReducer(state: StepViewState, action: StepViewAction): StepViewState {
  switch (action.type) {
    case 'open-prompt':
      return { ...state, prompt: action.prompt, notice: undefined, draft: '' };
    case 'close-prompt':
      return { ...state, prompt: { kind: 'none' }, notice: action.notice, draft: '' };
    case 'type-text':
      return { ...state, draft: state.draft + action.text };
    case 'delete-char':
      return { ...state, draft: eraseLast(state.draft) };
    case 'clear-text':
      return { ...state, draft: '' };
    case 'say':
      return { ...state, notice: action.notice };
    case 'scroll-output':
      return { ...state, scrollBack: Math.max(0, Math.min(action.max, state.scrollBack + action.by)) };
    case 'reset':
      return initialStepViewState;
  }
}

/**
 * useReducer, except that the newest state is readable at once: keys typed
 * faster than React re-renders (a pasted member name) each see the state the
 * previous key left, not the last rendered one.
 */
export function useStepViewState(): [StepViewState, (action: StepViewAction) => void, () => StepViewState] {
  const latest = useRef(initialStepViewState);
  const [state, setState] = useState(initialStepViewState);
  const dispatch = useCallback((action: StepViewAction) => {
    latest.current = stepViewReducer(latest.current, action);
    setState(latest.current);
  }, []);
  const current = useCallback(() => latest.current, []);
  return [state, dispatch, current];
}
