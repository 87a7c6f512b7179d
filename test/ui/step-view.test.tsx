import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { initialState, reduce } from '../../src/engine/reducer.js';
import type { EngineEvent, RunState } from '../../src/engine/types.js';
import type { HealthView } from '../../src/ui/live-health.js';
import { StepView } from '../../src/ui/step-view/step-view.js';
import { at, DETECTION, fail, ok, started } from '../unit/engine-fixtures.js';
import { frameMatching, KEY, type } from './harness.js';

/**
 * The fixture runbook (test/unit/engine-fixtures.ts): 1 check-health
 * (read-only, local), 2 take-snapshot (changes, a guard, an after-check),
 * 3 stop-etcd (destructive, on master-1 and master-2, one overridable guard).
 */
type Body = EngineEvent extends infer E ? (E extends EngineEvent ? Omit<E, 'at'> : never) : never;
function stateAfter(...events: Body[]): RunState {
  return events.reduce((s, e) => reduce(s, { ...e, at: at() } as EngineEvent), initialState(started));
}
const health: HealthView = { report: DETECTION, changed: {}, refreshing: false };
const doneFirstTwo: Body[] = [
  { type: 'guards-evaluated', step: 'check-health', outcomes: [] },
  { type: 'confirmed', step: 'check-health', operator: 'alice' },
  { type: 'step-started', step: 'check-health' },
  { type: 'target-started', step: 'check-health', node: 'local', ran: 'etcdctl endpoint health --cluster' },
  { type: 'target-finished', step: 'check-health', node: 'local', ok: true, exitCode: 0 },
  { type: 'step-finished', step: 'check-health', ok: true },
  { type: 'guards-evaluated', step: 'take-snapshot', outcomes: [ok('quorum')] },
  { type: 'confirmed', step: 'take-snapshot', operator: 'alice' },
  { type: 'step-started', step: 'take-snapshot' },
  { type: 'target-started', step: 'take-snapshot', node: 'master-1', ran: 'etcdctl snapshot save' },
  { type: 'target-finished', step: 'take-snapshot', node: 'master-1', ok: true, exitCode: 0 },
  { type: 'check-evaluated', step: 'take-snapshot', outcome: ok('snapshot-verified') },
  { type: 'step-finished', step: 'take-snapshot', ok: true },
];

function view(state: RunState, decide = vi.fn(), asking = true) {
  const app = render(<StepView state={state} asking={asking} decide={decide} health={health} columns={100} rows={30} />);
  return { app, decide };
}

afterEach(() => cleanup());

