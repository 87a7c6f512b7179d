import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import type { LabLayout } from '../../src/lab/layouts.js';
import { loadInventoryFile } from '../../src/inventory/file.js';
import { buildContext, withMember } from '../../src/runbook/context.js';
import { CommandFragment } from '../../src/runbook/template.js';
import { runCli } from '../helpers/cli.js';

/**
 * The lab's node roots look like real masters in both field layouts:
 * discovery reads them as it reads a real master's /, and the node's service
 * commands (the inventory's, or for kubeadm the defaults runbooks derive)
 * really stop and start the member.
 */
for (const layout of ['systemd', 'kubeadm'] as const satisfies readonly LabLayout[]) {
  describe(`lab nodes in the ${layout} layout`, () => {
    let lab: LabCluster;

    beforeAll(async () => {
      lab = await LabCluster.start({ members: 3, layout });
    });
    afterAll(async () => {
      await lab?.close();
    });

    it('discovery on a node root finds the cluster: status healthy through the discovered description', async () => {
      const m1 = lab.member('m1');
      const result = await runCli(['status', '--json'], { ETCD_RUNBOOK_DISCOVERY_ROOT: m1.root });
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      const json = JSON.parse(result.stdout) as { verdict: string; endpoints: Array<{ name: string; healthy: boolean }>; sources: string[] };
      expect(json.verdict).toBe('healthy');
      expect(json.endpoints.map((e) => e.name).sort()).toEqual(['m1', 'm2', 'm3']);
      expect(json.sources.join(' ')).toContain(layout === 'kubeadm' ? 'etc/kubernetes/manifests/etcd.yaml' : 'etc/systemd/system/etcd.service');
    });

    it('the service commands a runbook renders stop and start the member for real', async () => {
      const inventory = await loadInventoryFile(lab.inventoryPath);
      const context = withMember(buildContext({ inventory, inputs: {}, run: { id: 't', timestamp: '20260101T000000Z' } }), inventory, 'm3');
      const service = (context.member as { service: Record<'start' | 'stop' | 'isActive', CommandFragment> }).service;
      for (const fragment of Object.values(service)) expect(fragment).toBeInstanceOf(CommandFragment);
      const sh = (command: string) => {
        try {
          execFileSync('/bin/sh', ['-c', command], { stdio: 'pipe' });
          return 0;
        } catch (err) {
          return (err as { status: number }).status;
        }
      };
      const pid = lab.pidOf('m3');
      expect(pid).toBeDefined();
      expect(sh(service.isActive.command)).toBe(0);
      expect(sh(service.stop.command)).toBe(0);
      expect(sh(service.isActive.command)).not.toBe(0);
      // kubeadm: the kubelet stops the pod some moments after its manifest leaves
      await until(() => lab.pidOf('m3') === undefined);
      expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
      expect(sh(service.start.command)).toBe(0);
      await until(() => lab.pidOf('m3') !== undefined);
      expect(lab.pidOf('m3')).not.toBe(pid);
      await lab.waitHealthy();
    });

    it('the kubelet and control-plane commands a runbook renders stop and start them for real', async () => {
      const inventory = await loadInventoryFile(lab.inventoryPath);
      const context = withMember(buildContext({ inventory, inputs: {}, run: { id: 't', timestamp: '20260101T000000Z' } }), inventory, 'm2');
      type Commands = Record<'start' | 'stop' | 'isActive', CommandFragment>;
      const member = context.member as { kubelet: Commands; controlPlane: Commands };
      const ok = (command: string) => {
        try {
          execFileSync('/bin/sh', ['-c', command], { stdio: 'pipe' });
          return true;
        } catch {
          return false;
        }
      };
      for (const what of ['kubelet', 'controlPlane'] as const) {
        const commands = member[what];
        expect(ok(commands.isActive.command), `${what} runs at lab start`).toBe(true);
        expect(await lab.isActive('m2', what)).toBe(true);
        expect(ok(commands.stop.command)).toBe(true);
        expect(ok(commands.isActive.command), `${what} stopped`).toBe(false);
        expect(await lab.isActive('m2', what)).toBe(false);
        // stopping twice is fine, as systemctl stop is
        expect(ok(commands.stop.command)).toBe(true);
        expect(ok(commands.start.command)).toBe(true);
        expect(await lab.isActive('m2', what)).toBe(true);
      }
      // etcd kept running throughout (a kubelet stop leaves static pods alone)
      expect(lab.pidOf('m2')).toBeDefined();
      await lab.waitHealthy();
    });

    it('kill, freeze and thaw act on the node\'s etcd through its pidfile', async () => {
      lab.freeze('m2');
      expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
      lab.thaw('m2');
      await lab.waitHealthy();
      await lab.kill('m2');
      expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
      await lab.startMember('m2');
      await lab.waitHealthy();
    });

    if (layout === 'systemd') {
      it('etcd-service start returns as systemctl start does for a Type=notify etcd: once etcd is ready, which needs a quorum; an etcd that exits fails it', async () => {
        const start = (name: string) => shell(lab.member(name).service.start);
        for (const name of ['m1', 'm2', 'm3']) await lab.kill(name);
        // m2 alone cannot publish itself: its start keeps waiting (field-notes/002: "may hang at first")
        let m2Started: ShellResult | undefined;
        const m2Start = start('m2').then((r) => (m2Started = r));
        await new Promise((r) => setTimeout(r, 2000));
        expect(m2Started, 'start returned without a quorum').toBeUndefined();
        expect(lab.pidOf('m2')).toBeDefined();
        // once a second member is up there is a quorum, and the first start returns
        await lab.startMember('m3');
        const result = await m2Start;
        expect(result.exitCode, result.stderr).toBe(0);
        await lab.startMember('m1');
        await lab.waitHealthy();

        // an etcd that exits before it is ready fails the start with the end of its log
        expect((await shell(lab.member('m3').service.stop)).exitCode).toBe(0);
        const env = await lab.readEnvFile('m3');
        await lab.writeEnvFile('m3', { ...env, ETCD_INITIAL_CLUSTER_STATE: 'sideways' });
        const failed = await start('m3');
        expect(failed.exitCode).toBe(1);
        expect(failed.stderr).toContain('etcd-service: etcd exited before it was ready');
        expect(failed.stderr).toContain('sideways');
        await lab.writeEnvFile('m3', env);
        expect((await start('m3')).exitCode).toBe(0);
        await lab.waitHealthy();
      });
    }

    if (layout === 'kubeadm') {
      it('a kubeadm node root has the files replace-master copies, and the kubelet runs the apiserver stand-in', async () => {
        const root = lab.member('m1').root;
        for (const path of ['etc/kubernetes/admin.conf', 'root/.kube/config', 'var/lib/kubelet/config.yaml', 'var/lib/kubelet/kubeadm-flags.env', 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf', 'etc/kubernetes/pki/etcd/ca.crt', 'etc/kubernetes/pki/etcd/healthcheck-client.key']) {
          await access(join(root, path));
        }
        const pod = JSON.parse(await readFile(join(root, 'run', 'lab-kubelet', 'pods', 'kube-apiserver.json'), 'utf8')) as { status: string };
        expect(pod.status).toBe('running');
        // a stopped kubelet leaves its pods running, as a real one does
        await lab.stopKubelet('m1');
        expect(lab.pidOf('m1')).toBeDefined();
        await lab.startKubelet('m1');
        expect(lab.pidOf('m1')).toBeDefined();
      });
    }

    it('close stops every process the lab started, detached ones included', async () => {
      const marker = `ETCD_RUNBOOK_LAB=${lab.dir}`;
      expect(labProcesses(marker).length).toBeGreaterThanOrEqual(3);
      await lab.close();
      expect(labProcesses(marker)).toEqual([]);
    });
  });
}

interface ShellResult {
  exitCode: number;
  stderr: string;
}

function shell(command: string): Promise<ShellResult> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', command], (err, _stdout, stderr) => {
      resolve({ exitCode: err ? ((err as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}

function labProcesses(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker)) {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (!stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) found.push(`${pid} ${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}`);
      }
    } catch {
      // gone
    }
  }
  return found;
}

async function until(done: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
