import { posix } from 'node:path';
import { findSide, listSides } from '../cluster/sides.js';
import type { ClusterReport } from '../cluster/types.js';
import type { Inventory, InventoryMember, Layout } from '../inventory/schema.js';
import { listParam } from '../engine/wait-conditions.js';
import { OperatorError } from '../util/errors.js';
import { buildContext, reportSides, withMember, withRepeat, type RunInfo } from './context.js';
import { GUARDS } from './guards/index.js';
import { describeEditConfig, planEditConfig } from './kinds/edit-config.js';
import { describeMoveAside, planMoveAside } from './kinds/move-aside.js';
import { caDirOf, describeRenewCertificates, planRenewCertificates, type RenewCertificatesPlan } from './kinds/renew-certificates.js';
import { describeSnapshotRestore, planSnapshotRestore, restoredDirs, serverVersionOf } from './kinds/snapshot-restore.js';
import type { ParamValue, RenderedGuard, RenderedRunbook, RenderedStep, RenderedTarget } from './rendered.js';
import type { EtcdAction, GuardRef, NestedStep, RepeatEntry, Runbook, RunbookInput, RunbookStep, StepWhen } from './schema.js';
import { renderTemplate, TemplateError, templatePathsOrNone, type ContextObject } from './template.js';
import { whyLeftOut } from './when.js';

/**
 * A runbook filled in for one cluster: inputs resolved, targets expanded to
 * nodes, every template rendered (commands shell-quoted). Pure: the inventory
 * and the probe report come in, a RenderedRunbook comes out, nothing runs.
 */

export interface RenderSources {
  inventory: Inventory;
  /** the detection probe (omit when none was made: detection.* is then unavailable) */
  report?: ClusterReport;
  /** the operator's --set name=value */
  inputs: Record<string, string>;
  run: RunInfo;
}

export const DEFAULT_TIMEOUT_MS: Record<RunbookStep['kind'], number> = {
  command: 60_000,
  wait: 120_000,
  etcd: 120_000,
  /** a multi-GiB snapshot over SSH takes a while */
  copy: 30 * 60_000,
  /** the operator takes the time it takes (not enforced) */
  manual: 0,
  'snapshot-restore': 10 * 60_000,
  'move-aside': 5 * 60_000,
  'edit-config': 30_000,
  'renew-certificates': 2 * 60_000,
};
export const DEFAULT_WAIT_INTERVAL_MS = 2_000;

export function renderRunbook(runbook: Runbook, sources: RenderSources): RenderedRunbook {
  const inputs = resolveInputs(runbook, sources);
  const context = buildContext({ inventory: sources.inventory, report: sources.report, inputs, run: sources.run });
  return {
    id: runbook.id,
    title: runbook.title,
    description: runbook.description,
    appliesTo: runbook.appliesTo,
    sources: runbook.sources,
    inputs,
    steps: toolsCheckedFirst(uniqueIds(runbook, runbook.steps.flatMap((entry, index) =>
      'repeat' in entry
        ? expandRepeat(runbook, entry, index, context, inputs, sources)
        : [renderStep(runbook, entry, { id: entry.id, where: `step ${entry.id} (steps[${index}])` }, context, inputs, sources)],
    ))),
  };
}

/**
 * A restore tool missing on a node (kubeadm masters often have none) is
 * found before anything is stopped: the restore steps' tool guards are also
 * guards of the first step that may change the cluster.
 */
function toolsCheckedFirst(steps: RenderedStep[]): RenderedStep[] {
  // a step that runs nowhere (left out, or no node has its layout) never judges its guards
  const first = steps.findIndex((s) => !s.leavesClusterAsIs && s.targets.length > 0);
  const tools = steps.slice(first + 1).flatMap((s) => s.guards.filter((g) => g.check === 'etcd-version-matches' && g.params.tool !== undefined));
  if (first < 0 || tools.length === 0) return steps;
  const seen = new Set<string>();
  const unique = tools.filter((g) => !seen.has(JSON.stringify(g.params)) && seen.add(JSON.stringify(g.params)));
  return steps.map((s, i) => (i === first ? { ...s, guards: [...s.guards, ...unique] } : s));
}

