import type { EngineEvent } from '../engine/types.js';
import { seconds } from '../util/duration.js';

/**
 * Where a drill's time from fault to healthy went, read from the run's
 * journal (every event carries its time), so the same figures come out of an
 * unattended run and a run an operator stepped through in the view:
 *
 *  - settle: fault → the verdict the fault implies (etcd noticing: election
 *    timeouts, a leader elected among the survivors);
 *  - inside steps: from a step's first node starting to its last node
 *    finishing — etcd API calls (snapshot, member remove/add/promote), waits
 *    on the cluster, the node's service commands: the cluster's own time;
 *    less the journal's write-ahead flush each node waited for before it
 *    ran (target-finished says how long), which is the tool's;
 *  - operator: in the view, waiting for a confirmation (from a step's guards
 *    being shown to the operator's answer) and choosing the runbook; an
 *    unattended run (--yes) has none: its scripted answers are the tool's;
 *  - tool: everything else — probing and rendering before the run, guard
 *    evaluation, after-checks, the probe after each step, the journal (its
 *    write-ahead flushes too). Part of it is snapshot verification (below),
 *    said separately.
 *
 * Pure: events and instants in, milliseconds out.
 */
export interface DrillInstants {
  /** when the fault was injected (the lab was healthy up to here) */
  faultAt: number;
  /** when detection saw the verdict the fault implies */
  detectedAt: number;
  /** when the cluster was healthy again (the run's end) */
  healthyAt: number;
  /**
   * an operator answered in the view: choosing the runbook (the time before
   * run-started) and every answer are theirs; else the answers were scripted
   * (--yes), and the time they took is the tool's
   */
  interactive: boolean;
}

export interface DrillTiming {
  total: number;
  settle: number;
  insideSteps: number;
  operator: number;
  tool: number;
  /** the cluster's own time: settle + inside steps */
  etcd: number;
  /** tool / (total − operator): the share of the unattended recovery the tool adds */
  overheadShare: number;
  /** (tool − snapshot verification) / (total − operator): what the tool adds besides the checks the procedures call for */
  overheadShareBesidesVerification: number;
  /** per executed step, the time inside it */
  steps: Array<{ step: string; ms: number }>;
  /**
   * part of the tool's time: evaluating guards, after-checks, the probe after
   * each step, the journal's write-ahead flushes; and of guards and checks,
   * snapshot verification
   */
  toolParts: { guards: number; checks: number; probes: number; writeAhead: number; verification: number };
}

export function drillTiming(events: EngineEvent[], at: DrillInstants): DrillTiming {
  const ms = (e: EngineEvent) => Date.parse(e.at);
  const total = Math.max(0, at.healthyAt - at.faultAt);
  const settle = Math.max(0, at.detectedAt - at.faultAt);
  const started = events.find((e) => e.type === 'run-started');
  // before the run: probing and rendering (unattended), or the operator reading the verdict and choosing (the view)
  const beforeRun = started ? Math.max(0, ms(started) - at.detectedAt) : Math.max(0, at.healthyAt - at.detectedAt);
  let operator = at.interactive ? beforeRun : 0;
  const spans = new Map<string, { from: number; to: number; writeAhead: number }>();
  let writeAhead = 0;
  const steps: Array<{ step: string; ms: number }> = [];
  let askedAt: number | undefined;
  for (const event of events) {
    switch (event.type) {
      case 'guards-evaluated':
        askedAt = ms(event);
        break;
      case 'confirmed':
      case 'skipped':
      case 'aborted':
      case 'retry':
      case 'guard-overridden':
        if (askedAt !== undefined && at.interactive) operator += Math.max(0, ms(event) - askedAt);
        // after an override or retry the operator is asked again at once
        askedAt = event.type === 'guard-overridden' || event.type === 'retry' ? ms(event) : undefined;
        break;
      case 'target-started':
        // the nodes of a step start together: the span opens at the first
        if (!spans.has(event.step)) spans.set(event.step, { from: ms(event), to: ms(event), writeAhead: 0 });
        break;
      case 'target-finished': {
        const span = spans.get(event.step);
        if (span) {
          span.to = Math.max(span.to, ms(event));
          // the nodes' flushes come one after another before they run: each held the step's start
          span.writeAhead += event.writeAheadMs ?? 0;
        }
        break;
      }
      case 'step-finished': {
        // a failed step waits for the operator: retry, skip or abort
        if (!event.ok) askedAt = ms(event);
        const span = spans.get(event.step);
        if (span) {
          const held = Math.min(span.writeAhead, span.to - span.from);
          writeAhead += held;
          steps.push({ step: event.step, ms: span.to - span.from - held });
          // a retry of this step opens a new span
          spans.delete(event.step);
        }
        break;
      }
      default:
        break;
    }
  }
  const insideSteps = steps.reduce((sum, s) => sum + s.ms, 0);
  const tool = Math.max(0, total - settle - insideSteps - operator);
  const attended = total - operator;
  const parts = { ...toolParts(events), writeAhead };
  const share = (ms: number) => (attended > 0 ? ms / attended : 0);
  return {
    total,
    settle,
    insideSteps,
    operator,
    tool,
    etcd: settle + insideSteps,
    overheadShare: share(tool),
    overheadShareBesidesVerification: share(Math.max(0, tool - parts.verification)),
    steps,
    toolParts: parts,
  };
}

