import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';
import { dataDirsAside, expectHealthyStatus, expectKeysOnEveryMember, knownKeys, memberHas, startKeyedLab, stopKeyedLab } from './runbook-helpers.js';
import { labFingerprint } from '../helpers/lab-fingerprint.js';

/**
 * single-survivor end to end on 3 real lab nodes in the systemd layout
 * (etcd 3.5, etcdutl), through the real CLI with --yes: two members lost (one of them
 * with its disk), the survivor restored as a one-member cluster, the others
 * grown back one at a time. The guard test runs first, on the same lab: a
 * member that is hung but alive makes the runbook refuse before any change.
 */
describe('single-survivor on 3 real systemd nodes (etcd 3.5)', () => {
  let lab: LabCluster;
  let work: string;
  const keys = knownKeys(300);

  beforeAll(async () => {
    ({ lab, work } = await startKeyedLab({ members: 3, layout: 'systemd', etcd: '3.5' }, 'survivor', keys));
  }, 180_000);
  afterAll(() => stopKeyedLab(lab, work), 60_000);

  const run = (...extra: string[]) =>
    runCli(['run', 'single-survivor', '--yes', '--inventory', lab.inventoryPath, '--set', 'survivor=m1', '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', join(work, 'journal'), ...extra], {}, 180_000);

  it('refuses while another old member is alive (hung, not dead): stops at old-members-stopped, nothing changed', async () => {
    await lab.kill('m3');
    lab.freeze('m2');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');
    const before = await labFingerprint(lab);
    // every node's configuration and data dir is in it, not only the member list
    for (const m of lab.members) expect(before[`${m.name}:/etc/etcd/etcd.conf`], m.name).toMatch(/^600 [0-9a-f]{64}$|^644 [0-9a-f]{64}$/);
    expect(before['m1:/var/lib/etcd/member/snap/db']).toMatch(/ file$/);

    const result = await run();
    expect(result.exitCode, result.stdout + result.stderr).toBe(5);
    expect(result.stdout).toMatch(/guard FAIL old-members-stopped.*etcd on m2 still answers: this is not a single survivor/);
    expect(result.stdout).toMatch(/aborted by .*blocked/);
    const started = await stepsStarted(result.stdout);
    expect(started).toEqual([]);
    // the survivor still runs, the hung member was not touched, nothing moved or rewritten anywhere
    expect(lab.pidOf('m1')).toBeDefined();
    expect(lab.pidOf('m2')).toBeDefined();
    expect(await labFingerprint(lab)).toEqual(before);
    expect(await readdir(work)).not.toContain('backups');

    lab.thaw('m2');
    await lab.startMember('m3');
    await lab.waitHealthy();
    await lab.settled();
  });

  it('rebuilds from m1 after m2 and m3 died (m3 with its data dir): healthy, one cluster ID and leader, every key on every member', async () => {
    await lab.kill('m2');
    await lab.kill('m3');
    const wiped = await lab.wipeDataDir('m3');
    expect(await waitForVerdict(lab, 'quorum-lost')).toBe('quorum-lost');

    const result = await run();
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    expect(result.stdout).toMatch(/restoring with etcdutl snapshot restore/);
    // grown back one member at a time, each against the member list it meets
    expect(result.stdout).toMatch(/initial-cluster matches the member list: m1=https:\/\/[\d.]+:2380,m2=https:\/\/[\d.]+:2380\n/);
    expect(result.stdout).toMatch(/initial-cluster matches the member list: m1=https:\/\/[\d.]+:2380,m2=https:\/\/[\d.]+:2380,m3=https:\/\/[\d.]+:2380\n/);

    const status = await expectHealthyStatus(lab);
    expect(status.endpoints).toHaveLength(3);
    await expectKeysOnEveryMember(lab, keys);

    // the steps ran in order: the survivor alone first, then m2 completely, then m3
    const journal = /journal: (\S+)/.exec(result.stdout)?.[1] as string;
    const order = (await journalEvents(journal)).filter((e) => e.type === 'step-finished').map((e) => e.step);
    const at = (id: string) => {
      expect(order, id).toContain(id);
      return order.indexOf(id);
    };
    expect(at('restore-survivor')).toBeLessThan(at('grow-m2-add-learner'));
    expect(at('grow-m2-promote')).toBeLessThan(at('grow-m3-add-learner'));
    expect(at('grow-m3-promote')).toBeLessThan(at('wait-healthy'));

    // nothing deleted: every old data dir is kept aside, the wiped one where the fault left it
    for (const name of ['m1', 'm2']) {
      const aside = await dataDirsAside(lab.member(name));
      expect(aside, name).toHaveLength(1);
      expect(await memberHas(lab.member(name), `/var/lib/${aside[0] as string}/member/snap/db`), name).toBe(true);
    }
    expect(await memberHas(lab.member('m3'), `${wiped}/member/snap/db`)).toBe(true);
    // every member's configuration ends with the whole member list and existing: a member whose data
    // dir is lost later rejoins this cluster instead of bootstrapping one of its own (the survivor's said one member, new)
    for (const m of lab.members) {
      const env = await lab.readEnvFile(m.name);
      expect(env.ETCD_INITIAL_CLUSTER_STATE, m.name).toBe('existing');
      expect(env.ETCD_INITIAL_CLUSTER, m.name).toBe(lab.members.map((o) => `${o.name}=${o.peerURL}`).join(','));
      expect(env.ETCD_INITIAL_CLUSTER_TOKEN, m.name).toMatch(/^lab-restore-\d{8}T\d{6}Z$/);
    }
    // the rest of each master is back
    for (const m of lab.members) {
      expect(await lab.isActive(m.name, 'kubelet'), `${m.name} kubelet`).toBe(true);
      expect(await lab.isActive(m.name, 'controlPlane'), `${m.name} control plane`).toBe(true);
    }
    const backups = await readdir(join(work, 'backups'));
    expect(backups.filter((f) => /^snapshot-\d{8}T\d{6}Z\.db$/.test(f))).toHaveLength(1);
    console.log(`single-survivor (real systemd nodes, etcd 3.5, 3 members) took ${result.durationMs} ms; ${await phaseTimes(journal)}`);
  });
});

