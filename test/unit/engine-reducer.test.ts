import { describe, expect, it } from 'vitest';
import {
  appendTail,
  canApply,
  currentStep,
  EngineRuleError,
  initialState,
  isFinished,
  reduce,
  summary,
  TAIL_MAX_CHARS,
  TAIL_MAX_LINES,
} from '../../src/engine/reducer.js';
import type { EngineEvent, RunState } from '../../src/engine/types.js';
import { at, deepFreeze, DETECTION, fail, HEALTHY, ok, run, RUNBOOK, runStep, started } from './engine-fixtures.js';

/** reduce on a deep-frozen state: any mutation of the input throws */
function next(state: RunState, event: EngineEvent): RunState {
  return reduce(deepFreeze(state), event);
}

function refused(state: RunState, event: EngineEvent, reason: RegExp): void {
  const verdict = canApply(deepFreeze(state), event);
  expect(verdict.ok).toBe(false);
  if (!verdict.ok) expect(verdict.reason).toMatch(reason);
  expect(() => reduce(state, event)).toThrow(EngineRuleError);
  expect(() => reduce(state, event)).toThrow(reason);
}

const fresh = (): RunState => initialState(started);
const afterCheckHealth = (): RunState => run(runStep('check-health', ['local'], [], false));
/** at take-snapshot, guards passed, waiting for the operator */
const awaitingSnapshot = (): RunState => run([{ type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [ok('quorum')] }], afterCheckHealth());
const runningSnapshot = (): RunState =>
  run(
    [
      { type: 'confirmed', at: at(), step: 'take-snapshot', operator: 'alice' },
      { type: 'step-started', at: at(), step: 'take-snapshot' },
    ],
    awaitingSnapshot(),
  );
const atStopEtcd = (): RunState => run(runStep('take-snapshot', ['master-1'], [ok('quorum')]), afterCheckHealth());

describe('initialState', () => {
  it('starts in progress at the first step with every step pending and its targets from the runbook', () => {
    const s = fresh();
    expect(s.status).toBe('in-progress');
    expect(s.runId).toBe(started.runId);
    expect(s.operator).toBe('alice');
    expect(s.startedAt).toBe(started.at);
    expect(s.cursor).toBe(0);
    expect(s.steps.map((x) => x.status)).toEqual(['pending', 'pending', 'pending', 'not-applicable', 'pending']);
    expect(s.steps[2]!.targets).toEqual([
      { node: 'master-1', status: 'pending', outputTail: '' },
      { node: 'master-2', status: 'pending', outputTail: '' },
    ]);
    expect(s.detection).toBe(DETECTION);
    expect(s.lastProbe).toBe(DETECTION);
  });

  it('marks a step with no targets not-applicable at once, and skips the cursor past leading ones', () => {
    const runbook = { ...RUNBOOK, steps: [RUNBOOK.steps[3]!, RUNBOOK.steps[0]!] };
    const s = initialState({ ...started, runbook });
    expect(s.steps[0]!.status).toBe('not-applicable');
    expect(s.cursor).toBe(1);
  });

  it('is finished at once when no step applies', () => {
    const s = initialState({ ...started, runbook: { ...RUNBOOK, steps: [RUNBOOK.steps[3]!] } });
    expect(s.cursor).toBe(1);
    expect(isFinished(s)).toBe(true);
    expect(currentStep(s)).toBeUndefined();
  });

  it('refuses a second run-started', () => {
    refused(fresh(), { ...started, at: at() }, /already started/);
  });
});

