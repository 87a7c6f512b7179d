import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { cacheDir } from '../../src/lab/etcd-versions.js';

/**
 * The distribution (issue 8 part 4): `npm run package` gives one executable
 * that is node itself with the CLI, its runbooks and etcd3's protos inside.
 * Copied alone into an empty directory, with a PATH that has no node, it
 * probes and plans against a real cluster. `npm pack` gives a normal package
 * whose bin, dist/etcd-runbook.cjs, loads the executable's script,
 * dist/etcd-runbook-bundle.cjs (one esbuild bundle: Node reads one file, not
 * hundreds of ESM modules), with a V8 code cache, run by the node on PATH
 * from the packed files alone.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const PACKAGE_SCRIPT = join(ROOT, 'scripts', 'package.mjs');

interface PackageModule {
  EXECUTABLE: string;
  bundleOptions(options: { main: string; outfile: string }): object;
}

describe('the packaged single executable', () => {
  let lab: LabCluster;
  let work: string;
  let exe: string;
  let emptyPath: string;

  beforeAll(async () => {
    const started = Date.now();
    // rebuilds only when src, runbooks, the lockfile or the script are newer than the executable
    const output = execFileSync(process.execPath, [PACKAGE_SCRIPT, '--if-stale'], { cwd: ROOT, encoding: 'utf8' });
    console.log(`${output.trim()} — ${Date.now() - started} ms`);
    const { EXECUTABLE } = (await import(PACKAGE_SCRIPT)) as PackageModule;
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-package-'));
    const alone = join(work, 'alone');
    emptyPath = join(work, 'empty-path');
    await mkdir(alone);
    await mkdir(emptyPath);
    exe = join(alone, 'etcd-runbook');
    await copyFile(EXECUTABLE, exe);
    await execa('chmod', ['755', exe]);
    lab = await LabCluster.start({ members: 3 });
  });
  afterAll(async () => {
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Run the copied executable in its own empty directory: no node_modules, no node on PATH. */
  async function runAlone(args: string[]) {
    return execa(exe, args, {
      cwd: join(work, 'alone'),
      env: { PATH: emptyPath, HOME: work, NO_COLOR: '1' },
      extendEnv: false,
      reject: false,
      timeout: 30_000,
      stdin: 'ignore',
    });
  }

  it('is alone in its directory and is a Node single-executable application', async () => {
    expect(await readdir(join(work, 'alone'))).toEqual(['etcd-runbook']);
    const size = (await stat(exe)).size;
    console.log(`dist-package/etcd-runbook: ${(size / 1e6).toFixed(1)} MB`);
    const version = await runAlone(['--help']);
    expect(version.exitCode).toBe(0);
    expect(version.stdout).toContain('Usage: etcd-runbook [command] [flags]');
    expect(version.stderr).toBe('');
  });

  it('status --json: healthy, exit 0, probing through the embedded etcd3 protos', async () => {
    const result = await runAlone(['status', '--json', '--inventory', lab.inventoryPath]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const status = JSON.parse(result.stdout) as { verdict: string; members: unknown[]; quorum: { healthyVoting: number } };
    expect(status.verdict).toBe('healthy');
    expect(status.quorum.healthyVoting).toBe(3);
  });

  it('plan backup --json: the embedded runbook rendered for this cluster, nothing run', async () => {
    const backupDir = join(work, 'planned-backups');
    const result = await runAlone(['plan', 'backup', '--json', '--inventory', lab.inventoryPath, '--set', `backupDir=${backupDir}`]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const plan = JSON.parse(result.stdout) as { id: string; steps: Array<{ id: string; targets: Array<{ command?: string }> }> };
    expect(plan.id).toBe('backup');
    expect(plan.steps.length).toBeGreaterThan(1);
    expect(plan.steps[0]?.targets[0]?.command).toContain(`mkdir -p -m 0700 -- ${backupDir}`);
    await expect(stat(backupDir)).rejects.toThrow();
  });

  it('plan lists the embedded runbooks when asked for one that does not exist', async () => {
    const result = await runAlone(['plan', 'no-such-runbook', '--inventory', lab.inventoryPath]);
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toMatch(/no runbook "no-such-runbook" in \(built-in runbooks\) \(known: [^)]*backup/);
  });

  it('drill --yes from the executable: a rehearsal on lab nodes to healthy; the kubeadm lab is refused in one line', async () => {
    // the system's tools (etcd, openssl, sh) on PATH, the etcd 3.5 the bootstrap fetched, still no node_modules beside it
    const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: work, ETCD_RUNBOOK_CACHE: cacheDir(), NO_COLOR: '1' };
    const drill = (...args: string[]) => execa(exe, ['drill', '--yes', ...args], { cwd: join(work, 'alone'), env, extendEnv: false, reject: false, timeout: 120_000, stdin: 'ignore' });
    const minority = await drill('--fault', 'minority');
    expect(minority.exitCode, minority.stdout + minority.stderr).toBe(0);
    expect(minority.stdout).toContain('real lab nodes with etcd 3.5');
    expect(minority.stdout).toContain('drill passed');
    const kubeadm = await drill('--fault', 'minority', '--layout', 'kubeadm');
    expect(kubeadm.exitCode).toBe(4);
    // on nodes (until the kubeadm layout is there), or because its lab kubelet needs Node
    expect(kubeadm.stderr.trim()).toMatch(/^etcd-runbook: the kubeadm (layout is not supported on real lab nodes yet|lab needs the npm package)[^\n]*$/);
  }, 150_000);

  it('the bundler handles ink: yoga-layout\'s WebAssembly instantiates and lays out a box from a bundle alone', async () => {
    const { bundleOptions } = (await import(PACKAGE_SCRIPT)) as PackageModule;
    const esbuild = await import('esbuild');
    const probe = join(work, 'ink-probe.tsx');
    await writeFile(probe, `import { renderToString, Box, Text } from 'ink';
process.stdout.write(renderToString(<Box borderStyle="round" width={20}><Text>yoga ok</Text></Box>) + '\\n');
`);
    const outDir = join(work, 'ink-alone');
    await mkdir(outDir);
    await esbuild.build({ ...bundleOptions({ main: probe, outfile: join(outDir, 'probe.cjs') }), legalComments: 'none' });
    const result = await execa(process.execPath, ['probe.cjs'], { cwd: outDir, reject: false, env: { NODE_PATH: '' } });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('│yoga ok           │');
  });
});

