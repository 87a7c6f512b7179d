import { Box } from 'ink';
import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { initialState, reduce } from '../../src/engine/reducer.js';
import type { EngineEvent, RunState } from '../../src/engine/types.js';
import type { RenderedRunbook, RenderedStep } from '../../src/runbook/rendered.js';
import { App } from '../../src/ui/app/app.js';
import type { HealthView } from '../../src/ui/live-health.js';
import { StepView } from '../../src/ui/step-view/step-view.js';
import { displayWidth } from '../../src/util/table.js';
import { fakeCluster, reportOf } from '../helpers/probes.js';
import { at, fail, ok, started } from '../unit/engine-fixtures.js';
import { fakeRun, fakeSession, type Body } from './fake-session.js';
import { frameMatching, type } from './harness.js';

/**
 * The big runbooks at 80×24 (DESIGN §8): a restore step with 16 guards over
 * 5 members keeps its header, command, keys and health on screen (the
 * passing guards and the nodes condense to a line each, g shows them all),
 * and the summary of a 38-step run keeps the banner, the counts, the
 * verdict and the paths.
 */
const NODES = ['master-1', 'master-2', 'master-3', 'master-4', 'master-5'];
const GUARDS = [
  'old-members-stopped', 'data-dir-moved-aside', 'snapshot-verified', 'same-snapshot-everywhere', 'single-cluster-id', 'no-etcd-process',
  'kubelet-stopped', 'apiserver-stopped', 'restore-name-matches', 'peer-url-matches', 'token-is-new', 'disk-space', 'snapshot-readable',
  'manifest-moved', 'backup-dir-writable', 'one-learner-at-a-time',
];
const WHY =
  'Each member restores the same snapshot into an empty data directory with its own name and peer URL and a new cluster token, so no member can rejoin the old cluster by mistake.';

function step(i: number, overrides: Partial<RenderedStep> = {}): RenderedStep {
  return { id: `step-${i + 1}`, title: `Step number ${i + 1}`, why: `why ${i + 1}`, kind: 'command', risk: 'changes', timeoutMs: 60_000, guards: [], targets: [{ node: 'local', host: 'local', command: `echo ${i + 1}` }], ...overrides };
}

const RESTORE = 4;
const BIG: RenderedRunbook = {
  id: 'restore-quorum',
  title: 'Restore quorum from a snapshot',
  description: 'test runbook',
  sources: [],
  inputs: {},
  steps: Array.from({ length: 38 }, (_, i) =>
    i === RESTORE
      ? step(i, {
          id: 'restore-data-dirs',
          title: 'Restore every member from the one snapshot into a fresh data directory',
          why: WHY,
          risk: 'destructive',
          guards: GUARDS.map((check) => ({ check, params: {}, overridable: true, description: check })),
          targets: NODES.map((node, n) => ({
            node,
            host: `root@10.0.0.1${n + 1}`,
            command: `etcdutl snapshot restore /var/lib/etcd-backup/snapshot-20250301T100000Z.db --name ${node} --initial-cluster-token etcd-restore-20250301 --data-dir /var/lib/etcd`,
          })),
        })
      : step(i),
  ),
};
const bigStart: Extract<EngineEvent, { type: 'run-started' }> = { ...started, runbook: BIG };

const five = fakeCluster({ voting: 5 });
const FIVE_DOWN_THREE = reportOf([five.up(0), five.up(1), five.down(2), five.down(3), five.down(4)]);
const health: HealthView = { report: FIVE_DOWN_THREE, changed: {}, refreshing: false };

/** A step of the big runbook run through on every node it targets. */
function ran(i: number): Body[] {
  const { id, targets } = BIG.steps[i]!;
  return [
    { type: 'guards-evaluated', step: id, outcomes: [] },
    { type: 'confirmed', step: id, operator: 'alice' },
    { type: 'step-started', step: id },
    ...targets.flatMap((t): Body[] => [
      { type: 'target-started', step: id, node: t.node, ran: t.command ?? '' },
      { type: 'target-finished', step: id, node: t.node, ok: true, exitCode: 0 },
    ]),
    { type: 'step-finished', step: id, ok: true },
  ];
}

function stateAt(...events: Body[]): RunState {
  const before = Array.from({ length: RESTORE }, (_, i) => ran(i)).flat();
  return [...before, ...events].reduce((s, e) => reduce(s, { ...e, at: at() } as EngineEvent), initialState(bigStart));
}

