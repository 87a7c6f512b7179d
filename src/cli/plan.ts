import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { probeThroughElection } from '../cluster/election.js';
import { probeCluster } from '../cluster/probe.js';
import type { ClusterReport } from '../cluster/types.js';
import { inferredNodes, inferredNodesLine } from '../inventory/infer-nodes.js';
import { withLocalDiffs } from '../runbook/kinds/edit-config.js';
import { findRunbook, loadRunbookFile } from '../runbook/loader.js';
import { planWarnings } from '../runbook/preconditions.js';
import { renderRunbook } from '../runbook/render.js';
import type { ParamValue, RenderedGuard, RenderedRunbook, RenderedStep, RenderedTarget } from '../runbook/rendered.js';
import type { Risk } from '../runbook/schema.js';
import { colorEnabled, paint, type Color } from '../util/color.js';
import { OperatorError } from '../util/errors.js';
import { clusterTargetFrom, liveTarget } from '../session/cluster-target.js';
import { parseSets } from '../session/inputs.js';
import { runTimestamp } from '../session/run-ids.js';
import { connectionFlags, connectionFlagsHelp } from './connection-flags.js';

export const planHelp = `Usage: etcd-runbook plan <runbook|file.yaml> [--json|--markdown] [--set name=value]... [connection flags]

Print a runbook fully rendered for this cluster: every step with its host,
the exact command (every value filled in and quoted), its risk and its
guards. The cluster is probed once (read-only) for the detection values;
nothing is executed.

  --json               the rendered runbook as JSON (what 'run' executes)
  --markdown           a Markdown document for a change ticket
  --set NAME=VALUE     a runbook input (e.g. --set member=m3); repeatable

${connectionFlagsHelp}`;

const planFlags = {
  ...connectionFlags,
  json: { type: 'boolean' },
  markdown: { type: 'boolean' },
  set: { type: 'string', multiple: true },
} as const;

export async function planCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: planFlags, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(`${planHelp}\n`);
    return 0;
  }
  const [name, ...extra] = positionals;
  if (!name || extra.length > 0) throw new OperatorError('plan takes one runbook id or file: etcd-runbook plan <runbook> (see --help)');
  if (values.json && values.markdown) throw new OperatorError('plan: choose one of --json and --markdown');
  const inputs = parseSets(values.set ?? []);
  // the runbook first: a typo in its name should not wait for a probe
  const runbook = /\.ya?ml$/.test(name) ? await loadRunbookFile(name) : await findRunbook(name);
  const described = await clusterTargetFrom(values);
  const report = await probeThroughElection(() => probeCluster(described.targets, { tls: described.tls, deadlineMs: described.deadlineMs }));
  // as a run would see it: names from the live member list, other masters' nodes inferred
  const target = liveTarget(described, report);
  const inventory = target.config.inventory;
  const now = new Date();
  const timestamp = runTimestamp(now);
  // a config edit on this machine shows as the diff it would make to the file as it is now
  const rendered = await withLocalDiffs(renderRunbook(runbook, { inventory, report, inputs, run: { id: `${timestamp}-${runbook.id}-plan`, timestamp } }), readIfThere);
  const warnings = planWarnings(runbook, rendered, report);
  // stdout stays the document asked for; the warnings go to stderr as well, for a plan piped into a ticket
  for (const warning of warnings) process.stderr.write(`etcd-runbook: warning: ${warning}\n`);
  const inferred = { inferred: inferredNodesLine(inventory), inferredNodes: inferredNodes(inventory).map((node) => node.member) };
  if (values.json) process.stdout.write(`${JSON.stringify(rendered, null, 2)}\n`);
  else if (values.markdown) process.stdout.write(planMarkdown(rendered, { report, generatedAt: now.toISOString(), warnings, ...inferred }));
  else process.stdout.write(planText(rendered, { report, color: colorEnabled(values['no-color']), warnings, ...inferred }));
  return 0;
}

