import { describe, expect, it } from 'vitest';
import { planMarkdown } from '../../src/cli/plan.js';
import type { ClusterReport } from '../../src/cluster/types.js';
import type { Inventory, InventoryMember } from '../../src/inventory/schema.js';
import { threeMasters } from '../helpers/inventories.js';
import { judgeEtcdVersion } from '../../src/runbook/guards/index.js';
import { describeSnapshotRestore, planSnapshotRestore, serverVersionOf, type SnapshotRestoreSpec } from '../../src/runbook/kinds/snapshot-restore.js';
import { findRunbook } from '../../src/runbook/loader.js';
import { renderRunbook } from '../../src/runbook/render.js';

const m1: InventoryMember = {
  name: 'm1',
  peerURLs: ['https://10.0.0.1:2380'],
  clientURLs: ['https://10.0.0.1:2379'],
  node: { host: 'local', layout: 'systemd', paths: { dataDir: '/var/lib/etcd' } },
};
const withWal: InventoryMember = { ...m1, node: { host: 'local', layout: 'systemd', paths: { dataDir: '/var/lib/etcd', walDir: '/srv/etcd-wal' } } };

const spec = (over: Partial<SnapshotRestoreSpec> = {}): SnapshotRestoreSpec => ({
  member: m1,
  serverVersion: '3.5.15',
  snapshot: '/var/lib/etcd.snapshot-20261206T050000Z.db',
  initialCluster: 'm1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380',
  token: 'prod-restore-20261206T050000Z',
  into: '.restore',
  bumpRevision: 1_000_000_000,
  skipHashCheck: false,
  ...over,
});

describe('snapshot-restore: the tool and flags', () => {
  it('restores 3.5 with etcdutl, bumping the revision and marking it compacted', () => {
    const plan = planSnapshotRestore(spec());
    expect(plan.tool).toBe('etcdutl');
    expect(plan.env).toEqual([]);
    expect(plan.argv).toEqual([
      'etcdutl', 'snapshot', 'restore', '/var/lib/etcd.snapshot-20261206T050000Z.db',
      '--name', 'm1', '--initial-cluster', 'm1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380',
      '--initial-cluster-token', 'prod-restore-20261206T050000Z', '--initial-advertise-peer-urls', 'https://10.0.0.1:2380',
      '--data-dir', '/var/lib/etcd.restore', '--bump-revision', '1000000000', '--mark-compacted',
    ]);
    expect(plan.notes).toEqual([]);
  });

  it('restores 3.4 with etcdctl (ETCDCTL_API=3) and no bump, and says the revision is not bumped and what to restart', () => {
    const plan = planSnapshotRestore(spec({ serverVersion: '3.4.23' }));
    expect(plan.tool).toBe('etcdctl');
    expect(plan.env).toEqual(['ETCDCTL_API=3']);
    expect(plan.argv.join(' ')).not.toMatch(/bump|mark-compacted/);
    expect(plan.notes).toEqual([expect.stringMatching(/^etcd 3\.4: etcdctl cannot bump the revision, so it is not bumped; restart every kube-apiserver, kube-controller-manager, kube-scheduler and kubelet/)]);
    const text = describeSnapshotRestore(plan);
    expect(text.split('\n')[0]).toBe(`# ${plan.notes[0]}`);
    expect(text).toContain('ETCDCTL_API=3 etcdctl snapshot restore /var/lib/etcd.snapshot-20261206T050000Z.db');
  });

  it('restores a member with a separate WAL dir with --wal-dir, and chmods, owns and installs both dirs', () => {
    const plan = planSnapshotRestore(spec({ member: withWal, install: true, ownerFrom: '/var/lib/etcd.old-20261206T050000Z' }));
    expect(plan.argv.slice(plan.argv.indexOf('--data-dir'), plan.argv.indexOf('--bump-revision'))).toEqual(['--data-dir', '/var/lib/etcd.restore', '--wal-dir', '/srv/etcd-wal.restore']);
    expect(plan.install).toEqual([
      { from: '/var/lib/etcd.restore', to: '/var/lib/etcd' },
      { from: '/srv/etcd-wal.restore', to: '/srv/etcd-wal' },
    ]);
    expect(describeSnapshotRestore(plan).split('\n').slice(-4)).toEqual([
      'chmod 0700 -- /var/lib/etcd.restore /srv/etcd-wal.restore',
      'test ! -d /var/lib/etcd.old-20261206T050000Z || chown -R --reference=/var/lib/etcd.old-20261206T050000Z -- /var/lib/etcd.restore /srv/etcd-wal.restore',
      'mv -- /var/lib/etcd.restore /var/lib/etcd',
      'mv -- /srv/etcd-wal.restore /srv/etcd-wal',
    ]);
  });

  it('renders the restore as lines an SRE reads, each flag with its value, continued with backslashes', () => {
    const text = describeSnapshotRestore(planSnapshotRestore(spec()));
    expect(text).toBe(
      [
        'etcdutl snapshot restore /var/lib/etcd.snapshot-20261206T050000Z.db \\',
        '  --name m1 \\',
        '  --initial-cluster m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380 \\',
        '  --initial-cluster-token prod-restore-20261206T050000Z \\',
        '  --initial-advertise-peer-urls https://10.0.0.1:2380 --data-dir /var/lib/etcd.restore \\',
        '  --bump-revision 1000000000 --mark-compacted',
        'chmod 0700 -- /var/lib/etcd.restore',
      ].join('\n'),
    );
  });

  it('quotes every value with the one shellQuote', () => {
    const hostile = { ...m1, name: "m1'; rm -rf /" };
    expect(describeSnapshotRestore(planSnapshotRestore(spec({ member: hostile, serverVersion: '3.4.23' })))).toContain(`--name 'm1'\\''; rm -rf /'`);
  });

  it('validates the flags: --bump-revision needs --mark-compacted, and the other way round', () => {
    expect(() => planSnapshotRestore(spec({ markCompacted: false }))).toThrow('snapshot restore of m1: --bump-revision needs --mark-compacted (revisions skipped over must read as compacted to watchers)');
    expect(() => planSnapshotRestore(spec({ bumpRevision: 0, markCompacted: true }))).toThrow('snapshot restore of m1: --mark-compacted needs --bump-revision above 0');
    expect(() => planSnapshotRestore(spec({ bumpRevision: -5 }))).toThrow('--bump-revision -5 must be a whole number ≥ 0 (0: no bump)');
    expect(() => planSnapshotRestore(spec({ bumpRevision: Number.NaN }))).toThrow(/must be a whole number/);
    expect(planSnapshotRestore(spec({ bumpRevision: 0 })).argv.join(' ')).not.toMatch(/bump|mark-compacted/);
    expect(() => planSnapshotRestore(spec({ install: true, into: '' }))).toThrow(/install needs "into"/);
  });

  it('refuses to guess the tool when no version is known, and says where to set it', () => {
    expect(() => planSnapshotRestore(spec({ serverVersion: undefined }))).toThrow('snapshot restore of m1: the etcd version is not known (no member reported it): set cluster.etcdVersion in the inventory, e.g. 3.5.15');
  });
});