describe('npm pack', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-pack-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('packs the bundle as the bin, the runbooks and bootstrap; installed, `etcd-runbook` runs from the bundle alone', async () => {
    // prepack refreshes dist/etcd-runbook.cjs when src is newer
    const packed = await execa('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT });
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string; mode: number }> }>;
    const files = info!.files.map((f) => f.path);
    for (const needed of ['package.json', 'dist/etcd-runbook.cjs', 'dist/etcd-runbook-bundle.cjs', 'dist/lab-kubelet.mjs', 'runbooks/backup.yaml', 'scripts/bootstrap.mjs']) expect(files).toContain(needed);
    // a code cache made in the checkout is never packed
    expect(files.filter((f) => f.endsWith('.v8cache'))).toEqual([]);
    expect(info!.files.find((f) => f.path === 'dist/etcd-runbook.cjs')?.mode).toBe(0o755);
    // the tsc output stays in the checkout (tests, npm start, npm run drill); the bin needs none of it
    expect(files.filter((f) => /^(dist\/(src|bench)|dist-package|src|test)\//.test(f))).toEqual([]);

    // Laid out as `npm install -g` would: the package under lib/node_modules,
    // its bin linked into bin/. `npm install <tarball>` offline cannot resolve
    // the dependency tree here, and the bundle needs none of it: no
    // node_modules at all, so only the bundle can be what runs.
    const prefix = join(work, 'prefix');
    const pkg = join(prefix, 'lib', 'node_modules', 'etcd-runbook');
    await mkdir(pkg, { recursive: true });
    await execa('tar', ['-xzf', join(work, info!.filename), '-C', pkg, '--strip-components=1']);
    const manifest = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(manifest.bin).toEqual({ 'etcd-runbook': 'dist/etcd-runbook.cjs' });
    expect((await readFile(join(pkg, manifest.bin['etcd-runbook']!), 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    await mkdir(join(prefix, 'bin'));
    await symlink(join('..', 'lib', 'node_modules', 'etcd-runbook', manifest.bin['etcd-runbook']!), join(prefix, 'bin', 'etcd-runbook'));
    const cwd = join(work, 'elsewhere');
    await mkdir(cwd);
    // the command by name, found on PATH, started by its #! line with this node
    const installed = (...args: string[]) =>
      execa('etcd-runbook', args, {
        cwd,
        env: { PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}`, HOME: work, NO_COLOR: '1' },
        extendEnv: false,
        reject: false,
        timeout: 30_000,
        stdin: 'ignore',
      });

    const help = await installed('--help');
    expect(help.stderr).toBe('');
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Usage: etcd-runbook [command] [flags]');
    // the first start leaves a code cache beside the bundle; a damaged one is replaced, never fatal
    const caches = async () => (await readdir(join(pkg, 'dist'))).filter((f) => f.endsWith('.v8cache'));
    expect(await caches()).toHaveLength(1);
    const cacheFile = join(pkg, 'dist', (await caches())[0]!);
    await writeFile(cacheFile, 'not a V8 code cache');
    const again = await installed('--help');
    expect([again.exitCode, again.stderr]).toEqual([0, '']);
    expect(again.stdout).toContain('Usage: etcd-runbook [command] [flags]');
    expect((await stat(cacheFile)).size).toBeGreaterThan(100_000);
    const statusHelp = await installed('status', '--help');
    expect(statusHelp.exitCode).toBe(0);
    expect(statusHelp.stdout).toContain('Usage: etcd-runbook status');

    // against nothing: a one-line error, or the unreachable verdict with its reason; exit 4 either way
    const missing = await installed('status', '--inventory', join(work, 'no-such-inventory.yaml'));
    expect(missing.exitCode).toBe(4);
    expect(missing.stdout).toBe('');
    expect(missing.stderr.trim()).toBe(`etcd-runbook: ${join(work, 'no-such-inventory.yaml')}: cannot read (ENOENT): check the --inventory path`);
    const nothing = await installed('status', '--json', '--endpoints', 'https://127.0.0.1:1', '--timeout', '200ms');
    expect(nothing.exitCode).toBe(4);
    expect(nothing.stderr).toBe('');
    const verdict = JSON.parse(nothing.stdout) as { verdict: string; evidence: string[] };
    expect(verdict.verdict).toBe('unreachable');
    expect(verdict.evidence.join('\n')).toContain('connection refused');

    // under a plain node the runbooks are the package's runbooks/, not the executable's embedded copy
    const plan = await installed('plan', 'backup', '--endpoints', 'https://127.0.0.1:1', '--json', '--timeout', '200ms');
    expect(plan.exitCode).toBe(0);
    expect((JSON.parse(plan.stdout) as { id: string }).id).toBe('backup');
    const unknown = await installed('plan', 'no-such-runbook', '--endpoints', 'https://127.0.0.1:1', '--timeout', '200ms');
    expect(unknown.exitCode).toBe(4);
    expect(unknown.stderr).toContain(`no runbook "no-such-runbook" in ${join(pkg, 'runbooks')} (known: backup,`);
  });
});
