#!/usr/bin/env node
import { OperatorError, ExitCode, messageOf } from '../util/errors.js';
import { quietIpServerNameWarning } from '../util/warnings.js';

type Command = (argv: string[]) => Promise<number>;

/**
 * A command's module is imported only when that command runs: the etcd
 * client (gRPC), SSH, the lab and the view each cost startup time, and the
 * interactive view must draw its first frame as early as it can.
 */
const commands: Record<string, { load: () => Promise<Command>; summary: string }> = {
  status: { load: async () => (await import('./status.js')).statusCommand, summary: 'health table and verdict (exit code says the state)' },
  plan: { load: async () => (await import('./plan.js')).planCommand, summary: 'the runbook rendered for this cluster, executing nothing' },
  run: { load: async () => (await import('./run.js')).runCommand, summary: 'step through a runbook, each step confirmed (--dry-run records instead)' },
  resume: { load: async () => (await import('./run.js')).resumeCommand, summary: 'continue an interrupted run from its journal' },
  inventory: { load: async () => (await import('./inventory.js')).inventoryCommand, summary: 'print the cluster description in use as an inventory file (--inventory reads it)' },
  lint: { load: async () => (await import('./lint.js')).lintCommand, summary: 'validate runbook files (errors name file, line and field)' },
  lab: { load: async () => (await import('./lab.js')).labCommand, summary: 'a lab of real nodes to practise on by hand: up, exec, fault, down (root)' },
  drill: { load: async () => (await import('./drill.js')).drillCommand, summary: 'rehearse a recovery on a real local cluster: fault, runbook, time to healthy' },
};

const interactive = async (argv: string[]): Promise<number> => (await import('./interactive.js')).interactiveCommand(argv);

const usage = `Usage: etcd-runbook [command] [flags]

Guided, guarded etcd disaster recovery for Kubernetes control planes.
Without a command: the interactive view (detect, propose a runbook, step
through it; needs a terminal — see 'etcd-runbook --help-interactive').

Commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n')}

Run 'etcd-runbook <command> --help' for a command's flags.`;

async function main(argv: string[]): Promise<number> {
  quietIpServerNameWarning();
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (name === '--help-interactive') return interactive(['--help']);
  // no command, or only flags: the interactive view
  if (name === undefined || name.startsWith('-')) return interactive(argv);
  const command = commands[name];
  if (!command) throw new OperatorError(`unknown command "${name}": run etcd-runbook --help`);
  return (await command.load())(rest);
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
