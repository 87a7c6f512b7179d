import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdBinDir, type EtcdVersion } from '../../src/lab/etcd-versions.js';
import { formatEnv, SYSTEMD_UNIT } from '../../src/lab/layouts.js';
import { cgroup2Root, removeNodeCgroup } from '../../src/lab/node/cgroup.js';
import { bootNode, type LabNode } from '../../src/lab/node/node.js';
import { createNodeSshKeys, writeKnownHosts, type NodeSshKeys } from '../../src/lab/node/sshd.js';
import { addressFor, claimSlot, liveRecordedPids, reapStaleSlots, type Slot } from '../../src/lab/slots.js';
import { listing, processesIn } from './node-helpers.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

/**
 * A lab node is a real machine: systemd as its PID 1, its own hostname, its
 * own /var/lib/etcd, etcd under a real etcd.service, sshd on its address;
 * and it leaves the host untouched: the host's /tmp (a canary file), the
 * host's /var/lib/etcd, no process and no mount left after stop().
 */
describe('lab node', () => {
  const canary = join('/tmp', `HOST-CANARY-${randomBytes(6).toString('hex')}`);
  const hostEtcdBefore = listing('/var/lib/etcd');
  const hostFilesBefore = hostFingerprint();
  let slot: Slot;
  let labDir: string;
  let keys: NodeSshKeys;
  let knownHosts: string;
  const nodes: Record<EtcdVersion, LabNode | undefined> = { '3.4': undefined, '3.5': undefined };
  const pidNamespaces: string[] = [];

  beforeAll(async () => {
    await writeFile(canary, 'the host /tmp must survive lab nodes\n');
    slot = claimSlot();
    labDir = await mkdtemp(join(tmpdir(), 'etcd-runbook-node-'));
    keys = await createNodeSshKeys(labDir);
    const addresses = [addressFor(slot.index, 0), addressFor(slot.index, 1)];
    knownHosts = await writeKnownHosts(keys, addresses);
    const [n34, n35] = await Promise.all([
      bootNode({ name: 'm1', address: addresses[0] ?? '', labDir, etcdBinDir: etcdBinDir('3.4'), ssh: keys, slot, binds: [{ hostPath: keys.dir, readOnly: true }] }),
      bootNode({ name: 'm2', address: addresses[1] ?? '', labDir, etcdBinDir: etcdBinDir('3.5'), slot }),
    ]);
    nodes['3.4'] = n34;
    nodes['3.5'] = n35;
    for (const node of [n34, n35]) pidNamespaces.push(readlinkSync(`/proc/${node.pid}/ns/pid`));
    console.log(`boot: m1 ${n34.bootMs} ms, m2 ${n35.bootMs} ms (in parallel)`);
  });

  afterAll(async () => {
    await Promise.all(Object.values(nodes).map((node) => node?.stop()));
    slot?.release();
    if (labDir) await rm(labDir, { recursive: true, force: true });
    await rm(canary, { force: true });
  });

  const node = (version: EtcdVersion): LabNode => {
    const found = nodes[version];
    if (!found) throw new Error(`the ${version} node did not boot`);
    return found;
  };

  it('boots systemd as PID 1 with the node name as hostname, and the system is running', async () => {
    for (const [version, name] of [['3.4', 'm1'], ['3.5', 'm2']] as const) {
      const each = node(version);
      expect(each.bootState, each.failedUnits.join(', ')).toBe('running');
      expect((await each.exec('cat /proc/1/comm')).stdout.trim()).toBe('systemd');
      expect((await each.exec(['hostname'])).stdout.trim()).toBe(name);
      expect((await each.exec(['systemctl', 'is-system-running'])).stdout.trim()).toBe('running');
      // none of the host's enabled units (its sshd, postgres, etcd, apt timers, getty) runs in a node
      const active = (await each.exec('systemctl list-units --state=active --plain --no-legend')).stdout;
      expect(active).not.toMatch(/^(etcd2?\.service|postgresql|apt-daily|systemd-timesyncd|e2scrub|getty@|man-db)/m);
    }
    expect(existsSync(canary)).toBe(true);
  });

  for (const version of ['3.4', '3.5'] as const) {
    it(`runs etcd ${version} under a Type=notify etcd.service reading /etc/etcd/etcd.conf, its data in /var/lib/etcd`, async () => {
      const each = node(version);
      const client = `http://${each.address}:2379`;
      const peer = `http://${each.address}:2380`;
      await each.writeFile(
        '/etc/etcd/etcd.conf',
        formatEnv({
          ETCD_NAME: each.name,
          ETCD_DATA_DIR: '/var/lib/etcd',
          ETCD_LISTEN_CLIENT_URLS: client,
          ETCD_ADVERTISE_CLIENT_URLS: client,
          ETCD_LISTEN_PEER_URLS: peer,
          ETCD_INITIAL_ADVERTISE_PEER_URLS: peer,
          ETCD_INITIAL_CLUSTER: `${each.name}=${peer}`,
        }),
        0o600,
      );
      await each.writeFile('/etc/systemd/system/etcd.service', SYSTEMD_UNIT);
      expect((await each.exec('systemctl daemon-reload && systemctl start etcd')).exitCode).toBe(0);
      expect((await each.exec(['systemctl', 'is-active', 'etcd'])).stdout.trim()).toBe('active');
      expect((await each.exec(['etcd', '--version'])).stdout).toContain(`etcd Version: ${version}.`);
      expect((await each.exec(['etcdctl', '--endpoints', client, 'endpoint', 'health'])).exitCode).toBe(0);
      if (version === '3.5') expect((await each.exec(['etcdutl', 'version'])).stdout).toContain('etcdutl version: 3.5.');
      expect((await each.exec(['test', '-d', '/var/lib/etcd/member'])).exitCode).toBe(0);
      // on disk in the lab dir, not in the node's RAM
      expect(existsSync(join(each.etcdDataDir ?? 'no data dir on disk', 'member'))).toBe(true);
      expect(listing('/var/lib/etcd')).toEqual(hostEtcdBefore);
    });
  }

  it('keeps root home, /tmp and /run private to the node, and shares only the host directories it is given', async () => {
    const each = node('3.4');
    expect((await each.exec('ls -A /root')).stdout).toBe('');
    const marker = `node-only-${randomBytes(4).toString('hex')}`;
    expect((await each.exec(['touch', `/tmp/${marker}`, `/var/tmp/${marker}`, `/run/${marker}`])).exitCode).toBe(0);
    for (const dir of ['/tmp', '/var/tmp', '/run']) expect(existsSync(join(dir, marker))).toBe(false);
    // a host directory shared read-only (the lab's keys, under the host's /tmp) is there, and stays read-only
    expect((await each.exec(['cat', `${keys.identityFile}.pub`])).stdout).toContain(keys.authorizedKey);
    expect((await each.exec(['touch', join(keys.dir, marker)])).exitCode).not.toBe(0);
    expect(existsSync(canary)).toBe(true);
  });

  it('records its PID 1 in the lab slot, where the stale-slot reaper would find it', () => {
    const recorded = liveRecordedPids(slot.pidsFile);
    for (const each of [node('3.4'), node('3.5')]) expect(recorded).toContain(each.pid);
  });

  it('answers SSH on its own address with the lab keys: its hostname, a clean home', async () => {
    const each = node('3.4');
    const { stdout } = await run('ssh', [
      ...['-F', '/dev/null', '-i', keys.identityFile, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none'],
      ...['-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes'],
      `root@${each.address}`,
      'hostname; echo $HOME; ls -a ~',
    ], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 15_000 });
    expect(stdout.split('\n')).toEqual(['m1', '/root', '.', '..', '']);
  });

  it('a node whose test process was SIGKILLed is killed by the stale-slot reaper', async () => {
    const crashLab = await mkdtemp(join(tmpdir(), 'etcd-runbook-node-crash-'));
    // a separate process that claims a slot, boots a node, reports, and waits to be killed
    const script = `
      import { bootNode } from ${JSON.stringify(join(root, 'dist/src/lab/node/node.js'))};
      import { addressFor, claimSlot } from ${JSON.stringify(join(root, 'dist/src/lab/slots.js'))};
      const slot = claimSlot();
      const node = await bootNode({ name: 'c1', address: addressFor(slot.index, 0), labDir: ${JSON.stringify(crashLab)}, slot });
      process.stdout.write(node.pid + '\\n');
      setInterval(() => undefined, 1000);`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const pid = Number(await firstLine(owner));
      const namespace = readlinkSync(`/proc/${pid}/ns/pid`);
      owner.kill('SIGKILL');
      await new Promise((resolve) => owner.once('exit', resolve));
      expect(processesIn([namespace]).length).toBeGreaterThan(0);
      reapStaleSlots();
      await until(() => processesIn([namespace]).length === 0);
      expect(processesIn([namespace])).toEqual([]);
    } finally {
      owner.kill('SIGKILL');
      // a crashed lab's cgroup and scratch stay behind for its owner to clear: this test is that owner
      for (const dir of readdirSync(join(cgroup2Root(), 'etcd-runbook')).filter((d) => d.startsWith(`${crashLab.split('/').pop()}-`))) {
        await removeNodeCgroup(join(cgroup2Root(), 'etcd-runbook', dir));
      }
      await rm(crashLab, { recursive: true, force: true });
    }
  });

  it('a boot that fails leaves no systemd, cgroup or scratch dir behind', async () => {
    const scratch = join(labDir, 'nodes', 'm3');
    await expect(bootNode({ name: 'm3', address: addressFor(slot.index, 2), labDir, bootTimeoutMs: 1 })).rejects.toThrow(/lab node m3 did not boot/);
    expect(processesMarked(`NODE_SCRATCH=${scratch}`)).toEqual([]);
    expect(existsSync(scratch)).toBe(false);
    expect(readdirSync(join(cgroup2Root(), 'etcd-runbook')).filter((dir) => dir.startsWith(`${labDir.split('/').pop()}-m3-`))).toEqual([]);
    // failing before systemd (in the setup script): the error carries the boot log
    const missing = join(labDir, 'no-such-dir');
    await expect(bootNode({ name: 'm3', address: addressFor(slot.index, 2), labDir, binds: [{ hostPath: missing }] })).rejects.toThrow(/did not boot.*boot log: .*no-such-dir/);
    expect(existsSync(scratch)).toBe(false);
    expect(readdirSync(join(cgroup2Root(), 'etcd-runbook')).filter((dir) => dir.startsWith(`${labDir.split('/').pop()}-m3-`))).toEqual([]);
  });

  it('stop() leaves no process, cgroup, mount or file of the node behind, and the host untouched', async () => {
    const stopped = [node('3.4'), node('3.5')];
    await Promise.all(stopped.map((each) => each.stop()));
    expect(processesIn(pidNamespaces)).toEqual([]);
    for (const each of stopped) {
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(each.scratch);
      expect(existsSync(each.scratch)).toBe(false);
    }
    expect(readdirSync(join(cgroup2Root(), 'etcd-runbook')).filter((dir) => dir.startsWith(`${labDir.split('/').pop()}-`))).toEqual([]);
    expect(listing('/var/lib/etcd')).toEqual(hostEtcdBefore);
    expect(hostFingerprint()).toEqual(hostFilesBefore);
    expect(existsSync(canary)).toBe(true);
  });
});

