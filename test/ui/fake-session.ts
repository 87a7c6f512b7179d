import { vi } from 'vitest';
import type { ClusterReport } from '../../src/cluster/types.js';
import { initialState, reduce } from '../../src/engine/reducer.js';
import type { EngineEvent, RunState } from '../../src/engine/types.js';
import { LiveHealth } from '../../src/ui/live-health.js';
import type { RunHandle, RunOutcome, TuiSession } from '../../src/ui/session.js';
import { Store } from '../../src/ui/store.js';
import { TuiOperator } from '../../src/ui/tui-operator.js';
import { at, DETECTION, HEALTHY, started } from '../unit/engine-fixtures.js';

export type Body = EngineEvent extends infer E ? (E extends EngineEvent ? Omit<E, 'at'> : never) : never;

/**
 * A run with fakes behind it (the app is driven as the CLI drives it, but
 * nothing touches a cluster): events applied as the runner would, and the
 * run's end.
 */
export function fakeRun(dryRun: boolean, start: Extract<EngineEvent, { type: 'run-started' }> = started) {
  let state = initialState({ ...start, dryRun });
  const store = new Store<RunState>(state);
  const operator = new TuiOperator();
  let finish!: (o: RunOutcome) => void;
  const finished = new Promise<RunOutcome>((r) => (finish = r));
  const handle: RunHandle = { state: store, operator, abandon: vi.fn(), finished };
  const apply = (e: Body) => {
    state = reduce(state, { ...e, at: at() } as EngineEvent);
    store.set(state);
  };
  /** the runner records the abort and ends */
  const end = () => {
    apply({ type: 'aborted', reason: 'aborted by the operator', operator: 'alice' });
    finish({ state, journal: '/j/run.jsonl', transcript: '/j/run.md', exitCode: 5 });
  };
  /** the runner ends after the last step */
  const succeed = (journal = '/j/run.jsonl', transcript = '/j/run.md') => {
    apply({ type: 'run-finished', status: 'succeeded' });
    finish({ state, journal, transcript, exitCode: 0 });
  };
  return { handle, apply, end, succeed, operator };
}

/** A session over a fake detection (DETECTION, then HEALTHY on refresh). */
export function fakeSession(dryRun: boolean, run?: RunHandle, detection: ClusterReport = DETECTION) {
  const health = new LiveHealth(async () => HEALTHY, 60_000);
  const begin = vi.fn<TuiSession['begin']>();
  const session: TuiSession = {
    dryRun,
    targets: detection.endpoints.map((p, i) => ({ name: `master-${i + 1}`, endpoint: p.endpoint })),
    detect: async () => {
      health.seed(detection);
      return detection;
    },
    choices: async () => ({ choices: [{ id: 'replace-member', title: 'Replace a failed member', description: 'test', reason: 'recommended for minority-lost', recommended: true }], problems: [] }),
    begin,
    health,
    ...(run ? { run } : {}),
  };
  return { session, begin, health };
}