/** A file's text, or undefined when it cannot be read here. */
async function readIfThere(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

// ---- text ---------------------------------------------------------------------------

const RISK_BADGE: Record<Risk, { text: string; color: Color }> = {
  'read-only': { text: '[read-only]', color: 'green' },
  changes: { text: '[changes]', color: 'yellow' },
  destructive: { text: '[DESTRUCTIVE]', color: 'red' },
};

/** The nodes nobody read (inferredNodesLine), shown before the first step and on each of their steps. */
export interface InferredOptions {
  inferred?: string | undefined;
  /** the members whose node was inferred */
  inferredNodes?: string[];
}

export interface PlanTextOptions extends InferredOptions {
  report?: ClusterReport;
  color?: boolean;
  /** what 'run' would refuse (planWarnings) */
  warnings?: string[];
}

/** The plan for a terminal: step k of n, title, why, risk, per node the host and what runs, guards. */
export function planText(plan: RenderedRunbook, options: PlanTextOptions = {}): string {
  const color = options.color ?? false;
  const lines: string[] = [];
  lines.push(paint(`Runbook ${plan.id}: ${plan.title}`, 'bold', color));
  lines.push(plan.description);
  if (options.report) lines.push(`Cluster: ${options.report.verdict.verdict} — ${options.report.verdict.summary}`);
  for (const warning of options.warnings ?? []) lines.push(paint(`Warning: ${warning}`, 'yellow', color));
  if (options.inferred) lines.push(paint(capitalised(options.inferred), 'yellow', color));
  const inputs = Object.entries(plan.inputs);
  if (inputs.length > 0) lines.push(`Inputs: ${inputs.map(([k, v]) => `${k}=${String(v)}`).join(', ')}`);
  lines.push(paint('Nothing below has been executed.', 'gray', color));
  plan.steps.forEach((step, index) => {
    const badge = RISK_BADGE[step.risk];
    lines.push('');
    lines.push(`${paint(`Step ${index + 1} of ${plan.steps.length}`, 'cyan', color)}  ${paint(step.title, 'bold', color)}  ${paint(badge.text, badge.color, color)}`);
    lines.push(`  why: ${step.why}`);
    if (step.leftOut !== undefined) lines.push(paint(`  skipped: ${step.leftOut}`, 'gray', color));
    else if (step.targets.length === 0) lines.push(paint('  not applicable: no node of this cluster has the layout this step is for', 'gray', color));
    for (const target of step.targets) lines.push(...targetLines(step, target, options.inferredNodes).map((l) => `  ${l}`));
    if (step.guards.length > 0) {
      lines.push('  guards (must pass before it runs):');
      for (const guard of step.guards) lines.push(`    - ${guardLine(guard)}`);
    }
    if (step.check) lines.push(`  after: ${guardLine(step.check)}`);
    if (step.source) lines.push(paint(`  source: ${step.source}`, 'gray', color));
  });
  return `${lines.join('\n')}\n`;
}

function targetLines(step: RenderedStep, target: RenderedTarget, inferredNodes: string[] = []): string[] {
  const where = whereText(target, inferredNodes.includes(target.node));
  if (target.editConfig && target.command !== undefined) return [`on ${where}: edit ${target.editConfig.path}`, ...target.command.split('\n').map((l) => `  ${l}`)];
  if (target.command !== undefined) return [`on ${where}:`, ...target.command.split('\n').map((l) => `  $ ${l}`)];
  if (target.etcd) return [`on ${where}: etcd ${target.etcd.action}${paramText(target.etcd.params)}`];
  if (target.copy) {
    return [`on ${where}: copy ${target.copy.fromNode}:${target.copy.fromPath} → ${target.node}:${target.copy.toPath}${target.copy.recursive ? ' (recursive)' : ''}${target.copy.optional ? ' (if it is there)' : ''}, sha256 checked at the destination`];
  }
  if (target.wait) {
    return [`on ${where}: wait until ${target.wait.until}${paramText(target.wait.params)} (every ${seconds(target.wait.intervalMs)}, up to ${seconds(step.timeoutMs)})`];
  }
  if (target.instruction !== undefined) return [`on ${where}, by hand (confirm when done):`, ...target.instruction.split('\n').map((l) => `  ${l}`)];
  return [`on ${where}`];
}

/** `m2 (10.0.0.2)`, and `, inferred` when nobody read that node's layout and paths */
function whereText(target: RenderedTarget, inferred: boolean): string {
  const host = inferred ? `${target.host}, inferred` : target.host;
  return target.node === target.host && !inferred ? target.host : `${target.node} (${host})`;
}

function capitalised(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

function paramText(params: Record<string, ParamValue>): string {
  const entries = Object.entries(params);
  return entries.length === 0 ? '' : ` ${entries.map(([k, v]) => `${k}=${String(v)}`).join(' ')}`;
}

function guardLine(guard: RenderedGuard): string {
  const params = paramText(guard.params);
  return `${guard.check}${params ? ` (${params.trim()})` : ''}: ${guardDetail(guard)}`;
}

function guardDetail(guard: RenderedGuard): string {
  return `${guard.description}${guard.overridable ? ' [overridable]' : ''}${guard.message ? `; if it fails: ${guard.message}` : ''}`;
}

function guardMarkdown(guard: RenderedGuard): string {
  const params = Object.entries(guard.params).map(([k, v]) => `${k}=${String(v)}`).join(' ');
  return `\`${guard.check}\`${params ? ` (${fencedInline(params)})` : ''} — ${mdText(guardDetail(guard))}`;
}

/** Inline code that survives backticks in the text. */
function fencedInline(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const tick = '`'.repeat(longest + 1);
  return `${tick}${text.startsWith('`') || text.endsWith('`') ? ` ${text} ` : text}${tick}`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

// ---- markdown ---------------------------------------------------------------------------

export interface PlanMarkdownOptions extends InferredOptions {
  report?: ClusterReport;
  /** ISO time the plan was made */
  generatedAt: string;
  /** what 'run' would refuse (planWarnings) */
  warnings?: string[];
}

/** A change-ticket document: what was detected, then each step as a checklist item with its exact commands. */
export function planMarkdown(plan: RenderedRunbook, options: PlanMarkdownOptions): string {
  const out: string[] = [];
  out.push(`# Plan: ${mdText(plan.title)} (\`${plan.id}\`)`, '');
  out.push(mdText(plan.description), '');
  out.push(`- Generated: ${options.generatedAt} by \`etcd-runbook plan\` (nothing was executed)`);
  if (options.report) {
    const v = options.report.verdict;
    out.push(`- Detected: **${v.verdict}** — ${mdText(v.summary)}`);
    out.push(`- Quorum: ${v.healthyVoting} of ${v.votingMembers} voting members healthy, quorum needs ${v.quorumSize}`);
  }
  for (const warning of options.warnings ?? []) out.push(`- **Warning**: ${mdText(warning)}`);
  if (options.inferred) out.push(`- **Inferred**: ${mdText(options.inferred.replace(/^inferred: /, ''))}`);
  for (const [k, v] of Object.entries(plan.inputs)) out.push(`- Input \`${k}\`: \`${String(v)}\``);
  if (plan.sources.length > 0) out.push(`- Sources: ${plan.sources.map(mdText).join('; ')}`);
  out.push('');
  plan.steps.forEach((step, index) => {
    out.push(`## ${index + 1}. ${mdText(step.title)} — ${step.risk}`, '');
    out.push(`- [ ] done`, `- Why: ${mdText(step.why)}`, `- Kind: ${step.kind}${step.kind === 'command' || step.kind === 'wait' ? `, timeout ${seconds(step.timeoutMs)}` : ''}`);
    if (step.source) out.push(`- Source: ${mdText(step.source)}`);
    for (const guard of step.guards) out.push(`- Guard: ${guardMarkdown(guard)}`);
    if (step.check) out.push(`- After: ${guardMarkdown(step.check)}`);
    out.push('');
    if (step.leftOut !== undefined) out.push(`_Skipped: ${mdText(step.leftOut)}._`, '');
    else if (step.targets.length === 0) out.push('_Not applicable: no node of this cluster has the layout this step is for._', '');
    for (const target of step.targets) {
      const inferred = options.inferredNodes?.includes(target.node) ? ', inferred' : '';
      const heading = `**${mdText(target.node)}** (${mdText(target.host)}${inferred})`;
      if (target.command !== undefined) out.push(`${heading}:`, '', ...fenced(target.command, target.editConfig ? 'diff' : 'sh'), '');
      else if (target.instruction !== undefined) out.push(`${heading}, by hand (confirm when done): ${mdText(target.instruction)}`, '');
      else out.push(`${heading}: ${mdText(targetLines(step, target).join(' ').replace(/^on [^:]+: /, ''))}`, '');
    }
  });
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

/** A code block whose fence is longer than any run of backticks inside. */
function fenced(text: string, lang: string): string[] {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}${lang}`, text, fence];
}

/** Markdown-inert text: characters that would format are escaped. */
function mdText(text: string): string {
  return text.replace(/([\\`*_[\]<>#|])/g, '\\$1').replace(/\n/g, ' ');
}
