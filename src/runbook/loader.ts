import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { andMore, describeZodIssue, formatPath, lineOfPath, parseYamlSource, type PathSegment, valueAt, type YamlSource } from '../inventory/yaml-source.js';
import { messageOf, OperatorError } from '../util/errors.js';
import { defaultShape, stepShape } from './context.js';
import { GUARD_NAMES, GUARDS } from './guards/index.js';
import {
  includeSchema,
  inputSchema,
  isIncludeEntry,
  isRepeatEntry,
  nestedStepSchema,
  repeatHeaderSchema,
  runbookSchema,
  sharedStepsSchema,
  STEP_KINDS,
  stepSchema,
  TARGETS,
  type EtcdAction,
  type GuardRef,
  type IncludeEntry,
  type NestedStep,
  type RepeatEntry,
  type RunbookFile,
  type SharedSteps,
  type Runbook,
  type RunbookInput,
  type RunbookStep,
} from './schema.js';
import { internalReference, operatorTexts } from './standalone-text.js';
import { checkTemplate, templatePathsOrNone, type ShapeScope } from './template.js';
import { embeddedRunbooks } from '../util/single-file.js';

/**
 * Runbooks are data: read, validated by the schema, and checked statically —
 * every template against the context's shape, every guard name against the
 * registry, every text an operator reads for citations of documents that do
 * not ship — before one is shown. `lint` reports every problem;
 * loading refuses on the first (with a count of the others).
 */

export interface Problem {
  file: string;
  line: number;
  /** the field as the operator would type it: steps[2].run */
  field: string;
  message: string;
}

export function formatProblem(problem: Problem): string {
  return `${problem.file}:${problem.line}: ${problem.field}: ${problem.message}`;
}

export interface LintOptions {
  /** the guard names a runbook may use (default: the registry in guards/) */
  guardNames?: readonly string[];
  /** the text of a shared step file an include names (default: read beside the runbook, or the embedded copy) */
  readShared?: (file: string) => string;
}

/**
 * Every problem in a runbook — or in a shared step file (`shared:` at the
 * top) — in file order: YAML, schema, templates, guards, targets, internal
 * references; a runbook's included files are checked with it.
 */
export function lintRunbook(text: string, fileName: string, options: LintOptions = {}): Problem[] {
  return examineFile(text, fileName, options, 'either').problems;
}

type FileKind = 'runbook' | 'shared';

interface Examined {
  problems: Problem[];
  kind?: FileKind;
  /** a runbook with its includes expanded, when the file is a valid runbook */
  runbook?: Runbook;
  /** a shared step file's steps and inputs, when it is a valid one */
  shared?: SharedSteps;
}

