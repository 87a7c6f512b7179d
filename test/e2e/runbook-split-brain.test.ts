import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { singleEndpointClient } from '../../src/cluster/probe.js';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { dataDirsAside, expectHealthyStatus, expectKeysOnEveryMember, KEY_PREFIX, knownKeys } from './runbook-helpers.js';

/**
 * split-brain end to end on a 2+1 split: m1 and m2 form one cluster, m3 its
 * own (a restore done on m3 alone). m3 took far more writes, so its revision
 * is higher, but revisions are counted per cluster and mean nothing across
 * sides: the runbook keeps the side holding the most members (m1, m2),
 * restores all three from it into one cluster, and says why. What only m3's
 * cluster took is gone afterwards, as the runbook says.
 */
describe('split-brain on a 2+1 split (3 real systemd nodes, etcd 3.5)', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(30);
  // many more writes on the lone member: its revision beats the two-member side's
  const stray = new Map(Array.from({ length: 300 }, (_, i) => [`/registry/stray/m3-only-${i}`, `written to m3 alone ${i}`] as [string, string]));

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, layout: 'systemd', etcd: '3.5', independent: [['m1', 'm2'], ['m3']] });
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-split-'));
    const tls = await lab.clientTls();
    const put = async (member: string, entries: Iterable<[string, string]>): Promise<void> => {
      const client = singleEndpointClient(lab.member(member).clientURL, tls, 10_000);
      try {
        for (const [k, v] of entries) await client.put(k).value(v);
      } finally {
        client.close();
      }
    };
    await put('m1', keys);
    await put('m3', stray);
  }, 180_000);
  afterAll(async () => {
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  }, 60_000);

  it('restores every member from the side holding the most members, not the lone member with the higher revision', async () => {
    expect(await waitForVerdict(lab, 'split-brain')).toBe('split-brain');
    const status = await runCli(['status', '--inventory', lab.inventoryPath, '--json']);
    const json = JSON.parse(status.stdout) as { sides: Array<{ clusterId: string; members: string[]; revision: number; source: string }> };
    const pair = json.sides.find((s) => s.members.length === 2);
    const lone = json.sides.find((s) => s.members.length === 1);
    expect(pair?.members).toEqual(['m1', 'm2']);
    expect(lone?.members).toEqual(['m3']);
    expect(lone!.revision).toBeGreaterThan(pair!.revision);

    const backups = `backupDir=${join(work, 'backups')}`;
    const plan = await runCli(['plan', 'split-brain', '--inventory', lab.inventoryPath, '--set', backups]);
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0);
    const chosen = new RegExp(`Save a snapshot from m[12] \\(side ${pair!.clusterId}: m1, m2 \\(2 of 3 members\\); chosen because it holds the most members\\)`);
    expect(plan.stdout).toMatch(chosen);

    // the operator may choose the other side by its cluster ID; a name on no side is refused, naming the sides
    const other = await runCli(['plan', 'split-brain', '--inventory', lab.inventoryPath, '--set', backups, '--set', `survivor=${lone!.clusterId}`]);
    expect(other.exitCode, other.stdout + other.stderr).toBe(0);
    expect(other.stdout).toMatch(new RegExp(`Save a snapshot from m3 \\(side ${lone!.clusterId}: m3 \\(1 of 3 members\\); chosen by the operator`));
    const wrong = await runCli(['plan', 'split-brain', '--inventory', lab.inventoryPath, '--set', backups, '--set', 'survivor=0123456789abcdef']);
    expect(wrong.exitCode).not.toBe(0);
    expect(wrong.stderr).toContain(`--set survivor=0123456789abcdef: no side holds it; give a member or cluster ID of one of: side ${pair!.clusterId}: m1, m2 (2 of 3 members); side ${lone!.clusterId}: m3 (1 of 3 members)`);

    const result = await runCli(
      ['run', 'split-brain', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal')],
      {},
      180_000,
    );
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/saving a snapshot from m[12]/);
    expect(result.stdout).toContain(`side ${pair!.clusterId}: m1, m2 (2 of 3 members); chosen because it holds the most members`);
    expect(result.stdout).toMatch(/one cluster ID [0-9a-f]+ across 3 reachable members/);

    await expectHealthyStatus(lab);
    await expectKeysOnEveryMember(lab, keys);
    // the writes only m3's cluster took are gone (they were not in the m1/m2 side's snapshot)
    const client = singleEndpointClient(lab.member('m1').clientURL, await lab.clientTls(), 10_000);
    try {
      expect(await client.getAll().prefix('/registry/stray/').keys()).toEqual([]);
      expect(await client.getAll().prefix(KEY_PREFIX).count()).toBe(keys.size);
    } finally {
      client.close();
    }
    for (const m of lab.members) {
      expect(await dataDirsAside(m), m.name).toHaveLength(1);
      const env = await lab.readEnvFile(m.name);
      expect(env.ETCD_INITIAL_CLUSTER).toBe(lab.members.map((x) => `${x.name}=${x.peerURL}`).join(','));
      expect(env.ETCD_INITIAL_CLUSTER_STATE).toBe('existing');
      expect(await lab.isActive(m.name, 'kubelet'), `kubelet on ${m.name}`).toBe(true);
      expect(await lab.isActive(m.name, 'controlPlane'), `control plane on ${m.name}`).toBe(true);
    }
    console.log(`split-brain (real systemd nodes, 2+1 split) took ${result.durationMs} ms`);
  }, 240_000);
});
