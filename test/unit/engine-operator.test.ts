import { describe, expect, it } from 'vitest';
import { ScriptedOperator } from '../../src/engine/operator.js';
import type { EngineEvent, RunState } from '../../src/engine/types.js';
import { at, fail, ok, run, runStep } from './engine-fixtures.js';

const at2 = (): RunState => run(runStep('check-health', ['local'], [], false));
const withEvents = (events: Array<Record<string, unknown>>): RunState => run(events.map((e) => ({ ...e, at: at() }) as EngineEvent), at2());

describe('ScriptedOperator', () => {
  it('confirms a step awaiting confirmation', async () => {
    const s = withEvents([{ type: 'guards-evaluated', step: 'take-snapshot', outcomes: [ok('quorum')] }]);
    expect(await new ScriptedOperator().decide(s)).toEqual({ type: 'confirm' });
  });

  it('never overrides a guard: aborts on a blocked step, naming the guard', async () => {
    const s = withEvents([{ type: 'guards-evaluated', step: 'take-snapshot', outcomes: [fail('quorum', true)] }]);
    expect(await new ScriptedOperator().decide(s)).toEqual({
      type: 'abort',
      reason: 'step take-snapshot is blocked (quorum: quorum fails); guards are never overridden without an operator',
    });
  });

  it('aborts on a failed step with its error', async () => {
    const s = withEvents([
      { type: 'guards-evaluated', step: 'take-snapshot', outcomes: [] },
      { type: 'confirmed', step: 'take-snapshot', operator: 'a' },
      { type: 'step-started', step: 'take-snapshot' },
      { type: 'step-finished', step: 'take-snapshot', ok: false, error: 'failed on master-1' },
    ]);
    expect(await new ScriptedOperator().decide(s)).toEqual({ type: 'abort', reason: 'step take-snapshot failed: failed on master-1' });
  });

  it('follows its script for a step first, then falls back to the default', async () => {
    const s = withEvents([{ type: 'guards-evaluated', step: 'take-snapshot', outcomes: [fail('quorum')] }]);
    const operator = new ScriptedOperator({ script: { 'take-snapshot': [{ type: 'retry' }, { type: 'skip', reason: 'by hand' }] } });
    expect(await operator.decide(s)).toEqual({ type: 'retry' });
    expect(await operator.decide(s)).toEqual({ type: 'skip', reason: 'by hand' });
    expect((await operator.decide(s)).type).toBe('abort');
    expect(operator.decisions.map((d) => d.decision.type)).toEqual(['retry', 'skip', 'abort']);
  });
});