/** The problems, and the parsed file when the schema accepts it (the file is parsed once: YAML is most of a load's time). */
function examineFile(text: string, fileName: string, options: LintOptions, expect: FileKind | 'either'): Examined {
  let source: YamlSource;
  try {
    source = parseYamlSource(text, fileName);
  } catch (err) {
    // parseYamlSource says `file:line: YAML syntax error: …`
    const message = (err as Error).message;
    const match = /^.*?:(\d+): (.*)$/s.exec(message);
    return { problems: [{ file: fileName, line: match ? Number(match[1]) : 1, field: '(yaml)', message: match?.[2] ?? message }] };
  }
  if (source.document.contents === null) {
    const what = expect === 'shared' ? 'shared steps with shared, description and steps' : 'a runbook with id, title, appliesTo and steps';
    return { problems: [{ file: fileName, line: 1, field: '(top level)', message: `the file is empty: expected ${what}` }] };
  }
  const input: unknown = source.document.toJS();
  const problems: Problem[] = [];
  const add = (path: ReadonlyArray<PathSegment>, message: string, atKey = false): void => {
    problems.push({ file: fileName, line: lineOfPath(source, path, atKey), field: formatPath(path), message });
  };
  const kind: FileKind = expect !== 'either' ? expect : valueAt(input, ['shared']) !== undefined ? 'shared' : 'runbook';
  if (expect === 'runbook' && valueAt(input, ['shared']) !== undefined) {
    return { problems: [{ file: fileName, line: lineOfPath(source, ['shared'], true), field: 'shared', message: 'this is a shared step file, not a runbook: a runbook takes its steps in with "- include: shared/<file>"' }] };
  }

  const result = kind === 'shared' ? sharedStepsSchema.safeParse(input) : runbookSchema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
      const kindProblem = unknownKind(issue.code, path, input);
      if (kindProblem) add(kindProblem.path, kindProblem.message);
      else {
        const described = describeZodIssue(issue, input, source);
        problems.push({ file: fileName, line: described.line, field: described.path, message: described.message });
      }
    }
  }

  // The semantic checks run on every input and step that is valid on its own,
  // so one schema mistake does not hide the template problems elsewhere.
  const raw = (input && typeof input === 'object' ? input : {}) as { inputs?: unknown; steps?: unknown };
  const inputs = validEntries(raw.inputs, (v) => inputSchema.safeParse(v));
  const entries = Array.isArray(raw.steps) ? (raw.steps as unknown[]) : [];
  const runbookView = { inputs: inputs.map((e) => e.value) };
  const guardNames = options.guardNames ?? GUARD_NAMES;
  const included = new Map<number, Array<RunbookStep | RepeatEntry>>();

  for (const { index, value: def } of inputs) {
    if (typeof def.default === 'string') {
      // a default may use the (valid) inputs declared above it
      const defaults = defaultShape(runbookView, inputs.filter((e) => e.index < index).length);
      for (const message of checkTemplate(def.default, defaults, { shell: false })) add(['inputs', index, 'default'], message);
    }
  }

  entries.forEach((entry, index) => {
    if (isIncludeEntry(entry)) {
      const include = includeSchema.safeParse(entry);
      if (kind === 'runbook' && include.success) {
        const steps = checkInclude(include.data, ['steps', index], fileName, runbookView.inputs, options, add, problems);
        if (steps) included.set(index, steps);
      }
      return;
    }
    if (!isRepeatEntry(entry)) {
      const step = stepSchema.safeParse(entry);
      if (step.success) checkStep(step.data, ['steps', index], runbookView.inputs, guardNames, add);
      return;
    }
    // a repeat: its nested steps are checked exactly like top-level ones, with its variable in scope
    const { repeat, steps } = entry as { repeat?: unknown; steps?: unknown };
    const header = repeatHeaderSchema.safeParse(repeat);
    if (!header.success) return;
    if (header.data.for === 'each-other-member' && !runbookView.inputs.some((i) => i.name === 'survivor')) {
      add(['steps', index, 'repeat', 'for'], 'each-other-member needs the runbook to declare an input named "survivor" (the member the others are counted from)');
    }
    for (const { index: j, value: step } of validEntries(steps, (v) => nestedStepSchema.safeParse(v))) {
      checkStep(step, ['steps', index, 'steps', j], runbookView.inputs, guardNames, add, header.data);
    }
  });

  for (const { path, text } of operatorTexts(input)) {
    const cited = internalReference(text);
    if (cited) add(path, `cites "${cited}", a document that does not ship with etcd-runbook: state the reason itself, and cite public pages (etcd.io, kubernetes.io) by URL in source`);
  }

  let runbook: Runbook | undefined;
  if (result.success && kind === 'runbook') runbook = expandIncludes(result.data as RunbookFile, included, add);
  problems.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file === fileName ? -1 : b.file === fileName ? 1 : 0));
  if (problems.length > 0 || !result.success) return { problems, kind };
  return kind === 'shared' ? { problems, kind, shared: result.data as SharedSteps } : { problems, kind, ...(runbook ? { runbook } : {}) };
}

/**
 * An include, checked where the runbook names it: the shared file itself
 * (its problems under its own name), the inputs it reads declared here with
 * the same type, and the guards the include adds. Its steps, with those
 * guards first, when it is valid.
 */
