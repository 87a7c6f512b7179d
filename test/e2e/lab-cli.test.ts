import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { slotDir } from '../../src/lab/slots.js';
import { listing, nodeSystemdsOf, processesIn } from './node-helpers.js';

/**
 * `etcd-runbook lab` as a person practising by hand (or a script) uses it:
 * every command a separate CLI process, the lab living on between them.
 * The lab's state goes to a private XDG_STATE_HOME, so a lab someone runs
 * by hand on this machine is neither seen nor touched.
 */
describe('etcd-runbook lab up / exec / fault / down (3 real nodes, etcd 3.5)', () => {
  const stateHome = mkdtempSync(join(tmpdir(), 'lab-cli-state-'));
  const env = { XDG_STATE_HOME: stateHome };
  const lab = (args: string[], timeoutMs = 60_000) => runCli(['lab', ...args], env, timeoutMs);
  const hostEtcdBefore = listing('/var/lib/etcd');
  let up: CliResult;
  let labDir = '';
  let inventory = '';

  beforeAll(async () => {
    up = await lab(['up', '--etcd', '3.5'], 120_000);
    labDir = /^lab dir: (.+)$/m.exec(up.stdout)?.[1] ?? '';
    inventory = /^inventory: (.+)$/m.exec(up.stdout)?.[1] ?? '';
  }, 150_000);
  afterAll(async () => {
    // even when a test failed: nothing of the lab may outlive this file
    await lab(['down'], 90_000);
    rmSync(stateHome, { recursive: true, force: true });
  }, 120_000);

  it('up prints the lab dir and the inventory, and returns while the lab keeps running', () => {
    expect(up.stderr).toBe('');
    expect(up.exitCode).toBe(0);
    expect(existsSync(labDir)).toBe(true);
    expect(existsSync(inventory)).toBe(true);
  });

  it('exec runs inside each node: systemd is PID 1, etcd.service is active, etcd is 3.5, /var/lib/etcd/member is the node\'s own', async () => {
    const comm = await lab(['exec', 'm1', '--', 'cat', '/proc/1/comm']);
    expect(comm).toMatchObject({ exitCode: 0, stdout: 'systemd' });
    expect(await lab(['exec', 'm2', '--', 'systemctl', 'is-active', 'etcd'])).toMatchObject({ exitCode: 0, stdout: 'active' });
    expect((await lab(['exec', 'm3', '--', 'etcd', '--version'])).stdout).toMatch(/^etcd Version: 3\.5\./m);
    expect((await lab(['exec', 'm1', '--', 'test', '-d', '/var/lib/etcd/member'])).exitCode).toBe(0);
    expect(listing('/var/lib/etcd')).toEqual(hostEtcdBefore);
    // the command's own exit code and stderr come through
    expect(await lab(['exec', 'm1', '--', 'sh', '-c', 'echo oops >&2; exit 7'])).toMatchObject({ exitCode: 7, stderr: 'oops' });
  });

  it('a second up, an unknown layout and an unknown node are refused with one line naming the fix', async () => {
    const again = await lab(['up']);
    expect(again.exitCode).toBe(4);
    expect(again.stderr).toMatch(/^etcd-runbook: a lab is already running .*run 'etcd-runbook lab down' first$/);
    expect((await lab(['up', '--layout', 'kubespray'])).stderr).toMatch(/^etcd-runbook: lab up --layout kubespray: choose systemd or kubeadm$/);
    expect((await lab(['exec', 'm9', '--', 'true'])).stderr).toMatch(/no such node; the lab has m1, m2, m3$/);
  });

  it('status on the printed inventory says healthy; after lab fault quorum it says quorum-lost; after lab fault split-brain, split brain', async () => {
    const healthy = await runCli(['status', '--inventory', inventory]);
    expect(healthy.exitCode, healthy.stdout + healthy.stderr).toBe(0);
    expect(healthy.stdout).toMatch(/healthy/);
    const fault = await lab(['fault', 'quorum']);
    expect(fault).toMatchObject({ exitCode: 0, stdout: 'lab fault quorum: m2, m3 killed (SIGKILL): 2 of 3 down, quorum lost' });
    const lost = await statusUntil(inventory, 2);
    expect(lost.stdout).toMatch(/quorum-lost|quorum lost/i);
    // every member restored alone from m1's data: three single-member clusters
    const split = await lab(['fault', 'split-brain'], 120_000);
    expect(split, split.stderr).toMatchObject({ exitCode: 0, stdout: 'lab fault split-brain: 3 single-member clusters on the cluster\'s addresses' });
    const brain = await statusUntil(inventory, 3);
    expect(brain.exitCode, brain.stdout).toBe(3);
  }, 150_000);

  it('down stops every node (no systemd of this lab left in another PID namespace) and removes the lab dir; twice is fine', async () => {
    const namespaces = await Promise.all(['m1', 'm2', 'm3'].map(async (m) => (await lab(['exec', m, '--', 'readlink', '/proc/self/ns/pid'])).stdout));
    expect(namespaces.every((ns) => /^pid:\[\d+\]$/.test(ns))).toBe(true);
    expect(processesIn(namespaces).length).toBeGreaterThan(3 * 3);
    expect(await lab(['down'], 90_000)).toMatchObject({ exitCode: 0, stderr: '' });
    expect(processesIn(namespaces)).toEqual([]);
    expect(nodeSystemdsOf(labDir)).toEqual([]);
    expect(existsSync(labDir)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(labDir);
    expect(listing('/var/lib/etcd')).toEqual(hostEtcdBefore);
    expect(await lab(['down'])).toMatchObject({ exitCode: 0, stdout: 'lab down: no lab is running' });
  }, 120_000);
});

/** status until it exits with `code` (a leader election may take a moment to show), at most 15 s. */
async function statusUntil(inventory: string, code: number): Promise<CliResult> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const result = await runCli(['status', '--inventory', inventory]);
    if (result.exitCode === code || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('lab up --ssh, then lab down after the lab\'s holder was SIGKILLed (1 node, etcd 3.4)', () => {
  const stateHome = mkdtempSync(join(tmpdir(), 'lab-cli-state-'));
  const env = { XDG_STATE_HOME: stateHome };
  const lab = (args: string[], timeoutMs = 60_000) => runCli(['lab', ...args], env, timeoutMs);
  afterAll(async () => {
    await lab(['down'], 90_000);
    rmSync(stateHome, { recursive: true, force: true });
  }, 120_000);

  it('stops the node from the state file, releases its address block and removes the lab dir', async () => {
    const up = await lab(['up', '--members', '1', '--etcd', '3.4', '--ssh'], 120_000);
    expect(up.exitCode, up.stderr).toBe(0);
    expect((await lab(['exec', 'm1', '--', 'etcd', '--version'])).stdout).toMatch(/^etcd Version: 3\.4\./m);
    // the operator's seat: the tool on m1's PATH, its own member reached locally
    const inventory = /^inventory: (.+)$/m.exec(up.stdout)?.[1] ?? '';
    expect(up.stdout).toContain(`seat: m1 (the tool runs there: etcd-runbook lab exec m1 -- etcd-runbook --inventory ${inventory})`);
    const status = await lab(['exec', 'm1', '--', 'etcd-runbook', 'status', '--json', '--inventory', inventory]);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ verdict: 'healthy' });
    const state = JSON.parse(readFileSync(join(stateHome, 'etcd-runbook', 'lab.json'), 'utf8')) as { holderPid: number; labDir: string; slot: number };
    process.kill(state.holderPid, 'SIGKILL');
    expect(await lab(['down'], 90_000)).toMatchObject({ exitCode: 0, stdout: `lab down: 1 nodes stopped, ${state.labDir} removed` });
    expect(nodeSystemdsOf(state.labDir)).toEqual([]);
    expect(existsSync(state.labDir)).toBe(false);
    const lock = join(slotDir(), `slot-${state.slot}.lock`);
    expect(existsSync(lock) && readFileSync(lock, 'utf8') === String(state.holderPid), `${lock} still held by the dead holder`).toBe(false);
  }, 150_000);
});
