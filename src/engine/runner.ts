import { createHash } from 'node:crypto';
import { portAnswers } from '../cluster/address.js';
import type { ClusterClient } from '../cluster/client.js';
import type { ClusterReport } from '../cluster/types.js';
import type { RenderedGuard, RenderedStep, RenderedTarget } from '../runbook/rendered.js';
import { SNAPSHOT_INTEGRITY } from '../runbook/file-checks.js';
import { evaluateGuard, type GuardEnvironment } from '../runbook/guards/index.js';
import { runEditConfig } from '../runbook/kinds/edit-config.js';
import { runMoveAside } from '../runbook/kinds/move-aside.js';
import { runRenewCertificates } from '../runbook/kinds/renew-certificates.js';
import { runSnapshotRestore } from '../runbook/kinds/snapshot-restore.js';
import { copyFile, copyTree, type CopyOptions } from '../transport/copy.js';
import { DryRunTransport } from '../transport/dry-run.js';
import type { Transport } from '../transport/types.js';
import { messageOf } from '../util/errors.js';
import { runEtcdAction } from './etcd-actions.js';
import type { Journal } from './journal.js';
import type { Operator, OperatorDecision } from './operator.js';
import { redact } from './redact.js';
import { canApply, currentStep, isFinished, nothingRanYet, reduce } from './reducer.js';
import type { EngineEvent, GuardOutcome, RunState } from './types.js';
import { conditionMet, listParam, stoppedMemberNames, type WaitFacts } from './wait-conditions.js';

/**
 * The runner drives the pure reducer with real effects: it asks
 * the operator, evaluates guards against the live cluster, runs each step on
 * its nodes through a Transport or the etcd client, and appends every event
 * to the journal before the state moves on. It holds no recovery knowledge:
 * what to run comes from the rendered runbook, what is allowed from the reducer.
 */
/**
 * How long what the tool saw of the cluster stands: a step confirmed within
 * this of its guards' verdict runs on it (later, its guards are judged
 * again first), and a probe started within this serves the guards of a step
 * when nothing that could change the cluster has run since.
 */
export const GUARDS_FRESH_FOR_MS = 2000;

export interface RunnerDeps {
  /** the real transport for a node ('local' or a member name) */
  transport: (node: string) => Transport;
  client: ClusterClient;
  probe: () => Promise<ClusterReport>;
  guardEnvironment: GuardEnvironment;
  operator: Operator;
  journal: Journal;
  /** every event with the state it produced, for the UI and the step log */
  onEvent?: (event: EngineEvent, state: RunState) => void;
  now?: () => Date;
  /** stop between events (Ctrl-C): the step in flight is abandoned and journaled as such */
  signal?: AbortSignal;
}

type EventBody = EngineEvent extends infer E ? (E extends EngineEvent ? Omit<E, 'at'> : never) : never;

export class Runner {
  private state: RunState;
  private readonly deps: RunnerDeps;
  /** recorded (not run) effects of a dry run, per node */
  private readonly dryRunTransports = new Map<string, DryRunTransport>();
  /**
   * The probe taken since the cluster last changed hands: started once a
   * step's nodes have finished, it serves that step's after-check, the
   * health table and every guard of the next step. It is dropped when a
   * step that may change the cluster starts and on every operator decision
   * but a confirmation, so a guard never judges state from before the last
   * thing that ran (or before a retry, a skip, an override: the operator may
   * have acted); and it is not used once older than GUARDS_FRESH_FOR_MS.
   * A step that leaves the cluster as it is (runbook/render.ts) keeps it:
   * a probe after a mkdir would see what the probe before it saw. A wait
   * starts from it, and each of its later polls takes its place.
   */
  private fresh: { report: Promise<ClusterReport>; startedAt: number } | undefined;
  /** the fresh probe's journal event, written once it lands */
  private landed: Promise<void> = Promise.resolve();
  /** the guards' view of the cluster: the shared fresh probe instead of one probe per guard */
  private readonly guards: GuardEnvironment;
  /** when each step's guards were last judged (ms): a confirmation long after is judged again */
  private readonly guardsJudgedAt = new Map<string, number>();