// ---- repeat -----------------------------------------------------------------------

/**
 * A repeat becomes plain steps, pass after pass (member by member, in
 * inventory order), each nested step once per pass with the id
 * `<repeat id>-<member>-<step id>`. The pass's variable is its member plus
 * the member list it joins: the members outside the walk, then those of
 * earlier passes, then itself.
 */
function expandRepeat(runbook: Runbook, entry: RepeatEntry, index: number, context: ContextObject, inputs: Record<string, ParamValue>, sources: RenderSources): RenderedStep[] {
  const walk = repeatMembers(runbook, entry, inputs, sources.inventory);
  const walked = new Set(walk.map((m) => m.name));
  const cluster = sources.inventory.members.filter((m) => !walked.has(m.name)).map((m) => m.name);
  const labels = passLabels(walk.map((m) => m.name));
  return walk.flatMap((member, pass) => {
    cluster.push(member.name);
    const ctx = withRepeat(context, entry.repeat.as, sources.inventory, member.name, cluster, sources.report);
    return entry.steps.flatMap((step, j) =>
      !forPassLayout(step, entry.repeat.as, member) ? [] : renderStep(runbook, step, {
        id: `${entry.id}-${labels[pass] as string}-${step.id}`,
        where: `step ${step.id} of repeat ${entry.id} for ${member.name} (steps[${index}].steps[${j}])`,
        repeat: { as: entry.repeat.as, member },
      }, ctx, inputs, sources),
    );
  });
}

/**
 * Whether a pass keeps a nested step: one that acts for the pass's member
 * (targets it, or runs `local` on its behalf, see applicable) is dropped when
 * its `layouts` excludes that member's known layout, so plan and progress
 * count only what applies. An unknown layout keeps it (settled at run time);
 * lint still checks every nested step.
 */
function forPassLayout(step: NestedStep, as: string, member: InventoryMember): boolean {
  const layout = member.node?.layout;
  if (!step.layouts || layout === undefined) return true;
  if (step.target !== as && step.target !== 'local') return true;
  return step.layouts.includes(layout);
}

/** The members a repeat walks, in inventory order. */
function repeatMembers(runbook: Runbook, entry: RepeatEntry, inputs: Record<string, ParamValue>, inventory: Inventory): InventoryMember[] {
  // the walks are the fan-out targets of the same name, one member per pass
  return expandTargets(runbook, { target: entry.repeat.for, id: entry.id }, inputs, inventory).flatMap((t) => (t.member ? [t.member] : []));
}

/** A member name as a step-id word (lower-case, dashes); the pass number when names would collide. */
function passLabels(names: string[]): string[] {
  const words = names.map((n) => n.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'member');
  return words.map((w, i) => (words.indexOf(w) !== words.lastIndexOf(w) ? `${w}-${i + 1}` : w));
}

/** Expanded ids must stay unique: the journal and resume find steps by id. */
function uniqueIds(runbook: Runbook, steps: RenderedStep[]): RenderedStep[] {
  const seen = new Set<string>();
  for (const step of steps) {
    if (seen.has(step.id)) throw new OperatorError(`runbook ${runbook.id}: two steps have the id "${step.id}" once its repeats are expanded for this inventory: rename one of them`);
    seen.add(step.id);
  }
  return steps;
}

// ---- inputs -----------------------------------------------------------------------

/**
 * Each input, in declaration order: the operator's value, else its default
 * (a template rendered against inventory, detection and the inputs declared
 * above it), else an error that says how to pass it. A `member` input must
 * name an inventory member.
 */
