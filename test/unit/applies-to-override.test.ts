import { describe, expect, it } from 'vitest';
import { stepLogLine } from '../../src/cli/step-log.js';
import { replay } from '../../src/engine/journal.js';
import { canApply, initialState, nothingRanYet, reduce } from '../../src/engine/reducer.js';
import { transcriptMarkdown } from '../../src/engine/transcript.js';
import { appliesToJudgedOnResume } from '../../src/runbook/preconditions.js';
import type { EngineEvent } from '../../src/engine/types.js';
import { at, run, runStep, started } from './engine-fixtures.js';

/** The run-started fixture is replace-member: overridden on a healthy cluster. */
const override = (): Extract<EngineEvent, { type: 'applies-to-overridden' }> => ({
  type: 'applies-to-overridden',
  at: '2025-03-01T10:00:00.500Z',
  runbook: 'replace-member',
  verdict: 'healthy',
  appliesTo: ['minority-lost'],
  operator: 'alice',
});

describe('the appliesTo override in the engine', () => {
  it('is kept in the state, and replays from the journal the same', () => {
    const state = reduce(initialState(started), override());
    expect(state.appliesToOverride).toEqual({ verdict: 'healthy', appliesTo: ['minority-lost'], operator: 'alice', at: '2025-03-01T10:00:00.500Z' });
    expect(replay([started, override()]).appliesToOverride).toEqual(state.appliesToOverride);
  });

  it('is accepted only before any step ran: the verdict judged is the one the run starts from', () => {
    expect(nothingRanYet(initialState(started))).toBe(true);
    const under = run(runStep('check-health', ['local'], [], false));
    expect(nothingRanYet(under)).toBe(false);
    const refused = canApply(under, override());
    expect(refused).toEqual({ ok: false, reason: 'run run-20250301-100000 is under way: appliesTo is judged before its first step, not now' });
  });

  it('a skipped step counts as under way (the operator may have done it by hand)', () => {
    const state = run([
      { type: 'guards-evaluated', at: at(), step: 'check-health', outcomes: [] },
      { type: 'skipped', at: at(), step: 'check-health', reason: 'done by hand', operator: 'alice' },
    ]);
    expect(nothingRanYet(state)).toBe(false);
  });

  it('resume judges appliesTo again only for a run that has not started and holds no override', () => {
    const fixture = { ...started, runbook: { ...started.runbook, appliesTo: ['minority-lost' as const] } };
    expect(appliesToJudgedOnResume(initialState(fixture))).toBe(true);
    expect(appliesToJudgedOnResume(reduce(initialState(fixture), override()))).toBe(false);
    expect(appliesToJudgedOnResume(run(runStep('check-health', ['local'], [], false), initialState(fixture)))).toBe(false);
    // a journal written before appliesTo was kept in it
    expect(appliesToJudgedOnResume(initialState(started))).toBe(false);
  });

  it('must name the runbook of the run', () => {
    expect(canApply(initialState(started), { ...override(), runbook: 'split-brain' })).toEqual({ ok: false, reason: 'the override names runbook split-brain, this run is of replace-member' });
  });

  it('is shown in the step log and at the head of the transcript', () => {
    const state = reduce(initialState(started), override());
    const line = 'appliesTo overridden by alice: replace-member applies to minority-lost, the cluster was healthy when the run started (--override-applies-to replace-member)';
    expect(stepLogLine(override(), state, false)).toBe(line);
    const md = transcriptMarkdown(state);
    expect(md).toContain(`> **APPLIES-TO OVERRIDDEN** — ${line}.`);
    expect(md).toContain('| appliesTo | overridden by alice at 2025-03-01T10:00:00.500Z: minority-lost; the cluster was healthy |');
    expect(transcriptMarkdown(initialState(started))).not.toContain('OVERRIDDEN');
  });
});
