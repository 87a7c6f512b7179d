import { parseArgs } from 'node:util';
import { EXPECTED_VERDICT, FAULTS, startFaultedLab, waitForVerdict, type Fault } from '../lab/faults.js';
import { colorEnabled } from '../util/color.js';
import { ExitCode, OperatorError } from '../util/errors.js';
import { clusterTargetFrom } from './cluster-target.js';
import { statusText } from './status.js';
import { probeCluster } from '../cluster/probe.js';

export const drillHelp = `Usage: etcd-runbook drill [--members 3|5] [--fault ${FAULTS.join('|')}] [--ssh] [--keep]

Start a real etcd cluster on loopback (TLS, its own PKI, members on
127.0.0.11, .12, …), inject the fault, detect it exactly as on a real
master, print the health table and verdict, and stop everything it started.
Exits 0 when the verdict is the one the fault must produce.

  --members N   cluster size: 3 (default) or 5
  --fault F     none | minority (default) | quorum | frozen | split-brain
  --ssh         reach every member's node over SSH (an sshd per member
                address), exercising the same transport as production
  --keep        keep the lab directory (PKI, data, logs, inventory) afterwards
  --no-color    plain output (NO_COLOR is honoured too)

This release stops after detection; stepping through the recovery runbook
in the interactive view comes with the runbook engine and TUI.`;

export async function drillCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      members: { type: 'string', default: '3' },
      fault: { type: 'string', default: 'minority' },
      keep: { type: 'boolean' },
      ssh: { type: 'boolean' },
      'no-color': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${drillHelp}\n`);
    return 0;
  }
  const members = Number(values.members);
  if (members !== 3 && members !== 5) throw new OperatorError(`--members ${values.members}: a drill cluster has 3 or 5 members`);
  const fault = values.fault as Fault;
  if (!FAULTS.includes(fault)) throw new OperatorError(`--fault ${values.fault}: choose one of ${FAULTS.join(', ')}`);

  process.stdout.write(`starting a ${members}-member etcd lab on loopback…\n`);
  const { lab, victims } = await startFaultedLab(fault, { members, keep: values.keep, ssh: values.ssh });
  try {
    const expected = EXPECTED_VERDICT[fault];
    process.stdout.write(`fault injected: ${fault}${victims.length > 0 ? ` (${victims.join(', ')})` : ''}; expecting ${expected}\n`);
    await waitForVerdict(lab, expected);
    const target = await clusterTargetFrom({ inventory: lab.inventoryPath }, {});
    const report = await probeCluster(target.targets, { tls: target.tls });
    process.stdout.write(`${statusText(report, target, colorEnabled(values['no-color']))}\n`);
    if (values.keep) process.stdout.write(`lab kept in ${lab.dir} (inventory: ${lab.inventoryPath})\n`);
    const ok = report.verdict.verdict === expected;
    process.stdout.write(ok ? `drill: detected ${expected} as expected\n` : `drill: expected ${expected}, detected ${report.verdict.verdict}\n`);
    return ok ? 0 : ExitCode.runFailed;
  } finally {
    await lab.close();
    process.stdout.write('lab stopped\n');
  }
}
