import { readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SAMPLE_COUNT, describeFault, runDrill, type DrillResult, type Recovery } from '../drill/drill.js';
import { DEFAULT_FAULT, scenarios } from '../drill/scenarios.js';
import { timingText } from '../drill/timing.js';
import { readJournal } from '../engine/journal.js';
import { ScriptedOperator } from '../engine/operator.js';
import { EXPECTED_VERDICT, FAULTS, type Fault } from '../lab/faults.js';
import type { LabCluster } from '../lab/cluster.js';
import type { LabLayout } from '../lab/layouts.js';
import { ETCD_VERSIONS, type EtcdVersion } from '../lab/etcd-versions.js';
import { requireLabNodes } from '../lab/node/prerequisites.js';
import { describeCheck } from '../lab/sample-data.js';
import { findRunbook, loadCatalogue, type RunbookCatalogue } from '../runbook/loader.js';
import { judgeAppliesTo } from '../runbook/preconditions.js';
import type { Runbook } from '../runbook/schema.js';
import { colorEnabled, paint } from '../util/color.js';
import { ExitCode, messageOf, OperatorError } from '../util/errors.js';
import { clusterTargetFrom, type ClusterTarget } from '../session/cluster-target.js';
import { prepareRun } from '../session/prepare.js';
import { driveRun } from './line-view.js';

/** etcd's default backend quota is 2 GiB; every member's copy is on this one disk */
const MAX_BALLAST_MIB = 1024;

export const drillHelp = `Usage: etcd-runbook drill [--members 3|5] [--fault ${FAULTS.join('|')}]
                         [--layout systemd|kubeadm] [--etcd 3.4|3.5] [--runbook NAME]
                         [--yes] [--keep] [--report FILE] [--data-mib N] [--transport ssh|nsenter]

A disaster-recovery rehearsal on a real etcd cluster of lab nodes: one node
per member, each a machine as far as etcd can tell (systemd as PID 1 in its
own namespaces, its own hostname m1, m2, …, its own loopback address
127.0.0.11, .12, …, sshd), laid out like a master of the chosen layout at the
real paths, TLS with its own PKI. It writes ${DEFAULT_SAMPLE_COUNT} sample keys under
/registry/, injects the fault, and opens the interactive view on it so you
recover it with the real runbook, which runs exactly what it runs on a master
(systemctl, /var/lib/etcd, etcdutl on 3.5), over SSH. At the end: the time
from fault to healthy (etcd's own time, yours, and the tool's), the final
verdict and whether every sample key survived. Everything it started is
stopped when it ends (Ctrl-C included); the lab directory is removed unless
--keep. Needs root (namespaces, mounts, cgroups).

  --members N     cluster size: 3 (default) or 5
  --fault F       minority  one member killed (quorum held)     → replace-member
                  quorum    a majority killed (quorum lost)      → restore-quorum
                  frozen    a member SIGSTOPped                  → replace-member
                  split-brain  single-member clusters            → split-brain
                  nospace   filled to its space quota (NOSPACE)  → reclaim-space
                  corrupt   CORRUPT alarm raised on one member   → replace-member
                  expired-certs  a member's certificate expired  → renew-certificates
                  none      a healthy cluster                    → backup
                  Without --fault the drill asks (a picker); without a terminal,
                  or with --yes, it rehearses ${DEFAULT_FAULT}.
  --runbook R     rehearse this runbook instead of the recommended one (e.g.
                  single-survivor for quorum); refused unless it applies to the
                  fault's verdict
  --layout L      systemd (default: etcd.conf env file, etcd.service) or kubeadm
                  (static-pod manifests run by a kubelet)
  --etcd V        the nodes' etcd release: 3.5 (default, what masters run;
                  restores with etcdutl) or 3.4 (etcdctl)
  --yes           unattended: run the runbook through the engine, every step
                  confirmed, no guard overridden; print the step log and
                  timings. Exit 0 only when the cluster ends healthy and all
                  sample data survived (the form to schedule as a nightly drill)
  --keep          keep the lab directory (PKI, inventory, journal, transcript)
                  and print where it is
  --data-mib N    also write N MiB of ballast (4 KiB values) before the fault, so
                  etcd's own work (snapshot, a learner catching up, the restore)
                  is the size of your cluster's and the timings are realistic;
                  its key count is checked at the end (default 0, at most ${MAX_BALLAST_MIB})
  --report FILE   also write the result as JSON (verdicts, sample check, timings)
  --journal-dir D where the run's journal and transcript go (default: in the lab)
  --transport T   how the run reaches the nodes: ssh (default) through each
                  node's sshd, as masters are reached; or nsenter, each command
                  run inside its node from this machine, unchanged
  --ssh           the same as --transport ssh
  --no-color      plain output (NO_COLOR is honoured too)

Exit codes: 0 healthy with all sample data; 5 the drill failed (the reason is
printed); 4 bad flags, or a machine that cannot run lab nodes (it says what
is missing); 130 interrupted.`;