function checkInclude(
  include: IncludeEntry,
  base: PathSegment[],
  fileName: string,
  inputs: RunbookInput[],
  options: LintOptions,
  add: Add,
  problems: Problem[],
): Array<RunbookStep | RepeatEntry> | undefined {
  const file = join(dirname(fileName), include.include);
  let text: string;
  try {
    text = (options.readShared ?? readShared)(file);
  } catch (err) {
    add([...base, 'include'], `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? messageOf(err)})`);
    return undefined;
  }
  const shared = examineFile(text, file, options, 'shared');
  problems.push(...shared.problems);
  for (const needed of shared.shared?.inputs ?? []) {
    const declared = inputs.find((i) => i.name === needed.name);
    if (!declared) add([...base, 'include'], `${include.include} reads inputs.${needed.name}: declare an input named "${needed.name}" (type ${needed.type}) in this runbook`);
    else if (declared.type !== needed.type) add([...base, 'include'], `${include.include} reads inputs.${needed.name} as a ${needed.type}; this runbook declares it as a ${declared.type}`);
  }
  const scope = stepShape({ inputs }, { target: 'local' }, false);
  checkGuardRefs(include.guards.map((g, j) => ({ g, path: [...base, 'guards', j], within: scope })), options.guardNames ?? GUARD_NAMES, add);
  if (!shared.shared) return undefined;
  return shared.shared.steps.map((step) => ('repeat' in step ? step : { ...step, guards: [...include.guards, ...step.guards] }));
}

/** The runbook with every include replaced by its steps; a step id the runbook already has is a problem at the include. */
function expandIncludes(file: RunbookFile, included: Map<number, Array<RunbookStep | RepeatEntry>>, add: Add): Runbook {
  const steps: Array<RunbookStep | RepeatEntry> = [];
  const seen = new Set(file.steps.flatMap((e) => ('id' in e ? [e.id] : [])));
  file.steps.forEach((entry, index) => {
    if (!('include' in entry)) {
      steps.push(entry);
      return;
    }
    for (const step of included.get(index) ?? []) {
      if (seen.has(step.id)) add(['steps', index, 'include'], `${entry.include} has a step "${step.id}", and so does this runbook (or another include): rename one of them`);
      seen.add(step.id);
      steps.push(step);
    }
  });
  return { ...file, steps };
}

/** A shared step file beside the runbook (or embedded in the one-file executable). */
function readShared(file: string): string {
  return embeddedText(file) ?? readFileSync(file, 'utf8');
}

type Add = (path: ReadonlyArray<PathSegment>, message: string, atKey?: boolean) => void;