  constructor(state: RunState, deps: RunnerDeps) {
    this.state = state;
    this.deps = deps;
    this.guards = { ...deps.guardEnvironment, probe: () => this.freshProbe() };
    // the detection a run starts from serves its first guards while it is
    // fresh (an unattended run) — not once a step ran or was skipped (a
    // resumed run): its probe after that step may never have landed
    if (state.lastProbe && nothingRanYet(state)) this.fresh = takenProbe(state.lastProbe);
  }

  get current(): RunState {
    return this.state;
  }

  /** Append to the journal, then move the state: the journal is never behind. */
  dispatch(body: EventBody): RunState {
    const event = { ...body, at: (this.deps.now?.() ?? new Date()).toISOString() } as EngineEvent;
    const allowed = canApply(this.state, event);
    if (!allowed.ok) throw new Error(`engine refused ${event.type}: ${allowed.reason}`);
    // the journal redacts (across chunks too): the state is built from what it wrote,
    // so the live state and a replayed one are the same
    const written = this.deps.journal.append(event);
    this.state = reduce(this.state, written);
    this.deps.onEvent?.(written, this.state);
    return this.state;
  }

  async run(): Promise<RunState> {
    while (!isFinished(this.state) && !this.deps.signal?.aborted) {
      const step = currentStep(this.state);
      const rendered = step ? this.renderedStep(step.id) : undefined;
      if (!step || !rendered) break;
      if (step.status === 'pending') {
        await this.judgeGuards(rendered);
        continue;
      }
      const decision = await this.deps.operator.decide(this.state);
      await this.apply(decision, rendered);
    }
    // the last probe is the transcript's final verdict: it lands before the end
    if (!this.deps.signal?.aborted) await this.landed;
    if (this.deps.signal?.aborted && this.state.status === 'in-progress') {
      this.dispatch({ type: 'aborted', reason: 'interrupted by the operator (Ctrl-C)', operator: this.state.operator });
    }
    if (isFinished(this.state) && this.state.status === 'in-progress') {
      const failed = this.state.steps.some((s) => s.status === 'failed' || s.status === 'unknown' || s.status === 'blocked');
      this.dispatch({ type: 'run-finished', status: failed ? 'failed' : 'succeeded' });
    }
    return this.state;
  }

  private async apply(decision: OperatorDecision, step: RenderedStep): Promise<void> {
    const operator = this.state.operator;
    // a retry, a skip or an override may follow something the operator fixed by hand: probe anew
    // (time that passed while they decided is the shared probe's age, judged where it is used)
    if (decision.type !== 'confirm') this.fresh = undefined;
    switch (decision.type) {
      case 'confirm': {
        this.dispatch({ type: 'confirmed', step: step.id, operator });
        // guards judged a while ago (the operator read the step, the tool was
        // resumed) are judged again on the cluster as it is now; a guard that
        // fails now blocks the step and takes the confirmation back
        if (step.guards.length > 0 && this.now() - (this.guardsJudgedAt.get(step.id) ?? -Infinity) > GUARDS_FRESH_FOR_MS) {
          const after = await this.judgeGuards(step);
          if (after.steps.find((s) => s.id === step.id)?.status === 'blocked') return;
        }
        await this.execute(step);
        return;
      }
      case 'skip':
        this.dispatch({ type: 'skipped', step: step.id, reason: decision.reason, operator });
        return;
      case 'retry':
        this.dispatch({ type: 'retry', step: step.id, operator });
        return;
      case 'override':
        this.dispatch({ type: 'guard-overridden', step: step.id, check: decision.check, reason: decision.reason, operator });
        return;
      case 'abort':
        this.dispatch({ type: 'aborted', reason: decision.reason, operator });
        return;
    }
  }

  private renderedStep(id: string): RenderedStep | undefined {
    return this.state.runbook.steps.find((s) => s.id === id);
  }

  private async judgeGuards(step: RenderedStep): Promise<RunState> {
    const outcomes = await this.evaluateGuards(step);
    this.guardsJudgedAt.set(step.id, this.now());
    return this.dispatch({ type: 'guards-evaluated', step: step.id, outcomes });
  }

  private now(): number {
    return (this.deps.now?.() ?? new Date()).getTime();
  }