export async function drillCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      members: { type: 'string', default: '3' },
      fault: { type: 'string' },
      layout: { type: 'string', default: 'systemd' },
      keep: { type: 'boolean' },
      ssh: { type: 'boolean' },
      transport: { type: 'string' },
      yes: { type: 'boolean', short: 'y' },
      report: { type: 'string' },
      'data-mib': { type: 'string', default: '0' },
      etcd: { type: 'string', default: '3.5' },
      runbook: { type: 'string' },
      'journal-dir': { type: 'string' },
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
  const layout = values.layout as LabLayout;
  if (layout !== 'systemd' && layout !== 'kubeadm') throw new OperatorError(`--layout ${values.layout}: choose systemd or kubeadm`);
  const ballastMib = Number(values['data-mib']);
  if (!Number.isInteger(ballastMib) || ballastMib < 0 || ballastMib > MAX_BALLAST_MIB) {
    throw new OperatorError(`--data-mib ${values['data-mib']}: a whole number of MiB from 0 to ${MAX_BALLAST_MIB} (the lab's members share this machine's disk)`);
  }
  const transport = values.ssh ? 'ssh' : (values.transport ?? 'ssh');
  if (transport !== 'ssh' && transport !== 'nsenter') throw new OperatorError(`--transport ${transport}: choose ssh or nsenter`);
  const etcd = values.etcd as EtcdVersion;
  if (!ETCD_VERSIONS.includes(etcd)) throw new OperatorError(`--etcd ${values.etcd}: choose ${ETCD_VERSIONS.join(' or ')}`);
  if (values.fault !== undefined && !FAULTS.includes(values.fault as Fault)) throw new OperatorError(`--fault ${values.fault}: choose one of ${FAULTS.join(', ')}`);
  const color = colorEnabled(values['no-color']);
  const terminal = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const attended = terminal && !values.yes;
  if (!values.yes && !terminal) {
    throw new OperatorError('drill opens the interactive view, which needs a terminal: pass --yes to run the recommended runbook unattended (every step confirmed, no guard overridden)');
  }
  // a runbook that cannot be rehearsed for the fault given is refused before anything else
  let runbook = values.runbook !== undefined && values.fault !== undefined ? await chosenRunbook(values.runbook, values.fault as Fault) : undefined;
  requireLabNodes('drill', etcd);
  const say = (line: string) => process.stdout.write(`${line}\n`);

  let fault = values.fault as Fault | undefined;
  if (fault === undefined && attended) {
    fault = await pickScenario(members, color);
    if (fault === undefined) return 130;
  } else if (fault === undefined) {
    fault = DEFAULT_FAULT;
    say(`no --fault given: rehearsing ${fault} (see etcd-runbook drill --help for the others)`);
  }
  if (values.runbook !== undefined) runbook ??= await chosenRunbook(values.runbook, fault);

  const recovery = attended ? inView(values['no-color'], runbook) : unattended(values['no-color'], runbook);
  const result = await runDrill({ members, fault, layout, etcd, keep: Boolean(values.keep), transport, journalDir: values['journal-dir'], ballastMib, say }, recovery);
  say('');
  for (const line of reportText(result, color)) say(line);
  if (values.report) await writeReport(values.report, result);
  return result.ok ? 0 : ExitCode.runFailed;
}