/** The step view as the app lays it out in a terminal of `columns` × 24: the run's header line and one spare row taken off. */
function view(state: RunState, columns: number, asking = true) {
  const rows = 24 - 1 - 1;
  const app = render(
    <Box width={columns} flexDirection="column">
      <StepView state={state} asking={asking} decide={vi.fn()} health={health} columns={columns} rows={rows} />
    </Box>,
  );
  return { app, rows };
}

const lines = (frame: string) => frame.split('\n');

afterEach(() => cleanup());

describe('the step view of a big step at 80×24', () => {
  it('16 guards over 5 nodes: header, why, target, command, keys and health stay; passing guards and nodes condense', async () => {
    const { app, rows } = view(stateAt({ type: 'guards-evaluated', step: 'restore-data-dirs', outcomes: GUARDS.map((g) => ok(g, true)) }), 80);
    const frame = await frameMatching(app, 'y run');
    expect(lines(frame).length).toBeLessThanOrEqual(rows);
    for (const line of lines(frame)) expect(displayWidth(line)).toBeLessThanOrEqual(80);
    expect(lines(frame)[0]).toMatch(/^Step 5 of 38: Restore every member from the one snapshot.* \[DESTRUCTIVE\]$/);
    expect(frame).toContain('why: Each member restores');
    expect(frame).toMatch(/^on master-1 \(root@10\.0\.0\.11\), .* · ready: waiting for you$|^on master-1, master-2, .* · ready: waiting for you$/m);
    expect(frame).toContain('master-1 $ etcdutl snapshot restore');
    expect(frame).toContain('… c shows every command in full');
    expect(frame).toContain('✓ 16 guards pass (g shows them)');
    expect(frame).not.toContain('✓ pass old-members-stopped');
    // every node is on screen: one a line, or all on one line when rows are short
    for (const node of NODES) expect(frame).toMatch(new RegExp(`${node} ·`));
    expect(frame).toMatch(/health +master-1 healthy/);
    expect(frame).toContain('quorum-lost');
    expect(lines(frame).at(-1)).toBe('y run · s skip · a abort · ? help');

    // g shows every guard and node; any key returns
    await type(app, 'g');
    const all = await frameMatching(app, 'every guard and node (any key returns)');
    expect(lines(all).length).toBeLessThanOrEqual(rows);
    for (const g of GUARDS) expect(all).toContain(`✓ pass ${g}: ${g} holds`);
    for (const node of NODES) expect(all).toMatch(new RegExp(`^  ${node} ·`, 'm'));
    await type(app, 'x');
    await frameMatching(app, '✓ 16 guards pass');
  });

  it('g on a short terminal: the failing guards first, the rest counted, the nodes on one line', async () => {
    const outcomes = GUARDS.map((g) => (g === 'token-is-new' ? fail(g) : ok(g, true)));
    const state = stateAt({ type: 'guards-evaluated', step: 'restore-data-dirs', outcomes });
    const app = render(
      <Box width={80} flexDirection="column">
        <StepView state={state} asking decide={vi.fn()} health={health} columns={80} rows={14} />
      </Box>,
    );
    await frameMatching(app, 'BLOCKED');
    await type(app, 'g');
    const frame = await frameMatching(app, 'every guard and node');
    expect(lines(frame).length).toBeLessThanOrEqual(14);
    expect(lines(frame)[1]).toBe('  ✗ FAIL token-is-new: token-is-new fails');
    expect(frame).toMatch(/… \d+ more guards \(the journal has every outcome\)/);
    expect(frame).toMatch(/nodes: +master-1 · +master-2 ·/);
  });

  it('a blocking guard stays listed with its reason while the 15 passing ones are counted', async () => {
    const outcomes = GUARDS.map((g) => (g === 'same-snapshot-everywhere' ? fail(g, true) : ok(g, true)));
    const { app, rows } = view(stateAt({ type: 'guards-evaluated', step: 'restore-data-dirs', outcomes }), 80);
    const frame = await frameMatching(app, 'BLOCKED by a guard');
    expect(lines(frame).length).toBeLessThanOrEqual(rows);
    expect(lines(frame)[0]).toMatch(/^Step 5 of 38: /);
    expect(frame).toContain('✗ FAIL same-snapshot-everywhere: same-snapshot-everywhere fails (o overrides)');
    expect(frame).toContain('✓ 15 guards pass (g shows them)');
    expect(lines(frame).at(-1)).toBe('r re-check · s skip · o override · a abort · ? help');
  });

  it('while it runs on 5 nodes: the output pane gets the rows that are left, the keys stay', async () => {
    const id = 'restore-data-dirs';
    const output = Array.from({ length: 40 }, (_, i) => `restored ${i + 1}`).join('\n');
    const { app, rows } = view(
      stateAt(
        { type: 'guards-evaluated', step: id, outcomes: GUARDS.map((g) => ok(g, true)) },
        { type: 'confirmed', step: id, operator: 'alice' },
        { type: 'step-started', step: id },
        ...NODES.map((node): Body => ({ type: 'target-started', step: id, node, ran: 'etcdutl snapshot restore' })),
        { type: 'output', step: id, node: 'master-1', stream: 'stdout', chunk: `${output}\n` },
        { type: 'target-finished', step: id, node: 'master-1', ok: true, exitCode: 0 },
      ),
      80,
      false,
    );
    const frame = await frameMatching(app, 'Ctrl-C abandons the running step');
    expect(lines(frame).length).toBeLessThanOrEqual(rows);
    expect(lines(frame)[0]).toMatch(/^Step 5 of 38: /);
    expect(frame).toMatch(/running/);
    expect(frame).toContain('[master-1] restored 40');
    expect(frame).toContain('✓ 16 guards pass');
    expect(frame).toMatch(/master-1 ✓/);
  });

  it('at 40 columns the why is cut at a word boundary and nothing is wider than the terminal', async () => {
    const { app, rows } = view(stateAt({ type: 'guards-evaluated', step: 'restore-data-dirs', outcomes: GUARDS.map((g) => ok(g, true)) }), 40);
    const frame = await frameMatching(app, 'y run');
    expect(lines(frame).length).toBeLessThanOrEqual(rows);
    for (const line of lines(frame)) expect(displayWidth(line)).toBeLessThanOrEqual(40);
    expect(lines(frame)[0]).toMatch(/^Step 5 of 38: .*… \[DESTRUCTIVE\]$/);
    const why = lines(frame).filter((l, i) => i > 0 && i < 3);
    expect(why[0]).toMatch(/^why: /);
    // every line of the why ends on a whole word of the text (the last with …)
    const words = new Set(`why: ${WHY}`.split(' '));
    for (const line of why) {
      const last = line.replace(/…$/, '').split(' ').at(-1)!;
      expect(words.has(last) || words.has(`${last},`), `"${line}" ends inside a word`).toBe(true);
    }
    expect(why[1]).toMatch(/…$/);
    expect(frame).toMatch(/^on 5 nodes · ready: waiting for you$/m);
    expect(frame).toContain('y run · s skip');
    expect(frame).toMatch(/guards pass/);
  });
});

