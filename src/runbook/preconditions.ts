import type { ClusterReport, Verdict } from '../cluster/types.js';
import { RUNBOOK_FOR } from '../cluster/verdict.js';
import { nothingRanYet } from '../engine/reducer.js';
import type { RunState } from '../engine/types.js';
import { ExitCode } from '../util/errors.js';
import type { RenderedRunbook } from './rendered.js';

/**
 * What must hold before a run starts, judged once on the detection the run
 * starts from (pure functions; session/prepare.ts prepareRun applies them before
 * the journal is opened, so a refused run leaves nothing behind).
 */

/** The flag that lets a runbook run on a verdict outside its appliesTo; its value is the runbook id. */
export const OVERRIDE_APPLIES_TO_FLAG = '--override-applies-to';

export type AppliesToJudgement =
  | { kind: 'applies' }
  /** the verdict is outside appliesTo and the operator named this runbook in the override */
  | { kind: 'overridden'; verdict: Verdict; appliesTo: Verdict[] }
  | { kind: 'refused'; message: string; exitCode: number };

/**
 * A runbook runs only on a verdict in its appliesTo (split-brain's steps stop
 * every apiserver: on a healthy cluster that is an outage). The only way past
 * is the override flag naming the runbook, so a flag meant for one runbook
 * never lets another through.
 */
export function judgeAppliesTo(runbook: { id: string; appliesTo: readonly Verdict[] }, verdict: Verdict, override?: string, summary?: string): AppliesToJudgement {
  const flag = `${OVERRIDE_APPLIES_TO_FLAG} ${runbook.id}`;
  const named = judgeOverrideValue(runbook.id, override);
  if (!named.ok) return { kind: 'refused', exitCode: ExitCode.configError, message: named.message };
  if (runbook.appliesTo.includes(verdict)) return { kind: 'applies' };
  if (override === runbook.id) return { kind: 'overridden', verdict, appliesTo: [...runbook.appliesTo] };
  const fitting = RUNBOOK_FOR[verdict].recommended;
  // no runbook fits a cluster nothing answers from: what to check is the point
  const instead = fitting ? ` (the runbook for ${verdict} is ${fitting})` : summary ? ` (${summary})` : '';
  return {
    kind: 'refused',
    exitCode: ExitCode.configError,
    message: `refusing to run ${runbook.id}: it applies to ${runbook.appliesTo.join(', ')}, and the cluster is ${verdict} now${instead}; nothing was run. To run it anyway, pass ${flag}`,
  };
}

/**
 * What `plan` says about a run of this runbook on this cluster: it renders
 * anything (a plan executes nothing), but says when `run` would refuse it.
 */
export function planWarnings(runbook: { id: string; appliesTo: readonly Verdict[] }, rendered: RenderedRunbook, report: ClusterReport): string[] {
  const warnings: string[] = [];
  const verdict = report.verdict.verdict;
  if (!runbook.appliesTo.includes(verdict)) {
    warnings.push(`${runbook.id} applies to ${runbook.appliesTo.join(', ')}, and the cluster is ${verdict} now: 'run' refuses it unless given ${OVERRIDE_APPLIES_TO_FLAG} ${runbook.id}`);
  }
  const versions = changesMembershipOrRestores(rendered) ? judgeServerVersions(report) : { ok: true as const };
  if (!versions.ok) warnings.push(`'run' refuses it: ${versions.message.replace(/^refusing before any change: /, '')}`);
  return warnings;
}

/**
 * On resume, a run none of whose steps has run (nor been skipped) is judged
 * as a new run, on the cluster as it is now: a run started and left at its
 * first prompt does not get past the rule by being resumed. Once a step ran
 * the cluster is mid-recovery (restore-quorum stops every member: quorum
 * lost, then minority lost as they come back) and its verdict is expected to
 * differ: the judgement made when the run started stands, as does an
 * override already journaled. Journals from before appliesTo was kept are
 * not judged.
 */
export function appliesToJudgedOnResume(state: RunState): boolean {
  return state.runbook.appliesTo !== undefined && state.appliesToOverride === undefined && nothingRanYet(state);
}

/** The override's value must be the id of the runbook being run. */
export function judgeOverrideValue(runbookId: string, override: string | undefined): { ok: true } | { ok: false; message: string } {
  if (override === undefined || override === runbookId) return { ok: true };
  return { ok: false, message: `${OVERRIDE_APPLIES_TO_FLAG} ${override || '""'}: this run is of runbook ${runbookId}, so the override must name it: ${OVERRIDE_APPLIES_TO_FLAG} ${runbookId}` };
}

/** The oldest etcd server the runbooks work with: 3.4 has learners and reports its applied index. */
export const MINIMUM_SERVER_VERSION = { major: 3, minor: 4 } as const;

/**
 * Every server that reported its version is 3.4 or newer. A 3.3 server
 * ignores isLearner (a learner add would add a voter and raise the quorum
 * size) and reports no raftAppliedIndex (a wait for a member in sync would
 * never end). Members that did not answer report no version and are not
 * judged here.
 */
export function judgeServerVersions(report: ClusterReport): { ok: true } | { ok: false; message: string } {
  const old = report.endpoints.flatMap((e) => {
    const version = e.reachable && e.version ? parseMajorMinor(e.version) : undefined;
    if (!version || !olderThanMinimum(version)) return [];
    return [`${e.name ?? e.expectedName ?? e.endpoint} (${e.endpoint}) runs etcd ${e.version}`];
  });
  if (old.length === 0) return { ok: true };
  const { major, minor } = MINIMUM_SERVER_VERSION;
  return {
    ok: false,
    message: `refusing before any change: ${old.join('; ')}, older than ${major}.${minor} (no learners, no applied index): upgrade ${old.length === 1 ? 'it' : 'them'} to ${major}.${minor} or newer first (etcd upgrades one minor version at a time)`,
  };
}

/** Etcd API actions that change the member list. */
const MEMBERSHIP_ACTIONS: ReadonlySet<string> = new Set(['member-add', 'member-remove', 'member-promote']);

/**
 * The runbook changes the member list or restores a snapshot (and so relies
 * on learners, the applied index and the restore tools of 3.4+): an etcd
 * step that adds, removes or promotes a member, or a command that runs
 * `snapshot restore` or starts a member with --force-new-cluster.
 */
export function changesMembershipOrRestores(runbook: RenderedRunbook): boolean {
  return runbook.steps.some(
    (step) =>
      step.kind === 'snapshot-restore' ||
      step.targets.some((t) => (t.etcd !== undefined && MEMBERSHIP_ACTIONS.has(t.etcd.action)) || (t.command !== undefined && /snapshot restore|--force-new-cluster/.test(t.command))),
  );
}

function parseMajorMinor(version: string): { major: number; minor: number } | undefined {
  const match = /^v?(\d+)\.(\d+)/.exec(version.trim());
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : undefined;
}

function olderThanMinimum(v: { major: number; minor: number }): boolean {
  const min = MINIMUM_SERVER_VERSION;
  return v.major < min.major || (v.major === min.major && v.minor < min.minor);
}
