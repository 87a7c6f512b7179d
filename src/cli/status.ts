import { parseArgs } from 'node:util';
import { probeThroughElection } from '../cluster/election.js';
import { probeCluster } from '../cluster/probe.js';
import { healthTable } from '../cluster/report-table.js';
import type { ClusterReport } from '../cluster/types.js';
import { EXIT_CODE_FOR, VERDICT_COLOR, verdictLines } from '../cluster/verdict-text.js';
import { colorEnabled, paint } from '../util/color.js';
import { OperatorError } from '../util/errors.js';
import { parseDuration } from '../util/duration.js';
import { clusterTargetFrom, type ClusterTarget } from '../session/cluster-target.js';
import { connectionFlags, connectionFlagsHelp } from './connection-flags.js';

export const statusHelp = `Usage: etcd-runbook status [--json] [--watch [--interval 2s]] [connection flags]

Probe every member in parallel (one client per endpoint, bounded by a
deadline) and print the health table and the verdict.

Exit code: 0 healthy, 1 minority lost, 2 quorum lost, 3 split brain,
4 unreachable or configuration error, 6 alarm (quorum held, but NOSPACE or
CORRUPT is active).

  --json               one JSON object: verdict (healthy | minority-lost |
                       quorum-lost | split-brain | unreachable | alarm),
                       evidence, alarms (each with its member and what it
                       blocks), advice, per-member details
  --watch              refresh until Ctrl-C (exit code: the last verdict's)
  --interval DURATION  refresh period for --watch (default 2s)

${connectionFlagsHelp}`;

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...connectionFlags, json: { type: 'boolean' }, watch: { type: 'boolean' }, interval: { type: 'string' } },
    allowPositionals: false,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${statusHelp}\n`);
    return 0;
  }
  const target = await clusterTargetFrom(values);
  const color = colorEnabled(values['no-color']);
  if (!values.watch) {
    // one verdict, its exit code read by scripts: not the seconds of a leader election
    const report = await probeThroughElection(() => probe(target));
    process.stdout.write(values.json ? `${JSON.stringify(statusJson(report, target), null, 2)}\n` : `${statusText(report, target, color)}\n`);
    return EXIT_CODE_FOR[report.verdict.verdict];
  }
  const intervalMs = parseInterval(values.interval);
  return watch(target, intervalMs, Boolean(values.json), color);
}

function parseInterval(text: string | undefined): number {
  try {
    return Math.max(200, parseDuration(text, '--interval') ?? 2000);
  } catch (err) {
    throw new OperatorError((err as Error).message);
  }
}

function probe(target: ClusterTarget): Promise<ClusterReport> {
  return probeCluster(target.targets, { tls: target.tls, deadlineMs: target.deadlineMs });
}

/** Refresh in place on a terminal; one frame (or JSON line) per round on a pipe. */
async function watch(target: ClusterTarget, intervalMs: number, json: boolean, color: boolean): Promise<number> {
  let lastCode = 4;
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (!stopping) {
      const report = await probe(target);
      lastCode = EXIT_CODE_FOR[report.verdict.verdict];
      if (json) process.stdout.write(`${JSON.stringify(statusJson(report, target))}\n`);
      else {
        const clear = process.stdout.isTTY ? '\u001b[2J\u001b[H' : '\n';
        process.stdout.write(`${clear}${new Date().toLocaleTimeString()}  (every ${intervalMs / 1000}s, Ctrl-C to stop)\n${statusText(report, target, color)}\n`);
      }
      await sleepUnless(() => stopping, intervalMs);
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
  return lastCode;
}

async function sleepUnless(stopped: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!stopped() && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(100, until - Date.now())));
}

export function statusText(report: ClusterReport, target: ClusterTarget, color: boolean): string {
  const width = process.stdout.columns ?? Infinity;
  const verdict = report.verdict;
  const [headline = '', ...rest] = verdictLines(verdict);
  return [
    healthTable(report, width),
    paint(headline, VERDICT_COLOR[verdict.verdict], color),
    ...rest,
    paint(`(${report.endpoints.length} endpoints probed in ${report.durationMs} ms; cluster from ${target.config.sources[0] ?? '?'})`, 'gray', color),
  ].join('\n');
}

/** The --json shape: the verdict word first, then everything behind it. */
export function statusJson(report: ClusterReport, target: ClusterTarget): Record<string, unknown> {
  const { verdict } = report;
  return {
    verdict: verdict.verdict,
    summary: verdict.summary,
    evidence: verdict.evidence,
    warnings: verdict.warnings,
    recommendedRunbook: verdict.recommendedRunbook ?? null,
    alternatives: verdict.alternatives,
    alarms: verdict.alarms,
    advice: verdict.advice ?? null,
    quorum: { votingMembers: verdict.votingMembers, healthyVoting: verdict.healthyVoting, quorumSize: verdict.quorumSize },
    clusterIds: verdict.clusterIds,
    leaders: verdict.leaders,
    sides: verdict.sides ?? null,
    members: verdict.members,
    endpoints: report.endpoints,
    probedAt: report.probedAt,
    durationMs: report.durationMs,
    sources: target.config.sources,
  };
}
