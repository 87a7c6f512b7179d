#!/usr/bin/env node
/**
 * `npm run drill:matrix`: `drill --yes` for every fault, on both layouts and
 * both etcd releases, on real lab nodes: the whole rehearsal matrix, one
 * drill at a time (each starts and removes its own lab). Prints a table —
 * passed or why not, the runbook, fault to healthy — and exits 1 when any
 * drill failed. Too long for the test suite (a few minutes per layout and
 * release); the suite runs a representative part of it.
 *
 *   node scripts/drill-matrix.mjs [--layout systemd|kubeadm] [--etcd 3.4|3.5] [--fault F]...
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const FAULTS = ['minority', 'quorum', 'frozen', 'split-brain', 'nospace', 'corrupt', 'expired-certs', 'none'];

const { values } = parseArgs({
  options: { layout: { type: 'string', multiple: true }, etcd: { type: 'string', multiple: true }, fault: { type: 'string', multiple: true } },
  strict: true,
});
const layouts = values.layout ?? ['systemd', 'kubeadm'];
const releases = values.etcd ?? ['3.5', '3.4'];
const faults = values.fault ?? FAULTS;

const work = mkdtempSync(join(tmpdir(), 'etcd-runbook-drill-matrix-'));
const rows = [];
let failed = 0;
try {
  for (const layout of layouts) {
    for (const etcd of releases) {
      for (const fault of faults) {
        const report = join(work, `${layout}-${etcd}-${fault}.json`);
        const started = Date.now();
        const run = spawnSync(process.execPath, [CLI, 'drill', '--yes', '--no-color', '--fault', fault, '--layout', layout, '--etcd', etcd, '--report', report], {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 10 * 60_000,
        });
        let result;
        try {
          result = JSON.parse(readFileSync(report, 'utf8'));
        } catch {
          result = undefined;
        }
        const ok = run.status === 0 && result?.ok === true;
        if (!ok) failed++;
        const why = ok ? 'passed' : (result?.reasons?.join('; ') ?? (run.stderr.trim().split('\n').at(-1) || `exit ${run.status ?? run.signal}`));
        const healthy = result?.timing?.total;
        rows.push([layout, etcd, fault, result?.runbook ?? '-', healthy === undefined ? '-' : `${(healthy / 1000).toFixed(1)} s`, `${((Date.now() - started) / 1000).toFixed(0)} s`, why]);
        process.stderr.write(`${rows.at(-1).join(' | ')}\n`);
      }
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write('| layout | etcd | fault | runbook | fault to healthy | drill | result |\n|---|---|---|---|---|---|---|\n');
for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`);
process.stdout.write(`${rows.length - failed} of ${rows.length} drills passed\n`);
process.exit(failed > 0 ? 1 : 0);
