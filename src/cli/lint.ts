import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatProblem, lintRunbook, type Problem } from '../runbook/loader.js';
import { ExitCode, OperatorError } from '../util/errors.js';

export const lintHelp = `Usage: etcd-runbook lint FILE...

Validate runbook files, and shared step files (runbooks/shared/*.yaml, with
"shared:" at the top; a runbook's includes are checked with it too): the
schema, every template variable against what the
context provides, "raw" only on command fragments, guard names and their
parameters, step kinds, and member/survivor targets against the declared
inputs. Prints every problem as file:line: field: message.

Exit code: 0 clean, 4 problems found (or a file could not be read).`;

export async function lintCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(`${lintHelp}\n`);
    return 0;
  }
  if (positionals.length === 0) throw new OperatorError('lint needs at least one runbook file: etcd-runbook lint runbooks/backup.yaml');
  const problems = await lintFiles(positionals);
  for (const problem of problems) process.stdout.write(`${formatProblem(problem)}\n`);
  if (problems.length === 0) {
    process.stdout.write(`${positionals.length} runbook${positionals.length === 1 ? '' : 's'} OK\n`);
    return 0;
  }
  process.stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${new Set(problems.map((p) => p.file)).size} of ${positionals.length} file${positionals.length === 1 ? '' : 's'}\n`);
  return ExitCode.configError;
}

/** Every problem in every file; an unreadable file is a problem too. */
export async function lintFiles(files: string[]): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      problems.push({ file, line: 1, field: '(file)', message: `cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      continue;
    }
    problems.push(...lintRunbook(text, file));
  }
  return problems;
}