interface JournalEvent {
  type: string;
  step?: string;
  at: string;
}

async function journalEvents(path: string): Promise<JournalEvent[]> {
  return (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as JournalEvent);
}

/** Where the run's time went (guards included): the survivor alone, each member grown back, the rest; from the journal's times. */
async function phaseTimes(journal: string): Promise<string> {
  const events = await journalEvents(journal);
  const firstGrow = events.findIndex((e) => e.step?.startsWith('grow-'));
  const phaseOf = (e: JournalEvent, i: number) => /^grow-(.+?)-(move-data-dir-aside|write-config|add-learner|verify|start|wait|promote)/.exec(e.step ?? '')?.[1] ?? (i < firstGrow ? 'survivor' : 'rest');
  const ms = new Map<string, number>();
  let phase = 'survivor';
  events.forEach((e, i) => {
    const previous = events[i - 1];
    // probes during a wait carry no step: they belong to the step under way
    if (e.step) phase = phaseOf(e, i);
    if (previous) ms.set(phase, (ms.get(phase) ?? 0) + Date.parse(e.at) - Date.parse(previous.at));
  });
  const total = Date.parse(events.at(-1)?.at ?? '') - Date.parse(events[0]?.at ?? '');
  return `engine ${total} ms: ${[...ms].map(([name, t]) => `${name} ${t} ms`).join(', ')}`;
}

/** The steps that started on any node, from the run's journal. */
async function stepsStarted(stdout: string): Promise<string[]> {
  const journal = /journal: (\S+)/.exec(stdout)?.[1];
  expect(journal, stdout).toBeDefined();
  return (await journalEvents(journal as string)).filter((e) => e.type === 'target-started').map((e) => e.step as string);
}
