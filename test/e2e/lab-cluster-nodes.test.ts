import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadInventoryFile } from '../../src/inventory/file.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { LabCluster } from '../../src/lab/cluster.js';
import { waitForVerdict } from '../../src/lab/faults.js';
import { unitPid } from '../../src/lab/node-members.js';
import type { LabNode } from '../../src/lab/node/node.js';
import { isRunning } from '../../src/lab/slots.js';
import { buildContext, withMember } from '../../src/runbook/context.js';
import type { CommandFragment } from '../../src/runbook/template.js';
import { apiserverLease, expectLeaseRenewedAfter, listing, processesIn } from './node-helpers.js';

const execFileP = promisify(execFile);

/**
 * The lab's member methods on real nodes act through each node's systemd and
 * files, never the host's: the faults the runbook tests inject (kill, freeze),
 * the service methods, the env file and data dir, and close().
 */
describe('a lab on real nodes (systemd layout, etcd 3.5)', () => {
  let lab: LabCluster;
  const hostEtcdBefore = listing('/var/lib/etcd');

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, etcd: '3.5' });
  }, 120_000);
  afterAll(() => lab?.close(), 60_000);

  /** What `systemctl is-active etcd` says on a node: active, activating, inactive, failed… */
  const unitState = async (name: string): Promise<string> => (await nodeOf(lab, name).exec('systemctl is-active etcd')).stdout.trim();

  it('freeze and thaw act on etcd.service\'s main process; a kill lasts past the unit\'s RestartSec until startMember; a frozen member stops', async () => {
    lab.freeze('m2');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    lab.thaw('m2');
    await lab.waitHealthy();
    await lab.kill('m2');
    expect(lab.pidOf('m2')).toBeUndefined();
    expect(await lab.isActive('m2', 'etcd')).toBe(false);
    // etcd.service says Restart=on-failure, RestartSec=5: the fault must outlast it
    await new Promise((resolve) => setTimeout(resolve, 6500));
    expect(lab.pidOf('m2')).toBeUndefined();
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    await lab.startMember('m2');
    await lab.waitHealthy();
    expect(lab.pidOf('m2')).toBeDefined();
    // a frozen member stops at once (systemctl stop's SIGTERM would wait on it until the unit's stop timeout)
    lab.freeze('m2');
    const stopping = Date.now();
    await lab.stop('m2');
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(lab.pidOf('m2')).toBeUndefined();
    await lab.startMember('m2');
    await lab.waitHealthy();
  }, 60_000);

  it('stop, isActive, the env file and the data dir are the node\'s own; the host\'s /var/lib/etcd is untouched', async () => {
    const m3 = lab.member('m3');
    const node = m3.node;
    if (!node) throw new Error('m3 is not on a real node');
    await lab.stop('m3');
    expect(await lab.isActive('m3', 'etcd')).toBe(false);
    expect((await lab.readEnvFile('m3')).ETCD_NAME).toBe('m3');
    const aside = await lab.wipeDataDir('m3');
    expect(aside).toMatch(/^\/var\/lib\/etcd\.wiped-\d+$/);
    expect((await node.exec(['ls', aside])).stdout.trim()).toBe('member');
    expect((await node.exec(['test', '-e', '/var/lib/etcd'])).exitCode).not.toBe(0);
    expect(listing('/var/lib/etcd')).toEqual(hostEtcdBefore);
    expect((await node.exec(['mv', '--', aside, '/var/lib/etcd'])).exitCode).toBe(0);
    await lab.startMember('m3');
    await lab.waitHealthy();
    await lab.stopKubelet('m3');
    expect(await lab.isActive('m3', 'kubelet')).toBe(false);
    expect(await lab.isActive('m3', 'controlPlane')).toBe(true);
    await lab.startKubelet('m3');
    expect(await lab.isActive('m3', 'kubelet')).toBe(true);
    // the control plane's commands are the node's systemctl, as the host runs them
    // (and a stopped apiserver shows in etcd: its lease is no longer renewed)
    await expectLeaseRenewedAfter(lab, 'm3', (await apiserverLease(lab, 'm3')).revision);
    await execFileP('/bin/sh', ['-c', m3.controlPlane?.stop ?? 'false']);
    expect((await node.exec('systemctl is-active kube-apiserver kube-controller-manager kube-scheduler')).stdout.split('\n').filter(Boolean)).toEqual(['inactive', 'inactive', 'inactive']);
    expect(await lab.isActive('m3', 'controlPlane')).toBe(false);
    const stopped = await apiserverLease(lab, 'm3');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await apiserverLease(lab, 'm3')).modRevision).toBe(stopped.modRevision);
    await execFileP('/bin/sh', ['-c', m3.controlPlane?.start ?? 'false']);
    expect(await lab.isActive('m3', 'controlPlane')).toBe(true);
    await expectLeaseRenewedAfter(lab, 'm3', stopped.revision);
  }, 60_000);

  it('the service, kubelet and control-plane commands a runbook renders from the inventory stop and start them on the node', async () => {
    const m2 = await renderedOn(lab, 'm2');
    const pid = lab.pidOf('m2');
    expect(pid).toBeDefined();
    expect(await m2.service.isActive()).toBe(true);
    expect(await m2.service.stop()).toBe(true);
    expect(await m2.service.isActive()).toBe(false);
    expect(lab.pidOf('m2')).toBeUndefined();
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    expect(await m2.service.start()).toBe(true);
    expect(lab.pidOf('m2')).toBeDefined();
    expect(lab.pidOf('m2')).not.toBe(pid);
    await lab.waitHealthy();
    const etcd = lab.pidOf('m2');
    for (const what of ['kubelet', 'controlPlane'] as const) {
      const commands = m2[what];
      expect(await commands.isActive(), `${what} runs at lab start`).toBe(true);
      expect(await lab.isActive('m2', what)).toBe(true);
      expect(await commands.stop()).toBe(true);
      expect(await commands.isActive(), `${what} stopped`).toBe(false);
      expect(await lab.isActive('m2', what)).toBe(false);
      // stopping twice is fine, as systemctl stop is
      expect(await commands.stop()).toBe(true);
      expect(await commands.start()).toBe(true);
      expect(await commands.isActive(), `${what} started`).toBe(true);
      expect(await lab.isActive('m2', what)).toBe(true);
    }
    // etcd kept running throughout: stopping the kubelet or the control plane leaves etcd.service alone
    expect(lab.pidOf('m2')).toBe(etcd);
    await lab.waitHealthy();
  }, 60_000);

  it('systemctl start etcd (Type=notify) returns once etcd is ready, which needs a quorum; an etcd that exits before it is ready fails it', async () => {
    const start = (name: string) => nodeOf(lab, name).exec('systemctl start etcd', { timeoutMs: 60_000 });
    for (const name of ['m1', 'm2', 'm3']) await lab.kill(name);
    // m2 alone cannot publish itself to the cluster: its start keeps waiting, etcd running
    let m2Started: Awaited<ReturnType<typeof start>> | undefined;
    const m2Start = start('m2').then((r) => (m2Started = r));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(m2Started, 'start returned without a quorum').toBeUndefined();
    expect(lab.pidOf('m2')).toBeDefined();
    // the unit says "activating" until etcd is ready: the runbooks' is-active counts it as running (an old member coming back)
    expect(await unitState('m2')).toBe('activating');
    expect(await (await renderedOn(lab, 'm2')).service.isActive(), 'a starting etcd is running').toBe(true);
    // once a second member is up there is a quorum, and the first start returns
    await lab.startMember('m3');
    const result = await m2Start;
    expect(result.exitCode, result.stderr).toBe(0);
    await lab.startMember('m1');
    await lab.waitHealthy();

    // an etcd that exits before it is ready fails the start; the node's journal says why
    await lab.stop('m3');
    const env = await lab.readEnvFile('m3');
    await lab.writeEnvFile('m3', { ...env, ETCD_INITIAL_CLUSTER_STATE: 'sideways' });
    const failed = await start('m3');
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stderr).toContain('etcd.service');
    expect((await nodeOf(lab, 'm3').exec('journalctl -u etcd --no-pager -o cat')).stdout).toContain('sideways');
    await lab.writeEnvFile('m3', env);
    expect((await start('m3')).exitCode).toBe(0);
    await lab.waitHealthy();
  }, 90_000);

  it('an etcd between two restarts (Restart=on-failure: "activating", auto-restart) counts as running; the rendered stop keeps it down', async () => {
    const m3 = await renderedOn(lab, 'm3');
    const pid = lab.pidOf('m3');
    expect((await nodeOf(lab, 'm3').exec('systemctl kill --signal=SIGKILL etcd')).exitCode).toBe(0);
    await until(() => pid !== undefined && !isRunning(pid), 10_000, 'm3\'s etcd gone after SIGKILL');
    // systemd reaps it and schedules the restart (RestartSec=5): "activating" until then
    const states: string[] = [];
    const deadline = Date.now() + 4000;
    while (states.at(-1) !== 'activating' && Date.now() < deadline) states.push(await unitState('m3'));
    expect(states.at(-1), states.join(' ')).toBe('activating');
    // no process, no port: only the unit knows it comes back after RestartSec
    expect(lab.pidOf('m3')).toBeUndefined();
    expect(await m3.service.isActive(), 'a unit waiting to restart etcd is running').toBe(true);
    expect(await m3.service.stop()).toBe(true);
    expect(await m3.service.isActive()).toBe(false);
    expect(await unitState('m3')).toBe('inactive');
    await new Promise((resolve) => setTimeout(resolve, 6500));
    expect(lab.pidOf('m3'), 'stopped, etcd stays down past RestartSec').toBeUndefined();
    expect(await m3.service.start()).toBe(true);
    await lab.waitHealthy();
  }, 60_000);

  it('close() stops every node: no process in their PID namespaces, no mount, the lab dir gone', async () => {
    const namespaces = lab.members.map((m) => readlinkSync(`/proc/${m.node?.pid ?? 0}/ns/pid`));
    expect(processesIn(namespaces).length).toBeGreaterThan(3 * 5);
    await lab.close();
    expect(processesIn(namespaces)).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(lab.dir);
    expect(existsSync(lab.dir)).toBe(false);
    expect(listing('/var/lib/etcd')).toEqual(hostEtcdBefore);
  }, 60_000);
});


