import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
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
