import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { ClusterReport } from '../cluster/types.js';
import type { RenderedStep } from '../runbook/rendered.js';
import { messageOf, OperatorError } from '../util/errors.js';
import { redact } from './redact.js';
import { summary } from './reducer.js';
import type { GuardOutcome, RunState, StepState, TargetState } from './types.js';

/**
 * A run (real or dry) as Markdown, for the change ticket: what was detected,
 * each step with the command as run on each node, its result and timing,
 * who confirmed, skipped or overrode what, and how the cluster looked at
 * the end. Everything that came from a node goes through `redact` again.
 */
export interface TranscriptOptions {
  /** where the journal is, mentioned at the end */
  journalPath?: string;
}

export function transcriptMarkdown(state: RunState, options: TranscriptOptions = {}): string {
  const out: string[] = [];
  const title = state.runbook.title || state.runbook.id;
  out.push(`# ${inline(title)}: run ${state.runId}`, '');
  if (state.dryRun) {
    out.push('> **DRY RUN** — nothing on the cluster was changed: commands that change state were recorded, not executed; read-only probes ran.', '');
  }
  if (state.appliesToOverride) out.push(`> **APPLIES-TO OVERRIDDEN** — ${inline(appliesToOverrideText({ runbook: state.runbook.id, ...state.appliesToOverride }))}.`, '');
  const rows: Array<[string, string]> = [
    ['Run', code(state.runId)],
    ['Runbook', `${code(state.runbook.id)} — ${cell(state.runbook.title)}`],
    ['Mode', state.dryRun ? 'dry run' : 'real'],
    ['Operator', cell(state.operator)],
    ['Started', state.startedAt],
    ['Ended', state.finishedAt ?? '(not ended)'],
    ['Duration', state.finishedAt ? duration(state.startedAt, state.finishedAt) : '—'],
    ['Status', state.status + (state.abortReason ? ` — ${cell(state.abortReason)}` : '')],
  ];
  if (state.appliesToOverride) rows.push(['appliesTo', `overridden by ${cell(state.appliesToOverride.operator)} at ${state.appliesToOverride.at}: ${state.appliesToOverride.appliesTo.join(', ')}; the cluster was ${state.appliesToOverride.verdict}`]);
  for (const r of state.resumes ?? []) rows.push(['Resumed', `${r.at} by ${cell(r.operator)} (was ${r.previousStatus})`]);
  const inputs = Object.entries(state.runbook.inputs);
  if (inputs.length > 0) rows.push(['Inputs', inputs.map(([k, v]) => `${k}=${code(redact(String(v)))}`).join(', ')]);
  out.push('| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), '');

  out.push('## Detection', '');
  if (state.detection) out.push(...reportLines(state.detection));
  else out.push('No detection was recorded for this run.', '');

  out.push('## Steps', '');
  const n = state.steps.length;
  state.steps.forEach((step, i) => {
    const def = state.runbook.steps[i];
    if (def) out.push(...stepLines(step, def, i + 1, n));
  });

  const s = summary(state);
  out.push('## Summary', '');
  out.push('| ran | skipped | failed | unknown | not applicable | not reached |', '|---|---|---|---|---|---|');
  out.push(`| ${s.ran} | ${s.skipped} | ${s.failed} | ${s.unknown} | ${s.notApplicable} | ${s.notReached} |`, '');
  out.push(`Run ${state.status}${state.abortReason ? `: ${inline(state.abortReason)}` : ''}.`, '');
  if (state.lastProbe) {
    const v = state.lastProbe.verdict;
    out.push(`Final verdict: **${v.verdict}** — ${inline(v.summary)} (probed ${state.lastProbe.probedAt})`, '');
  } else {
    out.push('Final verdict: no probe was recorded.', '');
  }
  if (options.journalPath) out.push(`Journal: ${code(options.journalPath)}`, '');
  return `${out.join('\n').trimEnd()}\n`;
}

/** One line for the step log, the transcript and the view: the runbook ran on a verdict it is not for, and who said so. */
export function appliesToOverrideText(o: { runbook: string; verdict: string; appliesTo: readonly string[]; operator: string }): string {
  return `appliesTo overridden by ${o.operator}: ${o.runbook} applies to ${o.appliesTo.join(', ')}, the cluster was ${o.verdict} when the run started (--override-applies-to ${o.runbook})`;
}

function reportLines(report: ClusterReport): string[] {
  const v = report.verdict;
  const out = [`**Verdict: ${v.verdict}** — ${inline(v.summary)} (probed ${report.probedAt}, ${report.durationMs} ms)`, ''];
  if (v.evidence.length > 0) out.push('Evidence:', ...v.evidence.map((e) => `- ${inline(e)}`), '');
  if (v.warnings.length > 0) out.push('Warnings:', ...v.warnings.map((w) => `- ${inline(w)}`), '');
  if (v.recommendedRunbook) out.push(`Recommended runbook: ${code(v.recommendedRunbook)}`, '');
  if (v.advice) out.push(`What to do: ${inline(v.advice)}`, '');
  if (v.members.length > 0) {
    out.push('| member | id | endpoint | voting | reachable | healthy | problem |', '|---|---|---|---|---|---|---|');
    for (const m of v.members) {
      const name = m.name || '(unstarted)';
      out.push(
        `| ${cell(name)} | ${m.id ? code(m.id) : '—'} | ${cell(m.endpoint ?? '—')} | ${m.isLearner ? 'learner' : 'yes'} | ${yesNo(m.reachable)} | ${yesNo(m.healthy)} | ${cell(m.problem ?? '')} |`,
      );
    }
    out.push('', `Quorum: ${v.healthyVoting} of ${v.votingMembers} voting members healthy, ${v.quorumSize} needed.`, '');
  }
  return out;
}

function stepLines(step: StepState, def: RenderedStep, k: number, n: number): string[] {
  const out = [`### ${k}/${n} ${inline(def.title)} — ${step.status}`, ''];
  out.push(`Why: ${inline(def.why)}`, '');
  const facts = [`Risk: **${def.risk}**`, `kind: ${def.kind}`];
  if (def.targets.length > 0) facts.push(`on: ${def.targets.map((t) => `${inline(t.node)} (${inline(t.host)})`).join(', ')}`);
  if (step.startedAt && step.finishedAt) facts.push(`took ${duration(step.startedAt, step.finishedAt)}`);
  if (step.attempts > 0) facts.push(`retried ${step.attempts}×`);
  if (step.confirmedBy) facts.push(`confirmed by ${inline(step.confirmedBy)}`);
  out.push(`${facts.join(' · ')}`, '');
  if (step.status === 'not-applicable') {
    out.push(def.leftOut !== undefined ? `Not applicable: skipped: ${inline(def.leftOut)}.` : 'Not applicable: no node of this cluster has a layout this step is for.', '');
    return out;
  }
  if (step.guards.length > 0) out.push('Guards:', ...step.guards.map(guardLine), '');
  if (step.status === 'skipped') out.push(`Skipped${step.skippedBy ? ` by ${inline(step.skippedBy)}` : ''}: ${inline(step.skipReason ?? '')}`, '');
  if (step.status === 'unknown') out.push('**Unknown — check before re-running**: the step was running when the tool stopped.', '');
  if (step.error) out.push(`Error: ${inline(step.error)}`, '');
  for (const target of step.targets) {
    const rendered = def.targets.find((t) => t.node === target.node);
    out.push(...targetLines(target, rendered?.host ?? target.node, rendered ? plannedCommand(rendered) : undefined));
  }
  if (step.check) out.push(`After-check: ${guardLine(step.check).slice(2)}`, '');
  return out;
}

function plannedCommand(t: RenderedStep['targets'][number]): string | undefined {
  return t.command ?? t.instruction;
}

function targetLines(t: TargetState, host: string, planned: string | undefined): string[] {
  const result: string[] = [t.status];
  if (t.exitCode !== undefined) result.push(t.exitCode === null ? 'killed (no exit code)' : `exit ${t.exitCode}`);
  if (t.startedAt && t.finishedAt) result.push(duration(t.startedAt, t.finishedAt));
  const out = [`**${inline(t.node)}** (${inline(host)}) — ${result.join(', ')}`, ''];
  if (t.ran !== undefined) out.push(...fenced(redact(t.ran), 'sh'));
  else if (planned !== undefined) out.push('Not run; the command would be:', '', ...fenced(redact(planned), 'sh'));
  if (t.error) out.push(`Error: ${inline(t.error)}`, '');
  if (t.outputTail) out.push('Output (last lines):', '', ...fenced(redact(t.outputTail).replace(/\n$/, ''), 'text'));
  if (t.outputDigest) out.push(`Output sha256: ${code(t.outputDigest)}`, '');
  return out;
}

function guardLine(g: GuardOutcome): string {
  const mark = g.ok ? '✓' : g.overriddenBecause !== undefined ? '⚠' : '✗';
  let line = `- ${mark} ${code(g.check)}: ${inline(g.message)}`;
  if (g.overriddenBecause !== undefined) line += ` — **overridden**${g.overriddenBy ? ` by ${inline(g.overriddenBy)}` : ''}: ${inline(g.overriddenBecause)}`;
  return line;
}

/** A fence longer than any run of backticks inside, so output cannot close it. */
function fenced(text: string, lang: string): string[] {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return [`${fence}${lang}`, text, fence, ''];
}

function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

/** One line, as Markdown text. */
function inline(text: string): string {
  return redact(text).replace(/\s*\n\s*/g, ' ');
}

/** A table cell: one line, no column breaks. */
function cell(text: string): string {
  return inline(text).replace(/\|/g, '\\|');
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

export function duration(from: string, to: string): string {
  const ms = Date.parse(to) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 100) / 10;
  if (s < 60) return `${s} s`;
  const whole = Math.round(ms / 1000);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const sec = whole % 60;
  return h > 0 ? `${h} h ${m} min ${sec} s` : `${m} min ${sec} s`;
}

/** Write the transcript with mode 0600: to a temporary name beside it, flushed, then renamed into place. */
export function writeTranscript(path: string, markdown: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'wx', 0o600);
    const buffer = Buffer.from(markdown, 'utf8');
    let offset = 0;
    while (offset < buffer.length) offset += writeSync(fd, buffer, offset, buffer.length - offset);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temporary);
    } catch {
      // already renamed or never created
    }
    throw new OperatorError(`cannot write transcript ${path}: ${messageOf(err)}`);
  }
}
