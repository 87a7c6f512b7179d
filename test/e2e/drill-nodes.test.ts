import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { drillYes, expectPassed } from './drill-helpers.js';
import { nodeSystemdsOf } from './node-helpers.js';

/**
 * `drill --etcd` rehearses on real lab nodes: restore-quorum runs what it
 * runs on a master (systemctl, /var/lib/etcd, etcdutl on 3.5), and the
 * nodes are gone when the drill ends.
 */
describe('drill --yes --etcd 3.5 (real lab nodes)', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-drill-nodes-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('quorum: restore-quorum with etcdutl brings the cluster back with all sample data; no node left', async () => {
    const { report, stdout, exitCode, labDir } = await drillYes(work, 3, 'quorum', '--etcd', '3.5');
    expect(exitCode, stdout).toBe(0);
    expectPassed(report, 'restore-quorum');
    expect(stdout).toContain('real lab nodes with etcd 3.5');
    expect(stdout).toMatch(/restore will use etcdutl snapshot restore/);
    expect(stdout).toMatch(/\$ .*etcdutl snapshot restore/);
    expect(nodeSystemdsOf(labDir)).toEqual([]);
  }, 160_000);

  it('--etcd with --layout kubeadm is refused in one line, before any lab starts', async () => {
    const refused = await runCli(['drill', '--yes', '--fault', 'quorum', '--etcd', '3.5', '--layout', 'kubeadm']);
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toMatch(/^etcd-runbook: --etcd with --layout kubeadm: the kubeadm layout is not supported on lab nodes yet[^\n]*$/);
    expect(refused.stdout).toBe('');
  });
});
