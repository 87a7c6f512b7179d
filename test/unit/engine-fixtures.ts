import type { RenderedRunbook, RenderedStep } from '../../src/runbook/rendered.js';
import { initialState, reduce } from '../../src/engine/reducer.js';
import type { EngineEvent, GuardOutcome, RunState } from '../../src/engine/types.js';
import { fakeCluster, reportOf } from '../helpers/probes.js';

/**
 * A small rendered runbook and event builders for the engine's unit tests
 * (reducer, journal, transcript): five steps covering read-only, changes,
 * destructive fan-out over two members, and a step no node's layout needs.
 */
function step(id: string, overrides: Partial<RenderedStep>): RenderedStep {
  return {
    id,
    title: `Title of ${id}`,
    why: `why ${id}`,
    kind: 'command',
    risk: 'changes',
    timeoutMs: 60_000,
    guards: [],
    targets: [{ node: 'local', host: 'local', command: `echo ${id}` }],
    ...overrides,
  };
}

export const RUNBOOK: RenderedRunbook = {
  id: 'replace-member',
  title: 'Replace a failed member',
  description: 'test runbook',
  sources: [],
  inputs: { member: 'master-3' },
  steps: [
    step('check-health', { risk: 'read-only', title: 'Check cluster health', targets: [{ node: 'local', host: 'local', command: 'etcdctl endpoint health --cluster' }] }),
    step('take-snapshot', {
      title: 'Take a snapshot',
      guards: [{ check: 'quorum', params: {}, overridable: false, description: 'quorum holds' }],
      targets: [{ node: 'master-1', host: 'root@10.0.0.11', command: 'etcdctl snapshot save /var/lib/etcd-backup/snap.db' }],
      check: { check: 'snapshot-verified', params: {}, overridable: false, description: 'snapshot status passes' },
    }),
    step('stop-etcd', {
      title: 'Stop etcd on every member',
      risk: 'destructive',
      guards: [
        { check: 'would-lose-quorum', params: {}, overridable: true, description: 'enough members stay up' },
        { check: 'quorum', params: {}, overridable: false, description: 'quorum holds' },
      ],
      targets: [
        { node: 'master-1', host: 'root@10.0.0.11', command: 'systemctl stop etcd' },
        { node: 'master-2', host: 'root@10.0.0.12', command: 'systemctl stop etcd' },
      ],
    }),
    step('kubeadm-only', { title: 'Move the static pod manifest', targets: [] }),
    step('restart', { title: 'Start etcd', targets: [{ node: 'local', host: 'local', command: 'systemctl start etcd' }] }),
  ],
};

export const T0 = '2025-03-01T10:00:00.000Z';
let clock = 0;
/** increasing ISO times, one second apart */
export function at(): string {
  clock += 1;
  return new Date(Date.parse(T0) + clock * 1000).toISOString();
}

const cluster = fakeCluster({ voting: 3 });
export const DETECTION = reportOf([cluster.up(0), cluster.up(1), cluster.down(2)]);
export const HEALTHY = reportOf([cluster.up(0), cluster.up(1), cluster.up(2)]);

export const started: Extract<EngineEvent, { type: 'run-started' }> = {
  type: 'run-started',
  at: T0,
  runId: 'run-20250301-100000',
  runbook: RUNBOOK,
  dryRun: false,
  operator: 'alice',
  detection: DETECTION,
};

export const ok = (check: string, overridable = false): GuardOutcome => ({ check, ok: true, message: `${check} holds`, overridable });
export const fail = (check: string, overridable = false): GuardOutcome => ({ check, ok: false, message: `${check} fails`, overridable });

export function run(events: EngineEvent[], from: RunState = initialState(started)): RunState {
  return events.reduce(reduce, from);
}

/** Every event of running one step to success on all of its nodes. */
export function runStep(stepId: string, nodes: string[], guards: GuardOutcome[] = [], confirm = true): EngineEvent[] {
  const events: EngineEvent[] = [{ type: 'guards-evaluated', at: at(), step: stepId, outcomes: guards }];
  if (confirm) events.push({ type: 'confirmed', at: at(), step: stepId, operator: 'alice' });
  events.push({ type: 'step-started', at: at(), step: stepId });
  for (const node of nodes) {
    events.push({ type: 'target-started', at: at(), step: stepId, node, ran: `run ${stepId} on ${node}` });
    events.push({ type: 'output', at: at(), step: stepId, node, stream: 'stdout', chunk: `done on ${node}\n` });
    events.push({ type: 'target-finished', at: at(), step: stepId, node, ok: true, exitCode: 0, outputDigest: 'ab'.repeat(32) });
  }
  events.push({ type: 'step-finished', at: at(), step: stepId, ok: true });
  return events;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
