import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { OperatorError } from '../util/errors.js';

/**
 * A YAML file parsed with its source positions kept, so every later error
 * (schema, missing container, bad flag) can say `file:line`.
 */
export interface YamlSource {
  fileName: string;
  document: Document.Parsed;
  lineCounter: LineCounter;
}

/** Parses YAML; a syntax error is thrown as one `file:line: what` line. */
export function parseYamlSource(text: string, fileName: string): YamlSource {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const error = document.errors[0];
  if (error) {
    // errors found at end of input (an unclosed quote) belong to the last written line
    const offset = Math.max(0, Math.min(error.pos[0], text.trimEnd().length - 1));
    const line = lineCounter.linePos(offset).line;
    const more = document.errors.length > 1 ? andMore(document.errors.length - 1) : '';
    throw new OperatorError(`${fileName}:${line}: YAML syntax error: ${firstLine(error.message)}${more}`);
  }
  return { fileName, document, lineCounter };
}

export function andMore(count: number): string {
  return ` (and ${count} more problem${count === 1 ? '' : 's'})`;
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.trim() ?? message;
}

export type PathSegment = string | number;

/**
 * The line of the node at `path`, or of the nearest parent that exists when
 * the path names something missing (a required field that is absent).
 * `atKey` points at the key itself, e.g. for an unknown field.
 */
export function lineOfPath(source: YamlSource, path: ReadonlyArray<PathSegment>, atKey = false): number {
  let node: unknown = source.document.contents;
  let offset = rangeStart(node) ?? 0;
  for (const segment of path) {
    const step = childOf(node, segment);
    if (!step) break;
    node = step.value;
    const start = (atKey ? rangeStart(step.key) : undefined) ?? rangeStart(step.value) ?? rangeStart(step.key);
    if (start !== undefined) offset = start;
  }
  return source.lineCounter.linePos(offset).line;
}

function childOf(node: unknown, segment: PathSegment): { key?: unknown; value: unknown } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
    return pair ? { key: pair.key, value: pair.value } : undefined;
  }
  if (isSeq(node) && typeof segment === 'number') {
    const item: unknown = node.items[segment];
    return item === undefined ? undefined : { value: item };
  }
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  // an empty value (`key:` and nothing) has no text of its own: use the key's line
  if (!range || (range[0] === range[1] && isScalar(node) && node.value === null)) return undefined;
  return range[0];
}

/** `members[1].peerURLs[0]`: the path the operator would type to find the field. */
export function formatPath(path: ReadonlyArray<PathSegment>): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text === '' ? '(top level)' : text;
}

/** One problem in a YAML file: its line, the field as the operator would type it, what to do. */
export interface SourceProblem {
  line: number;
  path: string;
  message: string;
}

/**
 * A zod issue as an operator reads it: the line of the field (of the unknown
 * key itself for a misspelt field), the field path, and what to write instead.
 * Shared by the inventory and runbook loaders.
 */
export function describeZodIssue(issue: z.core.$ZodIssue, input: unknown, source: YamlSource): SourceProblem {
  const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    // point at the first unknown key itself, the line the operator must fix
    const key = issue.keys[0] ?? '';
    const others = issue.keys.length > 1 ? ` (also ${issue.keys.slice(1).map((k) => `"${k}"`).join(', ')})` : '';
    return {
      line: lineOfPath(source, [...path, key], true),
      path: formatPath([...path, key]),
      message: `unknown field${others}: check the spelling`,
    };
  }
  return { line: lineOfPath(source, path), path: formatPath(path), message: issueMessage(issue, valueAt(input, path)) };
}

/** zod's wording, turned into what the operator must write instead. */
function issueMessage(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return 'is required';
      return `must be ${article(issue.expected)}, got ${kindOf(value)}`;
    case 'too_small':
      if (issue.origin === 'array') return `must list at least ${String(issue.minimum)} entr${issue.minimum === 1 ? 'y' : 'ies'}`;
      if (issue.origin === 'string') return 'must not be empty';
      return `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    case 'invalid_value':
      return `must be ${issue.values.map((option) => JSON.stringify(option)).join(' or ')}, got ${JSON.stringify(value) ?? 'nothing'}`;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  if (expected === 'int') return 'a whole number';
  if (expected === 'object') return 'a mapping (key: value)';
  if (expected === 'array') return 'a list';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function kindOf(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' && !Number.isInteger(value)) return String(value);
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The parsed value at a path (a zod issue's path), or undefined when it is not there. */
export function valueAt(input: unknown, path: ReadonlyArray<PathSegment>): unknown {
  let value = input;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PathSegment, unknown>)[segment];
  }
  return value;
}
