import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClusterClient } from '../../src/cluster/client.js';
import type { ClusterReport } from '../../src/cluster/types.js';
import { Journal } from '../../src/engine/journal.js';
import { ScriptedOperator, type Operator } from '../../src/engine/operator.js';
import { initialState, reduce } from '../../src/engine/reducer.js';
import { GUARDS_FRESH_FOR_MS, Runner } from '../../src/engine/runner.js';
import type { EngineEvent, RunState } from '../../src/engine/types.js';
import type { RenderedGuard, RenderedRunbook, RenderedStep } from '../../src/runbook/rendered.js';
import { LocalTransport } from '../../src/transport/local.js';
import { fakeCluster, reportOf } from '../helpers/probes.js';

/**
 * How the runner shares probes between guards, after-checks and the health
 * table: fewer probes, but never one taken before the last step's nodes
 * finished (or before a retry). The "cluster" here is a file the steps'
 * real shell commands write ("up" or "down") and the probe reads: a guard
 * that judged a stale probe would pass where it must block.
 */
const cluster = fakeCluster({ voting: 3 });
const UP = reportOf([cluster.up(0), cluster.up(1), cluster.up(2)]);
const DOWN = reportOf([cluster.up(0), cluster.down(1), cluster.down(2)]);

const quorumHeld: RenderedGuard = { check: 'quorum-held', params: {}, overridable: false, description: 'quorum holds' };
const singleLeader: RenderedGuard = { check: 'single-leader', params: {}, overridable: false, description: 'one leader' };

function step(id: string, command: string, overrides: Partial<RenderedStep> = {}): RenderedStep {
  return { id, title: id, why: id, kind: 'command', risk: 'changes', timeoutMs: 10_000, guards: [], targets: [{ node: 'local', host: 'local', command }], ...overrides };
}

