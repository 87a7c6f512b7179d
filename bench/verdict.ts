import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LabCluster } from '../src/lab/cluster.js';
import type { BenchRow } from './types.js';
import { median } from './median.js';

const run = promisify(execFile);

const ROOT = join(import.meta.dirname, '..', '..');
/** What `npm install` links as the command: the one esbuild bundle */
const CLI = join(ROOT, 'dist', 'etcd-runbook.cjs');

/**
 * Verdict latency on a 5-member lab with 2 members killed and 1 frozen:
 * one probe in this process, and `etcd-runbook status` as a whole process
 * (Node's start included), against the manual sequence an operator types
 * (endpoint health, endpoint status, member list over all endpoints, with
 * etcdctl's default timeouts). Same cluster, same moment, same run.
 */
export async function benchVerdict(rounds = 3): Promise<BenchRow[]> {
  // the bundle is rebuilt only when its inputs are newer
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), '--bundle-only', '--if-stale'], { cwd: ROOT, stdio: 'ignore' });
  const lab = await LabCluster.start({ members: 5 });
  try {
    await lab.kill('m5');
    await lab.kill('m4');
    lab.freeze('m3');
    const tool: number[] = [];
    const processes: number[] = [];
    const manual: number[] = [];
    for (let i = 0; i < rounds; i++) {
      let started = Date.now();
      const report = await lab.probe();
      tool.push(Date.now() - started);
      if (report.verdict.verdict !== 'quorum-lost') throw new Error(`bench expected quorum-lost, got ${report.verdict.verdict}`);
      started = Date.now();
      const exitCode = await run(process.execPath, [CLI, 'status', '--json', '--inventory', lab.inventoryPath]).then(() => 0, (err: { code?: number }) => err.code);
      processes.push(Date.now() - started);
      if (exitCode !== 2) throw new Error(`bench expected status to exit 2 (quorum lost), got ${String(exitCode)}`);
      started = Date.now();
      for (const command of [['endpoint', 'health'], ['endpoint', 'status'], ['member', 'list']]) {
        await run('etcdctl', [...lab.etcdctlFlags(), ...command]).catch(() => undefined);
      }
      manual.push(Date.now() - started);
    }
    lab.thaw('m3');
    const toolMs = median(tool);
    const processMs = median(processes);
    const manualMs = median(manual);
    return [
      {
        name: 'verdict latency, 5 members: 2 killed, 1 frozen',
        baseline: 'etcdctl endpoint health + endpoint status + member list',
        baselineValue: manualMs,
        toolValue: toolMs,
        unit: 'ms',
        ratio: toolMs / manualMs,
        target: 'tool ≤ 1000 ms',
        notes: `median of ${rounds}; tool ${tool.join('/')} ms, manual ${manual.join('/')} ms`,
      },
      {
        name: 'verdict latency as a process (status --json), 5 members: 2 killed, 1 frozen',
        baseline: 'etcdctl endpoint health + endpoint status + member list',
        baselineValue: manualMs,
        toolValue: processMs,
        unit: 'ms',
        ratio: processMs / manualMs,
        target: 'status ≤ 1000 ms',
        notes: `median of ${rounds}; status ${processes.join('/')} ms (dist/etcd-runbook.cjs), manual ${manual.join('/')} ms`,
      },
    ];
  } finally {
    await lab.close();
  }
}