export function resolveInputs(runbook: Runbook, sources: RenderSources): Record<string, ParamValue> {
  const declared = new Set(runbook.inputs.map((i) => i.name));
  for (const name of Object.keys(sources.inputs)) {
    if (!declared.has(name)) {
      const known = runbook.inputs.map((i) => i.name);
      throw new OperatorError(`--set ${name}: runbook ${runbook.id} has no input "${name}" (${known.length > 0 ? `it takes ${known.join(', ')}` : 'it takes none'})`);
    }
  }
  const resolved: Record<string, ParamValue> = {};
  for (const input of runbook.inputs) {
    // the inputs above this one, as resolved (the operator's or their defaults); target once inputs.member is
    const base = buildContext({ inventory: sources.inventory, report: sources.report, inputs: { ...resolved }, run: sources.run });
    const given = sources.inputs[input.name];
    if (given !== undefined) {
      resolved[input.name] = coerce(input, sideChoice(input, given, sources.report), 'the value given', sources.inventory);
      continue;
    }
    if (input.default === undefined) {
      if (input.required) throw new OperatorError(`input "${input.name}" is required: pass --set ${input.name}=${placeholder(input)} (${input.description})`);
      continue;
    }
    if (typeof input.default !== 'string') {
      resolved[input.name] = coerce(input, String(input.default), 'its default', sources.inventory);
      continue;
    }
    let text: string;
    try {
      text = renderTemplate(input.default, base, { shell: false });
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      if (!input.required) continue;
      throw new OperatorError(
        `input "${input.name}" is required: pass --set ${input.name}=${placeholder(input)} (${input.description}); its default ${input.default} gives nothing here: ${err.message}`,
      );
    }
    resolved[input.name] = coerce(input, text, `its default ${input.default}`, sources.inventory);
  }
  return resolved;
}

/**
 * An input that defaults to the chosen side's member (a split brain's
 * source) also takes a side's cluster ID, for its newest member; a member
 * on no side (it did not answer) is refused, naming the sides.
 */
function sideChoice(input: RunbookInput, given: string, report: ClusterReport | undefined): string {
  if (!report || typeof input.default !== 'string' || !input.default.includes('detection.sideMember')) return given;
  const sides = reportSides(report);
  if (sides.length < 2) return given;
  const side = findSide(sides, given);
  if (!side) throw new OperatorError(`--set ${input.name}=${given}: no side holds it; give a member or cluster ID of one of: ${listSides(sides, report.endpoints.length)}`);
  return side.clusterId === given ? side.source : given;
}

function placeholder(input: RunbookInput): string {
  return input.type === 'member' ? '<name>' : input.type === 'members' ? '<name,name> (or empty)' : input.type === 'path' ? '<path>' : input.type === 'number' ? '<number>' : input.type === 'boolean' ? 'true|false' : '<value>';
}

function coerce(input: RunbookInput, text: string, from: string, inventory: Inventory): ParamValue {
  const say = (what: string) => new OperatorError(`input "${input.name}": ${from} ${JSON.stringify(text)} ${what}`);
  switch (input.type) {
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw say('is not a number');
      return n;
    }
    case 'boolean':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw say('must be true or false');
    case 'member': {
      const names = inventory.members.map((m) => m.name);
      if (!names.includes(text)) throw say(`is not a member in the inventory (members: ${names.join(', ')})`);
      return text;
    }
    case 'members': {
      // empty is a choice: none
      const names = inventory.members.map((m) => m.name);
      const given = [...new Set(listParam(text))];
      const unknown = given.filter((name) => !names.includes(name));
      if (unknown.length > 0) throw say(`names ${unknown.join(', ')}, not a member in the inventory (members: ${names.join(', ')})`);
      return given.join(',');
    }
    case 'path':
    case 'string':
      if (text === '') throw say('is empty');
      return text;
  }
}

// ---- steps -------------------------------------------------------------------------

interface TargetNode {
  node: string;
  member?: InventoryMember;
}

/** Where a step sits: its final id, how errors name it, and the repeat pass it belongs to. */
interface Placement {
  id: string;
  where: string;
  repeat?: { as: string; member: InventoryMember };
}