  private async evaluateGuards(step: RenderedStep): Promise<GuardOutcome[]> {
    const outcomes = await Promise.all(step.guards.map((guard) => this.evaluate(guard)));
    if (!this.state.dryRun) return outcomes;
    // A dry run changes nothing, so a guard that depends on an earlier
    // (recorded, not run) step would block every later step. Show what it
    // says now, and carry on.
    return outcomes.map((o) => (o.ok ? o : { ...o, ok: true, message: `(dry run) would block now: ${o.message}` }));
  }

  private async evaluate(guard: RenderedGuard): Promise<GuardOutcome> {
    const started = performance.now();
    const outcome = await evaluateGuard(guard, this.guards);
    return { ...outcome, ms: Math.round(performance.now() - started) };
  }

  /**
   * The shared probe (see `fresh`), started on first use and when the one
   * kept is too old; its report is journaled (health table, transcript) when
   * it lands, without holding up a next step whose guards do not probe. A
   * failed probe is not kept.
   */
  private freshProbe(): Promise<ClusterReport> {
    const age = this.fresh ? this.now() - this.fresh.startedAt : -1;
    if (this.fresh && age >= 0 && age <= GUARDS_FRESH_FOR_MS) return this.fresh.report;
    const startedAt = this.now();
    const probe = this.deps.probe();
    const fresh = { report: probe, startedAt };
    this.fresh = fresh;
    this.landed = probe.then(
      (report) => {
        // a run already ended (Ctrl-C) keeps its last words; a probe that
        // lands after a newer one (it waited on a frozen member) is stale
        if (this.state.status !== 'in-progress' || (this.state.lastProbe?.probedAt ?? '') > report.probedAt) return;
        try {
          this.dispatch({ type: 'probe', report });
        } catch {
          // the journal was closed under it (the run was abandoned): nothing to record
        }
      },
      () => {
        // the health table just keeps its last probe
        if (this.fresh === fresh) this.fresh = undefined;
      },
    );
    return probe;
  }

  private async execute(step: RenderedStep): Promise<void> {
    // a step that leaves the cluster as it is keeps the probe from before it
    if (!step.leavesClusterAsIs) this.fresh = undefined;
    this.dispatch({ type: 'step-started', step: step.id });
    const results = await Promise.all(step.targets.map((target) => this.executeTarget(step, target)));
    // the nodes are done: the after-check, the health table and the next
    // step's guards share one probe started now — or kept: from before a step
    // that left the cluster as it was, or a wait's last poll
    void this.freshProbe();
    let ok = results.every(Boolean);
    if (ok && step.check && !this.state.dryRun) {
      const outcome = await this.evaluate(step.check);
      this.dispatch({ type: 'check-evaluated', step: step.id, outcome });
      ok = outcome.ok;
    }
    const failedNodes = step.targets.filter((_, i) => !results[i]).map((t) => t.node);
    this.dispatch({
      type: 'step-finished',
      step: step.id,
      ok,
      ...(ok ? {} : { error: failedNodes.length > 0 ? `failed on ${failedNodes.join(', ')}` : 'after-check failed' }),
    });
  }

  /** One node's share of a step; true when it succeeded (or was recorded in a dry run). */
  private async executeTarget(step: RenderedStep, target: RenderedTarget): Promise<boolean> {
    const recordOnly = this.state.dryRun && step.risk !== 'read-only';
    const stamped = performance.now();
    this.dispatch({
      type: 'target-started',
      step: step.id,
      node: target.node,
      ran: redact(describeTarget(target)),
      ...(recordOnly || step.risk === 'read-only' ? { changesNothing: true as const } : {}),
    });
    const writeAheadMs = Math.round((performance.now() - stamped) * 10) / 10;
    const digest = createHash('sha256');
    const output = (stream: 'stdout' | 'stderr') => (chunk: string) => {
      digest.update(chunk);
      this.dispatch({ type: 'output', step: step.id, node: target.node, stream, chunk: redact(chunk) });
    };
    try {
      const result = this.dryRunTolerant(step, await this.perform(step, target, recordOnly, output));
      this.dispatch({
        type: 'target-finished',
        step: step.id,
        node: target.node,
        ok: result.ok,
        exitCode: result.exitCode,
        outputDigest: digest.digest('hex'),
        ...(recordOnly ? { recorded: true } : {}),
        ...(result.error ? { error: redact(result.error) } : {}),
        writeAheadMs,
      });
      return result.ok;
    } catch (err) {
      this.dispatch({ type: 'target-finished', step: step.id, node: target.node, ok: false, error: redact(messageOf(err)), writeAheadMs });
      return false;
    }
  }