describe('serverVersionOf', () => {
  const inventory: Inventory = { cluster: { etcdVersion: '3.5.1' }, members: [m1] };
  const report = (endpoints: Array<{ name?: string; expectedName?: string; version?: string }>) => ({ endpoints }) as unknown as ClusterReport;
  it('takes the member\'s own answer, then the inventory, then any member\'s', () => {
    expect(serverVersionOf(m1, inventory, report([{ name: 'm1', version: '3.5.9' }]))).toBe('3.5.9');
    expect(serverVersionOf(m1, inventory, report([{ expectedName: 'm1' }, { name: 'm2', version: '3.5.9' }]))).toBe('3.5.1');
    expect(serverVersionOf(m1, { members: [m1] }, report([{ expectedName: 'm1' }, { name: 'm2', version: '3.4.23' }]))).toBe('3.4.23');
    expect(serverVersionOf(m1, { members: [m1] })).toBeUndefined();
  });
});

describe('etcd-version-matches with the tool the step chose', () => {
  it('refuses when the node lacks the chosen tool, naming what to install', () => {
    const j = judgeEtcdVersion({ node: 'm1', etcdctl: '3.5.15', tool: 'etcdutl', serverVersion: '3.5.15' });
    expect(j).toEqual({
      ok: false,
      message: "refusing: etcd 3.5.15 restores with etcdutl, which m1 lacks (etcdctl 3.5.15): install etcdutl 3.5 on m1 (from the etcd v3.5 release tarball, or copy /usr/local/bin/etcdutl out of the registry.k8s.io/etcd image of the servers' version)",
    });
  });
  it('refuses a tool of another major.minor than the servers', () => {
    expect(judgeEtcdVersion({ node: 'm1', etcdutl: '3.6.0', tool: 'etcdutl', serverVersion: '3.5.15' }).message).toMatch(/^refusing: etcdutl 3\.6\.0 on m1 is not the servers' etcd 3\.5\.15 \(major\.minor\): install etcdutl 3\.5/);
  });
  it('passes and names the tool', () => {
    expect(judgeEtcdVersion({ node: 'm1', etcd: '3.4.23', etcdctl: '3.4.23', tool: 'etcdctl', serverVersion: '3.4.23' })).toEqual({ ok: true, message: 'm1: etcd 3.4.23, etcdctl 3.4.23; restore will use etcdctl snapshot restore' });
  });
});

describe('restore-quorum rendered for a 3.5 cluster', () => {
  const inventory: Inventory = threeMasters((i) => ({
    layout: 'systemd',
    paths: { dataDir: '/var/lib/etcd', envFile: '/etc/etcd/etcd.conf', ...(i === '3' ? { walDir: '/var/lib/etcd-wal' } : {}) },
  }));
  const report = {
    probedAt: '2026-12-06T05:00:00Z',
    durationMs: 10,
    endpoints: [{ endpoint: 'https://10.0.0.1:2379', expectedName: 'm1', name: 'm1', reachable: true, version: '3.5.15', revision: 100, alarms: [], memberErrors: [], healthy: false, latencyMs: 2 }],
    verdict: { verdict: 'quorum-lost', summary: '', evidence: [], warnings: [], alarms: [], alternatives: [], votingMembers: 3, healthyVoting: 1, quorumSize: 2, members: [], clusterIds: [], leaders: [] },
  } as unknown as ClusterReport;

  it('shows the short etcdutl command with the bump, --wal-dir where the member has one, and the kind\'s guards', async () => {
    const rendered = renderRunbook(await findRunbook('restore-quorum'), { inventory, report, inputs: {}, run: { id: 'r', timestamp: '20261206T050000Z' } });
    const restore = rendered.steps.find((s) => s.id === 'restore');
    expect(restore?.kind).toBe('snapshot-restore');
    expect(restore?.targets[0]?.command?.split('\n')[0]).toBe('etcdutl snapshot restore /var/lib/etcd.snapshot-20261206T050000Z.db \\');
    expect(restore?.targets[0]?.command).toContain('--bump-revision 1000000000 --mark-compacted');
    expect(restore?.targets[2]?.command).toContain('--wal-dir /var/lib/etcd-wal.restore');
    expect(restore?.targets[0]?.command).not.toContain('--wal-dir');
    expect(restore?.guards.filter((g) => g.check === 'etcd-version-matches').map((g) => g.params)).toEqual(
      ['m1', 'm2', 'm3'].map((node) => ({ node, tool: 'etcdutl', serverVersion: '3.5.15' })),
    );
    // checked before anything is stopped, too
    expect(rendered.steps.find((s) => s.id === 'stop-control-plane')?.guards.filter((g) => g.check === 'etcd-version-matches').map((g) => g.params.node)).toEqual(['m1', 'm2', 'm3']);
    const aside = rendered.steps.find((s) => s.id === 'move-data-dirs-aside');
    expect(aside?.targets[2]?.moveAside?.dirs.map((d) => d.path)).toEqual(['/var/lib/etcd', '/var/lib/etcd-wal']);
    const md = planMarkdown(rendered, { report, generatedAt: '2026-12-06T05:00:00.000Z' });
    const restoreSection = md.slice(md.indexOf('Restore every member'), md.indexOf('## 12.'));
    expect(restoreSection).toContain('```sh\netcdutl snapshot restore');
    const commands = [...restoreSection.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => (m[1] as string).split('\n'));
    expect(commands.length).toBeGreaterThan(20);
    for (const line of commands) expect(line.length, line).toBeLessThanOrEqual(200);
    expect(commands.join('\n')).not.toMatch(/\bif\b|awk|\$\(/);
  });

  it('turns the bump off with --set bumpRevision=0', async () => {
    const rendered = renderRunbook(await findRunbook('restore-quorum'), { inventory, report, inputs: { bumpRevision: '0' }, run: { id: 'r', timestamp: '20261206T050000Z' } });
    expect(rendered.steps.find((s) => s.id === 'restore')?.targets[0]?.command).not.toMatch(/bump|mark-compacted/);
  });
});
