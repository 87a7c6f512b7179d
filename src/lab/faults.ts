import type { ProbeChannels } from '../cluster/channels.js';
import { fromHexId } from '../cluster/ids.js';
import type { ClusterReport, Verdict } from '../cluster/types.js';
import { quorumSize } from '../cluster/verdict.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LabCluster, type LabMember, type LabOptions } from './cluster.js';
import { NODE_PATHS } from './layouts.js';
import { issueMemberCert } from './pki.js';
import { clientFor, fillToNoSpace } from './sample-data.js';

/**
 * The faults a drill or test injects, and the verdict each must produce.
 * The same code drives the drill, the end-to-end tests and the benchmarks.
 */
export const FAULTS = ['none', 'minority', 'quorum', 'frozen', 'split-brain', 'nospace', 'corrupt', 'expired-certs'] as const;
export type Fault = (typeof FAULTS)[number];

/** Every fault is a drill's too: the lab, the tests and the drill share one list. */
export const LAB_FAULTS = FAULTS;
export type LabFault = Fault;

export const EXPECTED_VERDICT: Record<LabFault, Verdict> = {
  none: 'healthy',
  minority: 'minority-lost',
  quorum: 'quorum-lost',
  frozen: 'minority-lost',
  'split-brain': 'split-brain',
  nospace: 'alarm',
  corrupt: 'alarm',
  // the member still runs, but no client can complete a handshake with it
  'expired-certs': 'minority-lost',
};

/** The quota a nospace lab starts with unless told otherwise: filled in a second or two. */
export const NOSPACE_LAB_QUOTA_BYTES = 8 * 1024 * 1024;

export interface FaultedLab {
  lab: LabCluster;
  fault: LabFault;
  /** the members the fault hit */
  victims: string[];
}

/** What the lab must be started with for the fault: independent clusters for split brain, a small quota for nospace. */
export function labShapeFor(fault: LabFault, options: LabOptions = {}): LabOptions {
  const quota = fault === 'nospace' ? { quotaBackendBytes: options.quotaBackendBytes ?? NOSPACE_LAB_QUOTA_BYTES } : {};
  return { ...options, ...quota, independent: fault === 'split-brain' };
}

/** Start a lab shaped for the fault and inject it. */
export async function startFaultedLab(fault: LabFault, options: LabOptions = {}): Promise<FaultedLab> {
  const lab = await LabCluster.start(labShapeFor(fault, options));
  try {
    return { lab, fault, victims: await injectFault(lab, fault) };
  } catch (err) {
    await lab.close();
    throw err;
  }
}

/**
 * minority: kill the most members quorum survives (1 of 3, 2 of 5);
 * quorum: kill just enough to lose it (2 of 3, 3 of 5), the first member survives;
 * frozen: SIGSTOP one member, which keeps its sockets open but answers nothing;
 * nospace: writes through the API until etcd refuses one (the lab needs a small
 * quotaBackendBytes), the victims being the members that raised NOSPACE;
 * corrupt: the CORRUPT alarm raised on one member through the maintenance API;
 * expired-certs: one member's server certificate re-issued valid only in the past, and the member restarted.
 * The last members are hit, so m1 is always a survivor.
 */
export async function injectFault(lab: LabCluster, fault: LabFault): Promise<string[]> {
  const names = lab.members.map((m) => m.name);
  const n = names.length;
  const tolerable = n - quorumSize(n);
  switch (fault) {
    case 'none':
    case 'split-brain':
      return [];
    case 'minority': {
      const victims = names.slice(n - tolerable);
      for (const name of victims) await lab.kill(name);
      return victims;
    }
    case 'quorum': {
      const victims = names.slice(n - tolerable - 1);
      for (const name of victims) await lab.kill(name);
      return victims;
    }
    case 'frozen': {
      const victim = names[n - 1];
      if (victim === undefined) return [];
      lab.freeze(victim);
      return [victim];
    }
    case 'nospace':
      return fillLabToNoSpace(lab);
    case 'corrupt': {
      const victim = names[n - 1];
      return victim === undefined ? [] : [await raiseCorrupt(lab, victim)];
    }
    case 'expired-certs': {
      const victim = names[n - 1];
      return victim === undefined ? [] : [await expireServerCert(lab, victim)];
    }
  }
}

/** How long ago the expired certificate ended: its date is plain in the output, and never today. */
export const EXPIRED_DAYS_AGO = 7;
const DAY_MS = 24 * 3600 * 1000;

/**
 * The systemd lab serves peers with its server certificate. etcd serves no
 * client until it has joined its peers, so with that one expired too the
 * member would only be silent: the peer side keeps a valid copy (as
 * kubeadm's separate peer.crt does).
 */