  /**
   * In a dry run the read-only steps run for real, but the steps before them
   * that would have changed things were only recorded: a read-only step that
   * fails then (the snapshot it inspects was never written) is reported, not
   * fatal, so the rehearsal still shows every later step.
   */
  private dryRunTolerant(step: RenderedStep, result: { ok: boolean; exitCode?: number | null; error?: string }) {
    if (!this.state.dryRun || result.ok || step.risk !== 'read-only') return result;
    return { ok: true, exitCode: result.exitCode, error: `(dry run) failed now, likely because an earlier step was only recorded: ${result.error ?? 'failed'}` };
  }

  private async perform(
    step: RenderedStep,
    target: RenderedTarget,
    recordOnly: boolean,
    output: (stream: 'stdout' | 'stderr') => (chunk: string) => void,
  ): Promise<{ ok: boolean; exitCode?: number | null; error?: string }> {
    const transport = recordOnly ? this.dryRun(target.node) : this.deps.transport(target.node);
    // a typed kind runs its plan; a dry run records the commands `plan` shows
    const kindIo = { say: output('stdout'), sayError: output('stderr'), timeoutMs: step.timeoutMs, ...(this.deps.signal ? { signal: this.deps.signal } : {}) };
    if (target.restore && !recordOnly) return runSnapshotRestore(transport, target.restore, kindIo);
    if (target.moveAside && !recordOnly) return runMoveAside(transport, target.moveAside, kindIo);
    if (target.editConfig && !recordOnly) return runEditConfig(transport, target.editConfig, kindIo);
    if (target.renewCertificates && !recordOnly) return runRenewCertificates(transport, this.deps.transport(target.renewCertificates.ca.node), target.renewCertificates, kindIo);
    if (target.command !== undefined) {
      const result = await transport.exec(target.command, {
        timeoutMs: step.timeoutMs,
        signal: this.deps.signal,
        onStdout: output('stdout'),
        onStderr: output('stderr'),
      });
      if (result.timedOut) return { ok: false, exitCode: null, error: `timed out after ${step.timeoutMs} ms` };
      return { ok: result.exitCode === 0, exitCode: result.exitCode, ...(result.exitCode === 0 ? {} : { error: `exit code ${result.exitCode ?? result.signal}` }) };
    }
    if (target.etcd) {
      if (recordOnly) {
        output('stdout')(`(dry run: not executed) etcd ${target.etcd.action} ${JSON.stringify(target.etcd.params)}\n`);
        return { ok: true };
      }
      const fileChecks = this.deps.guardEnvironment.fileChecks;
      const result = await runEtcdAction(this.deps.client, target.etcd.action, target.etcd.params, {
        // what the save checked of the bytes as they streamed in, the after-check
        // need not read the file for again while it is unchanged (FileChecks);
        // the client writes the snapshot on this machine
        onSnapshotSaved: (saved) => {
          if (!fileChecks || !saved.identity) return;
          fileChecks.learnSha256('local', saved.path, saved.identity, saved.sha256);
          fileChecks.learn('local', SNAPSHOT_INTEGRITY, saved.path, saved.identity, saved.integrity);
        },
      });
      output('stdout')(`${result.summary}\n`);
      return { ok: result.ok, ...(result.ok ? {} : { error: result.summary }) };
    }
    if (target.copy) {
      const from = { transport: this.deps.transport(target.copy.fromNode), path: target.copy.fromPath };
      const to = { transport, path: target.copy.toPath };
      // stat only reads: a dry run says what a real one would skip
      if (target.copy.optional && !(await from.transport.stat(from.path))) {
        output('stdout')(`${target.copy.fromNode}:${target.copy.fromPath} is not there: nothing to copy (optional)\n`);
        return { ok: true };
      }
      if (recordOnly) {
        output('stdout')(`(dry run: not executed) copy ${target.copy.fromNode}:${target.copy.fromPath} → ${target.node}:${target.copy.toPath}\n`);
        return { ok: true };
      }
      const fileChecks = this.deps.guardEnvironment.fileChecks;
      const copy = target.copy;
      // what the copy hashed, the next guards need not hash again (FileChecks)
      const onHashed: CopyOptions['onHashed'] = fileChecks
        ? (file) => fileChecks.learnSha256(file.side === 'from' ? copy.fromNode : target.node, file.path, file.identity, file.sha256)
        : undefined;
      const result = copy.recursive ? await copyTree(from, to, { signal: this.deps.signal }) : await copyFile(from, to, { signal: this.deps.signal, ...(onHashed ? { onHashed } : {}) });
      output('stdout')(`${JSON.stringify(result)}\n`);
      return { ok: true };
    }
    if (target.wait) {
      if (this.state.dryRun) {
        output('stdout')(`(dry run: not waited) until ${target.wait.until}\n`);
        return { ok: true };
      }
      return this.waitUntil(step, target, output('stdout'));
    }
    // manual: the operator's confirmation is the action
    output('stdout')(`confirmed by ${this.state.operator}: ${target.instruction ?? step.title}\n`);
    return { ok: true };
  }