describe('the runner probes once per change of the cluster, never stale', () => {
  let dir: string;
  let world: string;
  let probes: number;
  let runs = 0;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-runbook-runner-probes-'));
    world = join(dir, 'cluster-state');
    writeFileSync(world, 'up');
    probes = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Confirms; the first time the step is `status`, repairs the cluster by hand and retries. */
  function repairsThenRetries(status: 'failed' | 'blocked'): Operator & { repaired: boolean } {
    const operator = {
      repaired: false,
      decide: async (s: RunState) => {
        const current = s.steps[s.cursor];
        if (current?.status === status && !operator.repaired) {
          operator.repaired = true;
          writeFileSync(world, 'up');
          return { type: 'retry' as const };
        }
        return current?.status === 'awaiting-confirmation' ? { type: 'confirm' as const } : { type: 'abort' as const, reason: `unexpected ${current?.status}` };
      },
    };
    return operator;
  }

  interface RunOptions {
    operator?: Operator;
    probeWith?: () => Promise<ClusterReport>;
    now?: () => Date;
    /** the run-started event's detection (default UP, probed long ago) */
    detection?: ClusterReport;
    /** the journal's blocking flush */
    sync?: (fd: number) => void;
    /** journaled before the runner starts (a resumed run): these steps already ran */
    ran?: string[];
  }

  async function run(steps: RenderedStep[], options: RunOptions = {}): Promise<{ state: RunState; events: EngineEvent[] }> {
    const { operator = new ScriptedOperator(), probeWith, now, detection = UP, sync = () => undefined, ran = [] } = options;
    const runbook: RenderedRunbook = { id: 'probe-sharing', title: 'probe sharing', description: '', sources: [], inputs: {}, steps };
    const started: Extract<EngineEvent, { type: 'run-started' }> = {
      type: 'run-started',
      at: new Date().toISOString(),
      // a test may run twice: each run its own journal
      runId: `run-probe-sharing-${++runs}`,
      runbook,
      dryRun: false,
      operator: 'tester',
      detection,
    };
    const journal = Journal.create(join(dir, 'journal'), started.runId, { sync });
    let state = initialState(journal.append(started) as typeof started);
    const at = started.at;
    for (const id of ran) {
      for (const event of [
        { type: 'guards-evaluated', at, step: id, outcomes: [] },
        { type: 'confirmed', at, step: id, operator: 'tester' },
        { type: 'step-started', at, step: id },
        { type: 'target-started', at, step: id, node: 'local', ran: 'true' },
        { type: 'target-finished', at, step: id, node: 'local', ok: true },
        { type: 'step-finished', at, step: id, ok: true },
      ] as EngineEvent[]) state = reduce(state, journal.append(event));
    }
    const probe = probeWith ?? (async (): Promise<ClusterReport> => {
      probes++;
      return readFileSync(world, 'utf8').trim() === 'up' ? UP : DOWN;
    });
    const transport = new LocalTransport('local');
    const events: EngineEvent[] = [];
    const runner = new Runner(state, {
      transport: () => transport,
      client: {} as ClusterClient,
      probe,
      // the runner gives its guards its own shared probe: this one must never be called
      guardEnvironment: { probe: () => Promise.reject(new Error('the runner bypassed its shared probe')), transport: () => transport, client: {} as ClusterClient, members: [] },
      operator,
      journal,
      onEvent: (event) => events.push(event),
      ...(now ? { now } : {}),
    });
    try {
      return { state: await runner.run(), events };
    } finally {
      journal.close();
    }
  }

  it('all guards of a step, the after-check before them and the health table share the probe taken after the nodes finished', async () => {
    const { state, events } = await run([
      step('one', 'true', { guards: [quorumHeld, singleLeader], check: singleLeader }),
      step('two', 'true', { guards: [quorumHeld, singleLeader, quorumHeld], check: singleLeader }),
      step('three', 'true', { guards: [quorumHeld] }),
    ]);
    expect(state.status).toBe('succeeded');
    // one for the first step's guards, then one after each step's nodes: 4, not 3 + 2 + 3 + 2 + 1 + 3
    expect(probes).toBe(4);
    // each probe is journaled once, and the last lands before the run's end (the transcript's final verdict)
    expect(events.filter((e) => e.type === 'probe')).toHaveLength(4);
    expect(events.at(-2)?.type).toBe('probe');
    expect(events.at(-1)?.type).toBe('run-finished');
  });

  it('a probe that lands after a newer one (it waited on a frozen member) does not replace it', async () => {
    let calls = 0;
    const { events } = await run(
      [step('one', 'true'), step('two', 'true'), step('three', 'sleep 0.5')],
      // the probe after step one is slow, the one after step two is not
      {
        probeWith: async () => {
          const slow = ++calls === 1;
          const report = { ...UP, probedAt: new Date().toISOString() };
          if (slow) await new Promise((resolve) => setTimeout(resolve, 250));
          return report;
        },
      },
    );
    expect(calls).toBe(3);
    const probedAt = events.flatMap((e) => (e.type === 'probe' ? [e.report.probedAt] : []));
    expect(probedAt.length).toBeGreaterThanOrEqual(2);
    expect(probedAt).toEqual([...probedAt].sort());
  });

  it("a step's guards judge the cluster as the previous step left it", async () => {
    const { state } = await run([
      step('break', `printf down > '${world}'`, { guards: [quorumHeld] }),
      step('needs-quorum', 'true', { guards: [quorumHeld] }),
    ]);
    expect(state.steps.map((s) => s.status)).toEqual(['succeeded', 'blocked']);
    expect(state.steps[1]?.guards[0]).toMatchObject({ check: 'quorum-held', ok: false });
  });

  it("the after-check judges the cluster after the step's nodes ran", async () => {
    // its guard probed before the nodes ran: the check must not reuse that
    const { state } = await run([step('break', `printf down > '${world}'`, { guards: [quorumHeld], check: quorumHeld })]);
    expect(state.steps[0]?.status).toBe('failed');
  });

  it('a confirmation given long after the guards were judged judges them again: what broke meanwhile blocks the step', async () => {
    let clock = Date.parse('2026-11-24T21:00:00Z');
    const mark = join(dir, 'ran');
    let asked = 0;
    const operator: Operator = {
      decide: async (s) => {
        const current = s.steps[s.cursor];
        if (current?.status === 'awaiting-confirmation' && asked++ === 0) {
          // the operator reads the step for a minute; a member dies meanwhile
          clock += 60_000;
          writeFileSync(world, 'down');
          return { type: 'confirm' };
        }
        return { type: 'abort', reason: `stopped at ${current?.status}` };
      },
    };
    const { state, events } = await run([step('remove', `touch '${mark}'`, { guards: [quorumHeld] })], { operator, now: () => new Date(clock) });
    expect(state.steps[0]?.status).toBe('blocked');
    expect(state.steps[0]?.guards[0]).toMatchObject({ check: 'quorum-held', ok: false });
    expect(state.steps[0]?.confirmedBy).toBeUndefined();
    expect(events.some((e) => e.type === 'step-started')).toBe(false);
    expect(() => readFileSync(mark)).toThrow();
  });

  it('a confirmation right after the guards were judged runs on them (no second probe)', async () => {
    const clock = Date.parse('2026-11-24T21:00:00Z');
    const { state } = await run([step('one', 'true', { guards: [quorumHeld] })], { now: () => new Date(clock) });
    expect(state.status).toBe('succeeded');
    // the guards' probe, then the one after the nodes ran
    expect(probes).toBe(2);
  });

  it('after a wait that was met, the probe that met it is the one the next guards and the after-check judge (a wait changes nothing)', async () => {
    writeFileSync(world, 'down');
    const waitForQuorum = (id: string, check?: RenderedGuard): RenderedStep => ({
      ...step(id, ''),
      kind: 'wait',
      risk: 'read-only',
      timeoutMs: 5000,
      targets: [{ node: 'local', host: 'local', wait: { until: 'quorum', params: {}, intervalMs: 20 } }],
      ...(check ? { check } : {}),
    });
    const { state, events } = await run([
      // the cluster comes back while the wait polls
      step('repair', `(sleep 0.1; printf up > '${world}') >/dev/null 2>&1 &`),
      waitForQuorum('wait-quorum', singleLeader),
      step('needs-quorum', 'true', { guards: [quorumHeld, singleLeader] }),
    ]);
    expect(state.status).toBe('succeeded');
    // after repair: one probe; the wait: its polls until up; after the wait: none; after needs-quorum: one
    const inWait = events.slice(events.findIndex((e) => e.type === 'step-started' && e.step === 'wait-quorum'), events.findIndex((e) => e.type === 'step-finished' && e.step === 'wait-quorum'));
    const polls = inWait.filter((e) => e.type === 'probe').length;
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(probes).toBe(1 + polls + 1);
  });

  it('after a wait that timed out, its last poll is the cluster the operator decides on; a retry probes anew', async () => {
    writeFileSync(world, 'down');
    const operator = repairsThenRetries('failed');
    const { state, events } = await run(
      [
        {
          ...step('wait-quorum', ''),
          kind: 'wait',
          risk: 'read-only',
          leavesClusterAsIs: true,
          timeoutMs: 150,
          targets: [{ node: 'local', host: 'local', wait: { until: 'quorum', params: {}, intervalMs: 20 } }],
        },
      ],
      { operator },
    );
    expect(state.status).toBe('succeeded');
    const failedAt = events.findIndex((e) => e.type === 'step-finished' && !e.ok);
    const retryAt = events.findIndex((e) => e.type === 'retry');
    const firstAttempt = events.slice(0, failedAt).filter((e) => e.type === 'probe');
    expect(firstAttempt.length).toBeGreaterThanOrEqual(2);
    // no probe between the failure and the retry: the last poll stood for the health table
    expect(events.slice(failedAt, retryAt).some((e) => e.type === 'probe')).toBe(false);
    // the retry's first poll is new, and sees what the operator fixed: one poll, not the stale one and another
    const secondAttempt = events.slice(retryAt).filter((e) => e.type === 'probe');
    expect(secondAttempt.map((e) => (e.type === 'probe' ? e.report.verdict.verdict : ''))).toEqual(['healthy']);
    expect(probes).toBe(firstAttempt.length + 1);
  });

  it('a retry probes anew: what the operator fixed in between counts', async () => {
    writeFileSync(world, 'down');
    const operator = repairsThenRetries('blocked');
    const { state } = await run([step('needs-quorum', 'true', { guards: [quorumHeld, singleLeader] })], { operator });
    expect(operator.repaired).toBe(true);
    expect(state.status).toBe('succeeded');
  });

  it('a step that leaves the cluster as it is keeps the probe from before it: no probe after it, the next guards judge that one', async () => {
    const files = join(dir, 'files');
    const steps = (leaves: boolean) => [
      step('change', 'true', { guards: [quorumHeld] }),
      step('write-files', `touch '${files}'`, { guards: [quorumHeld], ...(leaves ? { leavesClusterAsIs: true as const } : {}) }),
      step('after', 'true', { guards: [quorumHeld] }),
    ];
    const kept = await run(steps(true));
    expect(kept.state.status).toBe('succeeded');
    // change's guards; after change (judged by write-files' and after's guards); after after
    expect(probes).toBe(3);
    probes = 0;
    await run(steps(false));
    expect(probes).toBe(4);
  });

  it('a kept probe is judged only while it is fresh: a file-only step that took longer is followed by a probe', async () => {
    // the clock moves on as the step runs: the command says by how much
    const offset = join(dir, 'clock-offset');
    writeFileSync(offset, '0');
    const base = Date.parse('2026-11-24T21:00:00Z');
    const now = () => new Date(base + Number(readFileSync(offset, 'utf8')));
    const { state } = await run(
      [
        step('change', 'true', { guards: [quorumHeld] }),
        step('slow-files', `printf ${GUARDS_FRESH_FOR_MS + 500} > '${offset}'`, { leavesClusterAsIs: true }),
        step('after', 'true', { guards: [quorumHeld] }),
      ],
      { now },
    );
    expect(state.status).toBe('succeeded');
    // change's guards, after change, after slow-files (the kept one was too old), after after
    expect(probes).toBe(4);
  });

  it('the detection the run starts from serves the first guards while it is fresh', async () => {
    const fresh = { ...UP, probedAt: new Date(Date.now() - 100).toISOString() };
    const old = { ...UP, probedAt: new Date(Date.now() - GUARDS_FRESH_FOR_MS - 500).toISOString() };
    // a step for another layout (no targets here) is no step that ran
    await run([step('other-layout', 'true', { targets: [] }), step('one', 'true', { guards: [quorumHeld] })], { detection: fresh });
    // only the probe after the nodes ran
    expect(probes).toBe(1);
    probes = 0;
    await run([step('one', 'true', { guards: [quorumHeld] })], { detection: old });
    expect(probes).toBe(2);
  });

  it('a resumed run does not judge its guards on the detection, however recent: steps ran since', async () => {
    const fresh = { ...UP, probedAt: new Date(Date.now() - 100).toISOString() };
    // step one ran (and its probe never landed: the tool died); two's guards judge a probe of their own
    await run([step('one', 'true'), step('two', 'true', { guards: [quorumHeld] })], { detection: fresh, ran: ['one'] });
    expect(probes).toBe(2);
  });

  it('a confirmation keeps the shared probe; a skip drops it (the operator may have acted)', async () => {
    const steps = [step('files', 'true', { guards: [quorumHeld], leavesClusterAsIs: true }), step('next', 'true', { guards: [quorumHeld] })];
    await run(steps);
    // files' guards (judged again by next's), after next
    expect(probes).toBe(2);
    probes = 0;
    await run(steps, { operator: new ScriptedOperator({ script: { files: { type: 'skip', reason: 'done by hand' } } }) });
    // files' guards, next's guards anew, after next
    expect(probes).toBe(3);
  });

  it('each node\'s target-finished says how long its write-ahead flush held it before it ran; a read-only step is not held', async () => {
    // a slow disk: every flush the runner waits for takes 15 ms
    const slowDisk = () => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 15);
    const { events } = await run([step('one', 'true'), step('two', 'true'), step('look', 'true', { risk: 'read-only' })], { sync: slowDisk });
    const held = events.flatMap((e) => (e.type === 'target-finished' ? [e.writeAheadMs ?? -1] : []));
    expect(held).toHaveLength(3);
    for (const ms of held.slice(0, 2)) expect(ms).toBeGreaterThanOrEqual(14);
    // a read-only step changes nothing: it does not wait for the disk
    expect(events.find((e) => e.type === 'target-started' && e.step === 'look')).toMatchObject({ changesNothing: true });
    expect(events.filter((e) => e.type === 'target-started' && e.changesNothing)).toHaveLength(1);
    expect(held[2]).toBeLessThan(14);
  });
});
