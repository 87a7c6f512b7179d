import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { listRunbooks, loadRunbookFile } from '../../src/runbook/loader.js';
import { CLI, runCli } from '../helpers/cli.js';
import { labFingerprint } from '../helpers/lab-fingerprint.js';
import { waitForJournalEvent } from '../helpers/journal.js';

/**
 * The engine end to end: real runbooks through the real CLI against one real
 * 3-member cluster (started once for the file).
 */
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'runbooks');

describe('running runbooks for real', () => {
  let lab: LabCluster;
  let work: string;

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, etcd: '3.5' });
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-engine-'));
  });
  afterAll(async () => {
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const journalDir = () => join(work, 'journal');

  async function events(path: string): Promise<Array<Record<string, unknown> & { type: string; step?: string }>> {
    const text = await readFile(path, 'utf8');
    return text.trim().split('\n').map((line) => JSON.parse(line));
  }

  function journalOf(stdout: string): string {
    const match = /journal: (\S+)/.exec(stdout);
    if (!match?.[1]) throw new Error(`no journal path in output:\n${stdout}`);
    return match[1];
  }

  it('backup: a verified snapshot with its sha256, a 0600 journal and a transcript of every command', async () => {
    const dir = join(work, 'backups');
    const result = await runCli(['run', 'backup', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${dir}`, '--journal-dir', journalDir()]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    const files = (await readdir(dir)).sort();
    const snapshot = files.find((f) => /^snapshot-\d{8}T\d{6}Z\.db$/.test(f));
    expect(snapshot).toBeDefined();
    expect(files).toContain(`${snapshot}.sha256`);
    const bytes = await readFile(join(dir, snapshot!));
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(await readFile(join(dir, `${snapshot}.sha256`), 'utf8')).toBe(`${sha}  ${snapshot}\n`);
    const status = await execa('etcdctl', ['snapshot', 'status', join(dir, snapshot!), '-w', 'json']);
    expect(JSON.parse(status.stdout).totalKey).toBeGreaterThan(0);

    const journal = journalOf(result.stdout);
    expect((await stat(journal)).mode & 0o777).toBe(0o600);
    const transcript = journal.replace(/\.jsonl$/, '.md');
    expect((await stat(transcript)).mode & 0o777).toBe(0o600);
    const markdown = await readFile(transcript, 'utf8');
    expect(markdown).toContain('Save a snapshot through the etcd API');
    expect(markdown).toContain(`sha256sum -- ${snapshot}`);
    expect(markdown).toMatch(/succeeded/);
    const kinds = (await events(journal)).map((e) => e.type);
    expect(kinds[0]).toBe('run-started');
    expect(kinds.at(-1)).toBe('run-finished');
  });

  it('backup prunes only its own older snapshots, keeping the newest N and anything else', async () => {
    const dir = join(work, 'pruned');
    await execa('mkdir', ['-p', dir]);
    for (const old of ['snapshot-20200101T000000Z.db', 'snapshot-20210101T000000Z.db']) {
      await writeFile(join(dir, old), 'old');
      await writeFile(join(dir, `${old}.sha256`), 'x');
    }
    await writeFile(join(dir, 'notes.txt'), 'keep me');
    await writeFile(join(dir, 'snapshot.db'), 'not a timestamped snapshot');
    const result = await runCli(['run', 'backup', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${dir}`, '--set', 'keep=2', '--journal-dir', journalDir()]);
    expect(result.exitCode).toBe(0);
    const files = (await readdir(dir)).sort();
    expect(files).not.toContain('snapshot-20200101T000000Z.db');
    expect(files).not.toContain('snapshot-20200101T000000Z.db.sha256');
    expect(files).toContain('snapshot-20210101T000000Z.db');
    expect(files).toContain('notes.txt');
    expect(files).toContain('snapshot.db');
    expect(files.filter((f) => /^snapshot-\d{8}T\d{6}Z\.db$/.test(f))).toHaveLength(2);
  });

  it('SIGKILLed mid-step: resume shows the step as unknown, never re-runs it silently, and finishes when told to retry', async () => {
    const dir = join(work, 'resume');
    await execa('mkdir', ['-p', dir]);
    const child = execa(process.execPath, [CLI, 'run', join(FIXTURES, 'resume-drill.yaml'), '--yes', '--inventory', lab.inventoryPath,
      '--set', `dir=${dir}`, '--journal-dir', join(work, 'resume-journal')], { reject: false, env: { NO_COLOR: '1' } });
    const journal = await waitForJournalEvent(join(work, 'resume-journal'), (e) => e.type === 'target-started' && e.step === 'pause');
    child.kill('SIGKILL');
    await child;

    const refused = await runCli(['resume', journal, '--yes']);
    expect(refused.exitCode).toBe(5);
    expect(refused.stdout).toMatch(/\(Pause \(a window to interrupt the run\)\) was running when the tool stopped: state unknown/);
    expect(refused.stdout).toMatch(/aborted by .*check what it did before re-running it/);

    const resumed = await runCli(['resume', journal, '--yes', '--retry-unknown']);
    expect(resumed.exitCode).toBe(0);
    expect(resumed.stdout).toContain('run succeeded');
    // the snapshot step finished before the kill: it ran once, the mark step once
    const all = await events(journal);
    expect(all.filter((e) => e.type === 'target-started' && e.step === 'snapshot')).toHaveLength(1);
    expect(all.filter((e) => e.type === 'target-started' && e.step === 'pause')).toHaveLength(2);
    expect(await readFile(join(dir, 'mark.log'), 'utf8')).toBe('ran\n');
    expect(all.filter((e) => e.type === 'step-unknown').map((e) => e.step)).toEqual(['pause']);
  });

  it('dry run of every shipped runbook changes nothing: member list, data dirs and files byte-identical', async () => {
    const runbooks = await listRunbooks();
    expect(runbooks.length).toBeGreaterThan(0);
    for (const entry of runbooks) {
      const backupDir = join(work, `dry-${entry.id}`);
      const before = await labFingerprint(lab, [backupDir]);
      // a runbook that acts on one member (replace-member) gets one named: this cluster has no failed member to default to
      const runbook = await loadRunbookFile(entry.file);
      const member = runbook.inputs.some((i) => i.name === 'member') ? ['--set', 'member=m3'] : [];
      // single-survivor keeps one member's data: name it (any member of a healthy lab would default)
      if (runbook.inputs.some((i) => i.name === 'survivor')) member.push('--set', 'survivor=m1');
      // where a run would write its snapshot, for the runbooks that take one (renew-certificates writes none)
      if (runbook.inputs.some((i) => i.name === 'backupDir')) member.push('--set', `backupDir=${backupDir}`);
      const args = ['run', entry.id, '--dry-run', '--yes', '--inventory', lab.inventoryPath, ...member, '--journal-dir', join(work, 'dry-journal')];
      // a runbook not for a healthy cluster is refused, dry run or not (it rehearses what run would do): overridden here, and said so
      const applies = entry.appliesTo.includes('healthy');
      if (!applies) {
        const refused = await runCli(args);
        expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
        expect(refused.stderr).toContain(`pass --override-applies-to ${entry.id}`);
      }
      const result = await runCli(applies ? args : [...args, '--override-applies-to', entry.id]);
      expect(result.stdout, `${entry.id}: ${result.stderr}`).toContain('DRY RUN');
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      expect(await labFingerprint(lab, [backupDir])).toEqual(before);
      const markdown = await readFile(journalOf(result.stdout).replace(/\.jsonl$/, '.md'), 'utf8');
      expect(markdown).toMatch(/dry run/i);
      if (!applies) expect(markdown).toContain('**APPLIES-TO OVERRIDDEN**');
    }
  });

  it('lint reports file:line:field for a broken runbook and passes the shipped ones', async () => {
    const broken = await runCli(['lint', join(FIXTURES, 'lint', 'bad-templates.yaml')]);
    expect(broken.exitCode).toBe(4);
    expect(broken.stdout + broken.stderr).toMatch(/bad-templates\.yaml:\d+: steps\[\d+\]\.\w+/);
    const shipped = (await listRunbooks()).map((r) => r.file);
    const clean = await runCli(['lint', ...shipped]);
    expect(clean.exitCode, clean.stdout + clean.stderr).toBe(0);
  });

  it('plan --json renders every command for this cluster without running any', async () => {
    const dir = join(work, 'planned');
    const result = await runCli(['plan', 'backup', '--json', '--inventory', lab.inventoryPath, '--set', `backupDir=${dir}`]);
    expect(result.exitCode).toBe(0);
    const plan = JSON.parse(result.stdout) as { id: string; steps: Array<{ id: string; targets: Array<{ command?: string }> }> };
    expect(plan.id).toBe('backup');
    expect(plan.steps[0]?.targets[0]?.command).toContain(`mkdir -p -m 0700 -- ${dir}`);
    // systemd masters: 5 plain steps and the 4 systemd host-file steps per member; the kubeadm-only ones are not there
    expect(plan.steps).toHaveLength(5 + 3 * 4);
    expect(plan.steps.filter((s) => s.targets.length === 0).map((s) => s.id)).toEqual([]);
    expect(plan.steps.map((s) => s.id)).toContain('host-files-m2-etcd-pki');
    expect(plan.steps.map((s) => s.id)).not.toContain('host-files-m2-kubernetes-dir');
    await expect(stat(dir)).rejects.toThrow();
  });

  it('a failing guard stops the run before the step: backup refused on a quorum-lost cluster (appliesTo, then overridden, quorum-held), nothing written', async () => {
    const dir = join(work, 'refused');
    await lab.kill('m3');
    await lab.kill('m2');
    try {
      expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
      // backup is not for a quorum-lost cluster: refused before a journal exists; overridden, its first guard stops it
      const refused = await runCli(['run', 'backup', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${dir}`, '--journal-dir', journalDir()]);
      expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
      expect(refused.stderr).toMatch(/refusing to run backup: it applies to healthy, minority-lost, and the cluster is quorum-lost now/);
      const result = await runCli(['run', 'backup', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${dir}`, '--journal-dir', journalDir(), '--override-applies-to', 'backup']);
      expect(result.exitCode).toBe(5);
      expect(result.stdout).toMatch(/guard FAIL quorum-held/);
      expect(result.stdout).toMatch(/aborted by .*blocked/);
      const files = await readdir(dir).catch(() => [] as string[]);
      expect(files.filter((f) => f.endsWith('.db'))).toEqual([]);
    } finally {
      await lab.startMember('m2');
      await lab.startMember('m3');
      await lab.waitHealthy();
    }
  });
});