describe('guards-evaluated', () => {
  it('makes a step awaiting-confirmation when every guard passed', () => {
    const s = next(fresh(), { type: 'guards-evaluated', at: at(), step: 'check-health', outcomes: [ok('reachable')] });
    expect(s.steps[0]!.status).toBe('awaiting-confirmation');
    expect(s.steps[0]!.guards).toEqual([ok('reachable')]);
  });

  it('makes a step awaiting-confirmation when it has no guards', () => {
    expect(next(fresh(), { type: 'guards-evaluated', at: at(), step: 'check-health', outcomes: [] }).steps[0]!.status).toBe('awaiting-confirmation');
  });

  it('blocks a step when a guard failed', () => {
    const s = next(afterCheckHealth(), { type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [fail('quorum')] });
    expect(s.steps[1]!.status).toBe('blocked');
  });

  it('can re-evaluate a blocked step, which unblocks it when the guard now passes', () => {
    const blocked = run([{ type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [fail('quorum')] }], afterCheckHealth());
    const s = next(blocked, { type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [ok('quorum')] });
    expect(s.steps[1]!.status).toBe('awaiting-confirmation');
  });

  it('withdraws a confirmation when re-evaluation finds a failed guard', () => {
    const confirmed = run([{ type: 'confirmed', at: at(), step: 'take-snapshot', operator: 'alice' }], awaitingSnapshot());
    expect(confirmed.steps[1]!.confirmedBy).toBe('alice');
    const s = next(confirmed, { type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [fail('quorum')] });
    expect(s.steps[1]!.status).toBe('blocked');
    expect(s.steps[1]!.confirmedBy).toBeUndefined();
  });

  it('keeps an override on re-evaluation while the overridable guard still fails', () => {
    const overridden = run(
      [
        { type: 'guards-evaluated', at: at(), step: 'stop-etcd', outcomes: [fail('would-lose-quorum', true), ok('quorum')] },
        { type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'would-lose-quorum', reason: 'member 3 is gone for good', operator: 'alice' },
      ],
      atStopEtcd(),
    );
    const s = next(overridden, { type: 'guards-evaluated', at: at(), step: 'stop-etcd', outcomes: [fail('would-lose-quorum', true), ok('quorum')] });
    expect(s.steps[2]!.status).toBe('awaiting-confirmation');
    expect(s.steps[2]!.guards[0]!.overriddenBecause).toBe('member 3 is gone for good');
  });

  it('refuses to evaluate guards of a running step', () => {
    refused(runningSnapshot(), { type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [] }, /cannot evaluate guards: step take-snapshot is running/);
  });

  it('refuses an event for a step that is not the current one', () => {
    refused(fresh(), { type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [] }, /not the current step \(check-health\)/);
  });

  it('refuses an event for a step the runbook does not have', () => {
    refused(fresh(), { type: 'guards-evaluated', at: at(), step: 'no-such-step', outcomes: [] }, /has no step no-such-step/);
  });
});

describe('guard-overridden', () => {
  const blockedStop = (): RunState =>
    run([{ type: 'guards-evaluated', at: at(), step: 'stop-etcd', outcomes: [fail('would-lose-quorum', true), ok('quorum')] }], atStopEtcd());

  it('unblocks a step when its only failed guard is overridable and overridden with a reason', () => {
    const s = next(blockedStop(), { type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'would-lose-quorum', reason: '  member 3 is gone for good ', operator: 'bob' });
    expect(s.steps[2]!.status).toBe('awaiting-confirmation');
    expect(s.steps[2]!.guards[0]).toMatchObject({ ok: false, overriddenBecause: 'member 3 is gone for good', overriddenBy: 'bob' });
  });

  it('refuses to override a guard that is not overridable', () => {
    const s = run([{ type: 'guards-evaluated', at: at(), step: 'stop-etcd', outcomes: [ok('would-lose-quorum', true), fail('quorum')] }], atStopEtcd());
    refused(s, { type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'quorum', reason: 'sure', operator: 'bob' }, /guard quorum of step stop-etcd is not overridable: quorum fails/);
  });

  it('refuses an override the outcome allows but the runbook marks not overridable', () => {
    const s = run([{ type: 'guards-evaluated', at: at(), step: 'stop-etcd', outcomes: [ok('would-lose-quorum', true), fail('quorum', true)] }], atStopEtcd());
    refused(s, { type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'quorum', reason: 'sure', operator: 'bob' }, /not overridable/);
  });

  it('refuses an override without a reason', () => {
    refused(blockedStop(), { type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'would-lose-quorum', reason: '   ', operator: 'bob' }, /needs a reason/);
  });

  it('refuses to override a guard that passed', () => {
    refused(blockedStop(), { type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'quorum', reason: 'x', operator: 'bob' }, /passed: there is nothing to override/);
  });

  it('refuses to override a guard the step does not have', () => {
    refused(blockedStop(), { type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'nope', reason: 'x', operator: 'bob' }, /no evaluated guard nope/);
  });

  it('refuses to override the same guard twice', () => {
    const s = run([{ type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'would-lose-quorum', reason: 'x', operator: 'bob' }], blockedStop());
    refused(s, { type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'would-lose-quorum', reason: 'y', operator: 'bob' }, /already overridden/);
  });

  it('stays blocked while another failed guard is not overridden', () => {
    const s = run([{ type: 'guards-evaluated', at: at(), step: 'stop-etcd', outcomes: [fail('would-lose-quorum', true), fail('quorum')] }], atStopEtcd());
    const after = next(s, { type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'would-lose-quorum', reason: 'x', operator: 'bob' });
    expect(after.steps[2]!.status).toBe('blocked');
  });
});

