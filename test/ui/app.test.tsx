import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from '../../src/ui/app/app.js';
import { DETECTION, HEALTHY } from '../unit/engine-fixtures.js';
import { fakeRun, fakeSession } from './fake-session.js';
import { frameMatching, KEY, type } from './harness.js';

afterEach(() => cleanup());

describe('the interactive app', () => {
  it('detection → picker → step view → summary, with the dry-run banner on every screen', async () => {
    const run = fakeRun(true);
    const { session, begin } = fakeSession(true);
    begin.mockResolvedValue(run.handle);
    const onExit = vi.fn();
    const app = render(<App session={session} color={false} onExit={onExit} />);
    let frame = await frameMatching(app, 'Choose a runbook');
    expect(frame).toMatch(/^DRY RUN/);
    expect(frame).toContain('verdict: minority-lost');

    await type(app, KEY.enter);
    expect(begin).toHaveBeenCalledWith('replace-member', DETECTION);
    run.apply({ type: 'guards-evaluated', step: 'check-health', outcomes: [] });
    const decision = run.operator.decide(run.handle.state.get());
    frame = await frameMatching(app, 'Step 1 of 5: Check cluster health');
    expect(frame).toMatch(/^DRY RUN/);
    await type(app, 'y');
    await expect(decision).resolves.toEqual({ type: 'confirm' });

    run.end();
    frame = await frameMatching(app, 'transcript: /j/run.md');
    expect(frame).toMatch(/^DRY RUN/);
    expect(frame).toContain('journal:    /j/run.jsonl');
    expect(frame).toContain('aborted — aborted by the operator');
    expect(frame).toMatch(/ran 0 · skipped 0 · failed 0/);
    expect(frame).toContain('etcd-runbook resume /j/run.jsonl');
    expect(frame).toContain('final verdict: minority-lost');
    await type(app, 'q');
    expect(onExit).toHaveBeenCalledWith(5);
  });

  it('Ctrl-C before a run leaves at once', async () => {
    const { session } = fakeSession(false);
    const onExit = vi.fn();
    const app = render(<App session={session} color={false} onExit={onExit} />);
    const frame = await frameMatching(app, 'Choose a runbook');
    expect(frame).not.toContain('DRY RUN');
    await type(app, KEY.ctrlC);
    expect(onExit).toHaveBeenCalledWith(130);
  });

  it('Ctrl-C during a running step asks whether to abandon it; y abandons through the runner', async () => {
    const run = fakeRun(false);
    run.apply({ type: 'guards-evaluated', step: 'check-health', outcomes: [] });
    run.apply({ type: 'confirmed', step: 'check-health', operator: 'alice' });
    run.apply({ type: 'step-started', step: 'check-health' });
    const { session } = fakeSession(false, run.handle);
    session.health.seed(DETECTION);
    const onExit = vi.fn();
    const app = render(<App session={session} color={false} onExit={onExit} />);
    await frameMatching(app, 'running');
    await type(app, KEY.ctrlC);
    await frameMatching(app, 'Abandon the running step?');
    await type(app, 'n');
    await frameMatching(app, (f) => !f.includes('Abandon the running step?'));
    expect(run.handle.abandon).not.toHaveBeenCalled();
    await type(app, KEY.ctrlC);
    await frameMatching(app, 'Abandon the running step?');
    await type(app, 'y');
    await vi.waitFor(() => expect(run.handle.abandon).toHaveBeenCalledTimes(1));
    // the runner records the abort and ends; the app then leaves with its code
    run.end();
    await vi.waitFor(() => expect(onExit).toHaveBeenCalledWith(5));
  });

  it('Ctrl-C while the runner waits for a decision aborts the run cleanly and leaves', async () => {
    const run = fakeRun(false);
    run.apply({ type: 'guards-evaluated', step: 'check-health', outcomes: [] });
    const decision = run.operator.decide(run.handle.state.get());
    const { session } = fakeSession(false, run.handle);
    const onExit = vi.fn();
    const app = render(<App session={session} color={false} onExit={onExit} />);
    await frameMatching(app, 'y run');
    await type(app, KEY.ctrlC);
    await expect(decision).resolves.toEqual({ type: 'abort', reason: 'interrupted by the operator (Ctrl-C)' });
    run.end();
    await vi.waitFor(() => expect(onExit).toHaveBeenCalledWith(5));
  });

  it('the live health table marks a member that changed state', async () => {
    const run = fakeRun(false);
    run.apply({ type: 'guards-evaluated', step: 'check-health', outcomes: [] });
    const { session, health } = fakeSession(false, run.handle);
    // as the probe reports them: every endpoint carries the inventory's member name
    const named = (r: typeof HEALTHY, later: number) => ({ ...r, probedAt: new Date(Date.now() + later).toISOString(), endpoints: r.endpoints.map((p, i) => ({ ...p, expectedName: `master-${i + 1}` })) });
    health.seed(named(DETECTION, 1000));
    const app = render(<App session={session} color={false} onExit={() => {}} />);
    await frameMatching(app, 'master-3 unreachable');
    health.seed(named(HEALTHY, 5000));
    const frame = await frameMatching(app, '(was unreachable)');
    expect(frame).toMatch(/healthy \(was unreachable\)/);
  });
});