  private async waitUntil(step: RenderedStep, target: RenderedTarget, say: (chunk: string) => void): Promise<{ ok: boolean; error?: string }> {
    const wait = target.wait;
    if (!wait) return { ok: false, error: 'not a wait step' };
    const deadline = Date.now() + step.timeoutMs;
    let detail = '';
    let polls = 0;
    while (Date.now() < deadline && !this.deps.signal?.aborted) {
      const report = polls++ === 0 ? await this.sharedPoll() : await this.newPoll();
      let met = conditionMet(wait.until, wait.params, report);
      // stopped by the probe's account: the peer ports must be closed too
      if (met.met && wait.until === 'members-stopped') met = conditionMet(wait.until, wait.params, report, await this.peerFacts(wait, report));
      if (met.detail !== detail) say(`${met.detail}\n`);
      detail = met.detail;
      if (met.met) return { ok: true };
      await new Promise((resolve) => setTimeout(resolve, wait.intervalMs));
    }
    return { ok: false, error: `not ${wait.until} after ${step.timeoutMs} ms: ${detail}` };
  }

  /** members-stopped's facts beyond the probe: which of its members' peer ports still accept. */
  private async peerFacts(wait: NonNullable<RenderedTarget['wait']>, report: ClusterReport): Promise<WaitFacts> {
    const names = stoppedMemberNames(report, listParam(wait.params.members));
    const members = this.deps.guardEnvironment.members.filter((member) => names.includes(member.name));
    const listening = await Promise.all(members.map(async (member) => ((await portAnswers(member.peerURL)) ? [member.name] : [])));
    return { peerListening: listening.flat() };
  }

  /** A wait's first poll: the shared probe (see `fresh`), journaled as it lands. */
  private async sharedPoll(): Promise<ClusterReport> {
    const report = await this.freshProbe();
    await this.landed;
    return report;
  }

  /** A wait's later polls: each is the newest view of the cluster, and becomes the shared probe. */
  private async newPoll(): Promise<ClusterReport> {
    const startedAt = this.now();
    const report = await this.deps.probe();
    this.dispatch({ type: 'probe', report });
    this.fresh = { report: Promise.resolve(report), startedAt };
    return report;
  }

  private dryRun(node: string): DryRunTransport {
    let transport = this.dryRunTransports.get(node);
    if (!transport) {
      transport = new DryRunTransport(this.deps.transport(node));
      this.dryRunTransports.set(node, transport);
    }
    return transport;
  }
}

/** A probe already taken (and journaled) as the shared probe, aged from when it started. */
function takenProbe(report: ClusterReport): { report: Promise<ClusterReport>; startedAt: number } {
  return { report: Promise.resolve(report), startedAt: Date.parse(report.probedAt) };
}

/** What the step view and journal show as "ran". */
export function describeTarget(target: RenderedTarget): string {
  if (target.command !== undefined) return target.command;
  if (target.etcd) return `etcd ${target.etcd.action} ${JSON.stringify(target.etcd.params)}`;
  if (target.copy) return `copy ${target.copy.fromNode}:${target.copy.fromPath} → ${target.node}:${target.copy.toPath}`;
  if (target.wait) return `wait until ${target.wait.until} ${JSON.stringify(target.wait.params)}`;
  return `manual: ${target.instruction ?? ''}`;
}