describe('confirmed', () => {
  it('records who confirmed a step awaiting confirmation', () => {
    const s = next(awaitingSnapshot(), { type: 'confirmed', at: at(), step: 'take-snapshot', operator: 'alice' });
    expect(s.steps[1]!.confirmedBy).toBe('alice');
    expect(s.steps[1]!.status).toBe('awaiting-confirmation');
  });

  it('refuses to confirm a step whose guard failed', () => {
    const s = run([{ type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [fail('quorum')] }], afterCheckHealth());
    refused(s, { type: 'confirmed', at: at(), step: 'take-snapshot', operator: 'alice' }, /cannot confirm step take-snapshot: guard quorum failed \(quorum fails\)/);
  });

  it('refuses to confirm a step whose guards were not evaluated', () => {
    refused(fresh(), { type: 'confirmed', at: at(), step: 'check-health', operator: 'alice' }, /cannot confirm: step check-health is pending/);
  });
});

describe('step-started', () => {
  it('runs a confirmed step', () => {
    const s = next(run([{ type: 'confirmed', at: at(), step: 'take-snapshot', operator: 'alice' }], awaitingSnapshot()), { type: 'step-started', at: '2025-03-01T11:00:00.000Z', step: 'take-snapshot' });
    expect(s.steps[1]!.status).toBe('running');
    expect(s.steps[1]!.startedAt).toBe('2025-03-01T11:00:00.000Z');
  });

  it('runs a read-only step without a confirmation', () => {
    const s = run([{ type: 'guards-evaluated', at: at(), step: 'check-health', outcomes: [] }]);
    expect(next(s, { type: 'step-started', at: at(), step: 'check-health' }).steps[0]!.status).toBe('running');
  });

  it('refuses to start a step that changes the cluster without a confirmation', () => {
    refused(awaitingSnapshot(), { type: 'step-started', at: at(), step: 'take-snapshot' }, /changes the cluster \(changes\) and has not been confirmed/);
  });

  it('refuses to start a blocked step', () => {
    const s = run([{ type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [fail('quorum')] }], afterCheckHealth());
    refused(s, { type: 'step-started', at: at(), step: 'take-snapshot' }, /cannot start: step take-snapshot is blocked/);
  });
});