/**
 * The guards that read a whole snapshot file on its node: `snapshot status`
 * and its appended sha256 (the field procedures verify a snapshot before
 * restoring it), and the same sha256 on every node (restoring members from
 * different snapshots is the split brain the tool exists to refuse). An
 * operator without the tool runs these by hand, and their time grows with
 * the snapshot, as etcd's own does.
 */
const SNAPSHOT_VERIFICATION: ReadonlySet<string> = new Set(['snapshot-verified', 'same-snapshot-everywhere']);

/**
 * Where the tool's time between steps goes: the gap that ends in a
 * guards-evaluated, check-evaluated or (outside a step) probe event is the
 * time that evaluation or probe took. Probes inside a wait step are the
 * step's own. Of an evaluation's gap, snapshot verification is the longest
 * such guard (a step's guards are judged together).
 */
function toolParts(events: EngineEvent[]): Omit<DrillTiming['toolParts'], 'writeAhead'> {
  const parts = { guards: 0, checks: 0, probes: 0, verification: 0 };
  let previous: number | undefined;
  let running = 0;
  for (const event of events) {
    if (event.type === 'output') continue;
    const at = Date.parse(event.at);
    const gap = previous === undefined ? 0 : at - previous;
    if (running === 0 && (event.type === 'guards-evaluated' || event.type === 'check-evaluated')) {
      if (event.type === 'guards-evaluated') parts.guards += gap;
      else parts.checks += gap;
      const outcomes = event.type === 'guards-evaluated' ? event.outcomes : [event.outcome];
      const verifying = outcomes.filter((o) => SNAPSHOT_VERIFICATION.has(o.check)).map((o) => o.ms ?? 0);
      parts.verification += Math.min(gap, Math.max(0, ...verifying));
    }
    if (running === 0 && event.type === 'probe') parts.probes += gap;
    if (event.type === 'target-started') running++;
    if (event.type === 'target-finished') running = Math.max(0, running - 1);
    previous = at;
  }
  return parts;
}

/** The timing block the drill prints at the end (fits 80 columns). */
export function timingText(t: DrillTiming, faulted: boolean, attended: boolean): string[] {
  const row = (label: string, ms: number, what: string) =>
    `  ${label.padEnd(18)} ${seconds(ms).padStart(7)} ${(t.total > 0 ? `${Math.round((100 * ms) / t.total)}%` : '–').padStart(4)}  ${what}`;
  const lines = [
    faulted ? `time from fault to healthy: ${seconds(t.total)}` : `time from start to the end of the run: ${seconds(t.total)}`,
    row('etcd and the nodes', t.etcd, `${faulted ? `fault noticed ${seconds(t.settle)}, ` : ''}inside steps ${seconds(t.insideSteps)}`),
    row('operator', t.operator, attended ? 'reading, choosing, confirming' : 'none (--yes)'),
    row('tool overhead', t.tool, 'probes, guards, checks, journal'),
  ];
  if (t.toolParts.verification > 0) lines.push(row('  of it, snapshots', t.toolParts.verification, 'snapshot status, sha256 on every node'));
  if (attended) lines.push(`  (tool overhead: ${Math.round(t.overheadShare * 100)}% of the time not spent waiting for you)`);
  return lines;
}