function checkStep(
  step: RunbookStep | NestedStep,
  base: PathSegment[],
  inputs: RunbookInput[],
  guardNames: readonly string[],
  add: Add,
  repeat?: { as: string },
): void {
  const scope = stepShape({ inputs }, step, true, repeat);
  const once = stepShape({ inputs }, step, false, repeat);
  const at = (...rest: PathSegment[]): PathSegment[] => [...base, ...rest];
  const declared = (name: string) => inputs.some((i) => i.name === name);
  const plain = (path: PathSegment[], text: string, within: ShapeScope = scope) => {
    for (const message of checkTemplate(text, within, { shell: false })) add(path, message);
  };
  const params = (path: PathSegment[], record: Record<string, unknown> | undefined, within: ShapeScope = scope) => {
    for (const [key, value] of Object.entries(record ?? {})) if (typeof value === 'string') plain([...path, key], value, within);
  };

  if ((step.target === 'member' || step.target === 'each-surviving-member') && !declared('member')) {
    add(at('target'), `target ${step.target} needs the runbook to declare an input named "member" (the member being replaced)`);
  }
  if (repeat && step.target !== repeat.as && !(TARGETS as readonly string[]).includes(step.target)) {
    add(at('target'), `must be one of ${TARGETS.join(', ')} or ${repeat.as} (this repeat's member), got ${JSON.stringify(step.target)}`);
  }
  if ((step.target === 'survivor' || step.target === 'each-other-member') && !declared('survivor')) {
    add(at('target'), `target ${step.target} needs the runbook to declare an input named "survivor"`);
  }

  plain(at('title'), step.title, once);
  plain(at('why'), step.why, once);
  if (step.when?.input !== undefined && !declared(step.when.input)) {
    add(at('when', 'input'), `names no input of this runbook (${inputs.map((i) => i.name).join(', ') || 'it has none'})`);
  }
  if (step.when?.fact !== undefined) plain(at('when', 'fact'), `{{ ${step.when.fact} }}`, once);
  if (step.when?.reason !== undefined) plain(at('when', 'reason'), step.when.reason, once);
  switch (step.kind) {
    case 'command':
      for (const message of checkTemplate(step.run, scope, { shell: true })) add(at('run'), message);
      if (step.filesOnly) {
        const what = notFilesOnly(step.run);
        if (what) add(at('filesOnly'), `the command ${what}, so it does not change files only: remove filesOnly`, true);
      }
      break;
    case 'manual':
      plain(at('instruction'), step.instruction);
      break;
    case 'copy':
      plain(at('from', 'node'), step.from.node);
      plain(at('from', 'path'), step.from.path);
      plain(at('to', 'path'), step.to.path);
      break;
    case 'snapshot-restore':
    case 'move-aside':
    case 'edit-config': {
      if (step.target === 'local') add(at('target'), `a ${step.kind} step runs on a member (its data dir, its tools): use each-member, member, survivor or a repeat's member`);
      const fields = step.kind === 'edit-config' ? step.set : step.kind === 'move-aside' ? (typeof step.path === 'string' ? { path: step.path } : Object.fromEntries(step.path.map((path, i) => [`path.${i}`, path]))) : { snapshot: step.snapshot, initialCluster: step.initialCluster, token: step.token, bumpRevision: step.bumpRevision, markCompacted: step.markCompacted, skipHashCheck: step.skipHashCheck, ownerFrom: step.ownerFrom };
      params(step.kind === 'edit-config' ? at('set') : base, fields);
      break;
    }
    case 'renew-certificates':
      if (step.target === 'local') add(at('target'), 'a renew-certificates step runs on a member (its certificates and keys): use each-member, member or a repeat\'s member');
      params(base, { ...Object.fromEntries(step.certificates.map((c, i) => [`certificates.${i}`, c])), 'ca.node': step.ca.node, 'ca.dir': step.ca.dir, days: step.days });
      break;
    case 'etcd':
      params(at('with'), step.with);
      for (const name of ETCD_ACTION_PARAMS[step.action]) {
        if (step.with?.[name] === undefined) add(at('with'), `etcd action ${step.action} needs "${name}"`);
      }
      break;
    case 'wait':
      params(at('with'), step.with);
      for (const name of WAIT_PARAMS[step.until] ?? []) {
        if (step.with?.[name] === undefined) add(at('with'), `wait until ${step.until} needs "${name}"`);
      }
      break;
  }

  const guards = step.guards.map((g, j) => ({ g, path: at('guards', j), within: scope }));
  if (step.check) guards.push({ g: step.check, path: at('check'), within: once });
  checkGuardRefs(guards, guardNames, add);
}

/** Each guard's name against the registry, its parameters against the guard's, its templates against the scope. */
function checkGuardRefs(guards: Array<{ g: GuardRef; path: PathSegment[]; within: ShapeScope }>, guardNames: readonly string[], add: Add): void {
  const plain = (path: PathSegment[], text: string, within: ShapeScope) => {
    for (const message of checkTemplate(text, within, { shell: false })) add(path, message);
  };
  const params = (path: PathSegment[], record: Record<string, unknown> | undefined, within: ShapeScope) => {
    for (const [key, value] of Object.entries(record ?? {})) if (typeof value === 'string') plain([...path, key], value, within);
  };
  for (const { g, path, within } of guards) {
    if (!guardNames.includes(g.check)) {
      add([...path, 'check'], `unknown guard "${g.check}" (known: ${guardNames.join(', ')})`);
      continue;
    }
    params([...path, 'with'], g.with, within);
    if (g.message) plain([...path, 'message'], g.message, within);
    const definition = Object.hasOwn(GUARDS, g.check) ? GUARDS[g.check as keyof typeof GUARDS] : undefined;
    if (!definition) continue;
    for (const p of definition.params) {
      if (p.required && g.with?.[p.name] === undefined) add([...path, 'with'], `guard ${g.check} needs "${p.name}" (${p.description})`);
    }
    for (const key of Object.keys(g.with ?? {})) {
      if (!definition.params.some((p) => p.name === key)) {
        const known = definition.params.map((p) => p.name);
        add([...path, 'with', key], `guard ${g.check} has no parameter "${key}" (${known.length > 0 ? `it takes ${known.join(', ')}` : 'it takes none'})`, true);
      }
    }
  }
}

