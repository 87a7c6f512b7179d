import { shellQuote } from '../util/shell.js';

/**
 * The runbook template language, kept tiny on purpose:
 *
 *   {{ path }}          a value: member.dataDir, detection.unhealthyMembers.0, inputs.member
 *   {{ path | raw }}    a command fragment inserted unquoted (member.service.stop): only
 *                       values the context declares as fragments may be raw
 *
 * In shell mode (a command step's `run:`) every value goes through shellQuote,
 * the one quoting function, so a member named `a;rm -rf /` is one inert word;
 * a list becomes its quoted elements joined by spaces. In plain mode (titles,
 * instructions, paths, parameters) values are inserted as they are; a list is
 * joined by commas. An unknown path or a value the inventory does not give is
 * an error, never a blank.
 */

export type TemplatePart =
  | { kind: 'text'; text: string }
  | {
      kind: 'value';
      /** path segments: ['detection', 'unhealthyMembers', '0'] */
      path: string[];
      raw: boolean;
      /** the text between the braces, for messages */
      source: string;
    };

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

/** A value the context declares as a shell command fragment (allowed with `| raw`). */
export class CommandFragment {
  constructor(readonly command: string) {}
  toString(): string {
    return this.command;
  }
}

/** A value the inventory or detection does not give; using it is an error that says what to set. */
export class Unset {
  /** why: "m3 has no pkiDir: set members[2].node.paths.pkiDir in the inventory" */
  constructor(readonly reason: string) {}
}

export type ContextValue = string | number | boolean | CommandFragment | Unset | ContextValue[] | ContextObject;
export interface ContextObject {
  [key: string]: ContextValue;
}

const PATH = /^[A-Za-z_][A-Za-z0-9_]*(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|\d+))*$/;

/** Splits a template into text and `{{ }}` parts; a malformed `{{ }}` is a TemplateError. */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf('{{', at);
    if (open < 0) {
      parts.push({ kind: 'text', text: text.slice(at) });
      break;
    }
    if (open > at) parts.push({ kind: 'text', text: text.slice(at, open) });
    const close = text.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError(`unclosed "{{" at "${excerpt(text.slice(open))}": close it with "}}"`);
    const inner = text.slice(open + 2, close);
    if (inner.includes('{{')) throw new TemplateError(`unclosed "{{" at "${excerpt(text.slice(open))}": close it with "}}"`);
    parts.push(parseExpression(inner.trim()));
    at = close + 2;
  }
  const stray = parts.find((p): p is { kind: 'text'; text: string } => p.kind === 'text' && p.text.includes('}}'));
  if (stray) throw new TemplateError(`"}}" without "{{" in "${excerpt(stray.text)}"`);
  return parts;
}

function parseExpression(source: string): TemplatePart {
  const [pathText = '', ...filters] = source.split('|').map((s) => s.trim());
  if (pathText === '') throw new TemplateError('empty "{{ }}": name a value, e.g. {{ member.name }}');
  if (!PATH.test(pathText)) {
    throw new TemplateError(`"{{ ${source} }}": "${pathText}" is not a path: use dotted names and list indexes, e.g. detection.unhealthyMembers.0`);
  }
  let raw = false;
  for (const filter of filters) {
    if (filter === 'raw' && !raw) raw = true;
    else throw new TemplateError(`"{{ ${source} }}": unknown filter "${filter}" (the only filter is "raw")`);
  }
  return { kind: 'value', path: pathText.split('.'), raw, source };
}

function excerpt(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

export interface RenderOptions {
  /** a command that reaches a shell: every value is quoted */
  shell: boolean;
}

/** Fills a template from the context; any problem is a TemplateError naming the path. */
export function renderTemplate(text: string, context: ContextObject, options: RenderOptions): string {
  return parseTemplate(text)
    .map((part) => (part.kind === 'text' ? part.text : renderValue(part, context, options)))
    .join('');
}

/** The paths a template uses, in order (for static checks). */
function templatePaths(text: string): Array<Extract<TemplatePart, { kind: 'value' }>> {
  return parseTemplate(text).filter((p): p is Extract<TemplatePart, { kind: 'value' }> => p.kind === 'value');
}

/** The paths a template uses, or none when it does not parse (its own check reports that). */
export function templatePathsOrNone(text: string): string[][] {
  try {
    return templatePaths(text).map((p) => p.path);
  } catch {
    return [];
  }
}

function renderValue(part: Extract<TemplatePart, { kind: 'value' }>, context: ContextObject, options: RenderOptions): string {
  const name = part.path.join('.');
  const value = resolvePath(context, part.path);
  // a missing value says what to set, whatever the filter
  if (value instanceof Unset) throw new TemplateError(`{{ ${name}${part.raw ? ' | raw' : ''} }}: ${value.reason}`);
  if (value instanceof CommandFragment) {
    if (!options.shell) return value.command;
    if (part.raw) return value.command;
    throw new TemplateError(`{{ ${name} }} is a command: write {{ ${name} | raw }} to run it`);
  }
  if (part.raw) {
    throw new TemplateError(`{{ ${name} | raw }}: "raw" is only for command fragments (the member's service, kubelet and controlPlane start, stop, isActive); every other value is quoted`);
  }
  if (Array.isArray(value)) {
    const items = value.map((item, index) => scalar(item, `${name}.${index}`));
    return options.shell ? items.map(shellQuote).join(' ') : items.join(',');
  }
  const text = scalar(value, name);
  return options.shell ? shellQuote(text) : text;
}

function scalar(value: ContextValue, name: string): string {
  if (value instanceof Unset) throw new TemplateError(`{{ ${name} }}: ${value.reason}`);
  if (value instanceof CommandFragment) return value.command;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) throw new TemplateError(`{{ ${name} }} is a list inside a list: name one entry`);
  throw new TemplateError(`{{ ${name} }} is a group of values (${Object.keys(value).join(', ')}): name one of them, e.g. ${name}.${Object.keys(value)[0] ?? 'name'}`);
}

