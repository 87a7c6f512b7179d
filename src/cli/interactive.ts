import { parseArgs } from 'node:util';
import { clusterTargetFrom } from '../session/cluster-target.js';
import { connectionFlags, connectionFlagsHelp } from './connection-flags.js';

export const interactiveHelp = `Usage: etcd-runbook [--dry-run] [--set name=value]... [--journal-dir DIR] [connection flags]

The interactive view (needs a terminal): probes every member, shows the
health table and the verdict with its evidence, proposes the runbook that
fits, and steps through it — each step shows its host, exact command, risk
and guards, and runs only when you press y (destructive steps: type the
member or host name). The health table refreshes every 2 s throughout.

Keys: ↑/↓ and Enter choose a runbook (digits do nothing); in a step,
y run, s skip, r retry, o override, a abort, ? help; Ctrl-C during a
running step asks whether to abandon it, elsewhere quits.

Without a terminal, use 'etcd-runbook status' (table and verdict) or
'etcd-runbook plan <runbook>' (the steps), or 'run <runbook> --yes'.

  --dry-run            probes and read-only steps run; every change is
                       recorded (transcript), not made
  --set NAME=VALUE     a runbook input (e.g. --set member=m3)
  --journal-dir DIR    where journals and transcripts go

${connectionFlagsHelp}`;


export async function interactiveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...connectionFlags, 'dry-run': { type: 'boolean' }, set: { type: 'string', multiple: true }, 'journal-dir': { type: 'string' } },
    allowPositionals: false,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${interactiveHelp}\n`);
    return 0;
  }
  const { refuseWithoutTerminal, runInteractive } = await import('./full-screen-view.js');
  refuseWithoutTerminal();
  const target = await clusterTargetFrom(values);
  return runInteractive({ kind: 'detect', target, dryRun: Boolean(values['dry-run']), sets: values.set ?? [], journalDir: values['journal-dir'], noColor: values['no-color'] });
}