function renderStep(runbook: Runbook, step: RunbookStep | NestedStep, placement: Placement, context: ContextObject, inputs: Record<string, ParamValue>, sources: RenderSources): RenderedStep {
  const { where, repeat } = placement;
  const fill = (field: string, text: string, ctx: ContextObject, shell = false): string => {
    try {
      return renderTemplate(text, ctx, { shell });
    } catch (err) {
      if (err instanceof TemplateError) throw new OperatorError(`runbook ${runbook.id}: ${where} ${field}: ${err.message}`);
      throw err;
    }
  };
  const fillParams = (field: string, params: Record<string, ParamValue> | undefined, ctx: ContextObject): Record<string, ParamValue> => {
    const out: Record<string, ParamValue> = {};
    for (const [key, value] of Object.entries(params ?? {})) out[key] = typeof value === 'string' ? fill(`${field}.${key}`, value, ctx) : value;
    return out;
  };

  const nodes = applicable(
    step,
    repeat && step.target === repeat.as ? [{ node: repeat.member.name, member: repeat.member }] : expandTargets(runbook, { id: step.id, target: step.target as RunbookStep['target'] }, inputs, sources.inventory),
    sources.inventory,
    repeat?.member,
  );
  const contexts = nodes.map((t) => (t.member ? withMember(context, sources.inventory, t.member.name, sources.report) : context));
  /** title, why and step-wide guards see `member` only when the step has exactly one member */
  const single = nodes.length === 1 && nodes[0]?.member ? (contexts[0] as ContextObject) : context;
  const leftOut = step.when ? judgeWhen(step.when, single) : undefined;
  if (leftOut !== undefined) {
    // nothing of a step that does not apply is rendered: its commands may name what this run lacks
    return { ...renderedHeader(single), guards: [], leftOut, targets: [] };
  }

  const targets = nodes.map((t, i): RenderedTarget => {
    const ctx = contexts[i] as ContextObject;
    const out: RenderedTarget = { node: t.node, host: hostOf(t) };
    switch (step.kind) {
      case 'command':
        out.command = fill('run', step.run, ctx, true);
        break;
      case 'etcd':
        out.etcd = { action: step.action, params: fillParams('with', step.with, ctx) };
        break;
      case 'copy': {
        const fromNode = fill('from.node', step.from.node, ctx);
        if (fromNode !== 'local' && !sources.inventory.members.some((m) => m.name === fromNode)) {
          throw new OperatorError(`runbook ${runbook.id}: ${where} from.node: "${fromNode}" is neither local nor a member in the inventory (${sources.inventory.members.map((m) => m.name).join(', ')})`);
        }
        out.copy = { fromNode, fromPath: fill('from.path', step.from.path, ctx), toPath: fill('to.path', step.to.path, ctx), recursive: step.recursive ?? false, optional: step.optional ?? false };
        break;
      }
      case 'wait':
        out.wait = { until: step.until, params: fillParams('with', step.with, ctx), intervalMs: step.interval ? parseStepDuration(step.interval) : DEFAULT_WAIT_INTERVAL_MS };
        break;
      case 'manual':
        out.instruction = fill('instruction', step.instruction, ctx);
        break;
      case 'snapshot-restore': {
        const member = memberOf(t);
        const value = (field: string, v: string | number | boolean | undefined): string | undefined => (v === undefined ? undefined : fill(field, String(v), ctx));
        try {
          out.restore = planSnapshotRestore({
            member,
            serverVersion: serverVersionOf(member, sources.inventory, sources.report),
            snapshot: fill('snapshot', step.snapshot, ctx),
            initialCluster: fill('initialCluster', step.initialCluster, ctx),
            token: fill('token', step.token, ctx),
            into: step.into ?? '',
            bumpRevision: Number(value('bumpRevision', step.bumpRevision) ?? 0),
            ...(step.markCompacted !== undefined ? { markCompacted: value('markCompacted', step.markCompacted) === 'true' } : {}),
            skipHashCheck: value('skipHashCheck', step.skipHashCheck) === 'true',
            ...(step.ownerFrom !== undefined ? { ownerFrom: fill('ownerFrom', step.ownerFrom, ctx) } : {}),
            install: step.install ?? false,
          });
        } catch (err) {
          if (err instanceof OperatorError) throw new OperatorError(`runbook ${runbook.id}: ${where}: ${err.message}`);
          throw err;
        }
        out.command = describeSnapshotRestore(out.restore);
        break;
      }
      case 'move-aside': {
        const walDir = step.withWalDir ? memberOf(t).node?.paths?.walDir : undefined;
        const paths = typeof step.path === 'string' ? [fill('path', step.path, ctx)] : step.path.map((path, i) => fill(`path.${i}`, path, ctx));
        out.moveAside = planMoveAside([...paths, ...(walDir ? [walDir] : [])], sources.run.timestamp, step.recreate ?? false, step.suffix ?? 'old');
        out.command = describeMoveAside(out.moveAside);
        break;
      }
      case 'edit-config': {
        const flags = Object.entries(step.set).map(([flag, value]): [string, string] => [flag, fill(`set.${flag}`, String(value), ctx)]);
        try {
          out.editConfig = planEditConfig(memberOf(t), flags, sources.run.timestamp, step.manifest ?? 'stopped');
        } catch (err) {
          if (err instanceof OperatorError) throw new OperatorError(`runbook ${runbook.id}: ${where}: ${err.message}`);
          throw err;
        }
        out.command = describeEditConfig(out.editConfig);
        break;
      }
      case 'renew-certificates': {
        const ca = renewingCa(fill('ca.node', step.ca.node, ctx), step.ca.dir ? fill('ca.dir', step.ca.dir, ctx) : '');
        const days = Number(fill('days', String(step.days ?? DEFAULT_CERTIFICATE_DAYS), ctx));
        if (!Number.isInteger(days) || days <= 0) throw new OperatorError(`runbook ${runbook.id}: ${where} days: "${days}" is not a whole number of days above 0`);
        const certificates = step.certificates.map((c, i) => fill(`certificates[${i}]`, c, ctx));
        out.renewCertificates = planRenewCertificates(certificates, ca, days, sources.run.timestamp);
        out.command = describeRenewCertificates(out.renewCertificates);
        break;
      }
    }
    return out;
  });

  /** The CA a renewal signs with: on a member (or this machine), in the dir given or its layout's own. */
  function renewingCa(node: string, dir: string): RenewCertificatesPlan['ca'] {
    const members = sources.inventory.members;
    const member = members.find((m) => m.name === node) ?? (node === 'local' ? members.find((m) => m.node?.host === 'local') : undefined);
    if (!member && (node !== 'local' || dir === '')) {
      throw new OperatorError(`runbook ${runbook.id}: ${where} ca.node: "${node}" is not a member in the inventory (${members.map((m) => m.name).join(', ')}): name the master that holds the CA key`);
    }
    const caDir = dir || caDirOf(member as InventoryMember);
    return { node: member?.name ?? node, cert: posix.join(caDir, 'ca.crt'), key: posix.join(caDir, 'ca.key') };
  }

  function renderedHeader(ctx: ContextObject): Omit<RenderedStep, 'guards' | 'targets'> {
    return {
      id: placement.id,
      title: fill('title', step.title, ctx),
      why: fill('why', step.why, ctx),
      kind: step.kind,
      risk: step.risk,
      ...(step.source !== undefined ? { source: step.source } : {}),
      timeoutMs: step.timeout ? parseStepDuration(step.timeout) : DEFAULT_TIMEOUT_MS[step.kind],
      ...(leavesClusterAsIs(step) ? { leavesClusterAsIs: true as const } : {}),
    };
  }

  function judgeWhen(when: StepWhen, ctx: ContextObject): string | undefined {
    try {
      const reason = whyLeftOut(when, inputs, ctx);
      if (reason === undefined || when.reason === undefined) return reason;
      return fill('when.reason', when.reason, ctx);
    } catch (err) {
      if (err instanceof TemplateError) throw new OperatorError(`runbook ${runbook.id}: ${where} ${err.message}`);
      throw err;
    }
  }

  /** The member a typed kind acts on: its steps run on members only (lint says so). */
  function memberOf(t: TargetNode): InventoryMember {
    if (!t.member) throw new OperatorError(`runbook ${runbook.id}: ${where}: a ${step.kind} step runs on a member, not on ${t.node}`);
    return t.member;
  }

  const renderGuard = (ref: GuardRef, field: string): RenderedGuard[] => {
    const usesMember = [...Object.values(ref.with ?? {}), ref.message ?? ''].some(
      (v) => typeof v === 'string' && templatePathsOrNone(v).some((p) => p[0] === 'member'),
    );
    const description = Object.hasOwn(GUARDS, ref.check) ? GUARDS[ref.check as keyof typeof GUARDS].description : ref.check;
    const one = (ctx: ContextObject, node?: string): RenderedGuard => ({
      check: ref.check,
      params: fillParams(`${field}.with`, ref.with, ctx),
      ...(ref.message !== undefined ? { message: fill(`${field}.message`, ref.message, ctx) } : {}),
      overridable: ref.overridable ?? false,
      description: node ? `${description} (${node})` : description,
    });
    if (usesMember && nodes.length !== 1) return nodes.map((t, i) => one(contexts[i] as ContextObject, t.node));
    return [one(single)];
  };

  const guards = uniqueGuards([...step.guards.flatMap((g, j) => renderGuard(g, `guards[${j}]`)), ...targets.flatMap(kindGuards)]);
  const rendered: RenderedStep = { ...renderedHeader(single), guards, targets };
  if (step.check) {
    // one after-check per step: lint refuses `member.…` in the check of a step that fans out
    const [check, ...more] = renderGuard(step.check, 'check');
    if (more.length > 0) throw new OperatorError(`runbook ${runbook.id}: ${where} check: uses member.… but the step runs on ${nodes.length} nodes; a step has one after-check`);
    if (check) rendered.check = check;
  }
  return rendered;
}

