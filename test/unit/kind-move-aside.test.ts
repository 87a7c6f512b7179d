import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateGuard, judgeDataDirEmpty, type GuardEnvironment } from '../../src/runbook/guards/index.js';
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
  it('suffix fresh: a new host\'s own file, link or empty dir moves to <path>.fresh-<timestamp>; never over one already there', () => {
    const fresh = (over: Partial<MoveAsideFacts>) => facts({ path: '/etc/kubernetes', aside: '/etc/kubernetes.fresh-T', asideInside: '/etc/kubernetes/.fresh-T', fresh: true, ...over });
    expect(decideMoveAside(fresh({ kind: 'file', entries: [] }))).toEqual({ action: { kind: 'rename' }, message: '/etc/kubernetes on m1 (a file) will be moved to /etc/kubernetes.fresh-T' });
    expect(decideMoveAside(fresh({ entries: [] })).action).toEqual({ kind: 'rename' });
    expect(decideMoveAside(fresh({ kind: 'symlink', entries: [] })).action).toEqual({ kind: 'rename' });
    expect(decideMoveAside(fresh({ kind: 'missing', entries: [] })).action).toEqual({ kind: 'nothing' });
    expect(decideMoveAside(fresh({ kind: 'file', asideExists: true })).message).toBe('refusing: /etc/kubernetes.fresh-T already exists on m1: not moving over it');
    expect(describeMoveAside(planMoveAside(['/root/.kube/config'], 'T', false, 'fresh')).split('\n').slice(0, 2)).toEqual(['mv -- /root/.kube/config /root/.kube/config.fresh-T', 'mkdir -p -- /root/.kube']);
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

  it('suffix fresh: moves a file and a dir to .fresh-<timestamp>, makes the dir a missing file goes in, and refuses to move over an earlier one', async () => {
    const conf = join(root, 'fresh', 'etc', 'etcd.conf');
    const pki = join(root, 'fresh', 'pki');
    const absent = join(root, 'fresh', 'kube', 'config');
    await mkdir(pki, { recursive: true });
    await mkdir(join(root, 'fresh', 'etc'));
    await writeFile(conf, 'ETCD_NAME=default\n');
    const plan = planMoveAside([conf, pki, absent], 'T4', false, 'fresh');
    const run = io();
    expect(await runMoveAside(transport, plan, run.io)).toEqual({ ok: true, exitCode: 0 });
    expect((await readdir(join(root, 'fresh', 'etc'))).sort()).toEqual(['etcd.conf.fresh-T4']);
    expect((await readdir(join(root, 'fresh'))).sort()).toEqual(['etc', 'kube', 'pki.fresh-T4']);
    expect(await readdir(join(root, 'fresh', 'kube'))).toEqual([]);
    await writeFile(conf, 'again\n');
    expect(await runMoveAside(transport, plan, io().io)).toMatchObject({ ok: false, error: `refusing: ${conf}.fresh-T4 already exists on m1: not moving over it` });
  });

  it('the can-move-aside guard a fresh move carries passes a file; a data dir move refuses one', async () => {
    const file = join(root, 'drop-in.conf');
    await writeFile(file, '[Service]\n');
    const env = { transport: () => transport, members: [] } as unknown as GuardEnvironment;
    const check = (fresh: boolean) => evaluateGuard({ check: 'can-move-aside', params: { node: 'm1', path: file, aside: `${file}.fresh-T5`, asideInside: join(file, '.fresh-T5'), ...(fresh ? { fresh: true } : {}) }, overridable: false, description: '' }, env);
    expect(await check(true)).toMatchObject({ ok: true, message: `${file} on m1 (a file) will be moved to ${file}.fresh-T5` });
    expect(await check(false)).toMatchObject({ ok: false, message: `refusing: ${file} on m1 is a file, not a directory` });
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
