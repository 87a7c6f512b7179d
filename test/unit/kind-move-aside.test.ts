import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeDataDirEmpty } from '../../src/runbook/guards/index.js';
import { decideMoveAside, describeMoveAside, moveAsideFacts, planMoveAside, runMoveAside, type MoveAsideFacts } from '../../src/runbook/kinds/move-aside.js';
import { installOne } from '../../src/runbook/kinds/snapshot-restore.js';
import { LocalTransport } from '../../src/transport/local.js';

const facts = (over: Partial<MoveAsideFacts> = {}): MoveAsideFacts => ({
  node: 'm1',
  path: '/var/lib/etcd',
  aside: '/var/lib/etcd.old-T',
  asideInside: '/var/lib/etcd/.old-T',
  kind: 'directory',
  entries: ['member'],
  mountPoint: false,
  asideExists: false,
  ...over,
});

describe('move-aside: the decision', () => {
  it('renames a plain dir to <path>.old-<timestamp>', () => {
    expect(decideMoveAside(facts())).toEqual({ action: { kind: 'rename' }, message: '/var/lib/etcd on m1 will be moved to /var/lib/etcd.old-T' });
  });
  it('moves the contents of a mount point into <path>/.old-<timestamp>/, leaving earlier .old-* entries where they are', () => {
    expect(decideMoveAside(facts({ mountPoint: true, entries: ['lost+found', 'member'] }))).toEqual({
      action: { kind: 'contents', entries: ['lost+found', 'member'] },
      message: '/var/lib/etcd on m1 is a mount point (its own filesystem, so it cannot be moved): its 2 entries (lost+found, member) move into /var/lib/etcd/.old-T/ on the same disk',
    });
  });
  it('refuses to move over something already at the aside name', () => {
    expect(decideMoveAside(facts({ asideExists: true }))).toMatchObject({ action: { kind: 'refuse' }, message: 'refusing: /var/lib/etcd.old-T already exists on m1: not moving over it' });
    expect(decideMoveAside(facts({ asideExists: true, mountPoint: true })).message).toBe('refusing: /var/lib/etcd/.old-T already exists on m1: not moving over it');
  });
  it('has nothing to do for a missing or empty dir, and refuses a file', () => {
    expect(decideMoveAside(facts({ kind: 'missing', entries: [] })).action).toEqual({ kind: 'nothing' });
    expect(decideMoveAside(facts({ entries: [] })).action).toEqual({ kind: 'nothing' });
    expect(decideMoveAside(facts({ kind: 'file', entries: [] })).message).toBe('refusing: /var/lib/etcd on m1 is a file, not a directory');
  });
  it('renders the move as plan shows it, the WAL dir after the data dir', () => {
    const plan = planMoveAside(['/var/lib/etcd/', '/srv/wal'], '20261206T050000Z', true);
    expect(describeMoveAside(plan).split('\n')).toEqual([
      'mv -- /var/lib/etcd /var/lib/etcd.old-20261206T050000Z',
      'mkdir -p -m 0700 -- /var/lib/etcd',
      'test ! -d /var/lib/etcd.old-20261206T050000Z || chown --reference=/var/lib/etcd.old-20261206T050000Z -- /var/lib/etcd',
      '# if /var/lib/etcd is a mount point: its contents move into /var/lib/etcd/.old-20261206T050000Z/ instead',
      'mv -- /srv/wal /srv/wal.old-20261206T050000Z',
      'mkdir -p -m 0700 -- /srv/wal',
      'test ! -d /srv/wal.old-20261206T050000Z || chown --reference=/srv/wal.old-20261206T050000Z -- /srv/wal',
      '# if /srv/wal is a mount point: its contents move into /srv/wal/.old-20261206T050000Z/ instead',
    ]);
  });
  it('data-dir-empty counts a mount point holding only moved-aside data as empty', () => {
    expect(judgeDataDirEmpty({ node: 'm1', path: '/var/lib/etcd', kind: 'directory', entries: ['.old-20261206T050000Z'] })).toEqual({
      ok: true,
      message: 'data dir /var/lib/etcd on m1 holds only earlier data moved aside (.old-20261206T050000Z): empty for etcd',
    });
    expect(judgeDataDirEmpty({ node: 'm1', path: '/var/lib/etcd', kind: 'directory', entries: ['.old-x', 'member'] }).ok).toBe(false);
  });
});

