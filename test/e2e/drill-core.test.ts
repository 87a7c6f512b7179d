import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { singleEndpointClient } from '../../src/cluster/probe.js';
import { runDrill, type DrillResult, type RecoveryContext } from '../../src/drill/drill.js';
import { APISERVER_LEASE_PREFIX } from '../../src/lab/node-members.js';
import { BALLAST_PREFIX } from '../../src/lab/sample-data.js';
import { runCli } from '../helpers/cli.js';
import { expectNothingLeft } from './drill-helpers.js';

/**
 * The drill's core, in process on real lab nodes, with a recovery that does not recover: the
 * verdict check and the sample check must both fail it, with reasons — a
 * drill that cannot fail would prove nothing.
 */
describe('a drill whose recovery does nothing', () => {
  const labDirs: string[] = [];
  afterAll(async () => {
    for (const dir of labDirs) await expectNothingLeft(dir);
  });

  it('fails: not healthy, no runbook run, and the key deleted meanwhile is reported missing', async () => {
    const lines: string[] = [];
    let lost = '';
    const phases: string[] = [];
    const options = { members: 3, fault: 'minority' as const, layout: 'systemd' as const, etcd: '3.5' as const, keep: false, ballastMib: 1, say: (l: string) => lines.push(l) };
    const result: DrillResult = await runDrill(options, {
      // the tool's start happens on the lab before the fault: every member still answers
      launch: async (lab) => {
        phases.push(`launch: ${lab.dir}, ${lines.some((l) => l.startsWith('fault:')) ? 'after' : 'before'} the fault`);
      },
      recover: async (context: RecoveryContext) => {
        labDirs.push(context.lab.dir);
        phases.push(`recover: ${context.lab.dir}`);
        expect(context.detection.verdict.verdict).toBe('minority-lost');
        expect(context.inputDefaults.backupDir).toBe(`${context.lab.dir}/backups`);
        // lose one sample key, as a bad restore would
        const client = singleEndpointClient(context.lab.endpoints[0] as string, await context.lab.clientTls(), 5000);
        try {
          const all = await client.getAll().prefix('/registry/').keys();
          // the nodes' apiserver stand-ins renew their leases under /registry/ too
          const keys = all.filter((k) => !k.startsWith(BALLAST_PREFIX) && !k.startsWith(APISERVER_LEASE_PREFIX));
          expect(keys).toHaveLength(300);
          expect(all.filter((k) => k.startsWith(BALLAST_PREFIX))).toHaveLength(256);
          lost = keys[7] as string;
          await client.delete().key(lost);
          // and a ballast key: the drill counts those
          await client.delete().key(all.find((k) => k.startsWith(BALLAST_PREFIX)) as string);
        } finally {
          client.close();
        }
        return { attended: false, problem: 'this test runs none' };
      },
    });
    expect(phases).toEqual([`launch: ${labDirs[0]}, before the fault`, `recover: ${labDirs[0]}`]);
    expect(result.ok).toBe(false);
    expect(result.runStatus).toBe('not run');
    expect(result.finalVerdict).toBe('minority-lost');
    expect(result.sample?.intact).toBe(299);
    expect(result.sample?.missing).toEqual([lost]);
    expect(result.reasons).toEqual([
      'no runbook was run: this test runs none',
      'the cluster is minority-lost, not healthy',
      'sample data lost: 1 missing, 0 changed of 300',
      'ballast lost: 255 of 256 keys',
    ]);
    expect(result.ballast).toEqual({ mib: 1, expected: 256, found: 255 });
    expect(lines).toContain('lab stopped and removed');
  }, 90_000);

  it('a run that did not succeed is judged as it was left: quorum lost, the sample not read through a quorum there is not', async () => {
    const lines: string[] = [];
    const options = { members: 3, fault: 'quorum' as const, layout: 'systemd' as const, etcd: '3.5' as const, keep: false, ballastMib: 1, say: (l: string) => lines.push(l) };
    const result: DrillResult = await runDrill(options, {
      recover: async (context: RecoveryContext) => {
        labDirs.push(context.lab.dir);
        return { attended: false, problem: 'this test runs none' };
      },
    });
    expect(result.ok).toBe(false);
    expect(result.finalVerdict).toBe('quorum-lost');
    expect(result.sample).toBeUndefined();
    expect(result.ballast).toBeUndefined();
    expect(result.reasons).toEqual([
      'no runbook was run: this test runs none',
      'the cluster is quorum-lost, not healthy',
      'the sample data was not read back: a quorum-lost cluster has no quorum to read it through',
    ]);
    expect(lines).toContain('lab stopped and removed');
  }, 90_000);
});

describe('drill flags', () => {
  it('refuses a bad one in one line naming it, exit 4, before any lab starts', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--members', '4'], /^etcd-runbook: --members 4: a drill cluster has 3 or 5 members$/],
      [['--layout', 'docker'], /^etcd-runbook: --layout docker: choose systemd or kubeadm$/],
      [['--fault', 'fire'], /^etcd-runbook: --fault fire: choose one of /],
      [['--data-mib', '4096'], /^etcd-runbook: --data-mib 4096: a whole number of MiB from 0 to 1024 /],
      [['--data-mib=-1'], /^etcd-runbook: --data-mib -1: a whole number of MiB/],
      [['--data-mib', 'lots'], /^etcd-runbook: --data-mib lots: a whole number of MiB/],
      [['--transport', 'scp'], /^etcd-runbook: --transport scp: choose ssh or nsenter$/],
    ];
    for (const [flags, message] of cases) {
      const result = await runCli(['drill', '--yes', ...flags]);
      expect(result.exitCode, flags.join(' ')).toBe(4);
      expect(result.stderr.trim(), flags.join(' ')).toMatch(message);
      expect(result.stdout, flags.join(' ')).not.toContain('starting a');
    }
  }, 60_000);

  it('on a machine that cannot boot lab nodes, says in one line what is missing, exit 4, before any lab starts', async () => {
    // the 3.5 binaries are looked for in the cache: an empty one is a machine where bootstrap never ran
    const cache = await mkdtemp(join(tmpdir(), 'etcd-runbook-empty-cache-'));
    try {
      const result = await runCli(['drill', '--yes', '--fault', 'quorum'], { ETCD_RUNBOOK_CACHE: cache });
      expect(result.exitCode).toBe(4);
      expect(result.stderr.trim()).toMatch(/^etcd-runbook: drill runs on lab nodes \(systemd as PID 1 in namespaces of their own\), which need etcd 3\.5 \(npm run bootstrap installs or fetches it\)$/);
      expect(result.stdout).toBe('');
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});