/**
 * --runbook: the named runbook, refused in one line when there is none of
 * that name or when it does not apply to the verdict the fault produces
 * (the same judgement as `run` makes on the live verdict).
 */
export async function chosenRunbook(name: string, fault: Fault): Promise<Runbook> {
  const { runbooks } = await loadCatalogue();
  const runbook = runbooks.find((r) => r.runbook.id === name)?.runbook;
  if (!runbook) throw new OperatorError(`--runbook ${name}: no such runbook (the runbooks: ${runbooks.map((r) => r.runbook.id).join(', ')})`);
  const verdict = EXPECTED_VERDICT[fault];
  if (judgeAppliesTo(runbook, verdict).kind === 'applies') return runbook;
  const fitting = FAULTS.filter((f) => runbook.appliesTo.includes(EXPECTED_VERDICT[f]));
  const instead = fitting.length > 0 ? `rehearse it with --fault ${fitting.join(' or --fault ')}` : 'no drill fault produces that';
  throw new OperatorError(`--runbook ${name}: it applies to ${runbook.appliesTo.join(', ')}, and the ${fault} fault leaves the cluster ${verdict}: ${instead}, or drop --runbook`);
}

/** The picker before anything starts; undefined when the operator leaves. */
async function pickScenario(members: number, color: boolean): Promise<Fault | undefined> {
  // the view's modules load only when a view is shown: an unattended drill (--yes) never pays for them
  const [{ createElement }, { render }, { ColorContext }, { ScenarioPicker }] = await Promise.all([
    import('react'),
    import('ink'),
    import('../ui/theme.js'),
    import('../ui/scenario-picker/scenario-picker.js'),
  ]);
  let chosen: Fault | undefined;
  const instance = render(
    createElement(
      ColorContext.Provider,
      { value: color },
      createElement(ScenarioPicker, {
        scenarios: scenarios(),
        members,
        columns: process.stdout.columns ?? 80,
        onPick: (fault: Fault) => {
          chosen = fault;
          instance.unmount();
        },
        onCancel: () => instance.unmount(),
      }),
    ),
    { exitOnCtrlC: false },
  );
  await instance.waitUntilExit();
  return chosen;
}

/** The lab as a master's operator reaches it: its generated inventory, nothing from this shell's ETCDCTL_*. */
function labTarget(lab: LabCluster): Promise<ClusterTarget> {
  return clusterTargetFrom({ inventory: lab.inventoryPath }, {});
}

/** The drill's input values where the runbook declares the input (the backup dir in the lab). */
function inputSets(runbook: Runbook, defaults: Record<string, string>): string[] {
  return Object.entries(defaults)
    .filter(([name]) => runbook.inputs.some((input) => input.name === name))
    .map(([name, value]) => `${name}=${value}`);
}

/** --yes: the chosen runbook, else the recommended one, through the engine, as `run <runbook> --yes` drives it. */
export function unattended(noColor: boolean | undefined, chosen: Runbook | undefined): Recovery {
  // `run <runbook>` reads its inventory and its runbook as it starts; the
  // drill's runbook is whichever detection recommends, so it reads them all
  let launched: Promise<[ClusterTarget, RunbookCatalogue]> | undefined;
  const launch = (lab: LabCluster) => (launched ??= Promise.all([labTarget(lab), loadCatalogue()]));
  return {
    launch: async (lab) => {
      await launch(lab);
    },
    recover: async (context) => {
      const [target, catalogue] = await launch(context.lab);
      // the drill's own detection of the fault: probing again would only add a probe round to the time to healthy
      const { detection } = context;
      const id = chosen?.id ?? detection.verdict.recommendedRunbook;
      if (!id) return { attended: false, problem: `no runbook is recommended for ${detection.verdict.verdict}` };
      let runbook = chosen ?? catalogue.runbooks.find((r) => r.runbook.id === id)?.runbook;
      try {
        // not in the catalogue: the loader says why (a broken file, none installed)
        runbook ??= await findRunbook(id);
      } catch (err) {
        return { attended: false, runbook: id, problem: messageOf(err) };
      }
      const sets = inputSets(runbook, context.inputDefaults);
      const prepared = await prepareRun({ runbook, target, detection, sets, dryRun: false, journalDir: context.journalDir });
      const outcome = await driveRun(prepared.state, { ...prepared.options, operator: new ScriptedOperator(), opening: prepared.opening, noColor, channels: context.channels });
      return { attended: false, runbook: id, journal: outcome.journal };
    },
  };
}