/**
 * On this machine's real filesystem: a plain dir is renamed; a tmpfs
 * mounted on a dir (etcd's own disk) keeps its mount and has its contents
 * moved inside it. Mounting needs root, as the lab does.
 */
describe('move-aside on real dirs', () => {
  const transport = new LocalTransport('m1');
  const io = () => {
    const out: string[] = [];
    return { out, io: { say: (t: string) => out.push(t), sayError: (t: string) => out.push(t), timeoutMs: 10_000 } };
  };
  let root: string;
  let mounted = false;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'etcd-runbook-move-aside-'));
  });
  afterAll(async () => {
    if (mounted) execFileSync('umount', [join(root, 'disk')]);
    await rm(root, { recursive: true, force: true });
  });

  it('renames a plain data dir and recreates it empty, then refuses to move over the aside name', async () => {
    const data = join(root, 'etcd');
    await mkdir(join(data, 'member', 'snap'), { recursive: true });
    const plan = planMoveAside([data], 'T1', true);
    const first = io();
    expect(await runMoveAside(transport, plan, first.io)).toEqual({ ok: true, exitCode: 0 });
    expect(await readdir(`${data}.old-T1`)).toEqual(['member']);
    expect(await readdir(data)).toEqual([]);
    await mkdir(join(data, 'member'));
    const again = io();
    expect(await runMoveAside(transport, plan, again.io)).toMatchObject({ ok: false, error: `refusing: ${data}.old-T1 already exists on m1: not moving over it` });
    expect(await readdir(join(data))).toEqual(['member']);
  });

  it('moves a mount point\'s contents into <path>/.old-<timestamp>/ on the same disk, the mount kept', async () => {
    const disk = join(root, 'disk');
    await mkdir(disk);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'etcd-runbook-test', disk]);
      mounted = true;
    } catch {
      return expect.fail('mounting a tmpfs needs root (as the lab does): run the unit tests as root');
    }
    await mkdir(join(disk, 'member', 'wal'), { recursive: true });
    await writeFile(join(disk, 'member', 'wal', '0.wal'), 'wal');
    const dir = planMoveAside([disk], 'T2', false).dirs[0];
    if (!dir) throw new Error('no dir planned');
    expect((await moveAsideFacts(transport, dir)).mountPoint).toBe(true);
    const run = io();
    expect(await runMoveAside(transport, planMoveAside([disk], 'T2', false), run.io)).toEqual({ ok: true, exitCode: 0 });
    expect(run.out.join('')).toContain(`+ mv -- ${disk}/member ${disk}/.old-T2/`);
    expect(await readdir(disk)).toEqual(['.old-T2']);
    expect(await readdir(join(disk, '.old-T2', 'member', 'wal'))).toEqual(['0.wal']);
    // still its own filesystem, and empty for etcd
    expect((await moveAsideFacts(transport, dir)).mountPoint).toBe(true);
    expect(decideMoveAside(await moveAsideFacts(transport, { ...dir, aside: `${disk}.old-T3`, asideInside: join(disk, '.old-T3') })).action).toEqual({ kind: 'nothing' });
    // a restore made beside it is put in place by moving its entries into the mount
    const restored = `${disk}.restore`;
    await mkdir(join(restored, 'member', 'snap'), { recursive: true });
    expect(await installOne(transport, restored, disk)).toEqual([`mv -- ${restored}/member ${disk}/`, `rmdir -- ${restored}`]);
    await writeFile(join(disk, 'stray'), 'x');
    expect(await installOne(transport, restored, disk)).toBe(`${disk} on m1 is not empty: not putting the restored ${restored} over it`);
  });
});