describe('targets and output', () => {
  it('records the command as run on a node, redacted', () => {
    const s = next(runningSnapshot(), { type: 'target-started', at: '2025-03-01T11:00:01.000Z', step: 'take-snapshot', node: 'master-1', ran: 'etcdctl --user root:hunter2 snapshot save x' });
    expect(s.steps[1]!.targets[0]).toEqual({ node: 'master-1', status: 'running', ran: 'etcdctl --user root:[REDACTED] snapshot save x', startedAt: '2025-03-01T11:00:01.000Z', outputTail: '' });
  });

  it('refuses to start a node the step does not run on', () => {
    refused(runningSnapshot(), { type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-9', ran: 'x' }, /does not run on master-9/);
  });

  it('refuses to start a node twice', () => {
    const s = run([{ type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-1', ran: 'x' }], runningSnapshot());
    refused(s, { type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-1', ran: 'x' }, /already running/);
  });

  it('keeps the output tail per node', () => {
    const s = run(
      [
        { type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-1', ran: 'x' },
        { type: 'output', at: at(), step: 'take-snapshot', node: 'master-1', stream: 'stdout', chunk: 'Snapshot saved ' },
        { type: 'output', at: at(), step: 'take-snapshot', node: 'master-1', stream: 'stderr', chunk: 'at snap.db\n' },
      ],
      runningSnapshot(),
    );
    expect(s.steps[1]!.targets[0]!.outputTail).toBe('Snapshot saved at snap.db\n');
  });

  it('refuses output for a node that is not running', () => {
    refused(runningSnapshot(), { type: 'output', at: at(), step: 'take-snapshot', node: 'master-1', stream: 'stdout', chunk: 'x' }, /which is pending/);
  });

  it('finishes a node with its exit code, digest and error', () => {
    const s = run(
      [
        { type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-1', ran: 'x' },
        { type: 'target-finished', at: '2025-03-01T12:00:00.000Z', step: 'take-snapshot', node: 'master-1', ok: false, exitCode: 2, outputDigest: 'abc', error: 'exit code 2' },
      ],
      runningSnapshot(),
    );
    expect(s.steps[1]!.targets[0]).toMatchObject({ status: 'failed', exitCode: 2, outputDigest: 'abc', error: 'exit code 2', finishedAt: '2025-03-01T12:00:00.000Z' });
  });

  it('marks a node of a dry run recorded', () => {
    const s = run(
      [
        { type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-1', ran: 'x' },
        { type: 'target-finished', at: at(), step: 'take-snapshot', node: 'master-1', ok: true, recorded: true, exitCode: 0 },
      ],
      runningSnapshot(),
    );
    expect(s.steps[1]!.targets[0]!.status).toBe('recorded');
  });

  it('finishes a node that could not even be started (unreachable)', () => {
    const s = next(runningSnapshot(), { type: 'target-finished', at: at(), step: 'take-snapshot', node: 'master-1', ok: false, error: 'connect ECONNREFUSED' });
    expect(s.steps[1]!.targets[0]!.status).toBe('failed');
  });

  it('refuses to finish a node twice', () => {
    const s = run([{ type: 'target-finished', at: at(), step: 'take-snapshot', node: 'master-1', ok: false }], runningSnapshot());
    refused(s, { type: 'target-finished', at: at(), step: 'take-snapshot', node: 'master-1', ok: true }, /already finished \(failed\)/);
  });
});

describe('appendTail', () => {
  it(`keeps at most the last ${TAIL_MAX_LINES} lines`, () => {
    let tail = '';
    for (let i = 1; i <= 100; i++) tail = appendTail(tail, `line ${i}\n`);
    const lines = tail.split('\n').filter(Boolean);
    expect(lines).toHaveLength(TAIL_MAX_LINES);
    expect(lines[0]).toBe('line 61');
    expect(lines.at(-1)).toBe('line 100');
  });

  it(`keeps at most ${TAIL_MAX_CHARS} characters`, () => {
    const tail = appendTail('', 'x'.repeat(10_000));
    expect(tail).toHaveLength(TAIL_MAX_CHARS);
  });

  it('redacts a key split across two chunks and one whose start was cut off', () => {
    const split = appendTail(appendTail('', '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n'), 'BKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\nok\n');
    expect(split).toBe('-----BEGIN PRIVATE KEY-----\n[REDACTED]\n-----END PRIVATE KEY-----\nok\n');
    expect(appendTail('', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\nok\n')).not.toContain('MIIEv');
  });
});

describe('check-evaluated and step-finished', () => {
  const snapshotDone = (): RunState =>
    run(
      [
        { type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-1', ran: 'x' },
        { type: 'target-finished', at: at(), step: 'take-snapshot', node: 'master-1', ok: true, exitCode: 0 },
      ],
      runningSnapshot(),
    );

  it('records the after-check', () => {
    const s = next(snapshotDone(), { type: 'check-evaluated', at: at(), step: 'take-snapshot', outcome: ok('snapshot-verified') });
    expect(s.steps[1]!.check).toEqual(ok('snapshot-verified'));
  });

  it('refuses an after-check for a step that is not running', () => {
    refused(awaitingSnapshot(), { type: 'check-evaluated', at: at(), step: 'take-snapshot', outcome: ok('x') }, /cannot record the check/);
  });

  it('marks a step succeeded and moves the cursor past not-applicable steps', () => {
    const before = run(runStep('stop-etcd', ['master-1', 'master-2'], [ok('would-lose-quorum', true), ok('quorum')]), atStopEtcd());
    expect(before.steps[2]!.status).toBe('succeeded');
    expect(before.cursor).toBe(4);
    expect(currentStep(before)!.id).toBe('restart');
  });

  it('marks a step succeeded with its finish time', () => {
    const s = next(snapshotDone(), { type: 'step-finished', at: '2025-03-01T13:00:00.000Z', step: 'take-snapshot', ok: true });
    expect(s.steps[1]).toMatchObject({ status: 'succeeded', finishedAt: '2025-03-01T13:00:00.000Z' });
    expect(s.cursor).toBe(2);
  });

  it('marks a step failed, keeps the cursor on it, and marks nodes still running unknown', () => {
    const s = run([{ type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-1', ran: 'x' }], runningSnapshot());
    const after = next(s, { type: 'step-finished', at: at(), step: 'take-snapshot', ok: false, error: 'timed out' });
    expect(after.steps[1]).toMatchObject({ status: 'failed', error: 'timed out' });
    expect(after.steps[1]!.targets[0]!.status).toBe('unknown');
    expect(after.cursor).toBe(1);
  });

  it('refuses to call a step succeeded while a node failed', () => {
    const s = run([{ type: 'target-finished', at: at(), step: 'take-snapshot', node: 'master-1', ok: false }], runningSnapshot());
    refused(s, { type: 'step-finished', at: at(), step: 'take-snapshot', ok: true }, /cannot succeed: node master-1 is failed/);
  });

  it('refuses to call a step succeeded when a node never ran', () => {
    refused(runningSnapshot(), { type: 'step-finished', at: at(), step: 'take-snapshot', ok: true }, /node master-1 is pending/);
  });

  it('refuses to call a step succeeded when its after-check failed', () => {
    const s = run([{ type: 'check-evaluated', at: at(), step: 'take-snapshot', outcome: fail('snapshot-verified') }], snapshotDone());
    refused(s, { type: 'step-finished', at: at(), step: 'take-snapshot', ok: true }, /its check snapshot-verified failed/);
  });

  it('refuses to finish a step that is not running', () => {
    refused(awaitingSnapshot(), { type: 'step-finished', at: at(), step: 'take-snapshot', ok: true }, /cannot finish: step take-snapshot is awaiting-confirmation/);
  });
});

describe('skipped', () => {
  it.each([
    ['awaiting-confirmation', [{ type: 'guards-evaluated', step: 'take-snapshot', outcomes: [] }]],
    ['blocked', [{ type: 'guards-evaluated', step: 'take-snapshot', outcomes: [fail('quorum')] }]],
    ['failed', [{ type: 'guards-evaluated', step: 'take-snapshot', outcomes: [] }, { type: 'confirmed', step: 'take-snapshot', operator: 'a' }, { type: 'step-started', step: 'take-snapshot' }, { type: 'step-finished', step: 'take-snapshot', ok: false }]],
    ['unknown', [{ type: 'guards-evaluated', step: 'take-snapshot', outcomes: [] }, { type: 'confirmed', step: 'take-snapshot', operator: 'a' }, { type: 'step-started', step: 'take-snapshot' }, { type: 'step-unknown', step: 'take-snapshot' }]],
  ])('skips a %s step with a reason and moves on', (status, bodies) => {
    const s = run(bodies.map((b) => ({ ...b, at: at() }) as EngineEvent), afterCheckHealth());
    expect(s.steps[1]!.status).toBe(status);
    const after = next(s, { type: 'skipped', at: at(), step: 'take-snapshot', reason: ' snapshot taken by hand ', operator: 'bob' });
    expect(after.steps[1]).toMatchObject({ status: 'skipped', skipReason: 'snapshot taken by hand', skippedBy: 'bob' });
    expect(after.cursor).toBe(2);
  });

  it('refuses to skip without a reason', () => {
    refused(awaitingSnapshot(), { type: 'skipped', at: at(), step: 'take-snapshot', reason: ' ', operator: 'bob' }, /skipping step take-snapshot needs a reason/);
  });

  it('refuses to skip a running step', () => {
    refused(runningSnapshot(), { type: 'skipped', at: at(), step: 'take-snapshot', reason: 'x', operator: 'bob' }, /cannot skip: step take-snapshot is running/);
  });

  it('refuses to skip a pending step whose guards were not evaluated', () => {
    refused(fresh(), { type: 'skipped', at: at(), step: 'check-health', reason: 'x', operator: 'bob' }, /cannot skip: step check-health is pending/);
  });
});

describe('retry', () => {
  it('puts a failed step back to pending with one more attempt and its nodes reset', () => {
    const failed = run(
      [
        { type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-1', ran: 'x' },
        { type: 'output', at: at(), step: 'take-snapshot', node: 'master-1', stream: 'stderr', chunk: 'boom' },
        { type: 'target-finished', at: at(), step: 'take-snapshot', node: 'master-1', ok: false, exitCode: 1 },
        { type: 'step-finished', at: at(), step: 'take-snapshot', ok: false, error: 'failed on master-1' },
      ],
      runningSnapshot(),
    );
    const s = next(failed, { type: 'retry', at: at(), step: 'take-snapshot', operator: 'alice' });
    expect(s.steps[1]).toEqual({ id: 'take-snapshot', status: 'pending', guards: [], targets: [{ node: 'master-1', status: 'pending', outputTail: '' }], attempts: 1 });
    expect(s.cursor).toBe(1);
  });

  it('re-checks a blocked step by putting it back to pending', () => {
    const s = run([{ type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [fail('quorum')] }], afterCheckHealth());
    expect(next(s, { type: 'retry', at: at(), step: 'take-snapshot', operator: 'alice' }).steps[1]!.status).toBe('pending');
  });

  it('lets an unknown step be retried only by the operator asking', () => {
    const s = run([{ type: 'step-unknown', at: at(), step: 'take-snapshot' }], runningSnapshot());
    expect(next(s, { type: 'retry', at: at(), step: 'take-snapshot', operator: 'alice' }).steps[1]!.status).toBe('pending');
  });

  it('refuses to retry a step awaiting confirmation', () => {
    refused(awaitingSnapshot(), { type: 'retry', at: at(), step: 'take-snapshot', operator: 'a' }, /cannot retry: step take-snapshot is awaiting-confirmation/);
  });
});

describe('step-unknown', () => {
  it('marks a running step and its running nodes unknown', () => {
    const s = run([{ type: 'target-started', at: at(), step: 'take-snapshot', node: 'master-1', ran: 'x' }], runningSnapshot());
    const after = next(s, { type: 'step-unknown', at: at(), step: 'take-snapshot' });
    expect(after.steps[1]!.status).toBe('unknown');
    expect(after.steps[1]!.targets[0]!.status).toBe('unknown');
  });

  it('never runs an unknown step again without a retry', () => {
    const s = run([{ type: 'step-unknown', at: at(), step: 'take-snapshot' }], runningSnapshot());
    refused(s, { type: 'step-started', at: at(), step: 'take-snapshot' }, /cannot start: step take-snapshot is unknown/);
    refused(s, { type: 'confirmed', at: at(), step: 'take-snapshot', operator: 'a' }, /cannot confirm: step take-snapshot is unknown/);
    refused(s, { type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [] }, /cannot evaluate guards/);
  });

  it('refuses to mark a step that is not running unknown', () => {
    refused(awaitingSnapshot(), { type: 'step-unknown', at: at(), step: 'take-snapshot' }, /only a running step can become unknown/);
  });
});

describe('run-level events', () => {
  it('keeps the latest probe', () => {
    expect(next(fresh(), { type: 'probe', at: at(), report: HEALTHY }).lastProbe).toBe(HEALTHY);
  });

  it('aborts the run with the reason, and a step cut off mid-way becomes unknown', () => {
    const s = next(runningSnapshot(), { type: 'aborted', at: '2025-03-01T14:00:00.000Z', reason: 'operator pressed a', operator: 'alice' });
    expect(s).toMatchObject({ status: 'aborted', abortReason: 'operator pressed a', finishedAt: '2025-03-01T14:00:00.000Z' });
    expect(s.steps[1]!.status).toBe('unknown');
    expect(isFinished(s)).toBe(true);
  });

  it('refuses an abort without a reason', () => {
    refused(fresh(), { type: 'aborted', at: at(), reason: '', operator: 'a' }, /abort needs a reason/);
  });

  it('refuses step events once the run was aborted', () => {
    const s = run([{ type: 'aborted', at: at(), reason: 'stop', operator: 'a' }], awaitingSnapshot());
    refused(s, { type: 'confirmed', at: at(), step: 'take-snapshot', operator: 'a' }, /has ended \(aborted\): resume it first/);
    refused(s, { type: 'aborted', at: at(), reason: 'again', operator: 'a' }, /already ended/);
  });

  it('accepts run-finished(aborted) after an abort', () => {
    const s = run([{ type: 'aborted', at: at(), reason: 'stop', operator: 'a' }], fresh());
    expect(next(s, { type: 'run-finished', at: at(), status: 'aborted' }).status).toBe('aborted');
  });

  it('finishes a run as succeeded once every step is done', () => {
    const all = run([...runStep('restart', ['local'])], run(runStep('stop-etcd', ['master-1', 'master-2'], [ok('would-lose-quorum', true), ok('quorum')]), atStopEtcd()));
    expect(isFinished(all)).toBe(true);
    expect(all.status).toBe('in-progress');
    const s = next(all, { type: 'run-finished', at: '2025-03-01T15:00:00.000Z', status: 'succeeded' });
    expect(s).toMatchObject({ status: 'succeeded', finishedAt: '2025-03-01T15:00:00.000Z' });
  });

  it('refuses to call a run succeeded while a step is not done', () => {
    refused(awaitingSnapshot(), { type: 'run-finished', at: at(), status: 'succeeded' }, /cannot succeed: step take-snapshot is awaiting-confirmation/);
  });

  it('refuses run-finished with status in-progress', () => {
    refused(fresh(), { type: 'run-finished', at: at(), status: 'in-progress' }, /needs a final status/);
  });

  it('resumes an aborted run: back in progress, the abort remembered', () => {
    const s = run([{ type: 'aborted', at: at(), reason: 'stop', operator: 'a' }], awaitingSnapshot());
    const after = next(s, { type: 'run-resumed', at: '2025-03-02T00:00:00.000Z', operator: 'carol' });
    expect(after.status).toBe('in-progress');
    expect(after.abortReason).toBeUndefined();
    expect(after.finishedAt).toBeUndefined();
    expect(after.resumes).toEqual([{ at: '2025-03-02T00:00:00.000Z', operator: 'carol', previousStatus: 'aborted', previousAbortReason: 'stop' }]);
  });

  it('refuses to resume a run that succeeded', () => {
    const s = { ...fresh(), status: 'succeeded' as const };
    refused(s, { type: 'run-resumed', at: at(), operator: 'a' }, /already succeeded/);
  });
});

describe('selectors', () => {
  it('summarises ran, skipped, failed, unknown, not-applicable and not reached', () => {
    const s = run(
      [
        { type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [] },
        { type: 'skipped', at: at(), step: 'take-snapshot', reason: 'have one', operator: 'a' },
        { type: 'guards-evaluated', at: at(), step: 'stop-etcd', outcomes: [] },
        { type: 'confirmed', at: at(), step: 'stop-etcd', operator: 'a' },
        { type: 'step-started', at: at(), step: 'stop-etcd' },
        { type: 'step-finished', at: at(), step: 'stop-etcd', ok: false },
      ],
      afterCheckHealth(),
    );
    expect(summary(s)).toEqual({ total: 5, ran: 1, skipped: 1, failed: 1, unknown: 0, notApplicable: 1, notReached: 1 });
    expect(currentStep(s)!.id).toBe('stop-etcd');
    expect(isFinished(s)).toBe(false);
  });
});
