import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { confirmThrough, KEYS, PtyCli } from '../helpers/pty.js';
import { labFingerprint } from '../helpers/lab-fingerprint.js';
import type { RenderedRunbook } from '../../src/runbook/rendered.js';

/**
 * The real CLI in a real pseudo-terminal (80×24) against one real 3-member
 * lab cluster with a member killed (minority lost): the screen is read back
 * and asserted, keys are typed as an operator would.
 */
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'runbooks');
const COLOR = /\u001b\[(?:3[0-7]|9[0-7]|38;[25];[\d;]+)m/;

describe('the interactive view in a pseudo-terminal', () => {
  let lab: LabCluster;
  let work: string;
  const open: PtyCli[] = [];

  const spawn = (args: string[], env: Record<string, string> = { NO_COLOR: '1' }) => {
    const cli = new PtyCli(args, { env });
    open.push(cli);
    return cli;
  };

  /** backup's steps as `plan --json` renders them for this lab (it has a step per master and host file), and those that apply to its layout */
  const backupPlan = async (backupDir: string) => {
    const result = await runCli(['plan', 'backup', '--json', '--inventory', lab.inventoryPath, '--set', `backupDir=${backupDir}`]);
    expect(result.exitCode, result.stderr).toBe(0);
    const steps = (JSON.parse(result.stdout) as RenderedRunbook).steps;
    return { total: steps.length, applicable: steps.filter((s) => s.targets.length > 0).length };
  };

  beforeAll(async () => {
    // backups, journals and marks go under work: shared with the nodes, so what their commands write is read here
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-tui-'));
    lab = await LabCluster.start({ members: 3, shared: [work] });
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
  });
  afterEach(() => {
    for (const cli of open.splice(0)) cli.kill();
  });
  afterAll(async () => {
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('without a terminal the interactive command exits 4 and points to status and plan', async () => {
    const result = await runCli(['--inventory', lab.inventoryPath]);
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toMatch(/needs a terminal: use 'etcd-runbook status'.*'etcd-runbook plan <runbook>'/);
  });

  it('detection: the table rows and the verdict with its evidence, in colour unless NO_COLOR; Ctrl-C leaves cleanly', async () => {
    const cli = spawn(['--inventory', lab.inventoryPath, '--journal-dir', join(work, 'j-detect')], {});
    const screen = await cli.waitFor('Choose a runbook');
    expect(screen).toMatch(/\| m1 +\| https:\/\/127\.0\.0\.\d+:2379 \| healthy /);
    expect(screen).toMatch(/\| m3 +\| https:\/\/127\.0\.0\.\d+:2379 \| unreachable /);
    expect(screen).toContain('verdict: minority-lost — 1 of 3 members unreachable: quorum held');
    expect(screen.replace(/\n/g, ' ')).toMatch(/· m3 [0-9a-f]+ \(voting member, .*\): unreachable: ?connection refused/);
    for (const line of screen.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    expect(cli.raw).toMatch(COLOR);
    await cli.type(KEYS.ctrlC);
    expect(await cli.exit()).toBe(130);

    // NO_COLOR: the same screen without a colour escape
    const plain = spawn(['--inventory', lab.inventoryPath, '--journal-dir', join(work, 'j-detect')]);
    await plain.waitFor('Choose a runbook');
    expect(plain.raw).not.toMatch(COLOR);
    await plain.type('q');
    expect(await plain.exit()).toBe(130);
  });

  it('on a 60-column terminal the table is compacted, never wrapped', async () => {
    const cli = new PtyCli(['--inventory', lab.inventoryPath], { cols: 60, rows: 30, env: { NO_COLOR: '1' } });
    open.push(cli);
    const screen = await cli.waitFor('verdict:');
    const table = screen.split('\n').filter((l) => /^[|+]/.test(l));
    expect(table.length).toBe(7);
    for (const line of table) expect(line.endsWith('|') || line.endsWith('+')).toBe(true);
    expect(screen).not.toContain('RAFT INDEX');
  });

  it('on a 40-column terminal the step view keeps its header, why, target, command and keys, cut at word boundaries', async () => {
    const cli = new PtyCli(['run', 'backup', '--dry-run', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'narrow-backups')}`, '--journal-dir', join(work, 'j-narrow')], { cols: 40, rows: 24, env: { NO_COLOR: '1' } });
    open.push(cli);
    const screen = await cli.waitFor(/y run · s skip/);
    const lines = screen.split('\n');
    // nothing scrolled off: the banner and the run's header line are the top rows
    expect(lines[0]).toMatch(/^DRY RUN/);
    expect(lines[1]).toMatch(/^backup: /);
    expect(lines[2]).toMatch(/^Step 1 of \d+: Create… \[CHANGES STATE\]$/);
    expect(lines[3]).toMatch(/^why: /);
    // the why ends on whole words: joined, it reads as the runbook's sentence (or a cut one ending in …)
    expect(`${lines[3]} ${lines[4]}`).toMatch(/^why: the snapshot this run saves is kept there; 0700 because a snapshot holds(?: every(?: Secret(?: of(?: the(?: cluster)?)?)?)?)?…?$/);
    expect(screen).toMatch(/^on local · ready: waiting for you$/m);
    expect(screen).toMatch(/^\$ mkdir -p -m 0700 -- /m);
    expect(screen).toMatch(/^health +m1 healthy/m);
    expect(lines.at(-1)).toBe('y run · s skip · a abort · ? help');
    expect(lines.length).toBeLessThan(24);
  });

  it('a dry run picked in the view changes nothing and writes a transcript', async () => {
    const backupDir = join(work, 'dry-backups');
    const journalDir = join(work, 'j-dry');
    const before = await labFingerprint(lab);
    const plan = await backupPlan(backupDir);
    const cli = spawn(['--dry-run', '--inventory', lab.inventoryPath, '--set', `backupDir=${backupDir}`, '--journal-dir', journalDir]);
    let screen = await cli.waitFor('Choose a runbook');
    expect(screen.split('\n')[0]).toMatch(/^DRY RUN/);
    // a digit selects nothing; move to backup and open it
    await cli.type('1');
    const highlighted = (s: string) => /❯ (\S+)/.exec(s)?.[1];
    for (let i = 0; i < 5 && highlighted(cli.screen()) !== 'backup'; i++) {
      const before = highlighted(cli.screen());
      await cli.type(KEYS.down);
      await cli.waitFor((s) => highlighted(s) !== before);
    }
    await cli.waitFor(/❯ backup/);
    expect(cli.screen()).not.toContain('Step 1 of');
    await cli.type(KEYS.enter);
    screen = await cli.waitFor(new RegExp(`Step 1 of ${plan.total}: Create the backup directory[\\s\\S]*y run`));
    expect(screen.split('\n')[0]).toMatch(/^DRY RUN/);
    expect(screen).toContain('[CHANGES STATE]');
    expect(screen).toContain(`$ mkdir -p -m 0700 -- ${backupDir}`);
    expect(screen).toMatch(/health .*m1 healthy/);
    await confirmThrough(cli);
    screen = await cli.waitFor('transcript:');
    expect(screen.split('\n')[0]).toMatch(/^DRY RUN/);
    expect(screen).toContain(`ran ${plan.applicable} · skipped 0 · failed 0`);
    expect(screen).toContain(`(of ${plan.total})`);
    await cli.type('q');
    expect(await cli.exit()).toBe(0);
    const transcript = /transcript: (\S+\.md)/.exec(cli.raw)?.[1];
    expect(transcript).toBeDefined();
    expect(await readFile(transcript!, 'utf8')).toMatch(/dry run/i);
    expect(await labFingerprint(lab)).toEqual(before);
    await expect(readdir(backupDir)).rejects.toThrow();
  });

  it('a confirmed run with the keys an operator types (backup on the minority-lost cluster)', async () => {
    const backupDir = join(work, 'backups');
    const plan = await backupPlan(backupDir);
    const cli = spawn(['run', 'backup', '--inventory', lab.inventoryPath, '--set', `backupDir=${backupDir}`, '--journal-dir', join(work, 'j-run')]);
    await cli.waitFor(new RegExp(`Step 1 of ${plan.total}:[\\s\\S]*y run`));
    // skip asks for a reason; Esc goes back without skipping
    await cli.type('s');
    await cli.waitFor('Reason for skipping:');
    await cli.type(KEYS.escape);
    await cli.waitFor('not skipped');
    expect(cli.screen()).toContain(`Step 1 of ${plan.total}:`);
    await confirmThrough(cli);
    const screen = await cli.waitFor('transcript:');
    expect(screen).toMatch(/succeeded/);
    expect(screen).toContain(`ran ${plan.applicable} · skipped 0 · failed 0`);
    expect(screen).toContain('final verdict: minority-lost');
    await cli.type('q');
    expect(await cli.exit()).toBe(0);
    const files = await readdir(backupDir);
    const snapshot = files.find((f) => /^snapshot-\d{8}T\d{6}Z\.db$/.test(f));
    expect(snapshot).toBeDefined();
    const sha = createHash('sha256').update(await readFile(join(backupDir, snapshot!))).digest('hex');
    expect(await readFile(join(backupDir, `${snapshot}.sha256`), 'utf8')).toBe(`${sha}  ${snapshot}\n`);
  });

  it('Ctrl-C in the middle of a step asks, abandons it (journaled), and resume continues at that step', async () => {
    const dir = join(work, 'resume');
    await execa('mkdir', ['-p', dir]);
    const journalDir = join(work, 'j-resume');
    const cli = spawn(['run', join(FIXTURES, 'resume-drill.yaml'), '--inventory', lab.inventoryPath, '--set', `dir=${dir}`, '--journal-dir', journalDir]);
    await cli.waitFor(/Step 1 of 4: Save a snapshot[\s\S]*y run/);
    await cli.type('y');
    await cli.waitFor(/Step 2 of 4: Pause[\s\S]*y run/);
    await cli.type('y');
    await cli.waitFor(/Step 2 of 4: Pause[\s\S]*running/);
    await cli.type(KEYS.ctrlC);
    await cli.waitFor('Abandon the running step?');
    await cli.type('y');
    expect(await cli.exit()).toBe(5);
    const journal = /journal: (\S+\.jsonl)/.exec(cli.raw)?.[1];
    expect(journal).toBeDefined();
    const events = (await readFile(journal!, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: string; reason?: string });
    expect(events.find((e) => e.type === 'aborted')?.reason).toMatch(/Ctrl-C/);
    expect(events.some((e) => e.type === 'target-started' && e.step === 'mark')).toBe(false);

    const resumed = spawn(['resume', journal!]);
    let screen = await resumed.waitFor(/Step 2 of 4: Pause/);
    expect(screen).toMatch(/r retry/);
    await resumed.type('r');
    await resumed.waitFor(/Step 2 of 4: Pause[\s\S]*y run/);
    await confirmThrough(resumed);
    screen = await resumed.waitFor('transcript:');
    expect(screen).toMatch(/succeeded/);
    await resumed.type('q');
    expect(await resumed.exit()).toBe(0);
    const all = (await readFile(journal!, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: string });
    expect(all.filter((e) => e.type === 'target-started' && e.step === 'snapshot')).toHaveLength(1);
    expect(await readFile(join(dir, 'mark.log'), 'utf8')).toBe('ran\n');
  });
});
