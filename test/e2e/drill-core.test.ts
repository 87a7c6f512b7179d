import { afterAll, describe, expect, it } from 'vitest';
import { singleEndpointClient } from '../../src/cluster/probe.js';
import { runDrill, type DrillResult, type RecoveryContext } from '../../src/drill/drill.js';
import { expectNothingLeft } from './drill-helpers.js';

/**
 * The drill's core, in process, with a recovery that does not recover: the
 * verdict check and the sample check must both fail it, with reasons — a
 * drill that cannot fail would prove nothing.
 */
describe('a drill whose recovery does nothing', () => {
  let labDir: string | undefined;
  afterAll(async () => {
    if (labDir) await expectNothingLeft(labDir);
  });

  it('fails: not healthy, no runbook run, and the key deleted meanwhile is reported missing', async () => {
    const lines: string[] = [];
    let lost = '';
    const result: DrillResult = await runDrill({ members: 3, fault: 'minority', layout: 'systemd', ssh: false, keep: false, say: (l) => lines.push(l) }, async (context: RecoveryContext) => {
      labDir = context.lab.dir;
      expect(context.detection.verdict.verdict).toBe('minority-lost');
      expect(context.inputDefaults.backupDir).toBe(`${context.lab.dir}/backups`);
      // lose one sample key, as a bad restore would
      const client = singleEndpointClient(context.lab.endpoints[0] as string, await context.lab.clientTls(), 5000);
      try {
        const keys = Object.keys(await client.getAll().prefix('/registry/').strings());
        expect(keys).toHaveLength(300);
        lost = keys[7] as string;
        await client.delete().key(lost);
      } finally {
        client.close();
      }
      return { attended: false, problem: 'this test runs none' };
    });
    expect(result.ok).toBe(false);
    expect(result.runStatus).toBe('not run');
    expect(result.finalVerdict).toBe('minority-lost');
    expect(result.sample?.intact).toBe(299);
    expect(result.sample?.missing).toEqual([lost]);
    expect(result.reasons).toEqual([
      'no runbook was run: this test runs none',
      'the cluster is minority-lost, not healthy',
      'sample data lost: 1 missing, 0 changed of 300',
    ]);
    expect(lines).toContain('lab stopped and removed');
  }, 90_000);
});
