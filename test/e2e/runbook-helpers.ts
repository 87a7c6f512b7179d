import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { expect } from 'vitest';
import { singleEndpointClient } from '../../src/cluster/probe.js';
import { LabCluster, type LabMember, type LabOptions } from '../../src/lab/cluster.js';
import { runCli } from '../helpers/cli.js';

/**
 * What every runbook end-to-end test writes before the fault and proves
 * afterwards (issue 5): known keys, then a healthy verdict with one cluster
 * ID and one leader, and every key readable through every member.
 */
export const KEY_PREFIX = '/registry/lab-e2e/';

export function knownKeys(count: number): Map<string, string> {
  const keys = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const kind = ['pods', 'secrets', 'configmaps', 'services'][i % 4] ?? 'pods';
    keys.set(`${KEY_PREFIX}${kind}/default/object-${String(i).padStart(4, '0')}`, `value-${i}-${'x'.repeat(i % 50)}`);
  }
  return keys;
}

/** Write the keys through the first member (a linearizable cluster write each). */
export async function writeKeys(lab: LabCluster, keys: Map<string, string>): Promise<void> {
  const client = singleEndpointClient(lab.endpoints[0] as string, await lab.clientTls(), 10_000);
  try {
    const entries = [...keys];
    for (let i = 0; i < entries.length; i += 50) {
      await Promise.all(entries.slice(i, i + 50).map(([k, v]) => client.put(k).value(v)));
    }
  } finally {
    client.close();
  }
}

/**
 * The lab a runbook e2e file starts once, in beforeAll: the cluster, the
 * known keys written, settled as a field cluster is (etcd refuses
 * membership changes until its members have been connected for 5 s), and a
 * work dir for backups and journals. A failure half-way stops what started.
 */
export async function startKeyedLab(options: LabOptions, name: string, keys: Map<string, string>): Promise<{ lab: LabCluster; work: string }> {
  const lab = await LabCluster.start(options);
  let work: string | undefined;
  try {
    work = await mkdtemp(join(tmpdir(), `etcd-runbook-${name}-`));
    await writeKeys(lab, keys);
    await lab.settled();
    return { lab, work };
  } catch (err) {
    await stopKeyedLab(lab, work);
    throw err;
  }
}

/** afterAll's half: the lab stopped and the work dir removed, whatever of them started. */
export async function stopKeyedLab(lab: LabCluster | undefined, work: string | undefined): Promise<void> {
  await lab?.close();
  if (work) await rm(work, { recursive: true, force: true });
}

/** Every key, read (linearizably) through each member in turn: the member's own copy serves it. */
export async function expectKeysOnEveryMember(lab: LabCluster, keys: Map<string, string>): Promise<void> {
  const tls = await lab.clientTls();
  for (const member of lab.members) {
    const client = singleEndpointClient(member.clientURL, tls, 10_000);
    try {
      const got = await client.getAll().prefix(KEY_PREFIX).strings();
      expect(Object.keys(got).length, `keys read through ${member.name}`).toBe(keys.size);
      for (const [k, v] of keys) expect(got[k], `${k} through ${member.name}`).toBe(v);
      // and a serializable read: the member's own local copy, not the leader's
      const local = await client.getAll().prefix(KEY_PREFIX).serializable(true).count();
      expect(local, `serializable count on ${member.name}`).toBe(keys.size);
    } finally {
      client.close();
    }
  }
}

export interface StatusJson {
  verdict: string;
  clusterIds: string[];
  leaders: string[];
  endpoints: Array<{ name: string; healthy: boolean; memberId: string; isLearner?: boolean }>;
}

/** `status --json` through the real CLI: healthy, exit 0, one cluster ID, one leader, every member healthy. */
export async function expectHealthyStatus(lab: LabCluster): Promise<StatusJson> {
  const result = await runCli(['status', '--json', '--inventory', lab.inventoryPath]);
  expect(result.stdout, `status --json printed nothing (exit ${result.exitCode}): ${result.stderr}`).not.toBe('');
  const json = JSON.parse(result.stdout) as StatusJson;
  expect(json.verdict, result.stdout).toBe('healthy');
  expect(result.exitCode).toBe(0);
  expect(json.clusterIds).toHaveLength(1);
  expect(json.leaders).toHaveLength(1);
  expect(json.endpoints.map((e) => e.name).sort()).toEqual(lab.members.map((m) => m.name).sort());
  for (const e of json.endpoints) {
    expect(e.healthy, `${e.name} healthy`).toBe(true);
    expect(e.isLearner ?? false, `${e.name} is a voting member`).toBe(false);
  }
  return json;
}