/**
 * What in a `filesOnly` command changes more than files: a service's start
 * or stop fragment, systemctl starting or stopping a unit, a signal sent, or
 * an etcdctl write. A check on the text, so it catches slips, not intent.
 */
function notFilesOnly(run: string): string | undefined {
  const fragment = templatePathsOrNone(run).find((p) => p.length >= 2 && ['start', 'stop'].includes(p[p.length - 1] ?? '') && ['service', 'kubelet', 'controlPlane'].includes(p[p.length - 2] ?? ''));
  if (fragment) return `runs {{ ${fragment.join('.')} }}`;
  const text = run.replace(/\{\{[^}]*\}\}/g, ' ');
  const systemctl = /\bsystemctl\s+(?:--\S+\s+)*(start|stop|restart|reload|kill|enable\s+--now|disable\s+--now)\b/.exec(text);
  if (systemctl) return `runs systemctl ${systemctl[1]}`;
  const signal = /(?:^|[;&|(!]\s*|\b(?:if|then|else|do)\s+)(kill|pkill|killall)\b/.exec(text);
  if (signal) return `sends a signal (${signal[1]})`;
  const write = /\b(put|del|txn|compaction|defrag|move-leader|member\s+(?:add|remove|update|promote)|alarm\s+disarm)\b/.exec(text);
  if (write && /\b(etcdctl|tools\.etcdctl)\b/.test(run)) return `writes to etcd (${write[1]})`;
  return undefined;
}

/** The parameters each etcd action cannot run without (engine/etcd-actions.ts). */
const ETCD_ACTION_PARAMS: Record<EtcdAction, string[]> = {
  'snapshot-save': ['path'],
  'member-remove': ['member'],
  'member-add': ['name', 'peerURL'],
  'member-promote': ['member'],
  'member-list': [],
  status: [],
  compact: [],
  defragment: [],
  'alarm-disarm': [],
  'write-probe': ['key'],
};

/** The parameters wait conditions cannot run without (engine/wait-conditions.ts). */
const WAIT_PARAMS: Partial<Record<string, string[]>> = {
  'member-healthy': ['member'],
  'member-in-sync': ['member'],
  'member-rejoined': ['member'],
};

/** zod reports a bad `kind` as a failed union on the step; say it is the kind. */
function unknownKind(code: string, path: PathSegment[], input: unknown): { path: PathSegment[]; message: string } | undefined {
  if (code !== 'invalid_union' || path[0] !== 'steps' || typeof path[1] !== 'number') return undefined;
  // a step at the top level (steps[i]) or in a repeat (steps[i].steps[j])
  const depth = path[2] === 'steps' && typeof path[3] === 'number' ? 4 : 2;
  if (path.length > depth + 1 || (path.length === depth + 1 && path[depth] !== 'kind')) return undefined;
  const step = valueAt(input, path.slice(0, depth));
  if (!step || typeof step !== 'object' || Array.isArray(step)) return undefined;
  const kind = (step as Record<string, unknown>).kind;
  const kinds = STEP_KINDS.join(', ');
  const at = [...path.slice(0, depth), 'kind'];
  if (kind === undefined) return { path: at, message: `is required: one of ${kinds}` };
  return { path: at, message: `unknown step kind ${JSON.stringify(kind)}: must be one of ${kinds}` };
}


function validEntries<T>(list: unknown, parse: (value: unknown) => { success: true; data: T } | { success: false }): Array<{ index: number; value: T }> {
  if (!Array.isArray(list)) return [];
  const out: Array<{ index: number; value: T }> = [];
  list.forEach((item, index) => {
    const parsed = parse(item);
    if (parsed.success) out.push({ index, value: parsed.data });
  });
  return out;
}

/**
 * Parses and checks a runbook; any problem is thrown as one line
 * (`file:line: steps[2].kind: …`) with a count of the others.
 */
export function parseRunbook(text: string, fileName: string, options: LintOptions = {}): Runbook {
  const { problems, runbook } = examineFile(text, fileName, options, 'runbook');
  const first = problems[0];
  if (first || !runbook) {
    const more = problems.length > 1 ? `${andMore(problems.length - 1)}; run 'etcd-runbook lint ${fileName}' to see them all` : '';
    throw new OperatorError(first ? `${formatProblem(first)}${more}` : `${fileName}: not a runbook`);
  }
  return runbook;
}

