import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { DrillResult } from '../../src/drill/drill.js';
import { runCli } from '../helpers/cli.js';
import { nodeLeftoversOf, nodeSystemdsOf } from './node-helpers.js';

/**
 * What every drill test checks after the drill ended: the lab directory it
 * printed is gone (unless kept) and no process carries the lab's marker —
 * no etcd, no lab kubelet, no sshd, no stand-in service left running.
 */
export function labDirOf(output: string): string {
  const dir = /^lab: (\/\S+)$/m.exec(output)?.[1];
  if (!dir) throw new Error(`the drill did not say where its lab is:\n${output}`);
  return dir;
}

/** Live processes started for this lab: its marker in their environment or command line. */
export function labProcesses(labDir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (environ.split('\0').includes(`ETCD_RUNBOOK_LAB=${labDir}`) || cmdline.includes(labDir)) found.push(`${entry} ${cmdline.replace(/\0/g, ' ')}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/**
 * The drill left nothing behind: no process of the lab on the host, no node
 * (no systemd of its, nothing in its cgroups: no etcd, no sshd), no lab dir
 * (processes can take a moment to be reaped after SIGKILL).
 */
export async function expectNothingLeft(labDir: string, kept = false): Promise<void> {
  const left = () => [...labProcesses(labDir), ...nodeSystemdsOf(labDir).map((pid) => `${pid} node systemd`), ...nodeLeftoversOf(labDir)];
  const deadline = Date.now() + 5000;
  while (left().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(left(), `processes and nodes of ${labDir}`).toEqual([]);
  expect(existsSync(labDir), `${labDir} exists`).toBe(kept);
}

/** `drill --report FILE`: the drill's result as written (its lists of missing and changed keys cut at 20) */
export type DrillReportJson = DrillResult;

/** A passed unattended drill: the runbook for the fault ran, the cluster is healthy, every sample key intact. */
export function expectPassed(report: DrillReportJson, runbook: string): void {
  expect(report.reasons).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.detectedVerdict).toBe(report.expectedVerdict);
  expect(report.runbook).toBe(runbook);
  expect(report.runStatus).toBe('succeeded');
  expect(report.attended).toBe(false);
  expect(report.finalVerdict).toBe('healthy');
  expect(report.sample?.expected).toBe(300);
  expect(report.sample?.intact).toBe(300);
  const t = report.timing;
  expect(t).toBeDefined();
  if (!t) return;
  // the parts add up to the whole, and the steps did take time
  expect(t.settle + t.insideSteps + t.operator + t.tool).toBe(t.total);
  expect(t.operator).toBeLessThan(1000);
  expect(t.steps.length).toBeGreaterThan(0);
}

export interface DrillYesResult {
  report: DrillReportJson;
  /** stdout and stderr */
  stdout: string;
  exitCode: number;
  labDir: string;
}

/** `drill --yes` through the real CLI, its JSON report read back, and nothing of its lab left afterwards. */
export async function drillYes(work: string, members: 3 | 5, fault: string, ...extra: string[]): Promise<DrillYesResult> {
  const reportFile = join(work, `${members}-${fault}.json`);
  const result = await runCli(['drill', '--yes', '--members', String(members), '--fault', fault, '--report', reportFile, ...extra], {}, 150_000);
  const labDir = labDirOf(result.stdout);
  await expectNothingLeft(labDir);
  const report = JSON.parse(await readFile(reportFile, 'utf8')) as DrillReportJson;
  return { report, stdout: result.stdout + result.stderr, exitCode: result.exitCode, labDir };
}

/** The drills both cluster sizes run alike: none (backup), quorum (restore-quorum), split-brain. */
export function drillCasesForEverySize(work: () => string, members: 3 | 5): void {
  const drill = (fault: string) => drillYes(work(), members, fault);

  it('none: a healthy cluster gets its backup', async () => {
    const { report, stdout, exitCode } = await drill('none');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'backup');
    expect(report.detectedVerdict).toBe('healthy');
    expect(report.victims).toEqual([]);
    expect(stdout).toMatch(/time from start to the end of the run/);
  }, 160_000);

  it('quorum: restore-quorum brings the cluster back with every key written before the fault', async () => {
    const { report, stdout, exitCode } = await drill('quorum');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'restore-quorum');
  }, 160_000);

  it('split-brain: one cluster again, with the sample data every side had', async () => {
    const { report, stdout, exitCode } = await drill('split-brain');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'split-brain');
  }, 160_000);
}
