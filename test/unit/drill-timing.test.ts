import { describe, expect, it } from 'vitest';
import { drillTiming, timingText } from '../../src/drill/timing.js';
import type { EngineEvent } from '../../src/engine/types.js';

/** Events at given offsets (ms) from t0; only type, step and time matter to the timing. */
const t0 = Date.parse('2026-11-24T20:00:00.000Z');
function events(list: Array<[number, string, string?, boolean?]>): EngineEvent[] {
  return list.map(([ms, type, step, ok = true]) => ({ type, step, node: 'local', ok, outcomes: [], outcome: { check: 'quorum-held', ok: true, message: '', overridable: false }, at: new Date(t0 + ms).toISOString() }) as unknown as EngineEvent);
}

const RUN = events([
  [1_000, 'run-started'],
  [1_100, 'guards-evaluated', 'a'],
  [1_100, 'confirmed', 'a'],
  [1_100, 'step-started', 'a'],
  [1_200, 'target-started', 'a'],
  [4_200, 'target-finished', 'a'],
  [4_300, 'step-finished', 'a'],
  [4_500, 'probe'],
  [4_800, 'guards-evaluated', 'b'],
  [6_800, 'confirmed', 'b'],
  [6_800, 'step-started', 'b'],
  [6_800, 'target-started', 'b'],
  [6_900, 'target-started', 'b'],
  [8_800, 'target-finished', 'b'],
  [9_800, 'target-finished', 'b'],
  [9_900, 'step-finished', 'b'],
  [10_000, 'run-finished'],
]);

describe('drill timing from the journal', () => {
  it('splits fault → healthy into settling, time inside steps, operator and tool', () => {
    const t = drillTiming(RUN, { faultAt: t0 - 500, detectedAt: t0 + 500, healthyAt: t0 + 10_000, interactive: true });
    expect(t.total).toBe(10_500);
    expect(t.settle).toBe(1_000);
    // a: 1.2 → 4.2 s; b: first target start 6.8 → last target end 9.8 s
    expect(t.steps).toEqual([
      { step: 'a', ms: 3_000 },
      { step: 'b', ms: 3_000 },
    ]);
    expect(t.insideSteps).toBe(6_000);
    // the 2 s between b's guards and its confirmation, and the 0.5 s from detection to the run starting, were the operator's
    expect(t.operator).toBe(2_000 + 500);
    expect(t.tool).toBe(10_500 - 1_000 - 6_000 - 2_500);
    expect(t.etcd).toBe(7_000);
    expect(t.overheadShare).toBeCloseTo(1_000 / 8_000);
    // guards of a (100 ms after run-started) and of b (300 ms after the probe); the probe after a (200 ms)
    expect(t.toolParts).toEqual({ guards: 400, checks: 0, probes: 200, writeAhead: 0, verification: 0 });
    expect(t.overheadShareBesidesVerification).toBeCloseTo(t.overheadShare);
  });

  it('unattended (--yes), the scripted answers are the tool\'s: no time is the operator\'s', () => {
    const t = drillTiming(RUN, { faultAt: t0 - 500, detectedAt: t0 + 500, healthyAt: t0 + 10_000, interactive: false });
    expect(t.operator).toBe(0);
    // the 2 s before b's (scripted) confirmation and the 0.5 s before the run started count as the tool's
    expect(t.tool).toBe(10_500 - 1_000 - 6_000);
    expect(t.overheadShare).toBeCloseTo(3_500 / 10_500);
  });

  it('says how much of the tool\'s time was snapshot verification: the longest such guard of each evaluation, within its gap', () => {
    const outcome = (check: string, ms: number) => ({ check, ok: true, message: '', overridable: false, ms });
    const verified = RUN.map((e) => {
      if (e.type === 'guards-evaluated' && e.step === 'b') {
        // judged together: the longer verification is what held the step up; quorum-held is not verification
        return { ...e, outcomes: [outcome('same-snapshot-everywhere', 250), outcome('snapshot-verified', 120), outcome('quorum-held', 280)] };
      }
      // a guard that claims longer than its gap (it started before the previous event) counts for the gap only
      if (e.type === 'guards-evaluated' && e.step === 'a') return { ...e, outcomes: [outcome('snapshot-verified', 5_000)] };
      return e;
    }) as EngineEvent[];
    const t = drillTiming(verified, { faultAt: t0 - 500, detectedAt: t0 + 500, healthyAt: t0 + 10_000, interactive: true });
    expect(t.toolParts.verification).toBe(250 + 100);
    expect(t.overheadShareBesidesVerification).toBeCloseTo((1_000 - 350) / 8_000);
    const text = timingText(t, true, false);
    expect(text.join('\n')).toMatch(/of it, snapshots +0\.3 s +3%  snapshot status, sha256 on every node/);
    for (const line of text) expect(line.length).toBeLessThanOrEqual(78);
  });

  it('the journal\'s write-ahead flush before each node ran is the tool\'s time, not the step\'s', () => {
    // b's two nodes waited 30 and 20 ms for their target-started lines to reach the disk
    const flushed = RUN.map((e) => (e.type === 'target-finished' && e.step === 'b' ? { ...e, writeAheadMs: e.at.endsWith('08.800Z') ? 30 : 20 } : e)) as EngineEvent[];
    const t = drillTiming(flushed, { faultAt: t0 - 500, detectedAt: t0 + 500, healthyAt: t0 + 10_000, interactive: true });
    expect(t.steps).toEqual([
      { step: 'a', ms: 3_000 },
      { step: 'b', ms: 3_000 - 50 },
    ]);
    expect(t.toolParts.writeAhead).toBe(50);
    expect(t.tool).toBe(10_500 - 1_000 - 5_950 - 2_500);
  });

  it('a failed step that is retried: both attempts inside the step, the wait for the retry decision the operator\'s', () => {
    const retried = events([
      [0, 'run-started'],
      [0, 'guards-evaluated', 'a'],
      [0, 'confirmed', 'a'],
      [0, 'step-started', 'a'],
      [0, 'target-started', 'a'],
      [1_000, 'target-finished', 'a'],
      [1_000, 'step-finished', 'a', false],
      [3_000, 'retry', 'a'],
      [3_000, 'guards-evaluated', 'a'],
      [3_500, 'confirmed', 'a'],
      [3_500, 'step-started', 'a'],
      [3_500, 'target-started', 'a'],
      [4_500, 'target-finished', 'a'],
      [4_500, 'step-finished', 'a'],
    ]);
    const t = drillTiming(retried, { faultAt: t0, detectedAt: t0, healthyAt: t0 + 4_500, interactive: true });
    expect(t.insideSteps).toBe(2_000);
    expect(t.operator).toBe(2_000 + 500);
    expect(t.tool).toBe(0);
  });

  it('prints the split with its share of the whole', () => {
    const t = drillTiming(RUN, { faultAt: t0 - 500, detectedAt: t0 + 500, healthyAt: t0 + 10_000, interactive: true });
    const text = timingText(t, true, true).join('\n');
    expect(text).toContain('time from fault to healthy: 10.5 s');
    expect(text).toMatch(/etcd and the nodes\s+7\.0 s\s+67%\s+fault noticed 1\.0 s, inside steps 6\.0 s/);
    expect(text).toMatch(/operator\s+2\.5 s\s+24%\s+reading, choosing, confirming/);
    expect(text).toMatch(/tool overhead\s+1\.0 s\s+10%/);
    expect(text).toContain('(tool overhead: 13% of the time not spent waiting for you)');
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(78);
  });
});
