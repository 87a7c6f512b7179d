import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { injectFault, NOSPACE_LAB_QUOTA_BYTES } from '../../src/lab/faults.js';
import { runCli } from '../helpers/cli.js';

/**
 * Alarms on a real 3-member TLS cluster with a small --quota-backend-bytes:
 * CORRUPT raised through the maintenance API, then disarmed; then the
 * cluster filled through the API until etcd raises NOSPACE. An active alarm
 * is never "healthy": `status` exits 6 and names the alarm and its members.
 */
describe('alarms on a real 3-member cluster', () => {
  let lab: LabCluster;

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, quotaBackendBytes: NOSPACE_LAB_QUOTA_BYTES });
  });
  afterAll(async () => {
    await lab?.close();
  });

  const etcdctl = (...args: string[]) => execa('etcdctl', [...lab.etcdctlFlags(), ...args], { reject: false });
  type StatusJson = {
    verdict: string;
    summary: string;
    evidence: string[];
    warnings: string[];
    alarms: Array<{ alarm: string; member: string; memberId: string; blocks: string }>;
    recommendedRunbook: string | null;
    advice: string | null;
  };
  const status = async () => {
    const result = await runCli(['status', '--inventory', lab.inventoryPath, '--json']);
    return { ...result, json: JSON.parse(result.stdout) as StatusJson };
  };

  it('CORRUPT raised on m3: exit 6, verdict alarm naming m3, replace-member proposed for it, writes refused', async () => {
    expect(await injectFault(lab, 'corrupt')).toEqual(['m3']);
    expect((await etcdctl('alarm', 'list')).stdout).toMatch(/alarm:CORRUPT/);
    // what the verdict says it blocks, as etcd does it
    const put = await etcdctl('put', 'k', 'v');
    expect(put.exitCode).not.toBe(0);
    expect(put.stderr).toMatch(/corrupt cluster/);

    const { exitCode, json } = await status();
    expect(exitCode).toBe(6);
    expect(json.verdict).toBe('alarm');
    expect(json.summary).toMatch(/^alarm CORRUPT on m3 /);
    expect(json.alarms).toEqual([expect.objectContaining({ alarm: 'CORRUPT', member: 'm3', memberId: expect.stringMatching(/^[0-9a-f]+$/) })]);
    expect(json.evidence[0]).toMatch(/^CORRUPT raised on m3 \([0-9a-f]+\): .*never take a snapshot or restore from it/);
    expect(json.recommendedRunbook).toBe('replace-member');
    expect(json.advice).toMatch(/replace m3 from the healthy majority \(run replace-member --set member=m3\)/);
  });

  it('the text output names the alarm, the member and what to do', async () => {
    const result = await runCli(['status', '--inventory', lab.inventoryPath]);
    expect(result.exitCode).toBe(6);
    expect(result.stdout).toMatch(/verdict: alarm — alarm CORRUPT on m3/);
    expect(result.stdout).toMatch(/\| m3 +\|.*alarm:CORRUPT/);
    expect(result.stdout).toContain('recommended runbook: replace-member');
  });

  it('once disarmed, the cluster is healthy again (exit 0)', async () => {
    expect((await etcdctl('alarm', 'disarm')).exitCode).toBe(0);
    const { exitCode, json } = await status();
    expect(json.verdict).toBe('healthy');
    expect(exitCode).toBe(0);
    expect(json.alarms).toEqual([]);
  });

  it('filled to its quota: NOSPACE in alarm list, a put fails; status exits 6 naming NOSPACE and the members, in the verdict', async () => {
    const victims = await injectFault(lab, 'nospace');
    expect(victims.length).toBeGreaterThan(0);
    expect((await etcdctl('alarm', 'list')).stdout).toMatch(/alarm:NOSPACE/);
    const put = await etcdctl('put', 'k', 'v');
    expect(put.exitCode).not.toBe(0);
    expect(put.stderr).toMatch(/database space exceeded/);

    const { exitCode, json, durationMs } = await status();
    expect(exitCode).toBe(6);
    expect(json.verdict).toBe('alarm');
    // the members named are those that raised it (more may raise it as they apply the last writes)
    const named = json.alarms.map((a) => a.member);
    expect(named).toEqual(expect.arrayContaining(victims));
    expect(json.summary).toMatch(new RegExp(`^alarm NOSPACE on ${named.join(', ')} \\(writes refused: the database reached its space quota\\): quorum held`));
    expect(json.alarms.every((a) => a.alarm === 'NOSPACE')).toBe(true);
    expect(json.evidence[0]).toMatch(/^NOSPACE raised on .*etcd refuses every write/);
    // in the verdict, not only among the warnings
    expect(json.warnings.join('\n')).not.toMatch(/NOSPACE/);
    expect(json.recommendedRunbook).toBe('reclaim-space');
    expect(durationMs).toBeLessThan(10_000);
  });
});
