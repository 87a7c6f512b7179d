import { useInput, type Key } from 'ink';
import { legalAnswers, namesToConfirm } from '../../engine/answers.js';
import type { OperatorDecision } from '../../engine/operator.js';
import type { StepState } from '../../engine/types.js';
import type { RenderedStep } from '../../runbook/rendered.js';
import { promptEdits } from '../text-prompt/prompt-edits.js';
import type { Prompt, StepViewAction, StepViewState } from './use-step-view-state.js';

/**
 * Keys → step-view actions or an operator decision (y run, s skip, r retry,
 * a abort, o override, ? help, c whole command, g every guard, ↑/↓ scroll). Active only
 * while the runner is asking and no prompt is open.
 */
export function useStepViewKeys(options: {
  step: StepState | undefined;
  def: RenderedStep | undefined;
  inputs: Record<string, unknown>;
  /** the newest step-view state (not the last rendered one) */
  current: () => StepViewState;
  dispatch: (action: StepViewAction) => void;
  decide: (decision: OperatorDecision) => void;
  /** the runner is waiting for the operator */
  asking: boolean;
  isActive: boolean;
  maxScroll: number;
}) {
  const { step, def, inputs, current, dispatch, decide, asking, isActive, maxScroll } = options;
  /** skip / override reasons and destructive names are typed here: one input handler, no keys lost to a prompt mounting */
  const textPrompt = (input: string, key: Key): void => {
    const prompt = current().prompt;
    if (key.escape) return dispatch({ type: 'close-prompt', notice: prompt.kind === 'skip-reason' ? 'not skipped' : prompt.kind === 'override-reason' ? 'not overridden' : 'not run' });
    // a read may hold several keys (a paste ending in Enter, a held Backspace): each in turn
    for (const edit of promptEdits(input, key)) {
      if (edit.kind === 'submit') return submitPrompt(prompt);
      dispatch(edit.kind === 'text' ? { type: 'type-text', text: edit.text } : edit.kind === 'erase' ? { type: 'delete-char' } : { type: 'clear-text' });
    }
  };
  const submitPrompt = (prompt: Prompt): void => {
    const text = current().draft.trim();
    const settle = (decision: OperatorDecision) => {
      dispatch({ type: 'close-prompt' });
      decide(decision);
    };
    switch (prompt.kind) {
      case 'skip-reason':
        return text ? settle({ type: 'skip', reason: text }) : dispatch({ type: 'close-prompt', notice: 'a skip needs a reason: not skipped' });
      case 'override-reason':
        return text ? settle({ type: 'override', check: prompt.check, reason: text }) : dispatch({ type: 'close-prompt', notice: 'an override needs a reason: not overridden' });
      case 'type-names': {
        const want = prompt.expected.join(',');
        return text === want ? settle({ type: 'confirm' }) : dispatch({ type: 'close-prompt', notice: `"${text}" is not ${want}: not run` });
      }
      default:
        return undefined;
    }
  };
  useInput(
    (input, key) => {
      const state = current();
      const promptOpen = state.prompt.kind !== 'none';
      if (state.prompt.kind === 'help' || state.prompt.kind === 'full-command' || state.prompt.kind === 'guards') {
        dispatch({ type: 'close-prompt' });
        return;
      }
      if (state.prompt.kind === 'confirm-abort') {
        if (input === 'y' || input === 'Y') {
          dispatch({ type: 'close-prompt' });
          decide({ type: 'abort', reason: 'aborted by the operator' });
        } else dispatch({ type: 'close-prompt', notice: 'not aborted' });
        return;
      }
      if (promptOpen) return textPrompt(input, key);
      if (key.upArrow || key.pageUp) return dispatch({ type: 'scroll-output', by: key.pageUp ? 5 : 1, max: maxScroll });
      if (key.downArrow || key.pageDown) return dispatch({ type: 'scroll-output', by: key.pageDown ? -5 : -1, max: maxScroll });
      if (input === '?') return dispatch({ type: 'open-prompt', prompt: { kind: 'help' } });
      if (input === 'c') return dispatch({ type: 'open-prompt', prompt: { kind: 'full-command' } });
      if (input === 'g') return dispatch({ type: 'open-prompt', prompt: { kind: 'guards' } });
      if (!asking || !step || !def) {
        if ('ysrao'.includes(input) && input) dispatch({ type: 'say', notice: step?.status === 'running' ? 'the step is running: wait for it, or Ctrl-C to abandon it' : 'wait: the guards are being checked' });
        return;
      }
      // the engine says which answers are legal now; a key only asks for one of them
      const can = legalAnswers(step);
      switch (input) {
        case 'y':
          if (!can.confirm) return dispatch({ type: 'say', notice: step.status === 'blocked' ? 'blocked by a guard: r re-checks, o overrides (if allowed), s skips, a aborts' : `y does nothing here (${step.status}): r retries, s skips, a aborts` });
          if (def.risk === 'destructive') return dispatch({ type: 'open-prompt', prompt: { kind: 'type-names', expected: namesToConfirm(def, inputs) } });
          dispatch({ type: 'close-prompt' });
          return decide({ type: 'confirm' });
        case 's':
          return can.skip ? dispatch({ type: 'open-prompt', prompt: { kind: 'skip-reason' } }) : undefined;
        case 'r':
          return can.retry ? decide({ type: 'retry' }) : dispatch({ type: 'say', notice: 'nothing to retry: the step has not run' });
        case 'o':
          if (!can.override) return dispatch({ type: 'say', notice: 'no failing guard here may be overridden' });
          return dispatch({ type: 'open-prompt', prompt: { kind: 'override-reason', check: can.override } });
        case 'a':
          return dispatch({ type: 'open-prompt', prompt: { kind: 'confirm-abort' } });
        default:
          return undefined;
      }
    },
    { isActive },
  );
}
