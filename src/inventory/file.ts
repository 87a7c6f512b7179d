import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { z } from 'zod';
import { OperatorError } from '../util/errors.js';
import { inventorySchema, type Inventory } from './schema.js';
import { andMore, formatPath, lineOfPath, parseYamlSource, type PathSegment, type YamlSource } from './yaml-source.js';

/** Reads and validates `--inventory <path>`. */
export async function loadInventoryFile(path: string): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new OperatorError(`${path}: cannot read (${code}): check the --inventory path`);
  }
  return parseInventory(text, path);
}

/**
 * Parses an inventory. Any problem is thrown as one line an operator can
 * act on: `cluster.yaml:7: members[1].peerURLs[0]: must be ...`, the first
 * problem in file order, with a count of the others.
 */
export function parseInventory(text: string, fileName: string): Inventory {
  const source = parseYamlSource(text, fileName);
  if (source.document.contents === null) {
    throw new OperatorError(`${fileName}:1: the file is empty: expected an inventory with members:`);
  }
  const input: unknown = source.document.toJS();
  const result = inventorySchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues
    .map((issue) => describeIssue(issue, input, source))
    .sort((a, b) => a.line - b.line);
  const first = problems[0];
  if (!first) throw new OperatorError(`${fileName}: not a valid inventory`);
  const more = problems.length > 1 ? andMore(problems.length - 1) : '';
  throw new OperatorError(`${fileName}:${first.line}: ${first.path}: ${first.message}${more}`);
}

interface Problem {
  line: number;
  path: string;
  message: string;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown, source: YamlSource): Problem {
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

function valueAt(input: unknown, path: ReadonlyArray<PathSegment>): unknown {
  let value = input;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PathSegment, unknown>)[segment];
  }
  return value;
}

const HEADER = [
  'etcd-runbook inventory: the etcd members, how to reach their nodes, where their files are.',
  'Use it with: etcd-runbook --inventory <this file>',
];

/**
 * YAML for an inventory, e.g. a discovered one the operator saves.
 * Validating first puts keys in the schema's order, so two saves of the
 * same cluster are byte-identical. `notes` (what was guessed) become
 * header comments, so the file says what nobody has confirmed.
 */
export function serializeInventory(inventory: Inventory, notes: ReadonlyArray<string> = []): string {
  const ordered = inventorySchema.parse(inventory);
  // a note with a newline would end the comment and corrupt the YAML
  const header = [...HEADER, ...notes].map((line) => `# ${line.replace(/\s*[\r\n]+\s*/g, ' ')}`.trimEnd()).join('\n');
  return `${header}\n${stringify(ordered, { lineWidth: 0 })}`;
}