/**
 * The host files a node overrides in its overlay (through symlinks too: the
 * host's sshd.service links to ssh.service), and the unit dirs whose wants a
 * node removes: none may change.
 */
const HOST_FILES = [
  '/etc/systemd/system/sshd.service',
  '/lib/systemd/system/ssh.service',
  '/etc/systemd/system/etcd.service',
  '/etc/ssh/sshd_config',
  '/etc/hostname',
  '/etc/machine-id',
  '/etc/fstab',
  '/etc/tmpfiles.d/provision.conf',
  '/etc/etcd/etcd.conf',
  '/usr/bin/etcd',
  '/usr/bin/etcdctl',
  '/usr/bin/etcdutl',
];

function hostFingerprint(): Record<string, string> {
  const print: Record<string, string> = { hostname: hostname() };
  for (const path of HOST_FILES) {
    print[path] = existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : 'absent';
  }
  const units = '/etc/systemd/system';
  for (const entry of readdirSync(units, { withFileTypes: true })) {
    print[join(units, entry.name)] = entry.isDirectory() ? readdirSync(join(units, entry.name)).sort().join(' ') : entry.isSymbolicLink() ? `-> ${readlinkSync(join(units, entry.name))}` : 'file';
  }
  return print;
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(text.split('\n')[0] ?? '');
    });
    child.once('exit', (code) => reject(new Error(`the node's owner exited (${code}) before reporting: ${text}`)));
  });
}

/** Every process whose environment holds this entry. */
function processesMarked(entry: string): string[] {
  return readdirSync('/proc').filter((pid) => {
    try {
      return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/environ`).includes(entry);
    } catch {
      return false;
    }
  });
}
