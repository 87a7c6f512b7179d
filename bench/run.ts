import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { quietIpServerNameWarning } from '../src/util/warnings.js';
import { benchCopy } from './copy.js';
import { benchDrill, benchFirstFrame } from './drill.js';
import { benchLabUp } from './lab-up.js';
import type { BenchRow } from './types.js';
import { benchVerdict } from './verdict.js';

/**
 * `npm run bench`: every figure is the tool against a baseline measured in
 * the same run (the machines are shared and noisy), printed as a table and
 * written as JSON to bench/results/.
 */
const benches: Array<[string, () => Promise<BenchRow[]>]> = [
  ['verdict', () => benchVerdict()],
  ['copy', () => benchCopy({ sizeBytes: Number(process.env.BENCH_COPY_MB ?? 1024) * 1024 * 1024 })],
  ['drill', () => benchDrill()],
  ['lab', () => benchLabUp()],
  ['frame', () => benchFirstFrame()],
];

// the benches probe labs in this process, as the CLI does: the same warning is as noisy here
quietIpServerNameWarning();

const only = process.argv.slice(2);
const rows: BenchRow[] = [];
for (const [name, bench] of benches) {
  if (only.length > 0 && !only.includes(name)) continue;
  process.stderr.write(`bench ${name}…\n`);
  rows.push(...(await bench()));
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));
process.stdout.write('| bench | baseline | baseline value | tool value | unit | ratio | target | notes |\n|---|---|---|---|---|---|---|---|\n');
for (const r of rows) {
  process.stdout.write(`| ${r.name} | ${r.baseline} | ${fmt(r.baselineValue)} | ${fmt(r.toolValue)} | ${r.unit} | ${fmt(r.ratio)} | ${r.target ?? ''} | ${r.notes ?? ''} |\n`);
}
const dir = join(import.meta.dirname, '..', '..', 'bench', 'results');
await mkdir(dir, { recursive: true });
const file = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
await writeFile(file, `${JSON.stringify({ at: new Date().toISOString(), rows }, null, 2)}\n`);
process.stdout.write(`written: ${file}\n`);
process.exit(0);
