import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pty from 'node-pty';
import { parse, stringify } from 'yaml';
import type { Inventory } from '../src/inventory/schema.js';
import { LabCluster } from '../src/lab/cluster.js';
import type { DrillResult } from '../src/drill/drill.js';
import type { DrillTiming } from '../src/drill/timing.js';
import type { BenchRow } from './types.js';
import { median } from './median.js';

/**
 * The drill's figures, each against a baseline from the same run:
 *  - time from fault to healthy of `drill --yes` (scripted confirmations),
 *    split by the drill's own journal timing into etcd's time (settling,
 *    inside steps) and the tool's overhead (probes, guards, checks, journal);
 *    the full-size keyspace drills also through nsenter (--transport nsenter);
 *  - peak RSS of that drill process against a bare `node` process;
 *  - CLI start to the interactive view's first frame, in a pty against a
 *    lab, against `node -e` printing one character in the same pty.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
/** the one-file executable an operator copies to a master (scripts/package.mjs) */
const EXECUTABLE = join(ROOT, 'dist-package', 'etcd-runbook');
const MB = 1024 * 1024;

export async function benchDrill(
  rounds = Number(process.env.BENCH_DRILL_ROUNDS ?? 3),
  ballastMib = Number(process.env.BENCH_DRILL_MIB ?? 256),
  ballastRounds = Number(process.env.BENCH_DRILL_MIB_ROUNDS ?? 1),
): Promise<BenchRow[]> {
  const work = await mkdtemp(join(tmpdir(), 'etcd-runbook-bench-drill-'));
  try {
    const rows: BenchRow[] = [];
    const bare = await peakRss(process.execPath, ['-e', 'setTimeout(() => {}, 300)']);
    // the drill as it ships (300 sample keys: etcd's own work takes milliseconds), then the
    // two runbooks again on a keyspace the size of a real cluster's, where it takes what it takes on a master
    const scenarios: DrillScenario[] = [
      { fault: 'minority', runbook: 'replace-member', rounds, mib: 0 },
      { fault: 'frozen', runbook: 'replace-member', rounds, mib: 0 },
      { fault: 'quorum', runbook: 'restore-quorum', rounds, mib: 0 },
      ...(ballastMib > 0
        ? [
            { fault: 'minority', runbook: 'replace-member', rounds: ballastRounds, mib: ballastMib },
            { fault: 'quorum', runbook: 'restore-quorum', rounds: ballastRounds, mib: ballastMib },
            { fault: 'minority', runbook: 'replace-member', rounds: ballastRounds, mib: ballastMib, nsenter: true },
            { fault: 'quorum', runbook: 'restore-quorum', rounds: ballastRounds, mib: ballastMib, nsenter: true },
          ]
        : []),
    ];
    let peak = { rss: 0, what: '' };
    const ballastPeaks: string[] = [];
    for (const s of scenarios) {
      const runs: Array<{ t: DrillTiming; report: DrillResult }> = [];
      for (let i = 0; i < s.rounds; i++) {
        const reportFile = join(work, `${s.fault}-${s.mib}-${s.nsenter ? 'nsenter' : 'ssh'}-${i}.json`);
        const args = [CLI, 'drill', '--yes', '--no-color', '--members', '3', '--fault', s.fault, '--report', reportFile, ...(s.mib > 0 ? ['--data-mib', String(s.mib)] : []), ...(s.nsenter ? ['--transport', 'nsenter'] : [])];
        const { peakBytes, exitCode } = await peakRss(process.execPath, args);
        const report = JSON.parse(await readFile(reportFile, 'utf8')) as DrillResult;
        if (exitCode !== 0 || !report.timing) throw new Error(`drill --fault ${s.fault} failed (exit ${exitCode}): ${report.reasons.join('; ')}`);
        runs.push({ t: report.timing, report });
        // writing the ballast is the lab's setup, not the recovery: its peak is reported apart
        if (s.mib > 0) ballastPeaks.push(`${round(peakBytes / MB)} MB with ${s.mib} MiB ballast (${s.fault})`);
        else if (peakBytes > peak.rss) peak = { rss: peakBytes, what: `drill --yes --fault ${s.fault}` };
      }
      // The median round by overhead share, all its figures from that round,
      // over the rounds whose fault cost no election when there are any: the
      // killed (or frozen) member is the last one, which leads in about one
      // round in three, and an election's second or two in etcd's time would
      // make the tool's share look smaller than it is when a follower fails.
      const quiet = runs.filter((r) => r.t.settle < ELECTION_MS);
      const counted = quiet.length > 0 ? quiet : runs;
      const { t, report } = [...counted].sort((a, b) => a.t.overheadShare - b.t.overheadShare)[Math.floor(counted.length / 2)] as (typeof runs)[number];
      const elected = runs.filter((r) => !quiet.includes(r));
      const which =
        s.rounds === 1
          ? 'one round'
          : quiet.length > 0 && elected.length > 0
            ? `median of the ${quiet.length} of ${s.rounds} rounds without an election (${quiet.map(share).join('/')}); with one: ${elected.map(share).join('/')}`
            : `median of ${s.rounds} by overhead (${runs.map(share).join('/')})`;
      const keyspace = s.mib > 0 ? `${s.mib} MiB keyspace` : '300 sample keys';
      rows.push({
        name: `drill time to healthy: ${s.runbook} (${s.fault}, 3 members, ${keyspace}, ${s.nsenter ? 'through nsenter' : 'over SSH'}), tool overhead`,
        baseline: 'time from fault to healthy',
        baselineValue: t.total,
        toolValue: t.tool,
        unit: 'ms',
        ratio: t.tool / t.total,
        // judged on the drill as it runs by default, over SSH
        ...(s.nsenter ? {} : { target: 'overhead < 10%' }),
        notes: [
          which,
          `etcd's own ${Math.round(t.etcd)} ms (fault noticed ${t.settle}, inside steps ${Math.round(t.insideSteps)}), operator ${t.operator} ms`,
          `of the overhead: guards ${t.toolParts.guards} (snapshot verification ${t.toolParts.verification}), after-checks ${t.toolParts.checks}, probes after steps ${t.toolParts.probes}, journal write-ahead ${Math.round(t.toolParts.writeAhead)} ms`,
          `overhead besides snapshot verification ${Math.round(t.overheadShareBesidesVerification * 100)}%`,
          `${report.sample?.intact}/${report.sample?.expected} sample keys intact${report.ballast ? `, ${report.ballast.found}/${report.ballast.expected} ballast keys` : ''}`,
        ].join('; '),
      });
    }
    rows.push({
      name: 'peak RSS of the CLI during a drill',
      baseline: 'node -e (bare Node process)',
      baselineValue: round(bare.peakBytes / MB),
      toolValue: round(peak.rss / MB),
      unit: 'MB',
      ratio: peak.rss / bare.peakBytes,
      target: 'tool ≤ 150 MB',
      notes: `highest VmHWM over the sample-keyspace drills (${peak.what}); etcd runs in its own processes${ballastPeaks.length > 0 ? `; with ballast written by the same process first: ${ballastPeaks.join(', ')}` : ''}`,
    });
    return rows;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** a fault noticed later than this cost an election (the lab keeps etcd's default 1 s election timeout) */
const ELECTION_MS = 800;

const share = (r: { t: DrillTiming }): string => `${Math.round(r.t.overheadShare * 100)}%`;

interface DrillScenario {
  fault: string;
  runbook: string;
  rounds: number;
  /** MiB of ballast (drill --data-mib) */
  mib: number;
  /** drill --transport nsenter: each command run in its node from here (default: over SSH, as masters are reached) */
  nsenter?: boolean;
}

/**
 * The interactive view against a healthy 3-member lab: spawn to first frame,
 * and to the verdict on screen. The target is the tool's own start, with an
 * inventory that reaches the nodes through nsenter; over SSH the view opens
 * once every node's connection is up (host keys and passphrases are asked
 * on the plain terminal first), measured apart with the npm bin.
 */
export async function benchFirstFrame(rounds = 5): Promise<BenchRow[]> {
  // the bundle and the executable made from it are rebuilt only when their inputs are newer
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'ignore' });
  const lab = await LabCluster.start({ members: 3, transport: 'nsenter' });
  try {
    const overSsh = await sshInventoryOf(lab);
    const bin = join(ROOT, 'dist', 'etcd-runbook.cjs');
    const baseline: number[] = [];
    const forms = [
      // the command `npm install` links: the bundle, started through its #!/usr/bin/env node
      { name: 'npm package bin (dist/etcd-runbook.cjs, one esbuild bundle)', argv: [bin, '--inventory', lab.inventoryPath], target: true },
      { name: 'one-file executable (dist-package/etcd-runbook)', argv: [EXECUTABLE, '--inventory', lab.inventoryPath], target: true },
      { name: 'npm package bin, the inventory reaching m1–m3 over SSH', argv: [bin, '--inventory', overSsh], target: false },
    ].map((form) => ({ ...form, frame: [] as number[], verdict: [] as number[] }));
    // the first start after a build compiles the bundle and leaves the code cache every later start uses
    const cold: number[] = [];
    for (const form of forms) cold.push((await inPty(form.argv, ['Probing'], true))[0] as number);
    for (let i = 0; i < rounds; i++) {
      baseline.push((await inPty([process.execPath, '-e', "process.stdout.write('ready')"], ['ready']))[0] as number);
      for (const form of forms) {
        const [first, shown] = await inPty(form.argv, ['Probing', 'verdict:'], true);
        form.frame.push(first as number);
        form.verdict.push(shown as number);
      }
    }
    const b = median(baseline);
    return forms.map((form, i) => {
      const f = median(form.frame);
      return {
        name: `CLI start to first rendered frame, ${form.name} (interactive view, 3-member lab)`,
        baseline: 'node -e printing one word, same pty',
        baselineValue: b,
        toolValue: f,
        unit: 'ms',
        ratio: f / b,
        ...(form.target ? { target: 'tool ≤ 400 ms' } : {}),
        notes: `median of ${rounds} after a first start (${cold[i]} ms): frame ${form.frame.join('/')} ms, node ${baseline.join('/')} ms; verdict on screen ${median(form.verdict)} ms (${form.verdict.join('/')})`,
      };
    });
  } finally {
    await lab.close();
  }
}

/** The lab's inventory with every node reached through its sshd instead (lab.sshOf), written beside it. */
async function sshInventoryOf(lab: LabCluster): Promise<string> {
  const inventory = parse(await readFile(lab.inventoryPath, 'utf8')) as Inventory;
  for (const member of inventory.members) {
    const { user, host, port, identityFile, knownHostsFile } = lab.sshOf(member.name);
    const { nsenter: _pid, ...node } = member.node ?? { host };
    member.node = { ...node, host, transport: 'ssh', ssh: { user, port, identityFile, knownHosts: knownHostsFile } };
  }
  const path = join(lab.dir, 'inventory-ssh.yaml');
  await writeFile(path, stringify(inventory));
  return path;
}

/** Spawn in a pseudo-terminal; ms from spawn until each text first appears in the output (escapes stripped). */
function inPty(argv: string[], texts: string[], quit = false): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ETCDCTL_') && k !== 'CI') env[k] = v;
    const started = performance.now();
    const proc = pty.spawn(argv[0] as string, argv.slice(1), { name: 'xterm-256color', cols: 100, rows: 30, cwd: ROOT, env: { ...env, NO_COLOR: '1' } });
    const seen: number[] = [];
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: did not show ${texts.join(', ')} within 20 s; output: ${out.slice(-500)}`));
    }, 20_000);
    proc.onData((data) => {
      out += data.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
      while (seen.length < texts.length && out.includes(texts[seen.length] as string)) seen.push(Math.round(performance.now() - started));
      if (seen.length === texts.length && quit) {
        quit = false;
        proc.write('q');
      }
    });
    proc.onExit(() => {
      clearTimeout(timer);
      if (seen.length === texts.length) resolve(seen);
      else reject(new Error(`${argv.join(' ')} exited before showing ${texts.join(', ')}; output: ${out.slice(-500)}`));
    });
  });
}

/** Run to the end, reading the process's peak resident set (VmHWM) while it runs. */
function peakRss(command: string, args: string[]): Promise<{ peakBytes: number; exitCode: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NO_COLOR: '1' } });
    let peakBytes = 0;
    const sample = () => {
      try {
        const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        if (kb) peakBytes = Math.max(peakBytes, Number(kb) * 1024);
      } catch {
        // exited
      }
    };
    const timer = setInterval(sample, 20);
    child.on('error', reject);
    // VmHWM is the high-water mark: the last sample before exit holds the peak
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({ peakBytes, exitCode: code });
    });
  });
}


function round(n: number): number {
  return Math.round(n * 10) / 10;
}
