import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { changesMembershipOrRestores } from '../../src/runbook/preconditions.js';
import type { RenderedRunbook } from '../../src/runbook/rendered.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { journalEvents } from '../helpers/journal.js';
import { labFingerprint } from '../helpers/lab-fingerprint.js';
import { KEYS, PtyCli } from '../helpers/pty.js';
import { expectHealthyStatus, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * A runbook runs only on a verdict in its appliesTo. On a real healthy
 * 3-member cluster (systemd layout, control-plane stand-ins running),
 * split-brain — whose steps stop every apiserver and restore every member —
 * is refused before anything runs; the override naming it gets past that
 * refusal, and split-brain's own first guard (no split brain now) stops it
 * before its first step. Nothing on the lab changes in any of it.
 */
describe('appliesTo refusal on a healthy 3-member cluster', () => {
  let lab: LabCluster;
  let work: string;
  let before: Record<string, string>;
  const open: PtyCli[] = [];
  const backups = () => join(work, 'backups');
  const journals = (name: string) => join(work, `journal-${name}`);
  const run = (journal: string, ...extra: string[]): Promise<CliResult> =>
    runCli(['run', 'split-brain', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${backups()}`, '--journal-dir', journals(journal), ...extra], {}, 120_000);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'systemd', etcd: '3.5' }, 'applies-to', knownKeys(20)));
    before = await labFingerprint(lab, [work]);
  });
  afterEach(() => {
    for (const cli of open.splice(0)) cli.kill();
  });
  afterAll(() => stopKeyedLab(lab, work));

  /** Every member healthy, every control plane stand-in still up, no file changed on any node. */
  async function expectNothingChanged(): Promise<void> {
    await expectHealthyStatus(lab);
    for (const m of lab.members) expect(await lab.isActive(m.name, 'controlPlane'), `control plane on ${m.name}`).toBe(true);
    const after = await labFingerprint(lab, [work]);
    // the journal dirs the runs made are the only new entries in the work dir
    after[work] = after[work]!.split(',').filter((e) => !e.startsWith('journal-')).join(',');
    expect(after).toEqual(before);
  }

  const refusal =
    'etcd-runbook: refusing to run split-brain: it applies to split-brain, and the cluster is healthy now (the runbook for healthy is backup); nothing was run. To run it anyway, pass --override-applies-to split-brain';

  it('run split-brain --yes exits 4 at the refusal, one line, before a journal exists: no command ran', async () => {
    const result = await run('refused');
    expect(result.exitCode, result.stdout + result.stderr).toBe(4);
    expect(result.stderr).toBe(refusal);
    expect(result.stdout).toBe('');
    expect(await readdir(journals('refused')).catch(() => [])).toEqual([]);
    await expectNothingChanged();
  }, 120_000);

  it('a dry run is refused the same way (it rehearses what run would do)', async () => {
    const result = await run('dry', '--dry-run');
    expect(result.exitCode, result.stdout + result.stderr).toBe(4);
    expect(result.stderr).toBe(refusal);
    expect(await readdir(journals('dry')).catch(() => [])).toEqual([]);
  }, 120_000);

  it('an override naming another runbook is a one-line error', async () => {
    const result = await run('other', '--override-applies-to', 'restore-quorum');
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toBe('etcd-runbook: --override-applies-to restore-quorum: this run is of runbook split-brain, so the override must name it: --override-applies-to split-brain');
    expect(await readdir(journals('other')).catch(() => [])).toEqual([]);
  }, 120_000);

  it('plan renders it, and warns that run refuses it without the override', async () => {
    const plan = await runCli(['plan', 'split-brain', '--inventory', lab.inventoryPath, '--set', `backupDir=${backups()}`]);
    expect(plan.exitCode, plan.stderr).toBe(0);
    const warning = "split-brain applies to split-brain, and the cluster is healthy now: 'run' refuses it unless given --override-applies-to split-brain";
    expect(plan.stdout).toContain(`Warning: ${warning}\n`);
    expect(plan.stdout).toContain('Stop kube-apiserver, controller-manager and scheduler on every master');
    expect(plan.stderr).toBe(`etcd-runbook: warning: ${warning}`);
  }, 120_000);

  it('the 3.4 minimum applies to every shipped runbook that changes the member list or restores: all but backup', async () => {
    const sets: Record<string, string[]> = {
      backup: [],
      'replace-member': ['--set', 'member=m3'],
      'replace-master': ['--set', 'member=m3'],
      'restore-quorum': [],
      'single-survivor': ['--set', 'survivor=m1'],
      'split-brain': [],
    };
    const classified: Record<string, boolean> = {};
    for (const [id, extra] of Object.entries(sets)) {
      const plan = await runCli(['plan', id, '--json', '--inventory', lab.inventoryPath, '--set', `backupDir=${backups()}`, ...extra]);
      expect(plan.exitCode, `${id}: ${plan.stderr}`).toBe(0);
      classified[id] = changesMembershipOrRestores(JSON.parse(plan.stdout) as RenderedRunbook);
    }
    expect(classified).toEqual({ backup: false, 'replace-member': true, 'replace-master': true, 'restore-quorum': true, 'single-survivor': true, 'split-brain': true });
  }, 120_000);

  it('with --override-applies-to split-brain it gets past the refusal, journals the override, and split-brain-now blocks the first step', async () => {
    const result = await run('override', '--override-applies-to', 'split-brain');
    expect(result.exitCode, result.stdout + result.stderr).toBe(5);
    expect(result.stdout).toMatch(/appliesTo overridden by \S+: split-brain applies to split-brain, the cluster was healthy when the run started \(--override-applies-to split-brain\)/);
    expect(result.stdout).toMatch(/guard FAIL split-brain-now: refusing: the members are not split \(one cluster ID [0-9a-f]+, at most one leader per raft term; the cluster is healthy: all 3 members healthy/);
    const journal = /journal: (\S+)/.exec(result.stdout)?.[1] as string;
    const events = await journalEvents(journal);
    expect(events.map((e) => e.type).slice(0, 2)).toEqual(['run-started', 'applies-to-overridden']);
    expect(events.find((e) => e.type === 'applies-to-overridden')).toMatchObject({ runbook: 'split-brain', verdict: 'healthy', appliesTo: ['split-brain'] });
    expect(events.filter((e) => e.type === 'step-started' || e.type === 'target-started')).toEqual([]);
    const transcript = await readFile(journal.replace(/\.jsonl$/, '.md'), 'utf8');
    expect(transcript).toMatch(/> \*\*APPLIES-TO OVERRIDDEN\*\* — appliesTo overridden by \S+: split-brain applies to split-brain, the cluster was healthy/);
    await expectNothingChanged();

    // resume: the journal holds the override, which stands; the guard still blocks
    const resumed = await runCli(['resume', journal, '--yes']);
    expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(5);
    expect(resumed.stdout).toMatch(/blocked \(split-brain-now: refusing: the members are not split/);

    // the same run without the override in its journal: resumed before any step ran, it is judged as a new run
    const bare = join(work, 'journal-override', 'bare.jsonl');
    await writeFile(bare, events.filter((e) => e.type !== 'applies-to-overridden').map((e) => JSON.stringify(e)).join('\n') + '\n', { mode: 0o600 });
    const refused = await runCli(['resume', bare, '--yes']);
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(refused.stderr).toBe(refusal);
    expect((await journalEvents(bare)).length).toBe(events.length - 1);
    const overridden = await runCli(['resume', bare, '--yes', '--override-applies-to', 'split-brain']);
    expect(overridden.exitCode, overridden.stdout + overridden.stderr).toBe(5);
    expect(overridden.stdout).toMatch(/appliesTo overridden by \S+: split-brain applies to split-brain/);
    expect((await journalEvents(bare)).filter((e) => e.type === 'applies-to-overridden')).toHaveLength(1);
    await expectNothingChanged();
  }, 180_000);

  it('on a terminal: refused before the view opens; with the override the view says so in its header', async () => {
    const args = ['run', 'split-brain', '--inventory', lab.inventoryPath, '--set', `backupDir=${backups()}`, '--journal-dir', journals('tty')];
    const refused = new PtyCli(args, { env: { NO_COLOR: '1' } });
    open.push(refused);
    expect(await refused.exit(60_000)).toBe(4);
    expect(refused.raw).toContain('refusing to run split-brain');

    const view = new PtyCli([...args, '--override-applies-to', 'split-brain'], { cols: 120, env: { NO_COLOR: '1' } });
    open.push(view);
    const screen = await view.waitFor(/split-brain-now/, 60_000);
    expect(screen).toMatch(/^APPLIES-TO OVERRIDDEN \(cluster was healthy\) · split-brain: /m);
    await view.type(KEYS.ctrlC);
    await view.exit(30_000);
    await expectNothingChanged();
  }, 180_000);
});