/**
 * On a terminal: the interactive view, on the lab, as `etcd-runbook
 * --inventory <lab>` opens it; with --runbook, straight at that runbook's
 * steps, as `run <runbook>` opens it.
 */
function inView(noColor: boolean | undefined, chosen: Runbook | undefined): Recovery {
  return {
    recover: async (context) => {
      const target = await labTarget(context.lab);
      const { runInteractive } = await import('./full-screen-view.js');
      if (chosen) {
        const sets = inputSets(chosen, context.inputDefaults);
        const prepared = await prepareRun({ runbook: chosen, target, detection: context.detection, sets, dryRun: false, journalDir: context.journalDir });
        await runInteractive({ kind: 'run', prepared, noColor });
      } else {
        await runInteractive({ kind: 'detect', target, dryRun: false, sets: [], journalDir: context.journalDir, noColor, inputDefaults: context.inputDefaults });
      }
      // the view opens at most one run, journaled in the drill's own journal dir
      const journals = (await readdir(context.journalDir).catch(() => [] as string[])).filter((f) => f.endsWith('.jsonl')).sort();
      const last = journals.at(-1);
      if (!last) return { attended: true, problem: 'the view was left before a runbook was started' };
      const journal = join(context.journalDir, last);
      const started = readJournal(journal).find((e) => e.type === 'run-started');
      return { attended: true, journal, ...(started?.type === 'run-started' ? { runbook: started.runbook.id } : {}) };
    },
  };
}

export function reportText(result: DrillResult, color: boolean): string[] {
  const lines = [paint('drill report', 'bold', color)];
  lines.push(`  scenario       ${result.fault}, ${result.members}-member ${result.layout} lab, etcd ${result.etcd} nodes`);
  lines.push(`  fault          ${describeFault(result.fault, result.victims, result.members)}`);
  lines.push(`  detected       ${result.detectedVerdict}${result.detectedVerdict === result.expectedVerdict ? '' : ` (expected ${result.expectedVerdict})`}`);
  lines.push(`  runbook        ${result.runbook ?? 'none'}: ${result.runStatus === 'not run' ? 'not run' : `run ${result.runStatus}`}`);
  if (result.finalVerdict) lines.push(`  final verdict  ${result.finalVerdict}`);
  if (result.sample) lines.push(`  sample data    ${describeCheck(result.sample, 'sample keys')}`);
  if (result.ballast) lines.push(`  ballast        ${result.ballast.found}/${result.ballast.expected} keys (${result.ballast.mib} MiB)`);
  if (result.journal) lines.push(`  journal        ${result.journal} (transcript beside it, .md)`);
  else if (result.runStatus !== 'not run') lines.push('  journal        removed with the lab (--keep or --journal-dir keeps it)');
  if (result.timing && result.runStatus !== 'not run') lines.push(...timingText(result.timing, result.fault !== 'none', result.attended).map((l) => `  ${l}`));
  lines.push(
    result.ok
      ? paint(`drill passed: the cluster is healthy and all ${result.sample?.expected ?? 0} sample keys survived`, 'green', color)
      : paint(`drill FAILED: ${result.reasons.join('; ')}`, 'red', color),
  );
  return lines;
}

/** The JSON report, written under a temporary name and renamed when complete. */
async function writeReport(path: string, result: DrillResult): Promise<void> {
  const sample = result.sample ? { ...result.sample, missing: result.sample.missing.slice(0, 20), changed: result.sample.changed.slice(0, 20) } : undefined;
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify({ ...result, sample }, null, 2)}\n`);
  await rename(tmp, path);
}
