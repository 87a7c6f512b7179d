import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultedLab, type FaultedLab } from '../../src/lab/faults.js';
import { humanBytes } from '../../src/util/table.js';
import { runCli } from '../helpers/cli.js';

describe('split brain: three single-member clusters', () => {
  let faulted: FaultedLab;

  beforeAll(async () => {
    faulted = await startFaultedLab('split-brain', { members: 3 });
  });
  afterAll(async () => {
    await faulted?.lab.close();
  });

  it('is detected from the differing cluster IDs, exit 3, split-brain runbook proposed', async () => {
    const result = await runCli(['status', '--inventory', faulted.lab.inventoryPath, '--json']);
    const json = JSON.parse(result.stdout) as {
      verdict: string;
      clusterIds: string[];
      evidence: string[];
      recommendedRunbook: string;
      sides: Array<{ clusterId: string; members: string[]; revision: number; dbSize: number; leader: string; source: string }>;
    };
    expect(json.verdict).toBe('split-brain');
    expect(result.exitCode).toBe(3);
    expect(json.clusterIds).toHaveLength(3);
    expect(json.evidence[0]).toMatch(/^3 cluster IDs: /);
    expect(json.recommendedRunbook).toBe('split-brain');
    // each single-member cluster is a side of its own, its own leader, with its own revision and DB size
    expect(json.sides.map((side) => side.clusterId).sort()).toEqual([...json.clusterIds].sort());
    for (const side of json.sides) {
      expect(side.members).toHaveLength(1);
      expect(side.leader).toBe(side.members[0]);
      expect(side.revision).toBeGreaterThan(0);
      expect(side.dbSize).toBeGreaterThan(0);
      expect(json.evidence).toContain(`side ${side.clusterId}: ${side.members[0]} (1 of 3 members), revision ${side.revision}, DB size ${humanBytes(side.dbSize)}, leader ${side.leader}`);
    }
    const text = await runCli(['status', '--inventory', faulted.lab.inventoryPath]);
    expect(text.stdout).toMatch(/side [0-9a-f]+: m1 \(1 of 3 members\), revision \d+, DB size/);
  });
});
