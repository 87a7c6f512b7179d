import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chosenRunbook, unattended } from '../../src/cli/drill.js';
import type { ClusterReport } from '../../src/cluster/types.js';
import { runDrill } from '../../src/drill/drill.js';
import { runCli } from '../helpers/cli.js';
import { drillYes, expectNothingLeft, expectPassed } from './drill-helpers.js';

/**
 * The drill on real lab nodes beyond its defaults: etcd 3.4 (etcdctl's
 * restore), the kubeadm layout (static pods under the lab kubelet, etcdutl),
 * and --runbook, which rehearses a runbook of the operator's
 * choosing for the fault (single-survivor for a lost quorum) and refuses
 * one that does not apply to the fault's verdict before anything starts.
 */
describe('drill on real lab nodes: --etcd 3.4, kubeadm, --runbook', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-drill-nodes-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('quorum on etcd 3.4: restore-quorum with etcdctl brings the cluster back with all sample data; no node left', async () => {
    const { report, stdout, exitCode } = await drillYes(work, 3, 'quorum', '--etcd', '3.4');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'restore-quorum');
    expect(report.etcd).toBe('3.4');
    expect(stdout).toContain('real lab nodes with etcd 3.4');
    expect(stdout).toMatch(/restore will use etcdctl snapshot restore/);
  }, 160_000);

  it('quorum on kubeadm nodes: restore-quorum with etcdutl through the static pods brings the cluster back; no node left', async () => {
    const { report, stdout, exitCode, labDir } = await drillYes(work, 3, 'quorum', '--etcd', '3.5', '--layout', 'kubeadm');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'restore-quorum');
    expect(stdout).toContain('kubeadm layout, real lab nodes with etcd 3.5');
    expect(stdout).toMatch(/restore will use etcdutl snapshot restore/);
    expect(stdout).toMatch(/\$ .*etcdutl snapshot restore/);
    expect(stdout).toContain('/etc/kubernetes/manifests/etcd.yaml');
    await expectNothingLeft(labDir);
  }, 160_000);

  it('--runbook single-survivor for quorum: every node ends with initial-cluster-state existing and the full member list, one cluster, all started', async () => {
    const lines: string[] = [];
    const runbook = await chosenRunbook('single-survivor', 'quorum');
    const inner = unattended(true, runbook);
    let envs: Array<Record<string, string>> = [];
    let after: ClusterReport | undefined;
    let labDir = '';
    let everyone = '';
    const result = await runDrill({ members: 3, fault: 'quorum', layout: 'systemd', etcd: '3.5', keep: false, say: (l) => lines.push(l) }, {
      launch: inner.launch,
      recover: async (context) => {
        labDir = context.lab.dir;
        everyone = context.lab.members.map((m) => `${m.name}=${m.peerURL}`).join(',');
        const recovered = await inner.recover(context);
        // what each node would boot from tomorrow: its /etc/etcd/etcd.conf, read inside the node
        envs = await Promise.all(context.lab.members.map((m) => context.lab.readEnvFile(m.name)));
        after = await context.lab.probe();
        return recovered;
      },
    });
    expect(result.reasons, lines.join('\n')).toEqual([]);
    expect(result.runbook).toBe('single-survivor');
    expect(result.runStatus).toBe('succeeded');
    expect(result.sample?.intact).toBe(300);
    expect(envs).toHaveLength(3);
    for (const env of envs) {
      expect(env.ETCD_INITIAL_CLUSTER_STATE).toBe('existing');
      expect(env.ETCD_INITIAL_CLUSTER?.split(',').sort().join(',')).toBe(everyone);
    }
    expect(after?.verdict.verdict).toBe('healthy');
    expect(after?.verdict.clusterIds).toHaveLength(1);
    // member-list order (member IDs), not names
    const members = after?.verdict.members.map((m) => [m.name, m.unstarted, m.isLearner, m.healthy]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(members).toEqual([
      ['m1', false, false, true],
      ['m2', false, false, true],
      ['m3', false, false, true],
    ]);
    await expectNothingLeft(labDir);
  }, 160_000);

  it('--runbook refuses, in one line and before any lab starts, a runbook unknown or not for the fault', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--fault', 'minority', '--runbook', 'single-survivor'], /^etcd-runbook: --runbook single-survivor: it applies to quorum-lost, and the minority fault leaves the cluster minority-lost: rehearse it with --fault quorum, or drop --runbook$/],
      [['--fault', 'none', '--runbook', 'restore-quorum'], /^etcd-runbook: --runbook restore-quorum: it applies to quorum-lost, and the none fault leaves the cluster healthy: rehearse it with --fault quorum, or drop --runbook$/],
      [['--fault', 'quorum', '--runbook', 'no-such'], /^etcd-runbook: --runbook no-such: no such runbook \(the runbooks: backup, .*single-survivor.*\)$/],
      // without --fault, --yes rehearses minority: judged against that
      [['--runbook', 'split-brain'], /^etcd-runbook: --runbook split-brain: it applies to split-brain, and the minority fault leaves the cluster minority-lost: rehearse it with --fault split-brain, or drop --runbook$/],
    ];
    for (const [flags, message] of cases) {
      const refused = await runCli(['drill', '--yes', ...flags]);
      expect(refused.exitCode, flags.join(' ')).toBe(4);
      expect(refused.stderr.trim(), flags.join(' ')).toMatch(message);
      expect(refused.stdout, flags.join(' ')).not.toContain('starting a');
    }
  }, 60_000);
});
