import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { confirmThrough, KEYS, PtyCli } from '../helpers/pty.js';

/**
 * A minority-lost cluster recovered from the interactive view with the keys
 * an operator types: the proposed runbook (replace-member) opened with
 * Enter, every step confirmed with y, the destructive member removal
 * confirmed by typing the member's name, until the summary says healthy.
 */
describe('recovering a minority-lost cluster in the pseudo-terminal', () => {
  let lab: LabCluster;
  let work: string;
  let cli: PtyCli | undefined;

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, etcd: '3.5' });
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-tui-replace-'));
  });
  afterEach(() => cli?.kill());
  afterAll(async () => {
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('replace-member, proposed first, runs to a healthy cluster', async () => {
    cli = new PtyCli(['--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')], { env: { NO_COLOR: '1' } });
    const screen = await cli.waitFor(/❯ replace-member \(recommended\)/);
    expect(screen).toContain('verdict: minority-lost');
    await cli.type(KEYS.enter);
    await cli.waitFor(/Step 1 of \d+:/);
    const typed = await confirmThrough(cli);
    expect(typed).toContain('m3');
    const summary = await cli.waitFor('transcript:');
    expect(summary).toMatch(/succeeded/);
    expect(summary).toMatch(/final verdict: healthy/);
    await cli.type('q');
    expect(await cli.exit()).toBe(0);
    expect((await lab.probe()).verdict.verdict).toBe('healthy');
  }, 110_000);
});
