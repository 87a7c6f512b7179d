import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { labFingerprint } from '../helpers/lab-fingerprint.js';
import { confirmThrough, KEYS, PtyCli } from '../helpers/pty.js';

/**
 * The rehearsal an operator does first on a quorum-lost cluster: the
 * interactive view in dry-run mode proposes restore-quorum, every step is
 * confirmed (destructive ones by typing the names), and afterwards nothing
 * on any node has changed while the transcript says what would have run.
 */
describe('a quorum-lost dry run in the pseudo-terminal', () => {
  let lab: LabCluster;
  let work: string;
  let cli: PtyCli | undefined;

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, etcd: '3.5' });
    await lab.kill('m2');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-tui-quorum-'));
  });
  afterAll(async () => {
    cli?.kill();
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('restore-quorum, proposed first, rehearsed step by step: every node byte-identical, a transcript of what would have run', async () => {
    const backupDir = join(work, 'backups');
    const journalDir = join(work, 'journal');
    const before = await labFingerprint(lab, [backupDir]);
    cli = new PtyCli(['--dry-run', '--inventory', lab.inventoryPath, '--set', `backupDir=${backupDir}`, '--journal-dir', journalDir], { env: { NO_COLOR: '1' } });
    let screen = await cli.waitFor('Choose a runbook');
    expect(screen.split('\n')[0]).toMatch(/^DRY RUN/);
    // the verdict line wraps at 80 columns: "quorum" and "lost" may sit on two lines
    expect(screen).toMatch(/quorum\s+lost/i);
    expect(screen).toMatch(/❯ restore-quorum/);
    await cli.type(KEYS.enter);
    screen = await cli.waitFor(/Step 1 of \d+:[\s\S]*y run/);
    expect(screen.split('\n')[0]).toMatch(/^DRY RUN/);
    const typed = await confirmThrough(cli, 90_000);
    // the destructive steps asked for the names an operator reads off the screen
    expect(typed.length).toBeGreaterThan(0);
    screen = await cli.waitFor('transcript:');
    expect(screen.split('\n')[0]).toMatch(/^DRY RUN/);
    expect(screen).toMatch(/failed 0/);
    await cli.type('q');
    expect(await cli.exit()).toBe(0);
    const transcript = /transcript: (\S+\.md)/.exec(cli.raw)?.[1];
    expect(transcript).toBeDefined();
    const text = await readFile(transcript!, 'utf8');
    expect(text).toMatch(/dry run/i);
    expect(text).toMatch(/snapshot restore/);
    expect(await labFingerprint(lab, [backupDir])).toEqual(before);
    await expect(readdir(backupDir)).rejects.toThrow();
    // still quorum-lost: the rehearsal started nothing
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
  }, 240_000);
});