/** A directory's entries on a member's node, by the node's own path (`/etc/etcd`); 'absent' when there is no such directory. */
export async function memberListing(m: LabMember, dir: string): Promise<string[] | 'absent'> {
  const result = await m.node.exec(['ls', '-1A', '--', dir]);
  return result.exitCode === 0 ? result.stdout.split('\n').filter(Boolean).sort() : 'absent';
}

/** Whether a path exists on a member's machine (its own path; see memberListing). */
export async function memberHas(m: LabMember, path: string): Promise<boolean> {
  return (await m.node.exec(['test', '-e', path])).exitCode === 0;
}

/** The old data dirs the runbook moved aside (`<dataDir>.old-<timestamp>`): a host path, or a member's data dir wherever its node is. */
export async function dataDirsAside(dataDir: string | LabMember): Promise<string[]> {
  const path = typeof dataDir === 'string' ? dataDir : dataDir.dataDir;
  const prefix = `${basename(path)}.old-`;
  const names = typeof dataDir !== 'string' && dataDir.node ? await memberListing(dataDir, dirname(path)) : await readdir(dirname(path));
  return names === 'absent' ? [] : names.filter((f) => f.startsWith(prefix));
}

export async function memberListText(lab: LabCluster): Promise<string> {
  const { execa } = await import('execa');
  return (await execa('etcdctl', [...lab.etcdctlFlags(), 'member', 'list'])).stdout;
}

/** The run's journal (named in its output) says the step never started on any node. */
export async function expectNoStep(stdout: string, step: string): Promise<void> {
  const journal = /journal: (\S+)/.exec(stdout)?.[1];
  expect(journal, stdout).toBeDefined();
  const { readFile } = await import('node:fs/promises');
  const events = (await readFile(journal as string, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: string });
  expect(events.filter((e) => e.type === 'target-started' && e.step === step)).toEqual([]);
}

/** `run backup --yes` through the real CLI: a snapshot and every master's host files into backupDir. */
export async function runBackup(lab: LabCluster, backupDir: string, journalDir: string, ...sets: string[]): Promise<Awaited<ReturnType<typeof runCli>>> {
  const result = await runCli(
    ['run', 'backup', '--yes', '--inventory', lab.inventoryPath, '--set', `backupDir=${backupDir}`, ...sets.flatMap((s) => ['--set', s]), '--journal-dir', journalDir],
    {},
    120_000,
  );
  expect(result.exitCode, result.stdout + result.stderr).toBe(0);
  expect(result.stdout).toContain('run succeeded');
  return result;
}

/**
 * Every file and directory under `original` is under `copy` with the same
 * bytes and permission bits (walked from the original, so nothing is
 * missing). Returns how many files were compared.
 */
export async function expectSameTree(original: string, copy: string): Promise<number> {
  const [want, got] = [await lstat(original), await lstat(copy)];
  if (want.isSymbolicLink()) {
    // a link is the same link: its target text, not followed (kubelet-client-current.pem)
    expect(got.isSymbolicLink(), `${copy} is a symlink`).toBe(true);
    expect(await readlink(copy), `target of ${copy}`).toBe(await readlink(original));
    return 1;
  }
  expect(got.mode & 0o7777, `mode of ${copy}`).toBe(want.mode & 0o7777);
  if (want.isFile()) {
    expect(got.isFile(), `${copy} is a file`).toBe(true);
    expect((await readFile(copy)).equals(await readFile(original)), `bytes of ${copy}`).toBe(true);
    return 1;
  }
  expect(want.isDirectory(), `${original} is a file or a directory`).toBe(true);
  expect(got.isDirectory(), `${copy} is a directory`).toBe(true);
  let files = 0;
  for (const name of await readdir(original)) files += await expectSameTree(join(original, name), join(copy, name));
  return files;
}
