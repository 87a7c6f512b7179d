import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { NODE_PATHS, under } from '../../src/lab/layouts.js';
import { exportNodeFiles, unitPid } from '../../src/lab/node-members.js';
import { runCli } from '../helpers/cli.js';
import {
  expectHealthyStatus,
  expectKeysOnEveryMember,
  expectSameTree,
  knownKeys,
  memberHas,
  memberListing,
  memberListText,
  runBackup,
  startKeyedLab,
  stopKeyedLab,
} from './runbook-helpers.js';

/**
 * replace-master end to end on 3 real kubeadm lab nodes (etcd 3.5): m3's
 * host is replaced by a freshly installed one (lab.replaceHost: the node
 * killed with everything in it, its disk copied out to the lab dir, a fresh
 * node at its address with only what the kubelet and kubeadm packages
 * install), and the runbook brings it back from a backup of the old host's
 * files (/etc/kubernetes, /root/.kube/config where the master has one,
 * the kubelet's config.yaml, kubeadm-flags.env and pki/, the kubelet drop-in
 * where current packages put it), made by the backup runbook while
 * the host was alive: every master's files pulled into the backup dir under
 * their absolute paths, replace-master's default hostBackup.
 */

/** The old host's files replace-master restores, as node paths. */
const HOST_FILES = [
  '/etc/kubernetes',
  NODE_PATHS.kubeadm.kubeconfig,
  NODE_PATHS.kubeadm.kubeletConfig,
  NODE_PATHS.kubeadm.kubeletFlags,
  `${dirname(NODE_PATHS.kubeadm.kubeletConfig)}/pki`,
  NODE_PATHS.kubeadm.kubeletPackageDropIn,
];

/** m2 is a master joined with kubeadm join: the lab gives it no /root/.kube/config */
const JOINED = 'm2';
/** m3 was joined too, and its admin then copied admin.conf to /root/.kube/config, as `kubeadm join --control-plane` says to */
const ADMINISTERED = 'm3';

/** kubeadm's rotated kubelet client certificate: a relative symlink to a dated file beside it */
const KUBELET_CURRENT = `${dirname(NODE_PATHS.kubeadm.kubeletConfig)}/pki/kubelet-client-current.pem`;
const KUBELET_DATED = 'kubelet-client-2026-01-02-03-04-05.pem';

/** Files that must come back byte for byte (etcd.yaml is rewritten for joining). */
const SAME_BYTES = [
  '/etc/kubernetes/pki/etcd/ca.crt',
  '/etc/kubernetes/pki/etcd/ca.key',
  '/etc/kubernetes/pki/etcd/server.crt',
  '/etc/kubernetes/pki/etcd/server.key',
  '/etc/kubernetes/pki/etcd/peer.crt',
  '/etc/kubernetes/pki/etcd/peer.key',
  '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
  '/etc/kubernetes/pki/etcd/healthcheck-client.key',
  '/etc/kubernetes/pki/apiserver-etcd-client.crt',
  '/etc/kubernetes/pki/apiserver-etcd-client.key',
  '/etc/kubernetes/admin.conf',
  '/etc/kubernetes/manifests/kube-apiserver.yaml',
  '/etc/kubernetes/manifests/kube-controller-manager.yaml',
  NODE_PATHS.kubeadm.kubeconfig,
  NODE_PATHS.kubeadm.kubeletConfig,
  NODE_PATHS.kubeadm.kubeletFlags,
  NODE_PATHS.kubeadm.kubeletPackageDropIn,
];

/** Every static pod of a kubeadm master, as `ls` lists the manifests dir. */
const MANIFESTS = ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'];

