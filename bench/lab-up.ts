import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { LabCluster } from '../src/lab/cluster.js';
import { etcdBinDir } from '../src/lab/etcd-versions.js';
import { addressFor, claimSlot } from '../src/lab/slots.js';
import type { BenchRow } from './types.js';
import { median } from './median.js';

/**
 * Lab-up time: a cluster of real lab nodes (systemd as PID 1 in each,
 * etcd.service started by systemctl, sshd in every node, TLS), 3 and 5
 * members, from start to a healthy cluster, against the same etcd 3.5
 * started bare in the same run: one process per member on the same kind of
 * loopback addresses, plain HTTP, no PKI, to `endpoint health`. The ratio is
 * what being a machine costs over etcd itself. Needs root, as lab nodes do.
 */
export async function benchLabUp(rounds = 3): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const members of [3, 5]) {
    const nodes: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < rounds; i++) {
      bare.push(await timedBareEtcd(members));
      nodes.push(await timedStart({ members, etcd: '3.5' }));
    }
    const nodesMs = median(nodes);
    const bareMs = median(bare);
    rows.push({
      name: `lab up, ${members} real nodes (etcd 3.5), to healthy`,
      baseline: `${members} bare etcd 3.5 processes on loopback, to healthy`,
      baselineValue: bareMs,
      toolValue: nodesMs,
      unit: 'ms',
      ratio: nodesMs / bareMs,
      notes: `median of ${rounds}; nodes ${nodes.join('/')} ms, bare etcd ${bare.join('/')} ms`,
    });
  }
  return rows;
}

async function timedStart(options: Parameters<typeof LabCluster.start>[0]): Promise<number> {
  const started = Date.now();
  const lab = await LabCluster.start(options);
  try {
    await lab.waitHealthy();
    return Date.now() - started;
  } finally {
    await lab.close();
  }
}

/** The baseline: etcd's own start-up, members started together as a new cluster must be. */
async function timedBareEtcd(members: number): Promise<number> {
  const bin = etcdBinDir('3.5');
  const slot = claimSlot();
  const dir = await mkdtemp(join(tmpdir(), 'etcd-runbook-bench-bare-'));
  const ips = Array.from({ length: members }, (_, i) => addressFor(slot.index, i));
  const initialCluster = ips.map((ip, i) => `b${i + 1}=http://${ip}:2380`).join(',');
  const endpoints = ips.map((ip) => `http://${ip}:2379`).join(',');
  const started = Date.now();
  const children: ResultPromise[] = ips.map((ip, i) => {
    const child = execa(join(bin, 'etcd'), [
      `--name=b${i + 1}`,
      `--data-dir=${join(dir, `b${i + 1}`)}`,
      `--listen-client-urls=http://${ip}:2379`,
      `--advertise-client-urls=http://${ip}:2379`,
      `--listen-peer-urls=http://${ip}:2380`,
      `--initial-advertise-peer-urls=http://${ip}:2380`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=bench-${process.pid}`,
    ], { reject: false, stdio: 'ignore' });
    // the slot's reaper finds it by the data dir on its command line
    if (child.pid) slot.recordPid(child.pid, dir);
    return child;
  });
  try {
    for (;;) {
      const health = await execa(join(bin, 'etcdctl'), [`--endpoints=${endpoints}`, '--command-timeout=1s', 'endpoint', 'health'], { reject: false });
      if (health.exitCode === 0) return Date.now() - started;
      if (Date.now() - started > 30_000) throw new Error(`bare etcd did not become healthy within 30 s: ${health.stderr.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(children);
    slot.release();
    await rm(dir, { recursive: true, force: true });
  }
}
