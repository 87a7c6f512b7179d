#!/usr/bin/env node
import { drillCommand, drillHelp } from './drill.js';
import { interactiveCommand } from './interactive.js';
import { lintCommand, lintHelp } from './lint.js';
import { planCommand, planHelp } from './plan.js';
import { resumeCommand, resumeHelp, runCommand, runHelp } from './run.js';
import { statusCommand, statusHelp } from './status.js';
import { OperatorError, ExitCode, messageOf } from '../util/errors.js';

const commands: Record<string, { run: (argv: string[]) => Promise<number>; help: string; summary: string }> = {
  status: { run: statusCommand, help: statusHelp, summary: 'health table and verdict (exit code says the state)' },
  plan: { run: planCommand, help: planHelp, summary: 'the runbook rendered for this cluster, executing nothing' },
  run: { run: runCommand, help: runHelp, summary: 'step through a runbook, each step confirmed (--dry-run records instead)' },
  resume: { run: resumeCommand, help: resumeHelp, summary: 'continue an interrupted run from its journal' },
  lint: { run: lintCommand, help: lintHelp, summary: 'validate runbook files (errors name file, line and field)' },
  drill: { run: drillCommand, help: drillHelp, summary: 'rehearse a recovery on a real local cluster: fault, runbook, time to healthy' },
};

const usage = `Usage: etcd-runbook [command] [flags]

Guided, guarded etcd disaster recovery for Kubernetes control planes.
Without a command: the interactive view (detect, propose a runbook, step
through it; needs a terminal — see 'etcd-runbook --help-interactive').

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`).join('\n')}

Run 'etcd-runbook <command> --help' for a command's flags.`;

async function main(argv: string[]): Promise<number> {
  quietIpServerNameWarning();
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (name === '--help-interactive') return interactiveCommand(['--help']);
  // no command, or only flags: the interactive view
  if (name === undefined || name.startsWith('-')) return interactiveCommand(argv);
  const command = commands[name];
  if (!command) throw new OperatorError(`unknown command "${name}": run etcd-runbook --help`);
  return command.run(rest);
}

/**
 * grpc-js sets the TLS server name to the endpoint's host even when it is an
 * IP address, and Node warns about that on every run (DEP0123). The check the
 * warning is about still happens (the cert's IP SANs are verified); the
 * warning would only bury the output an operator reads.
 */
function quietIpServerNameWarning(): void {
  const original = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
    if (code === 'DEP0123') return;
    (original as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}

/**
 * Exit once output is flushed, rather than when the event loop drains: a
 * connection to a frozen member can sit in its TLS handshake for minutes
 * after its client was closed, and must not hold the operator's shell.
 */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(exitAfterFlush, (err: unknown) => {
  const known = err instanceof OperatorError;
  const parseError = (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`etcd-runbook: ${messageOf(err)}${parseError ? ' (see --help)' : ''}\n`);
  if (!known && !parseError && process.env.ETCD_RUNBOOK_DEBUG) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
  exitAfterFlush(known ? err.exitCode : ExitCode.configError);
});
