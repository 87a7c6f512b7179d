import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';
import { singleEndpointClient } from '../../src/cluster/probe.js';
import type { LabCluster } from '../../src/lab/cluster.js';
import { APISERVER_LEASE_PREFIX } from '../../src/lab/node-members.js';
import { cgroup2Root } from '../../src/lab/node/cgroup.js';
import type { CliResult } from '../helpers/cli.js';

/** What a lab node must leave untouched on the host, and what must be gone after it stops. */
export function listing(dir: string): string[] | 'absent' {
  return existsSync(dir) ? readdirSync(dir).sort() : 'absent';
}

/** Every process in one of these PID namespaces, as `pid comm`. */
export function processesIn(namespaces: string[]): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (namespaces.includes(readlinkSync(`/proc/${entry}/ns/pid`))) found.push(`${entry} ${readFileSync(`/proc/${entry}/comm`, 'utf8').trim()}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** The mod revision of a node's apiserver lease (undefined: never written), and the cluster's revision, read through the first member. */
export async function apiserverLease(lab: LabCluster, name: string): Promise<{ modRevision: number | undefined; revision: number }> {
  const client = singleEndpointClient(lab.endpoints[0] as string, await lab.clientTls(), 10_000);
  try {
    const response = await client.get(`${APISERVER_LEASE_PREFIX}${name}`).exec();
    const kv = response.kvs[0];
    return { modRevision: kv ? Number(kv.mod_revision) : undefined, revision: Number(response.header.revision) };
  } finally {
    client.close();
  }
}

/** The node's apiserver stand-in renews its lease (every 2 s) after `revision`: it runs and reaches etcd. */
export async function expectLeaseRenewedAfter(lab: LabCluster, name: string, revision: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: number | undefined;
  while (Date.now() < deadline) {
    last = (await apiserverLease(lab, name)).modRevision;
    if (last !== undefined && last > revision) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect(last, `${name}'s apiserver lease renewed after revision ${revision}`).toBeGreaterThan(revision);
}

/** Every systemd in a PID namespace other than the host's that belongs to this lab (its marker names the lab dir). */
export function nodeSystemdsOf(labDir: string): string[] {
  const host = readlinkSync('/proc/self/ns/pid');
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return (
          readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'systemd' &&
          readlinkSync(`/proc/${pid}/ns/pid`) !== host &&
          readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`NODE_SCRATCH=${labDir}/`)
        );
      } catch {
        return false;
      }
    });
}

/** A shell command in a member's real node; expects exit 0 and returns its stdout. */
export async function inNode(lab: LabCluster, name: string, command: string): Promise<string> {
  const node = lab.member(name).node;
  if (!node) throw new Error(`${name} is not on a real node`);
  const result = await node.exec(command);
  expect(result.exitCode, `${command} on ${name}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

/** The data dirs a run moved aside on a member's node (/var/lib/etcd.old-<timestamp>). */
export async function nodeDataDirsAside(lab: LabCluster, name: string): Promise<string[]> {
  return (await inNode(lab, name, 'ls -d /var/lib/etcd.old-* 2>/dev/null || true')).split('\n').filter(Boolean);
}

/** The static-pod manifests a kubeadm lab node starts with, all in /etc/kubernetes/manifests. */
export const KUBEADM_NODE_MANIFESTS = ['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'];

/** Every static pod of a kubeadm node is back: its manifests in place, kubelet.service running them, the apiserver writing to etcd. */
export async function expectStaticPodsBack(lab: LabCluster, name: string): Promise<void> {
  expect((await inNode(lab, name, 'ls /etc/kubernetes/manifests')).split('\n').filter(Boolean), `${name} manifests`).toEqual(KUBEADM_NODE_MANIFESTS);
  expect((await inNode(lab, name, 'systemctl is-active kubelet')).trim(), `${name} kubelet`).toBe('active');
  await expectLeaseRenewedAfter(lab, name, (await apiserverLease(lab, name)).revision);
}

/**
 * What is left of a lab's nodes: processes in their cgroups (etcd, sshd,
 * systemd, the stand-ins: everything a node ran) and the cgroups themselves,
 * named after the lab dir (node.ts).
 */
export function nodeLeftoversOf(labDir: string): string[] {
  const prefix = `${basename(labDir)}-`;
  const cgroups = listing(join(cgroup2Root(), 'etcd-runbook'));
  const left = cgroups === 'absent' ? [] : cgroups.filter((name) => name.startsWith(prefix)).map((name) => `cgroup ${name}`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(`/etcd-runbook/${prefix}`)) left.push(`${entry} ${readFileSync(`/proc/${entry}/comm`, 'utf8').trim()}`);
    } catch {
      // exited meanwhile
    }
  }
  return left;
}

/**
 * `etcd-runbook <args>` on the lab's seat (node m1, labs started with seat),
 * as root logged in there: the node's own files, environment and cwd.
 */
export async function runOnSeat(lab: LabCluster, args: string[], timeoutMs = 60_000): Promise<CliResult> {
  const [command, ...rest] = lab.seatCommand(args);
  const started = Date.now();
  const result = await execa(command as string, rest, { reject: false, timeout: timeoutMs, stdin: 'ignore' });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr), durationMs: Date.now() - started };
}