describe('the summary of a long run at 24 rows', () => {
  it('38 steps: the banner, the counts, the verdict and the paths stay; the skipped steps are listed, the rest counted', async () => {
    const run = fakeRun(true, bigStart);
    const skipped = new Set([6, 20]);
    for (let i = 0; i < BIG.steps.length; i++) {
      const id = BIG.steps[i]!.id;
      if (skipped.has(i)) {
        run.apply({ type: 'guards-evaluated', step: id, outcomes: [] });
        run.apply({ type: 'skipped', step: id, reason: `not needed ${i + 1}`, operator: 'alice' });
      } else for (const e of ran(i)) run.apply(e);
    }
    const { session } = fakeSession(true, run.handle, FIVE_DOWN_THREE);
    session.health.seed(FIVE_DOWN_THREE);
    const app = render(<App session={session} color={false} onExit={vi.fn()} />);
    const journal = '/tmp/etcd-runbook-tui-quorum-Xy12Ab/journal/run-20250301-100000-restore-quorum.jsonl';
    run.succeed(journal, journal.replace(/\.jsonl$/, '.md'));
    const frame = await frameMatching(app, 'transcript:');
    // the terminal is 24 rows; one stays spare so the frame never scrolls
    expect(lines(frame).length).toBeLessThanOrEqual(23);
    expect(lines(frame)[0]).toMatch(/^DRY RUN/);
    expect(frame).toMatch(/Run run-20250301-100000 \(restore-quorum\): succeeded/);
    expect(frame).toContain('ran 36 · skipped 2 · failed 0 (of 38)');
    expect(frame).toContain('↷ 7. Step number 7 (skipped: not needed 7)');
    expect(frame).toContain('↷ 21. Step number 21 (skipped: not needed 21)');
    expect(frame).toContain('✓ 38. Step number 38 (succeeded)');
    expect(frame).toMatch(/… \d+ more steps: \d+ succeeded \(the transcript lists every step\)/);
    expect(frame).toMatch(/final verdict: (quorum-lost|healthy) — /);
    expect(frame).toContain(`journal:    ${journal}`);
    expect(frame).toContain(`transcript: ${journal.replace(/\.jsonl$/, '.md')}`);
    expect(lines(frame).at(-1)).toBe('q or Enter quits');
  });
});
