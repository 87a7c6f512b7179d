import { LabCluster } from '../src/lab/cluster.js';
import type { BenchRow } from './types.js';
import { median } from './median.js';

/**
 * Lab-up time: a cluster of real lab nodes (systemd as PID 1 in each,
 * etcd.service started by systemctl, sshd in every node), 3 and 5 members,
 * from start to a healthy cluster, against the host-process lab (the same
 * etcd, PKI and inventory without nodes) started in the same run. Needs root,
 * as lab nodes do.
 */
export async function benchLabUp(rounds = 2): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const members of [3, 5]) {
    const nodes: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < rounds; i++) {
      plain.push(await timedStart({ members }));
      nodes.push(await timedStart({ members, etcd: '3.5' }));
    }
    const nodesMs = median(nodes);
    const plainMs = median(plain);
    rows.push({
      name: `lab up, ${members} real nodes (etcd 3.5), to healthy`,
      baseline: `host-process lab, ${members} members, to healthy`,
      baselineValue: plainMs,
      toolValue: nodesMs,
      unit: 'ms',
      ratio: nodesMs / plainMs,
      notes: `median of ${rounds}; nodes ${nodes.join('/')} ms, host processes ${plain.join('/')} ms`,
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

