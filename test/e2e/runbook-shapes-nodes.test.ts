import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { LabCluster, type LabMember, type LabOptions } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { expectHealthyStatus, expectKeysOnEveryMember, knownKeys, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';

/**
 * The shapes real masters have, on real lab nodes (systemd as PID 1, etcd
 * under etcd.service, reached over SSH), restored end to end through the
 * real CLI: restore-quorum, single-survivor, then replace-member on the same lab.
 *  - etcd 3.5 with its WAL in its own dir (--wal-dir /var/lib/etcd-wal) and
 *    every flag on ExecStart, no env file (kubeasz, hand-made installs): the
 *    old WAL moves aside with the data dir, the restore writes --wal-dir, the
 *    new flags go into a drop-in that resets ExecStart, then daemon-reload;
 *    plan shows the revision bump.
 *  - etcd 3.4 with the data dir on its own mount (a dedicated disk) and a
 *    WAL dir, flags in /etc/etcd/etcd.conf: the mount point's contents move
 *    aside inside it and the restore goes into the mount.
 * On 3.5, a snapshot given from an etcd 3.4 cluster is refused first.
 * What etcd runs with is read from the running process (its command line
 * and environment), so a flag written where etcd does not read it shows.
 */
interface Shape {
  title: string;
  options: LabOptions & { etcd: '3.4' | '3.5' };
}

const SHAPES: Shape[] = [
  { title: 'etcd 3.5, a WAL dir, every flag on ExecStart (no env file)', options: { etcd: '3.5', walDir: true, flagsOnExecStart: true } },
  { title: 'etcd 3.4, the data dir on its own mount, a WAL dir', options: { etcd: '3.4', walDir: true, dataDirMount: true } },
];

const DROP_IN = '/etc/systemd/system/etcd.service.d/99-etcd-runbook.conf';

describe.each(SHAPES)('restore on 3 real systemd nodes: $title', ({ options }) => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(200);
  const version = options.etcd;

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'systemd', ...options }, `shapes-${version}`, keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  const inNode = async (m: LabMember, command: string): Promise<string> => {
    if (!m.node) throw new Error(`${m.name} is not on a real node`);
    const result = await m.node.exec(command);
    expect(result.exitCode, `${command} on ${m.name}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const cli = (runbook: string, ...extra: string[]) =>
    runCli([runbook === 'plan' ? 'plan' : 'run', ...(runbook === 'plan' ? ['restore-quorum'] : [runbook, '--yes']), '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, ...(runbook === 'plan' ? [] : ['--journal-dir', join(work, 'journal')]), ...extra], {}, 300_000);
  /** how many old WAL dirs a runbook moved aside on the member's node */
  const walsAside = async (m: LabMember) => Number((await inNode(m, 'ls -d /var/lib/etcd-wal.old-* 2>/dev/null | wc -l')).trim());
  const fullList = () => lab.members.map((x) => `${x.name}=${x.peerURL}`).join(',');

  /** Each member's etcd as it runs now: the settings it was started with, and where its WAL and data are. */
  async function expectMembersRunAsRestored(token: RegExp): Promise<void> {
    for (const m of lab.members) {
      const settings = runningSettings(lab, m.name);
      expect(settings['initial-cluster-state'], `${m.name} initial-cluster-state`).toBe('existing');
      expect(settings['initial-cluster'], `${m.name} initial-cluster`).toBe(fullList());
      expect(settings['initial-cluster-token'], `${m.name} initial-cluster-token`).toMatch(token);
      expect(settings['wal-dir'], `${m.name} wal-dir`).toBe('/var/lib/etcd-wal');
      // the WAL in its own dir, none in the data dir; the old one kept beside it
      expect(await inNode(m, 'ls /var/lib/etcd-wal')).toMatch(/^0{16}-0{16}\.wal$/m);
      expect((await inNode(m, 'ls -A /var/lib/etcd/member')).trim()).toBe('snap');
      expect(await inNode(m, 'ls /var/lib/etcd-wal.old-*/')).toMatch(/\.wal$/m);
      expect((await inNode(m, 'stat -c %a /var/lib/etcd-wal')).trim()).toBe('700');
    }
  }

  /**
   * A snapshot given from an etcd 3.4 cluster is refused on these 3.5
   * servers by the first step that stops anything: nothing was stopped,
   * nothing moved.
   */
  async function expectOtherVersionSnapshotRefused(): Promise<void> {
    const other = await LabCluster.start({ members: 1, etcd: '3.4' });
    const file = join(work, 'from-etcd-3.4.db');
    try {
      await execa('etcdctl', [...other.etcdctlFlags(), 'snapshot', 'save', file], { env: { ETCDCTL_API: '3' } });
    } finally {
      await other.close();
    }
    const result = await cli('restore-quorum', '--set', `snapshot=${file}`);
    expect(result.exitCode, result.stdout + result.stderr).not.toBe(0);
    expect(result.stdout).toMatch(/refusing: snapshot \S+ on local was taken with etcd 3\.4 \(cluster version 3\.4\.0\), and the servers run etcd 3\.5\.\d+: a snapshot restores with the etcd version it came from/);
    expect(result.stdout).toMatch(/guard FAIL snapshot-verified/);
    expect(lab.pidOf('m1'), 'etcd still runs on m1').toBeDefined();
    for (const m of lab.members) expect(await lab.isActive(m.name, 'controlPlane'), `control plane on ${m.name}`).toBe(true);
    for (const m of lab.members) expect((await m.node.exec('ls -d /var/lib/etcd.old-* /var/lib/etcd-wal.old-*'))?.exitCode, `nothing moved aside on ${m.name}`).not.toBe(0);
  }

  it('runs etcd as such a master does: the WAL in its own dir, the flags where the shape puts them, the inventory naming only what is there', async () => {
    const inventory = await readFile(lab.inventoryPath, 'utf8');
    expect(inventory).toContain('walDir: /var/lib/etcd-wal');
    for (const m of lab.members) {
      const pid = lab.pidOf(m.name) ?? 0;
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const environment = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (options.flagsOnExecStart) {
        expect(commandLine).toContain('--wal-dir=/var/lib/etcd-wal');
        expect(commandLine).toContain('--initial-cluster-state=new');
        expect(environment.filter((e) => e.startsWith('ETCD_'))).toEqual([]);
        expect((await m.node?.exec('test -e /etc/etcd/etcd.conf'))?.exitCode).not.toBe(0);
        expect(inventory).not.toContain('envFile');
      } else {
        expect(commandLine).toEqual(['/usr/bin/etcd', '']);
        expect(environment).toContain('ETCD_WAL_DIR=/var/lib/etcd-wal');
      }
      expect(runningSettings(lab, m.name)['wal-dir']).toBe('/var/lib/etcd-wal');
      expect(await inNode(m, 'ls /var/lib/etcd-wal')).toMatch(/\.wal$/m);
      expect((await inNode(m, 'ls -A /var/lib/etcd/member')).trim()).toBe('snap');
    }
  });

  it('plan restore-quorum shows the restore into the WAL dir, the revision bump on 3.5, and where the flags are written', async () => {
    const result = await cli('plan');
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('--wal-dir /var/lib/etcd-wal.restore');
    expect(result.stdout).toMatch(/mv -- \/var\/lib\/etcd-wal \/var\/lib\/etcd-wal\.old-\d{8}T\d{6}Z/);
    if (version === '3.5') {
      expect(result.stdout).toContain('--bump-revision 1000000000 --mark-compacted');
    } else {
      expect(result.stdout).not.toContain('--bump-revision');
      expect(result.stdout).toContain('etcd 3.4: etcdctl cannot bump the revision');
    }
    if (options.flagsOnExecStart) {
      expect(result.stdout).toContain(`write ${DROP_IN} (ExecStart of /etc/systemd/system/etcd.service declared again)`);
      expect(result.stdout).toContain('systemctl daemon-reload');
    }
  }, 120_000);

  it('restore-quorum with 2 members killed: healthy, every key on every member, each member running the restored configuration', async () => {
    const [oldClusterId] = (await expectHealthyStatus(lab)).clusterIds;
    await lab.kill('m2');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    if (version === '3.5') await expectOtherVersionSnapshotRefused();
    const result = await cli('restore-quorum');
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    // a restore makes a new cluster: a member that kept its old WAL would bring the old one back
    expect((await expectHealthyStatus(lab)).clusterIds).not.toEqual([oldClusterId]);
    await expectKeysOnEveryMember(lab, keys);
    await expectMembersRunAsRestored(/^lab-restore-\d{8}T\d{6}Z$/);
    for (const m of lab.members) {
      if (options.flagsOnExecStart) {
        // the flags went into the drop-in systemd reads, and systemd read it
        expect(await inNode(m, `cat ${DROP_IN}`)).toMatch(/^ExecStart=$/m);
        expect((await inNode(m, 'systemctl show -p NeedDaemonReload --value etcd')).trim()).toBe('no');
        expect((await inNode(m, 'systemctl show -p DropInPaths --value etcd')).trim()).toBe(DROP_IN);
        expect((await m.node?.exec('test -e /etc/etcd/etcd.conf'))?.exitCode, 'no env file appeared').not.toBe(0);
      }
      if (options.dataDirMount) {
        // still the mount, holding the restored member and the old one moved aside inside it
        const [own, parent] = (await inNode(m, 'stat -c %d /var/lib/etcd /var/lib')).trim().split('\n');
        expect(own, `${m.name}: /var/lib/etcd is still a mount point`).not.toBe(parent);
        expect((await inNode(m, 'ls -A /var/lib/etcd')).trim().split('\n').sort()).toEqual([expect.stringMatching(/^\.old-\d{8}T\d{6}Z$/), 'member']);
        expect(await inNode(m, 'ls /var/lib/etcd/.old-*/member')).toContain('snap');
      }
    }
    if (options.dataDirMount) {
      expect(result.stdout).toMatch(/\/var\/lib\/etcd on m1 is a mount point \(its own filesystem, so it cannot be moved\): its 1 entry \(member\) move into \/var\/lib\/etcd\/\.old-\d{8}T\d{6}Z\/ on the same disk/);
    }
    expect(result.stdout).toContain('--wal-dir /var/lib/etcd-wal.restore');
    // a restart keeps working with the configuration written
    await lab.restart('m2');
    await lab.waitHealthy(60_000);
  }, 360_000);

  it('single-survivor from m1 after m2 and m3 died: grown back, every member ends with existing and the full member list', async () => {
    await lab.kill('m2');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    const before = await Promise.all(lab.members.map(walsAside));
    const result = await cli('single-survivor', '--set', 'survivor=m1');
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    // every member's old WAL moved aside once more: the survivor's by its restore, the others' before they joined
    expect(await Promise.all(lab.members.map(walsAside))).toEqual(before.map((n) => n + 1));
    // what each member starts with from now on: restarted one at a time, each runs the final configuration
    for (const m of lab.members) {
      await lab.restart(m.name);
      await lab.waitHealthy(60_000);
    }
    await expectMembersRunAsRestored(/^lab-restore-\d{8}T\d{6}Z$/);
  }, 420_000);

  it('replace-member of a killed m3 (its data and WAL still there): both moved aside, m3 joins as a new member with existing and the live member list', async () => {
    // etcd adds a member only once the leader has been connected to every voter for 5 s; the members were just restarted
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const m3 = lab.member('m3');
    const idOf = async () => (await expectHealthyStatus(lab)).endpoints.find((e) => e.name === 'm3')?.memberId;
    const oldId = await idOf();
    const walsBefore = await walsAside(m3);
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    const result = await cli('replace-member', '--set', 'member=m3');
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    // a new member, not the removed one come back from its old WAL
    expect(await idOf()).not.toBe(oldId);
    expect(await walsAside(m3)).toBe(walsBefore + 1);
    const settings = runningSettings(lab, 'm3');
    expect(settings['initial-cluster-state']).toBe('existing');
    expect(settings['initial-cluster']?.split(',').sort()).toEqual(fullList().split(',').sort());
    expect(settings['wal-dir']).toBe('/var/lib/etcd-wal');
  }, 300_000);
});

/**
 * The settings a member's running etcd has: ETCD_* from its environment,
 * overridden by --flags on its command line (etcd's rule), read from the host's /proc.
 */
function runningSettings(lab: LabCluster, name: string): Record<string, string> {
  const pid = lab.pidOf(name);
  if (pid === undefined) throw new Error(`etcd is not running on ${name}`);
  const settings: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const match = /^ETCD_([A-Z0-9_]+)=(.*)$/s.exec(entry);
    if (match?.[1]) settings[match[1].toLowerCase().replace(/_/g, '-')] = match[2] ?? '';
  }
  for (const arg of readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(1)) {
    const match = /^--?([a-z0-9-]+)=(.*)$/s.exec(arg);
    if (match?.[1]) settings[match[1]] = match[2] ?? '';
  }
  return settings;
}