async function keepPeerCert(lab: LabCluster, member: LabMember, pkiDir: string): Promise<void> {
  for (const ext of ['crt', 'key']) await putMemberFile(member, join(pkiDir, `peer.${ext}`), await readMemberFile(member, join(pkiDir, `server.${ext}`)), ext === 'key' ? 0o600 : 0o644);
  const onNode = NODE_PATHS.systemd.pkiDir;
  const env = await lab.readEnvFile(member.name);
  await lab.writeEnvFile(member.name, { ...env, ETCD_PEER_CERT_FILE: `${onNode}/peer.crt`, ETCD_PEER_KEY_FILE: `${onNode}/peer.key` });
}

/** A file of the member's node: through the node when it is a real one, else under its lab root. */
async function readMemberFile(member: LabMember, path: string): Promise<string> {
  return member.node ? member.node.readFile(path) : readFile(path, 'utf8');
}

async function putMemberFile(member: LabMember, path: string, content: string, mode: number): Promise<void> {
  if (member.node) await member.node.writeFile(path, content, mode);
  else await writeFile(path, content, { mode });
}

/**
 * The member's server certificate replaced by one from the same CA, with
 * the same subject and SANs, valid for a year that ended a week ago (as a
 * kubeadm certificate nobody renewed), and the member restarted to load it.
 * Waits (bounded) until a probe is refused for it.
 */
async function expireServerCert(lab: LabCluster, name: string): Promise<string> {
  const member = lab.member(name);
  const notAfter = new Date(Date.now() - EXPIRED_DAYS_AGO * DAY_MS);
  const expired = await issueMemberCert(lab.pki, name, member.ip, { notBefore: new Date(notAfter.getTime() - 365 * DAY_MS), notAfter }, `member-${name}-expired`);
  const pkiDir = member.layout === 'kubeadm' ? NODE_PATHS.kubeadm.etcdPki : member.pkiDir;
  if (member.layout === 'systemd') await keepPeerCert(lab, member, pkiDir);
  await putMemberFile(member, join(pkiDir, 'server.crt'), await readFile(expired.cert, 'utf8'), 0o644);
  await putMemberFile(member, join(pkiDir, 'server.key'), await readFile(expired.key, 'utf8'), 0o600);
  await lab.restart(name);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const probe = (await lab.probe()).endpoints.find((p) => p.endpoint === member.clientURL);
    if (probe?.certificate?.kind === 'expired') return name;
    if (Date.now() >= deadline) throw new Error(`${name} restarted with an expired certificate, but no probe was refused for it: ${probe?.error ?? 'not probed'}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function fillLabToNoSpace(lab: LabCluster): Promise<string[]> {
  const quota = lab.quotaBackendBytes;
  if (quota === undefined) throw new Error('the nospace fault needs a lab started with quotaBackendBytes');
  await fillToNoSpace(lab.endpoints, await lab.clientTls(), quota * 4);
  // each member raises its own NOSPACE as it applies the last writes: wait (bounded) until the set stops growing
  let raised = '';
  for (let i = 0; i < 10; i++) {
    const now = (await lab.probe()).verdict.alarms.filter((a) => a.alarm === 'NOSPACE').map((a) => a.member).join(',');
    if (now !== '' && now === raised) break;
    raised = now;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return raised === '' ? [] : raised.split(',');
}

/** What etcd raises when its periodic hash check finds a member's data differs, raised by hand (etcd's AlarmRequest ACTIVATE). */
async function raiseCorrupt(lab: LabCluster, name: string): Promise<string> {
  const report = await lab.probe();
  const memberId = report.endpoints.find((p) => p.name === name)?.memberId;
  if (!memberId) throw new Error(`${name} did not answer: no member ID to raise CORRUPT on`);
  const client = clientFor(lab.endpoints, await lab.clientTls());
  try {
    await client.maintenance.alarm({ action: 'Activate', alarm: 'Corrupt', memberID: fromHexId(memberId) });
  } finally {
    client.close();
  }
  return name;
}

/**
 * Right after a leader dies the survivors need an election timeout or two to
 * settle; wait (bounded) until the verdict is the one the fault implies.
 */
export async function waitForVerdict(lab: LabCluster, expected: Verdict, timeoutMs = 15_000): Promise<Verdict> {
  return (await waitForReport(lab, expected, timeoutMs)).verdict.verdict;
}

/** As waitForVerdict, with the probe that saw it (or the last one): the detection a run starts from. */
export async function waitForReport(lab: LabCluster, expected: Verdict, timeoutMs = 15_000, channels?: ProbeChannels): Promise<ClusterReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await lab.probe(undefined, channels);
    if (report.verdict.verdict === expected || Date.now() >= deadline) return report;
    await new Promise((r) => setTimeout(r, 250));
  }
}
