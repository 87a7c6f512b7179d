import type { ProbeChannels } from '../cluster/channels.js';
import type { ClusterReport, Verdict } from '../cluster/types.js';
import { quorumSize } from '../cluster/verdict.js';
import { LabCluster, type LabOptions } from './cluster.js';

/**
 * The faults a drill or test injects, and the verdict each must produce.
 * The same code drives the drill, the end-to-end tests and the benchmarks.
 */
export const FAULTS = ['none', 'minority', 'quorum', 'frozen', 'split-brain'] as const;
export type Fault = (typeof FAULTS)[number];

export const EXPECTED_VERDICT: Record<Fault, Verdict> = {
  none: 'healthy',
  minority: 'minority-lost',
  quorum: 'quorum-lost',
  frozen: 'minority-lost',
  'split-brain': 'split-brain',
};

export interface FaultedLab {
  lab: LabCluster;
  fault: Fault;
  /** the members the fault hit */
  victims: string[];
}

/** Start a lab shaped for the fault (split brain needs independent clusters) and inject it. */
export async function startFaultedLab(fault: Fault, options: LabOptions = {}): Promise<FaultedLab> {
  const lab = await LabCluster.start({ ...options, independent: fault === 'split-brain' });
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
 * frozen: SIGSTOP one member, which keeps its sockets open but answers nothing.
 * The last members are hit, so m1 is always a survivor.
 */
export async function injectFault(lab: LabCluster, fault: Fault): Promise<string[]> {
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
  }
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
