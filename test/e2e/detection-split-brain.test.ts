import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultedLab, type FaultedLab } from '../../src/lab/faults.js';
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
    const json = JSON.parse(result.stdout) as { verdict: string; clusterIds: string[]; evidence: string[]; recommendedRunbook: string };
    expect(json.verdict).toBe('split-brain');
    expect(result.exitCode).toBe(3);
    expect(json.clusterIds).toHaveLength(3);
    expect(json.evidence[0]).toMatch(/^3 cluster IDs: /);
    expect(json.recommendedRunbook).toBe('split-brain');
  });
});