/**
 * The kubeadm layout on real nodes: kubelet.service (the package's unit and
 * kubeadm's drop-in) runs the lab kubelet, which runs the static pods in
 * /etc/kubernetes/manifests; the lab's faults and service methods act on
 * those pods, in kubelet.service's cgroup.
 */
describe('a lab on real nodes (kubeadm layout, etcd 3.5)', () => {
  let lab: LabCluster;

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3, layout: 'kubeadm', etcd: '3.5' });
  }, 120_000);
  afterAll(() => lab?.close(), 60_000);

  const inNode = async (name: string, command: string): Promise<string> => {
    const result = await nodeOf(lab, name).exec(command);
    expect(result.exitCode, `${command} on ${name}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };

  it('each node is a kubeadm master at the real paths: systemd as PID 1, kubelet.service with kubeadm\'s drop-in running etcd from etcd.yaml; no overrides in the inventory', async () => {
    const inventory = parse(await readFile(lab.inventoryPath, 'utf8')) as Inventory;
    for (const [i, m] of lab.members.entries()) {
      expect(inventory.members[i]?.node).toEqual({
        host: m.ip,
        transport: 'ssh',
        ssh: { user: 'root', port: 22, identityFile: expect.any(String), knownHosts: expect.any(String) },
        layout: 'kubeadm',
        paths: { dataDir: '/var/lib/etcd', pkiDir: '/etc/kubernetes/pki', manifestsDir: '/etc/kubernetes/manifests' },
      });
      expect((await inNode(m.name, 'cat /proc/1/comm')).trim()).toBe('systemd');
      expect((await inNode(m.name, 'systemctl is-active kubelet')).trim()).toBe('active');
      // Debian's merged /usr: systemd names /usr/lib/systemd/system by its /lib alias
      expect(await inNode(m.name, 'systemctl show -p FragmentPath -p DropInPaths kubelet')).toMatch(
        /^FragmentPath=(\/usr)?\/lib\/systemd\/system\/kubelet\.service\nDropInPaths=\/usr\/lib\/systemd\/system\/kubelet\.service\.d\/10-kubeadm\.conf\n$/,
      );
      expect((await inNode(m.name, 'test -f /usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf && echo present')).trim()).toBe('present');
      expect(await inNode(m.name, 'cat /var/lib/kubelet/config.yaml')).toMatch(/^staticPodPath: \/etc\/kubernetes\/manifests$/m);
      expect((await inNode(m.name, 'ls /etc/kubernetes/pki/etcd')).split('\n').filter(Boolean)).toEqual(
        ['ca.crt', 'ca.key', 'healthcheck-client.crt', 'healthcheck-client.key', 'peer.crt', 'peer.key', 'server.crt', 'server.key'],
      );
      expect(await inNode(m.name, 'ls /etc/kubernetes/pki/apiserver-etcd-client.* /etc/kubernetes/*.conf')).toContain('/etc/kubernetes/pki/apiserver-etcd-client.key');
      expect((await inNode(m.name, 'cd /etc/kubernetes && ls *.conf')).split('\n').filter(Boolean)).toEqual(['admin.conf', 'controller-manager.conf', 'kubelet.conf', 'scheduler.conf']);
      expect((await nodeOf(lab, m.name).exec('test -f /root/.kube/config')).exitCode === 0, `/root/.kube/config on ${m.name}`).toBe(m.name === 'm1');
      // etcd runs the manifest's command line, as a process of kubelet.service
      const pid = lab.pidOf(m.name);
      const manifest = parse(await inNode(m.name, 'cat /etc/kubernetes/manifests/etcd.yaml')) as { spec: { containers: { command: string[] }[] } };
      expect(readFileSync(`/proc/${pid ?? 0}/cmdline`, 'utf8').split('\0').filter(Boolean)).toEqual(manifest.spec.containers[0]?.command);
      expect(readFileSync(`/proc/${pid ?? 0}/cgroup`, 'utf8').trim()).toMatch(/\/system\.slice\/kubelet\.service$/);
      for (const component of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
        // a process's comm is its name's first 15 characters
        expect(unitPid(nodeOf(lab, m.name), 'kubelet', component.slice(0, 15)), `${component} on ${m.name}`).toBeDefined();
      }
      expect(await lab.isActive(m.name, 'controlPlane')).toBe(true);
    }
    // the apiserver stand-in of a static pod writes to etcd too
    await expectLeaseRenewedAfter(lab, 'm2', (await apiserverLease(lab, 'm2')).revision);
  }, 60_000);

  it('moving etcd.yaml out of the manifests dir stops etcd; moving it back starts it', async () => {
    const pid = lab.pidOf('m2') ?? 0;
    await inNode('m2', 'mv /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/etcd.yaml.stopped');
    await until(() => !isRunning(pid) && lab.pidOf('m2') === undefined, 15_000, 'etcd on m2 stopped');
    expect(await lab.isActive('m2', 'etcd')).toBe(false);
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    await inNode('m2', 'mv /etc/kubernetes/etcd.yaml.stopped /etc/kubernetes/manifests/etcd.yaml');
    await until(() => lab.pidOf('m2') !== undefined, 15_000, 'etcd on m2 started');
    await lab.waitHealthy();
  }, 60_000);

  it('a pod that exits on its own is started again after a back-off, as the kubelet does; its manifest gone, it is not', async () => {
    const pod = stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'crashy', namespace: 'kube-system' },
      spec: { containers: [{ name: 'crashy', command: ['/bin/sh', '-c', 'date +%s%N >> /run/crashy.starts; exit 3'] }] },
    });
    await nodeOf(lab, 'm1').writeFile('/etc/kubernetes/manifests/crashy.yaml', pod, 0o600);
    const starts = async () => (await nodeOf(lab, 'm1').exec('cat /run/crashy.starts')).stdout.split('\n').filter(Boolean).length;
    // started, then again after 1 s and 2 s (the back-off doubles): about 3 s, polled (the machine may be loaded)
    const deadline = Date.now() + 10_000;
    while ((await starts()) < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await starts()).toBeGreaterThanOrEqual(3);
    await inNode('m1', 'rm /etc/kubernetes/manifests/crashy.yaml');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await starts();
    await new Promise((resolve) => setTimeout(resolve, 4500));
    expect(await starts()).toBe(after);
  }, 30_000);

  it('kill, freeze and thaw act on the etcd pod; a killed pod stays down until startMember; stopping kubelet.service stops its pods', async () => {
    lab.freeze('m3');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    lab.thaw('m3');
    await lab.waitHealthy();
    await lab.kill('m3');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(lab.pidOf('m3')).toBeUndefined();
    await lab.startMember('m3');
    await lab.waitHealthy();
    await lab.stopKubelet('m3');
    expect(await lab.isActive('m3', 'kubelet')).toBe(false);
    expect(lab.pidOf('m3')).toBeUndefined();
    expect(unitPid(nodeOf(lab, 'm3'), 'kubelet', 'kube-apiserver')).toBeUndefined();
    await lab.startKubelet('m3');
    await until(() => lab.pidOf('m3') !== undefined, 15_000, 'etcd on m3 started with the kubelet');
    await lab.waitHealthy();
  }, 60_000);

  it('the service, kubelet and control-plane commands a runbook renders from the inventory stop and start them on the node', async () => {
    const m2 = await renderedOn(lab, 'm2');
    const pid = lab.pidOf('m2');
    expect(pid).toBeDefined();
    expect(await m2.service.isActive()).toBe(true);
    expect(await m2.service.stop()).toBe(true);
    expect(await m2.service.isActive()).toBe(false);
    // the kubelet stops the pod some moments after its manifest leaves
    await until(() => lab.pidOf('m2') === undefined, 15_000, 'etcd on m2 stopped by the kubelet');
    expect(await waitForVerdict(lab, 'minority-lost')).toBe('minority-lost');
    expect(await m2.service.start()).toBe(true);
    await until(() => lab.pidOf('m2') !== undefined, 15_000, 'etcd on m2 started by the kubelet');
    expect(lab.pidOf('m2')).not.toBe(pid);
    await lab.waitHealthy();

    const apiserver = () => unitPid(nodeOf(lab, 'm2'), 'kubelet', 'kube-apiserver');
    for (const what of ['kubelet', 'controlPlane'] as const) {
      const commands = m2[what];
      const etcd = lab.pidOf('m2');
      expect(await commands.isActive(), `${what} runs at lab start`).toBe(true);
      expect(await lab.isActive('m2', what)).toBe(true);
      expect(await commands.stop()).toBe(true);
      expect(await commands.isActive(), `${what} stopped`).toBe(false);
      expect(await lab.isActive('m2', what)).toBe(false);
      // the apiserver pod stops with either (its manifest out, or the kubelet running it stopped)
      await until(() => apiserver() === undefined, 15_000, `kube-apiserver on m2 stopped with the ${what}`);
      // stopping twice is fine, as systemctl stop is (and as the loop leaves a moved manifest alone)
      expect(await commands.stop()).toBe(true);
      expect(await commands.start()).toBe(true);
      expect(await commands.isActive(), `${what} started`).toBe(true);
      expect(await lab.isActive('m2', what)).toBe(true);
      await until(() => apiserver() !== undefined, 15_000, `kube-apiserver on m2 started with the ${what}`);
      // the control plane's pods are not etcd's: etcd kept running; the lab's kubelet.service takes its pods with it
      if (what === 'controlPlane') expect(lab.pidOf('m2')).toBe(etcd);
      else await until(() => lab.pidOf('m2') !== undefined, 15_000, 'etcd on m2 started with the kubelet');
      await lab.waitHealthy();
    }
  }, 90_000);
});

type Rendered = Record<'start' | 'stop' | 'isActive', () => Promise<boolean>>;

/**
 * The commands a runbook renders for a member from the lab's inventory (its
 * node's layout and paths, no overrides: systemctl, or static-pod manifests
 * moved), each run on the member's node as the run's transport would: true
 * when it exits 0.
 */
async function renderedOn(lab: LabCluster, name: string): Promise<Record<'service' | 'kubelet' | 'controlPlane', Rendered>> {
  const inventory = await loadInventoryFile(lab.inventoryPath);
  const context = withMember(buildContext({ inventory, inputs: {}, run: { id: 't', timestamp: '20260101T000000Z' } }), inventory, name);
  const member = context.member as Record<'service' | 'kubelet' | 'controlPlane', Record<keyof Rendered, CommandFragment>>;
  const onNode = (fragment: CommandFragment) => async () => (await nodeOf(lab, name).exec(fragment.command, { timeoutMs: 60_000 })).exitCode === 0;
  const commands = (of: Record<keyof Rendered, CommandFragment>): Rendered => ({ start: onNode(of.start), stop: onNode(of.stop), isActive: onNode(of.isActive) });
  return { service: commands(member.service), kubelet: commands(member.kubelet), controlPlane: commands(member.controlPlane) };
}

function nodeOf(lab: LabCluster, name: string): LabNode {
  const node = lab.member(name).node;
  if (!node) throw new Error(`${name} is not on a real node`);
  return node;
}

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
