import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/**
 * The core use, on real lab nodes: log in to the surviving master, run the
 * tool with no inventory and no flags, and recover. The tool runs inside
 * m1 (its own systemd, /etc/etcd/etcd.conf, root's own ~/.ssh); m2 and m3
 * are reached over SSH as inferred from m1's configuration, with nothing
 * but root's ssh config, key and known_hosts on m1 — what an operator has.
 */
describe('restore-quorum from a master with no inventory (3 real nodes)', () => {
  const stateHome = mkdtempSync(join(tmpdir(), 'inventory-nodes-state-'));
  const env = { XDG_STATE_HOME: stateHome };
  const lab = (args: string[], timeoutMs = 60_000) => runCli(['lab', ...args], env, timeoutMs);
  /** a command inside m1, as root there */
  const onM1 = (args: string[], timeoutMs = 60_000) => lab(['exec', 'm1', '--', ...args], timeoutMs);
  let inventory = '';

  beforeAll(async () => {
    // --ssh: m1 is the operator's seat, with etcd-runbook on root's PATH (this checkout, wherever it is)
    const up = await lab(['up', '--etcd', '3.5', '--ssh'], 150_000);
    expect(up.exitCode, up.stderr).toBe(0);
    const labDir = /^lab dir: (.+)$/m.exec(up.stdout)?.[1] ?? '';
    inventory = /^inventory: (.+)$/m.exec(up.stdout)?.[1] ?? '';
    // the operator's own ssh setup on m1: a key the other masters accept, their host keys, a config
    const key = readFileSync(join(labDir, 'ssh', 'id_ed25519'), 'utf8');
    const knownHosts = readFileSync(join(labDir, 'ssh', 'known_hosts'), 'utf8');
    const setup = await onM1([
      'sh',
      '-c',
      'umask 077 && mkdir -p /root/.ssh && printf %s "$0" > /root/.ssh/id_ed25519 && printf %s "$1" > /root/.ssh/known_hosts && printf "Host 127.0.0.*\\n  User root\\n" > /root/.ssh/config',
      key,
      knownHosts,
    ]);
    expect(setup.exitCode, setup.stderr).toBe(0);
  }, 200_000);
  afterAll(async () => {
    await lab(['down'], 90_000);
    rmSync(stateHome, { recursive: true, force: true });
  }, 120_000);

  it('run restore-quorum --yes on m1 says which nodes it inferred before the first step, reaches them over SSH and brings the cluster back', async () => {
    expect((await lab(['fault', 'quorum'])).exitCode).toBe(0);
    const run = await onM1(['etcd-runbook', 'run', 'restore-quorum', '--yes', '--journal-dir', '/tmp/journal'], 300_000);
    expect(run.exitCode, run.stdout.slice(-3000) + run.stderr).toBe(0);
    const beforeFirstStep = run.stdout.slice(0, run.stdout.indexOf('step 1/'));
    expect(beforeFirstStep).toMatch(/inferred: m2 \(127\.0\.0\.\d+\), m3 \(127\.0\.0\.\d+\): reached over SSH/);
    // m2 and m3 were worked on (over SSH), not only m1
    expect(run.stdout).toMatch(/\[m2\] etcd on m2 (stopped|is not running)/);
    expect(run.stdout).toMatch(/\[m3\] etcd on m3 (stopped|is not running)/);
    expect(run.stdout).toContain('run succeeded');
    const status = await runCli(['status', '--json', '--inventory', inventory]);
    expect(JSON.parse(status.stdout)).toMatchObject({ verdict: 'healthy', clusterIds: [expect.any(String)] });
  }, 360_000);
});