/** Walks the context; an unknown name or a missing list entry is a TemplateError. */
export function resolvePath(context: ContextObject, path: ReadonlyArray<string>): ContextValue {
  let value: ContextValue = context;
  const walked: string[] = [];
  for (const segment of path) {
    const here = walked.length === 0 ? 'the template context' : walked.join('.');
    if (value instanceof Unset) throw new TemplateError(`{{ ${path.join('.')} }}: ${value.reason}`);
    walked.push(segment);
    if (Array.isArray(value)) {
      if (!/^\d+$/.test(segment)) throw new TemplateError(`{{ ${path.join('.')} }}: ${here} is a list: index it with a number, e.g. ${here}.0`);
      const item: ContextValue | undefined = value[Number(segment)];
      if (item === undefined) {
        throw new TemplateError(`{{ ${path.join('.')} }}: ${here} has no entry ${segment} (it has ${value.length}${value.length === 0 ? ': it is empty' : ''})`);
      }
      value = item;
      continue;
    }
    if (typeof value !== 'object' || value instanceof CommandFragment) {
      throw new TemplateError(`{{ ${path.join('.')} }}: ${here} is a single value, it has no "${segment}"`);
    }
    if (!Object.hasOwn(value, segment)) {
      const known = Object.keys(value);
      throw new TemplateError(`unknown variable {{ ${path.join('.')} }}: ${here} has ${known.length > 0 ? known.join(', ') : 'nothing'}`);
    }
    value = value[segment] as ContextValue;
  }
  return value;
}

// ---- static checks (lint, without a cluster) -----------------------------------

/** The static shape of a context: which paths exist and which are command fragments. */
export type Shape =
  | { type: 'value' }
  | { type: 'fragment' }
  | { type: 'list'; of: Shape }
  | { type: 'object'; fields: Record<string, Shape> };

export interface ShapeScope {
  shape: Extract<Shape, { type: 'object' }>;
  /** roots that exist elsewhere but not here, with why: { member: 'only steps that run on members have it' } */
  absent?: Record<string, string>;
}

/**
 * Every problem with a template against a shape: syntax, unknown variables,
 * `raw` on a value that is not a command fragment, a command fragment used
 * quoted in a shell command. Empty when the template is fine.
 */
export function checkTemplate(text: string, scope: ShapeScope, options: RenderOptions): string[] {
  let parts: TemplatePart[];
  try {
    parts = parseTemplate(text);
  } catch (err) {
    return [(err as Error).message];
  }
  const problems: string[] = [];
  for (const part of parts) {
    if (part.kind !== 'value') continue;
    const problem = checkPart(part, scope, options);
    if (problem) problems.push(problem);
  }
  return problems;
}

function checkPart(part: Extract<TemplatePart, { kind: 'value' }>, scope: ShapeScope, options: RenderOptions): string | undefined {
  const name = part.path.join('.');
  const root = part.path[0] ?? '';
  if (!Object.hasOwn(scope.shape.fields, root) && scope.absent && Object.hasOwn(scope.absent, root)) {
    return `{{ ${name} }}: ${scope.absent[root]}`;
  }
  let shape: Shape = scope.shape;
  const walked: string[] = [];
  for (const segment of part.path) {
    const here = walked.length === 0 ? 'the template context' : walked.join('.');
    walked.push(segment);
    if (shape.type === 'list') {
      if (!/^\d+$/.test(segment)) return `{{ ${name} }}: ${here} is a list: index it with a number, e.g. ${here}.0`;
      shape = shape.of;
    } else if (shape.type === 'object') {
      const next: Shape | undefined = Object.hasOwn(shape.fields, segment) ? shape.fields[segment] : undefined;
      if (!next) return `unknown variable {{ ${name} }}: ${here} has ${Object.keys(shape.fields).join(', ') || 'nothing'}`;
      shape = next;
    } else {
      return `unknown variable {{ ${name} }}: ${here} is a single value, it has no "${segment}"`;
    }
  }
  if (shape.type === 'fragment') {
    if (options.shell && !part.raw) return `{{ ${name} }} is a command: write {{ ${name} | raw }} to run it`;
    return undefined;
  }
  if (part.raw) {
    return `{{ ${name} | raw }}: "raw" is only for command fragments (the member's service, kubelet and controlPlane start, stop, isActive); every other value is quoted`;
  }
  if (shape.type === 'object') {
    const first = Object.keys(shape.fields)[0] ?? 'name';
    return `{{ ${name} }} is a group of values: name one of them, e.g. ${name}.${first}`;
  }
  return undefined;
}