describe('replace-master on 3 real kubeadm nodes (etcd 3.5)', () => {
  let lab: LabCluster;
  let work: string;
  let backups: string;
  let lostRoot: string;
  let oldId: string | undefined;
  let firstBackup: Awaited<ReturnType<typeof runBackup>>;
  const keys = knownKeys(300);

  /** replace-master with the backup runbook's dir; hostBackup its default (<backupDir>/hosts/m3) unless given */
  const run = (hostBackup?: string, ...more: string[]) =>
    runCli(
      ['run', 'replace-master', '--yes', '--inventory', lab.inventoryPath, '--set', 'member=m3', ...(hostBackup ? ['--set', `hostBackup=${hostBackup}`] : []),
        '--set', `backupDir=${backups}`, '--journal-dir', join(work, 'journal'), ...more],
      {},
      180_000,
    );

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'kubeadm', etcd: '3.5' }, 'replace-master', keys));
    backups = join(work, 'backups');
    const copyAdminConf = `install -d -m 0700 /root/.kube && install -m 0600 ${NODE_PATHS.kubeadm.adminConf} ${NODE_PATHS.kubeadm.kubeconfig}`;
    expect((await lab.member(ADMINISTERED).node!.exec(['/bin/sh', '-c', copyAdminConf])).exitCode).toBe(0);
    firstBackup = await runBackup(lab, backups, join(work, 'journal'));
    oldId = (await memberListText(lab)).split('\n').find((l) => l.includes(', m3, '))?.split(',')[0];
    await lab.settled();
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  /** A node's host files as they are now, copied out to the host (the backup's and the old host's copies are compared with them). */
  const nodeFiles = async (name: string, paths: readonly string[] = HOST_FILES): Promise<string> => {
    const dir = await mkdtemp(join(work, `files-${name}-`));
    await exportNodeFiles(lab.member(name).node!, paths, dir);
    return dir;
  };

  it('backup saved every master\'s host files beside its snapshot, byte for byte and mode for mode; keep=1 prunes a run\'s host files with its snapshot only', async () => {
    const timestamps = async () => (await readdir(backups)).filter((f) => /^snapshot-\d{8}T\d{6}Z\.db$/.test(f)).map((f) => f.slice(9, -3)).sort();
    const [first] = await timestamps();
    expect(first).toBeDefined();
    expect(await readlink(join(backups, 'hosts'))).toBe(`hosts-${first}`);
    expect((await stat(backups)).mode & 0o777).toBe(0o700);
    expect((await stat(join(backups, `hosts-${first}`))).mode & 0o777).toBe(0o700);
    expect((await readdir(join(backups, `hosts-${first}`))).sort()).toEqual(['m1', 'm2', 'm3']);
    // each member's files, under their absolute paths on the node
    for (const member of lab.members) {
      const live = await nodeFiles(member.name);
      let files = 0;
      for (const nodePath of HOST_FILES) {
        if (member.name === JOINED && nodePath === NODE_PATHS.kubeadm.kubeconfig) {
          expect(await memberHas(member, nodePath)).toBe(false);
          await expect(stat(join(backups, 'hosts', member.name, nodePath))).rejects.toThrow();
          continue;
        }
        files += await expectSameTree(under(live, nodePath), join(backups, 'hosts', member.name, nodePath));
      }
      // only the kubelet's configuration: never pods/ (mounted Secrets and volumes), though the master has it
      expect(await memberHas(member, NODE_PATHS.kubeadm.podSecret)).toBe(true);
      expect((await readdir(join(backups, 'hosts', member.name, dirname(NODE_PATHS.kubeadm.kubeletConfig)))).sort()).toEqual(['config.yaml', 'kubeadm-flags.env', 'pki']);
      // the drop-in where current packages put it; none under /etc/systemd/system, and that is said
      await expect(stat(join(backups, 'hosts', member.name, NODE_PATHS.kubeadm.kubeletDropIn))).rejects.toThrow();
      expect(firstBackup.stdout).toContain(`${member.name}:${NODE_PATHS.kubeadm.kubeletDropIn} is not there: nothing to copy (optional)`);
      expect(firstBackup.stdout).toContain(`${NODE_PATHS.kubeadm.kubeletPackageDropIn}\n`); // found, by ls -l
      expect(files, member.name).toBeGreaterThanOrEqual(SAME_BYTES.length - (member.name === JOINED ? 1 : 0));
      // the kubelet's current-certificate link came along as a link (expectSameTree compares links by target)
      expect(await readlink(join(backups, 'hosts', member.name, KUBELET_CURRENT)), member.name).toBe(KUBELET_DATED);
    }
    expect((await stat(join(backups, 'hosts', 'm3', '/etc/kubernetes/pki/etcd/server.key'))).mode & 0o777).toBe(0o600);
    // a joined master has no root kubeconfig: said, and the backup went on
    expect(firstBackup.stdout).toContain(`${JOINED}:${NODE_PATHS.kubeadm.kubeconfig} is not there: nothing to copy (optional)`);

    // a second run with keep=1: the first run's snapshot and host files go, a look-alike without a snapshot stays
    const unrelated = join(backups, 'hosts-20000101T000000Z');
    await mkdir(join(unrelated, 'm1'), { recursive: true });
    await new Promise((resolve) => setTimeout(resolve, 1100)); // run timestamps have one-second resolution
    const again = await runBackup(lab, backups, join(work, 'journal'), 'keep=1');
    const [second, ...more] = await timestamps();
    expect(more).toEqual([]);
    expect(second).not.toBe(first);
    expect(again.stdout).toContain(`removed hosts-${first}`);
    expect((await readdir(backups)).sort()).toEqual(['hosts', `hosts-${second}`, 'hosts-20000101T000000Z', `snapshot-${second}.db`, `snapshot-${second}.db.sha256`].sort());
    expect(await readlink(join(backups, 'hosts'))).toBe(`hosts-${second}`);
    await rm(unrelated, { recursive: true });
  });

  it('plan backup counts only the steps a kubeadm master has', async () => {
    const result = await runCli(['plan', 'backup', '--json', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'planned')}`]);
    expect(result.exitCode, result.stderr).toBe(0);
    const plan = JSON.parse(result.stdout) as { steps: Array<{ id: string; targets: unknown[] }> };
    // 5 plain steps and the 9 kubeadm host-file steps per member; no systemd-only step is counted
    expect(plan.steps).toHaveLength(5 + 3 * 9);
    expect(plan.steps.filter((s) => s.targets.length === 0).map((s) => s.id)).toEqual([]);
    expect(plan.steps.map((s) => s.id)).not.toContain('host-files-m1-etcd-env-file');
  });

  it('with quorum lost (m2 dead, m3 replaced) it is refused before any step; overridden, it stops at the snapshot guard: nothing removed, nothing restored', async () => {
    await lab.kill('m2');
    lostRoot = await lab.replaceHost('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    // the fresh host: the packages' kubelet, not running, and nothing of the old host's
    const m3 = lab.member('m3');
    expect(await memberHas(m3, NODE_PATHS.kubeadm.kubeletPackageDropIn)).toBe(true);
    expect(await lab.isActive('m3', 'kubelet')).toBe(false);
    for (const path of ['/etc/kubernetes', NODE_PATHS.kubeadm.kubeconfig, dirname(NODE_PATHS.kubeadm.kubeletConfig)]) expect(await memberHas(m3, path), path).toBe(false);

    const refused = await run();
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(refused.stderr).toContain('refusing to run replace-master: it applies to minority-lost, and the cluster is quorum-lost now (the runbook for quorum-lost is restore-quorum); nothing was run');

    const result = await run(undefined, '--override-applies-to', 'replace-master');
    expect(result.exitCode, result.stdout + result.stderr).not.toBe(0);
    expect(result.stdout).toMatch(/quorum is lost; replacing a master cannot help, use restore-quorum/);
    expect(result.stdout).not.toMatch(/run succeeded/);
    // nothing on the new host was touched, no snapshot was written
    expect(await memberHas(m3, `${m3.dataDir}/member`)).toBe(false);
    expect(await memberListing(m3, dirname(m3.dataDir))).not.toContainEqual(expect.stringMatching(/^etcd\.old-/));
    expect(await memberHas(m3, '/etc/kubernetes')).toBe(false);
    expect((await readdir(backups)).filter((f) => f.endsWith('.db'))).toHaveLength(1); // the backup's only

    // m2 back: m3 is still in the member list with its old ID
    await lab.startMember('m2');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    expect(await memberListText(lab)).toContain(`${oldId}, started, m3,`);
  });

  it('refuses another host\'s backup (m2\'s files given as m3\'s) before anything changes', async () => {
    const m2 = lab.member('m2');
    const m3 = lab.member('m3');
    const wrong = join(work, 'wrong-backup');
    await mkdir(wrong);
    // m2's files where m3's would be (m2 has no root kubeconfig)
    await exportNodeFiles(m2.node!, HOST_FILES, wrong);
    const result = await run(wrong);
    expect(result.exitCode, result.stdout + result.stderr).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/does not advertise https:\/\/127\.0\.0\.\d+:2380: this is not the backup of m3/);
    // a manifest that claims m3's address does not make m2's certificates m3's
    const manifest = under(wrong, '/etc/kubernetes/manifests/etcd.yaml');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replaceAll(m2.peerURL, m3.peerURL));
    const again = await run(wrong);
    expect(again.exitCode, again.stdout + again.stderr).not.toBe(0);
    expect(again.stdout + again.stderr).toMatch(/server\.crt is not valid for 127\.0\.0\.\d+: regenerate it \(kubeadm init phase certs etcd-server\)/);
    expect(await memberListText(lab)).toContain(`${oldId}, started, m3,`);
    expect(await memberHas(m3, '/etc/kubernetes')).toBe(false);
  });

  it('brings the new host back from the files backup saved (hostBackup by default): healthy, every key everywhere, files identical, kubelet and apiserver running, old root kept', async () => {
    const m3 = lab.member('m3');
    const result = await run();
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/server\.crt is valid for 127\.0\.0\.\d+/);
    expect(result.stdout).toContain(join(backups, 'hosts', 'm3', NODE_PATHS.kubeadm.adminConf));
    expect(result.stdout).toMatch(/parked etcd\.yaml/);
    expect(result.stdout).toMatch(/- --initial-cluster-state=existing/);
    expect(result.stdout).toMatch(/kubelet on m3 is active/);

    const status = await expectHealthyStatus(lab);
    expect(status.endpoints.find((e) => e.name === 'm3')?.memberId).not.toBe(oldId);
    await expectKeysOnEveryMember(lab, keys);

    // the host's files are the old host's, byte for byte and mode for mode
    const restored = await nodeFiles('m3');
    for (const nodePath of SAME_BYTES) await expectSameTree(under(lostRoot, nodePath), under(restored, nodePath));
    // the kubelet's current-certificate link is the old link, not a copy of the file it points at
    expect(await readlink(under(restored, KUBELET_CURRENT))).toBe(KUBELET_DATED);
    expect(await readFile(under(restored, KUBELET_CURRENT))).toEqual(await readFile(under(lostRoot, KUBELET_CURRENT)));
    await expectSameTree(under(lostRoot, dirname(KUBELET_CURRENT)), under(restored, dirname(KUBELET_CURRENT)));
    // the kubelet's configuration only: no pod's Secret came back
    expect(await memberListing(m3, dirname(NODE_PATHS.kubeadm.kubeletConfig))).toEqual(['config.yaml', 'kubeadm-flags.env', 'pki']);
    expect(result.stdout).toContain(`${join(backups, 'hosts', 'm3', NODE_PATHS.kubeadm.kubeletDropIn)} is not there: nothing to copy (optional)`);

    // etcd's manifest is the old one rewritten for joining, back in the manifests dir
    const manifestsDir = m3.manifestsDir as string;
    const manifest = await m3.node!.readFile(join(manifestsDir, 'etcd.yaml'));
    expect(manifest).toContain('- --initial-cluster-state=existing');
    expect(manifest).toContain(`- --initial-cluster=${lab.members.map((m) => `${m.name}=${m.peerURL}`).join(',')}`);
    expect(manifest.match(/--initial-cluster-state=/g)).toHaveLength(1);
    expect(await memberListing(m3, manifestsDir)).toEqual(MANIFESTS);
    expect((await readdir(under(lostRoot, manifestsDir))).sort()).toEqual(MANIFESTS);

    // the kubelet runs, and runs etcd and the control plane (comm: 15 characters)
    expect(await lab.isActive('m3', 'kubelet')).toBe(true);
    expect(await lab.isActive('m3', 'controlPlane')).toBe(true);
    for (const pod of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) expect(unitPid(m3.node!, 'kubelet', pod.slice(0, 15)), pod).toBeDefined();
    expect(lab.pidOf('m3')).toBeDefined();

    // the old host's root is kept whole, its data dir included
    expect((await stat(join(lostRoot, 'var', 'lib', 'etcd', 'member', 'snap', 'db'))).isFile()).toBe(true);
    expect(await readFile(join(lostRoot, 'etc', 'kubernetes', 'manifests', 'etcd.yaml'), 'utf8')).toContain('--initial-cluster-state=new');
    console.log(`replace-master (real kubeadm nodes, 3 members) took ${result.durationMs} ms`);
  });
});
