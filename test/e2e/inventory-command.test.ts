import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/file.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { runOnSeat } from './node-helpers.js';

/**
 * `etcd-runbook inventory` prints the description the other commands use,
 * named as the live member list names the members, and `--inventory` reads
 * it back to the same verdict. On a master with nothing but its own etcd
 * configuration (the tool run on the lab's seat, node m1: discovery reads
 * its real /etc/etcd/etcd.conf or /etc/kubernetes/manifests/etcd.yaml)
 * every member's node is described, the others' inferred and marked so.
 */
describe('etcd-runbook inventory, and the whole cluster from one master', () => {
  let lab: LabCluster;
  /** where the printed inventories go: shared with the nodes, so the seat reads them back at the same path */
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inventory-command-'));
    lab = await LabCluster.start({ members: 3, layout: 'systemd', seat: true, shared: [dir] });
  }, 120_000);
  afterAll(async () => {
    await lab?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** the CLI on the host (anywhere with the lab's client certs), or on the master m1 */
  type Where = 'host' | 'master';
  const cli = (where: Where, args: string[]): Promise<CliResult> => (where === 'host' ? runCli(args) : runOnSeat(lab, args));

  async function inventoryFile(name: string, args: string[], where: Where = 'host'): Promise<{ path: string; inventory: Inventory }> {
    const result = await cli(where, ['inventory', ...args]);
    expect(result.exitCode, result.stderr).toBe(0);
    const path = join(dir, name);
    await writeFile(path, result.stdout);
    return { path, inventory: parseInventory(result.stdout, path) };
  }

  async function verdictOf(args: string[], where: Where = 'host'): Promise<{ verdict: string; names: string[]; exitCode: number }> {
    const result = await cli(where, ['status', '--json', ...args]);
    expect(result.stdout, result.stderr).not.toBe('');
    const json = JSON.parse(result.stdout) as { verdict: string; endpoints: Array<{ name?: string }> };
    return { verdict: json.verdict, names: json.endpoints.map((e) => e.name ?? '').sort(), exitCode: result.exitCode };
  }

  it('--endpoints alone: the members are named from the live member list, and status --inventory on the output gives the same verdict', async () => {
    const { path, inventory } = await inventoryFile('from-endpoints.yaml', lab.etcdctlFlags());
    expect(inventory.members.map((m) => m.name)).toEqual(['m1', 'm2', 'm3']);
    expect(inventory.members.map((m) => m.peerURLs[0])).toEqual(lab.members.map((m) => m.peerURL));
    // nothing left guessed: the member list said it all
    expect(inventory.members.every((m) => m.guessed === undefined)).toBe(true);
    const fromFlags = await verdictOf(lab.etcdctlFlags());
    const fromFile = await verdictOf(['--inventory', path]);
    expect(fromFile).toEqual({ verdict: 'healthy', names: ['m1', 'm2', 'm3'], exitCode: 0 });
    expect(fromFile).toEqual(fromFlags);
  });

  it('on a master with only its own etcd configuration: every member, the other nodes inferred and marked guessed, and the output reads back', async () => {
    const { path, inventory } = await inventoryFile('discovered.yaml', [], 'master');
    const [m1, m2, m3] = inventory.members;
    expect(m1?.node).toMatchObject({ host: 'local', layout: 'systemd' });
    expect(m1?.node?.guessed).toBeUndefined();
    for (const [member, lab_] of [[m2, lab.member('m2')], [m3, lab.member('m3')]] as const) {
      expect(member?.node).toMatchObject({ host: lab_.ip, transport: 'ssh', layout: 'systemd', paths: m1?.node?.paths });
      expect(member?.node?.guessed).toEqual(['host', 'transport', 'layout', 'paths']);
    }
    // its paths are the master's own (its PKI): read back where it was printed
    const fromFile = await verdictOf(['--inventory', path], 'master');
    expect(fromFile).toEqual(await verdictOf([], 'master'));
    expect(fromFile.verdict).toBe('healthy');
  });

  it('status on the master, no flags: healthy, every member named, through what discovery read from its etcd.service', async () => {
    await expectDiscoveredStatus(lab, '/etc/systemd/system/etcd.service');
  });

  describe('with quorum lost (m2 and m3 killed)', () => {
    beforeAll(async () => {
      await lab.kill('m2');
      await lab.kill('m3');
      expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    }, 60_000);

    it('plan restore-quorum on the master, no flags: every member\'s steps, the other members marked inferred', async () => {
      const result = await runOnSeat(lab, ['plan', 'restore-quorum']);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toContain(`Inferred: m2 (${lab.member('m2').ip}), m3 (${lab.member('m3').ip})`);
      for (const name of ['m2', 'm3']) expect(result.stdout).toContain(`on ${name} (${lab.member(name).ip}, inferred):`);
      expect(result.stdout).toMatch(/on m1( \(local\))?:/);
      expect(result.stdout).not.toContain('has no layout');
    });

    it('plan restore-quorum --endpoints on the master: the survivor defaults to a member the member list names, every node known', async () => {
      // the lab's client certs are under the lab dir, which the seat sees at the same path
      const result = await runOnSeat(lab, ['plan', 'restore-quorum', ...lab.etcdctlFlags()]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toContain('survivor=m1');
      for (const name of ['m2', 'm3']) expect(result.stdout).toContain(`on ${name} (${lab.member(name).ip}, inferred):`);
    });

    it('plan --endpoints anywhere: members are named from the member list (no "not a member" for the default survivor)', async () => {
      // on the host, no master of this cluster (its etcd configuration, if any, describes none of the lab's members):
      // no node is described here, so the plan stops at the first node it needs: by then the names were checked
      const result = await runCli(['plan', 'restore-quorum', '--json', ...lab.etcdctlFlags()]);
      expect(result.stderr).not.toContain('is not a member');
      expect(result.stderr).toMatch(/m1 has no layout/);
    });

    it('the inventory printed now reads back to the same verdict: quorum lost', async () => {
      const { path, inventory } = await inventoryFile('quorum-lost.yaml', lab.etcdctlFlags());
      // the dead members are named by the survivor's member list
      expect(inventory.members.map((m) => m.name)).toEqual(['m1', 'm2', 'm3']);
      const fromFile = await verdictOf(['--inventory', path]);
      expect(fromFile.verdict).toBe('quorum-lost');
      expect(fromFile).toEqual(await verdictOf(lab.etcdctlFlags()));
    });
  });
});

describe('a kubeadm master with only its static-pod manifest', () => {
  let lab: LabCluster;

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, layout: 'kubeadm', seat: true });
  }, 120_000);
  afterAll(async () => {
    await lab?.close();
  });

  it('status on the master, no flags: healthy, every member named, through what discovery read from its static-pod manifest', async () => {
    await expectDiscoveredStatus(lab, '/etc/kubernetes/manifests/etcd.yaml');
  });

  it('plan restore-quorum, no flags, with quorum lost: every member\'s steps, the others\' nodes inferred as kubeadm', async () => {
    await lab.kill('m2');
    await lab.kill('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    // on the master m1: discovery reads its /etc/kubernetes/manifests/etcd.yaml
    const result = await runOnSeat(lab, ['plan', 'restore-quorum', '--markdown']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/- \*\*Inferred\*\*: m2 \(127\.0\.0\.\d+\), m3 \(127\.0\.0\.\d+\): .*layout kubeadm/);
    for (const name of ['m2', 'm3']) expect(result.stdout).toContain(`**${name}** (${lab.member(name).ip}, inferred)`);
    // their static pods are stopped as this master's are: by moving the manifest out of the same dir
    expect(result.stdout).toContain('/etc/kubernetes/manifests');
  });
});

/** `status --json` on the lab's seat with no flags: the cluster as discovery on that master describes it. */
async function expectDiscoveredStatus(lab: LabCluster, source: string): Promise<void> {
  const result = await runOnSeat(lab, ['status', '--json']);
  expect(result.exitCode, result.stdout + result.stderr).toBe(0);
  const json = JSON.parse(result.stdout) as { verdict: string; endpoints: Array<{ name: string }>; sources: string[] };
  expect(json.verdict).toBe('healthy');
  expect(json.endpoints.map((e) => e.name).sort()).toEqual(['m1', 'm2', 'm3']);
  expect(json.sources).toContain(`discovered from ${source}`);
}