describe('step view', () => {
  it('shows step k of n, title, why, host, the exact command, risk badge, guards and the keys', async () => {
    const { app } = view(stateAfter({ type: 'guards-evaluated', step: 'check-health', outcomes: [ok('quorum')] }));
    const frame = await frameMatching(app, 'Step 1 of 5: Check cluster health');
    expect(frame).toContain('[READ-ONLY]');
    expect(frame).toContain('why: why check-health');
    expect(frame).toContain('on local');
    expect(frame).toContain('$ etcdctl endpoint health --cluster');
    expect(frame).toContain('✓ pass quorum: quorum holds');
    expect(frame).toContain('y run · s skip · a abort · ? help');
    // the compact live health table is on screen
    expect(frame).toMatch(/health .*master-1 healthy/);
  });

  it('y confirms a step that is not destructive', async () => {
    const { app, decide } = view(stateAfter({ type: 'guards-evaluated', step: 'check-health', outcomes: [] }));
    await type(app, 'y');
    expect(decide).toHaveBeenCalledWith({ type: 'confirm' });
  });

  it('keys do nothing while the runner is not asking (guards being checked)', async () => {
    const { app, decide } = view(stateAfter(), vi.fn(), false);
    await frameMatching(app, 'checking guards');
    await type(app, 'y');
    expect(await frameMatching(app, 'wait: the guards are being checked')).toBeTruthy();
    expect(decide).not.toHaveBeenCalled();
  });

  it('s asks for a reason and skips with it; an empty reason does not skip', async () => {
    const { app, decide } = view(stateAfter({ type: 'guards-evaluated', step: 'check-health', outcomes: [] }));
    await type(app, 's');
    await frameMatching(app, 'Reason for skipping:');
    await type(app, KEY.enter);
    await frameMatching(app, 'a skip needs a reason');
    expect(decide).not.toHaveBeenCalled();
    await type(app, 's', 'd', 'o', 'n', 'e', KEY.enter);
    expect(decide).toHaveBeenCalledWith({ type: 'skip', reason: 'done' });
  });

  it('a asks to confirm; anything but y keeps the run; y aborts', async () => {
    const { app, decide } = view(stateAfter({ type: 'guards-evaluated', step: 'check-health', outcomes: [] }));
    await type(app, 'a');
    await frameMatching(app, 'Abort the run here?');
    await type(app, 'n');
    await frameMatching(app, 'not aborted');
    expect(decide).not.toHaveBeenCalled();
    await type(app, 'a', 'y');
    expect(decide).toHaveBeenCalledWith({ type: 'abort', reason: 'aborted by the operator' });
  });

  it('a blocked step: y refuses, o overrides only an overridable guard (asks why), r re-checks', async () => {
    const state = stateAfter(...doneFirstTwo, { type: 'guards-evaluated', step: 'stop-etcd', outcomes: [fail('would-lose-quorum', true), ok('quorum')] });
    const { app, decide } = view(state);
    let frame = await frameMatching(app, 'BLOCKED by a guard');
    expect(frame).toContain('✗ FAIL would-lose-quorum: would-lose-quorum fails (o overrides)');
    expect(frame).toContain('r re-check · s skip · o override · a abort');
    await type(app, 'y');
    await frameMatching(app, 'blocked by a guard: r re-checks');
    await type(app, 'o');
    await frameMatching(app, 'Reason for overriding would-lose-quorum:');
    await type(app, 'm', '3', ' ', 'i', 's', ' ', 'g', 'o', 'n', 'e', KEY.enter);
    expect(decide).toHaveBeenCalledWith({ type: 'override', check: 'would-lose-quorum', reason: 'm3 is gone' });
    await type(app, 'r');
    expect(decide).toHaveBeenLastCalledWith({ type: 'retry' });

    // a guard that may not be overridden
    cleanup();
    const hard = view(stateAfter(...doneFirstTwo, { type: 'guards-evaluated', step: 'stop-etcd', outcomes: [ok('would-lose-quorum', true), fail('quorum')] }));
    frame = await frameMatching(hard.app, 'BLOCKED');
    expect(frame).not.toContain('o override');
    await type(hard.app, 'o');
    await frameMatching(hard.app, 'no failing guard here may be overridden');
    expect(hard.decide).not.toHaveBeenCalled();
  });

  it('a destructive step runs only when its member names are typed', async () => {
    const state = stateAfter(...doneFirstTwo, { type: 'guards-evaluated', step: 'stop-etcd', outcomes: [ok('would-lose-quorum', true), ok('quorum')] });
    const { app, decide } = view(state);
    expect(await frameMatching(app, '[DESTRUCTIVE]')).toContain('Step 3 of 5: Stop etcd on every member');
    await type(app, 'y');
    await frameMatching(app, 'DESTRUCTIVE: type master-1,master-2 to run it:');
    await type(app, 'm', '1', KEY.enter);
    await frameMatching(app, '"m1" is not master-1,master-2: not run');
    expect(decide).not.toHaveBeenCalled();
    // pasted in one write, as a terminal delivers a paste
    await type(app, 'y', 'master-1,master-2', KEY.enter);
    expect(decide).toHaveBeenCalledWith({ type: 'confirm' });
  });

  it('typed names and Enter that arrive in one read confirm (a paste, fast typing over SSH); a key after the Enter in that read is dropped', async () => {
    const state = stateAfter(...doneFirstTwo, { type: 'guards-evaluated', step: 'stop-etcd', outcomes: [ok('would-lose-quorum', true), ok('quorum')] });
    const { app, decide } = view(state);
    await frameMatching(app, '[DESTRUCTIVE]');
    await type(app, 'y');
    await frameMatching(app, 'DESTRUCTIVE: type master-1,master-2 to run it:');
    await type(app, `master-1,master-2${KEY.enter}y`);
    expect(decide).toHaveBeenCalledTimes(1);
    expect(decide).toHaveBeenCalledWith({ type: 'confirm' });
  });

  it('a held Backspace that arrives as one read corrects a mistyped name; Ctrl-U clears it', async () => {
    const state = stateAfter(...doneFirstTwo, { type: 'guards-evaluated', step: 'stop-etcd', outcomes: [ok('would-lose-quorum', true), ok('quorum')] });
    const { app, decide } = view(state);
    await frameMatching(app, '[DESTRUCTIVE]');
    await type(app, 'y', 'master-1,master-3');
    await frameMatching(app, 'run it: master-1,master-3');
    await type(app, KEY.backspace.repeat(9));
    await frameMatching(app, 'run it: master-1 ');
    await type(app, 'xyz', '\u0015');
    await frameMatching(app, /run it:\s+\(Enter/);
    expect(decide).not.toHaveBeenCalled();
    await type(app, 'master-1,', 'master-2', KEY.enter);
    expect(decide).toHaveBeenCalledWith({ type: 'confirm' });
  });

  it('each-member steps show one line per node with its own spinner and result; the output pane stays bounded', async () => {
    const lines = Array.from({ length: 60 }, (_, i) => `line ${i + 1}`).join('\n');
    const state = stateAfter(
      ...doneFirstTwo,
      { type: 'guards-evaluated', step: 'stop-etcd', outcomes: [ok('would-lose-quorum', true), ok('quorum')] },
      { type: 'confirmed', step: 'stop-etcd', operator: 'alice' },
      { type: 'step-started', step: 'stop-etcd' },
      { type: 'target-started', step: 'stop-etcd', node: 'master-1', ran: 'systemctl stop etcd' },
      { type: 'target-started', step: 'stop-etcd', node: 'master-2', ran: 'systemctl stop etcd' },
      { type: 'output', step: 'stop-etcd', node: 'master-1', stream: 'stdout', chunk: `${lines}\n` },
      { type: 'target-finished', step: 'stop-etcd', node: 'master-1', ok: true, exitCode: 0 },
    );
    const { app } = view(state, vi.fn(), false);
    const frame = await frameMatching(app, 'running');
    expect(frame).toMatch(/master-1 ✓ line 60/);
    expect(frame).toMatch(/master-2 [⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
    expect(frame).toContain('[master-1] line 60');
    expect(frame).not.toContain('[master-1] line 1\n');
    expect(frame.split('\n').length).toBeLessThanOrEqual(30);
    expect(frame).toContain('Ctrl-C abandons the running step');
    // ↑ scrolls back through what the state kept
    await type(app, KEY.up, KEY.up);
    expect(await frameMatching(app, 'scrolled back 2 lines')).toContain('[master-1] line 58');
  });

  it('a step left unknown by a killed run says so and offers retry or skip', async () => {
    const state = stateAfter(
      { type: 'guards-evaluated', step: 'check-health', outcomes: [] },
      { type: 'confirmed', step: 'check-health', operator: 'alice' },
      { type: 'step-started', step: 'check-health' },
      { type: 'step-unknown', step: 'check-health' },
    );
    const { app, decide } = view(state);
    const frame = await frameMatching(app, 'UNKNOWN');
    expect(frame).toContain('check before re-running');
    expect(frame).toContain('r retry · s skip · a abort');
    await type(app, 'r');
    expect(decide).toHaveBeenCalledWith({ type: 'retry' });
  });

  it('? shows the keys; any key returns', async () => {
    const { app } = view(stateAfter({ type: 'guards-evaluated', step: 'check-health', outcomes: [] }));
    await type(app, '?');
    expect(await frameMatching(app, 'Keys (any key returns)')).toContain('override a failing guard');
    await type(app, 'x');
    await frameMatching(app, 'Step 1 of 5');
  });
});