export async function loadRunbookFile(path: string, options: LintOptions = {}): Promise<Runbook> {
  let text: string;
  try {
    text = embeddedText(path) ?? (await readFile(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new OperatorError(`${path}: cannot read the runbook (${code})`);
  }
  return parseRunbook(text, path, options);
}

/**
 * The single-file package (scripts/package.mjs) has no runbooks directory:
 * its entry sets this global to the shipped runbooks' text by file name, and
 * they are listed and read under EMBEDDED_RUNBOOK_DIR instead of the disk.
 */
export const EMBEDDED_RUNBOOK_DIR = '(built-in runbooks)';

function embeddedText(path: string): string | undefined {
  const prefix = `${EMBEDDED_RUNBOOK_DIR}/`;
  const embedded = embeddedRunbooks();
  if (!embedded || !path.startsWith(prefix)) return undefined;
  const name = path.slice(prefix.length);
  return Object.hasOwn(embedded, name) ? embedded[name] : undefined;
}

/** `<package root>/runbooks`, from src (vitest) or dist/src (the built CLI); the embedded ones in the package. */
export function shippedRunbookDir(): string {
  if (embeddedRunbooks()) return EMBEDDED_RUNBOOK_DIR;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'runbooks');
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export interface RunbookEntry {
  id: string;
  title: string;
  appliesTo: Runbook['appliesTo'];
  file: string;
}

/** The runbooks of a directory, each file read and checked once. */
export interface RunbookCatalogue {
  /** by id */
  runbooks: Array<{ runbook: Runbook; file: string }>;
  /** a file that failed to load: its first problem, one line each */
  problems: string[];
}

/**
 * Every runbook in a directory (*.yaml, *.yml; the embedded ones in the
 * one-file executable). A file that fails to load is a problem in the
 * catalogue, not the end of it; a directory that cannot be listed is an error.
 */
export async function loadCatalogue(dir: string = shippedRunbookDir()): Promise<RunbookCatalogue> {
  let names: string[];
  try {
    names = dir === EMBEDDED_RUNBOOK_DIR && embeddedRunbooks() ? Object.keys(embeddedRunbooks() ?? {}) : await readdir(dir);
  } catch (err) {
    throw new OperatorError(`${dir}: cannot list runbooks (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const runbooks: RunbookCatalogue['runbooks'] = [];
  const problems: string[] = [];
  // shared step files (shared/…) are taken in by the runbooks that include them, never listed
  for (const name of names.filter((n) => /\.ya?ml$/.test(n) && !n.includes('/')).sort()) {
    const file = join(dir, name);
    try {
      runbooks.push({ runbook: await loadRunbookFile(file), file });
    } catch (err) {
      problems.push(messageOf(err));
    }
  }
  return { runbooks: runbooks.sort((a, b) => a.runbook.id.localeCompare(b.runbook.id)), problems };
}

/** The runbooks in a directory, by id; a broken one throws its first problem. */
export async function listRunbooks(dir: string = shippedRunbookDir()): Promise<RunbookEntry[]> {
  const { runbooks, problems } = await loadCatalogue(dir);
  if (problems[0] !== undefined) throw new OperatorError(problems[0]);
  return runbooks.map(({ runbook, file }) => ({ id: runbook.id, title: runbook.title, appliesTo: runbook.appliesTo, file }));
}

/** A runbook by id: `<dir>/<id>.yaml` when it declares that id, else any file that does. */
export async function findRunbook(id: string, dir: string = shippedRunbookDir()): Promise<Runbook> {
  for (const ext of ['yaml', 'yml']) {
    const file = join(dir, `${id}.${ext}`);
    if (embeddedText(file) !== undefined || existsSync(file)) {
      const runbook = await loadRunbookFile(file);
      if (runbook.id === id) return runbook;
    }
  }
  const entries = await listRunbooks(dir);
  const entry = entries.find((e) => e.id === id);
  if (!entry) {
    throw new OperatorError(`no runbook "${id}" in ${dir} (known: ${entries.map((e) => e.id).join(', ') || 'none'}); or pass a file: etcd-runbook plan ./my-runbook.yaml`);
  }
  return loadRunbookFile(entry.file);
}