/**
 * The checks a typed kind carries wherever it is used, shown as guards:
 * the restore tool is on the node in the servers' major.minor and the dirs
 * it creates are empty or missing; a move aside goes over nothing and knows
 * whether the dir is a mount point before anything moves.
 */
function kindGuards(target: RenderedTarget): RenderedGuard[] {
  const guard = (check: keyof typeof GUARDS, params: Record<string, ParamValue>): RenderedGuard => ({
    check,
    params,
    overridable: false,
    description: `${GUARDS[check].description} (${target.node})`,
  });
  const node = target.node;
  if (target.restore) {
    const { tool, serverVersion } = target.restore;
    const toolPath = target.restore.argv[0] as string;
    const dirs = [...restoredDirs(target.restore), ...target.restore.install.map((i) => i.to)];
    return [guard('etcd-version-matches', { node, tool, serverVersion, ...(toolPath !== tool ? { toolPath } : {}) }), ...dirs.map((path) => guard('data-dir-empty', { node, path }))];
  }
  if (target.moveAside) {
    const fresh: Record<string, ParamValue> = target.moveAside.suffix === 'fresh' ? { fresh: true } : {};
    return target.moveAside.dirs.map((d) => guard('can-move-aside', { node, path: d.path, aside: d.aside, asideInside: d.asideInside, ...fresh }));
  }
  if (target.renewCertificates) {
    const { ca } = target.renewCertificates;
    return [{ ...guard('ca-present', { node: ca.node, cert: ca.cert, key: ca.key }), description: `${GUARDS['ca-present'].description} (${ca.node})` }];
  }
  return [];
}

