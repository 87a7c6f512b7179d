import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { OperatorError } from '../util/errors.js';
import { inventorySchema, type Inventory } from './schema.js';
import { andMore, describeZodIssue, parseYamlSource } from './yaml-source.js';

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
    .map((issue) => describeZodIssue(issue, input, source))
    .sort((a, b) => a.line - b.line);
  const first = problems[0];
  if (!first) throw new OperatorError(`${fileName}: not a valid inventory`);
  const more = problems.length > 1 ? andMore(problems.length - 1) : '';
  throw new OperatorError(`${fileName}:${first.line}: ${first.path}: ${first.message}${more}`);
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