/** A kind's guard that is the same for every target (the one CA every member's renewal needs) is shown once. */
function uniqueGuards(guards: RenderedGuard[]): RenderedGuard[] {
  const seen = new Set<string>();
  return guards.filter((g) => {
    const key = JSON.stringify([g.check, g.params, g.message ?? '']);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** kubeadm's default validity for the certificates it renews */
const DEFAULT_CERTIFICATE_DAYS = 365;

/** The etcd actions that only read the cluster. */
const READING_ACTIONS: ReadonlySet<EtcdAction> = new Set(['snapshot-save', 'member-list', 'status']);

/**
 * Whether a step leaves the cluster as it found it: a read-only step, a copy,
 * a wait, an etcd read, a command the runbook declares `filesOnly`. A manual
 * step that is not read-only is the operator's own doing: it may change anything.
 */
function leavesClusterAsIs(step: RunbookStep | NestedStep): boolean {
  if (step.risk === 'read-only') return true;
  switch (step.kind) {
    case 'command':
      return step.filesOnly === true;
    case 'etcd':
      return READING_ACTIONS.has(step.action);
    case 'copy':
    case 'wait':
    case 'snapshot-restore':
    case 'move-aside':
      return true;
    case 'edit-config':
      // a running static pod's manifest: the kubelet restarts etcd on the change
      return step.manifest !== 'running';
    case 'manual':
      return false;
    case 'renew-certificates':
      // etcd reads its certificate at each TLS handshake: a renewed one changes what clients meet
      return false;
  }
}

/** The nodes a step runs on, before the layouts filter. */
export function expandTargets(runbook: Runbook, step: Pick<RunbookStep, 'target' | 'id'>, inputs: Record<string, ParamValue>, inventory: Inventory): TargetNode[] {
  const byName = (input: 'member' | 'survivor'): InventoryMember => {
    const name = inputs[input];
    if (name === undefined) throw new OperatorError(`runbook ${runbook.id}: step ${step.id} runs on the ${input} but inputs.${input} is not set: pass --set ${input}=<name>`);
    const member = inventory.members.find((m) => m.name === String(name));
    if (!member) throw new OperatorError(`runbook ${runbook.id}: step ${step.id}: inputs.${input} "${String(name)}" is not a member in the inventory (${inventory.members.map((m) => m.name).join(', ')})`);
    return member;
  };
  switch (step.target) {
    case 'local':
      return [{ node: 'local' }];
    case 'each-member':
      return inventory.members.map((m) => ({ node: m.name, member: m }));
    case 'each-surviving-member': {
      const replaced = byName('member').name;
      return inventory.members.filter((m) => m.name !== replaced).map((m) => ({ node: m.name, member: m }));
    }
    case 'member':
    case 'survivor': {
      const member = byName(step.target);
      return [{ node: member.name, member }];
    }
    case 'each-other-member': {
      const survivor = byName('survivor').name;
      return inventory.members.filter((m) => m.name !== survivor).map((m) => ({ node: m.name, member: m }));
    }
  }
}

/**
 * Keeps the nodes whose layout the step is for; `local` counts as the layout
 * of the member on this machine, or, in a repeat's pass, of the pass's member:
 * a local step there acts for that member (pulls its files, adds it), so its
 * files are the ones whose layout matters. Run from a machine that is no
 * member (every master over SSH), local counts as the layout the members
 * share: a local step that checks a master's files must not vanish because
 * the operator sits elsewhere.
 */
function applicable(step: Pick<RunbookStep, 'layouts'>, nodes: TargetNode[], inventory: Inventory, pass?: InventoryMember): TargetNode[] {
  const layouts = step.layouts;
  if (!layouts) return nodes;
  const localLayout = pass ? pass.node?.layout : (inventory.members.find((m) => isLocalNode(m))?.node?.layout ?? sharedLayout(inventory));
  return nodes.filter((t) => {
    const layout = t.member ? t.member.node?.layout : localLayout;
    return layout !== undefined && layouts.includes(layout);
  });
}

function isLocalNode(m: InventoryMember): boolean {
  return m.node?.transport === 'local' || (m.node?.transport === undefined && m.node?.host === 'local');
}

/** The layout every member has, when they agree and each has one. */
function sharedLayout(inventory: Inventory): Layout | undefined {
  const layouts = new Set(inventory.members.map((m) => m.node?.layout));
  const [only] = layouts;
  return layouts.size === 1 ? only : undefined;
}

/** "local", or where SSH goes: "root@10.0.0.2", "10.0.0.2". */
export function hostOf(target: TargetNode): string {
  const node = target.member?.node;
  if (!target.member || !node || isLocalNode(target.member)) return 'local';
  const port = node.ssh?.port !== undefined && node.ssh.port !== 22 ? `:${node.ssh.port}` : '';
  return `${node.ssh?.user ? `${node.ssh.user}@` : ''}${node.host}${port}`;
}

/** "500ms", "30s", "5m" → milliseconds (the schema has checked the form). */
export function parseStepDuration(text: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(text);
  if (!match) throw new OperatorError(`${text}: expected a duration like 500ms, 30s or 5m`);
  const n = Number(match[1]);
  return match[2] === 'ms' ? n : match[2] === 's' ? n * 1000 : n * 60_000;
}

