/**
 * The lab kubelet: what kubelet.service runs on a kubeadm lab node
 * (`/usr/bin/kubelet`, a wrapper that runs this file with the host's node).
 * It does the one part of a kubelet the runbooks act on, static pods:
 *  - it reads `--config` (/var/lib/kubelet/config.yaml, as the kubeadm
 *    drop-in passes it) for `staticPodPath`;
 *  - every file there (dotfiles aside, as the kubelet skips them) is a pod:
 *    its first container's command and args run as a child process, with
 *    the container's env, on the node's own paths (hostPath mounts of a
 *    kubeadm control plane are the same paths, and the node shares the
 *    host's network, as hostNetwork pods do);
 *  - a manifest that leaves the dir stops its pod (SIGTERM, SIGKILL after
 *    the pod's terminationGracePeriodSeconds, default 30 s); a changed one
 *    restarts it;
 *  - a pod whose process exits on its own (a crash: a port in use, a bad
 *    flag) is started again after a back-off (1 s, doubling up to 10 s), as
 *    the kubelet does; one killed by a signal from outside (a lab fault: a
 *    member killed or stopped) stays down until its manifest changes, the
 *    kubelet restarts, or it gets SIGHUP (`systemctl kill --kill-whom=main
 *    -s HUP kubelet`), so the fault lasts until it is repaired.
 * Pods are children of the kubelet, in kubelet.service's cgroup: stopping
 * the unit stops them (where a real kubelet's containers live on under the
 * container runtime).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';

const SYNC_MS = 200;
const BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 10_000;
const DEFAULT_GRACE_S = 30;
const POD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A pod as its manifest says: what to run, and how long it may take to stop. */
export interface PodSpec {
  name: string;
  argv: string[];
  env: Record<string, string>;
  graceMs: number;
}

interface Manifest {
  file: string;
  hash: string;
  text: string;
}

interface Pod {
  hash: string;
  spec?: PodSpec;
  child?: ChildProcess;
  /** its process is gone (or never started) */
  exited: boolean;
  /** how often it was started again after a crash (its back-off grows with it) */
  restarts: number;
  /** when a crashed pod is started again; none: it stays down until its manifest changes */
  restartAt?: number;
  /** the kubelet is stopping it: its exit is no crash */
  stopping?: boolean;
}

/** The --config file from the kubelet's command line (`--config=F` or `--config F`). */
export function configPath(argv: readonly string[]): string | undefined {
  for (const [i, arg] of argv.entries()) {
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
    if (arg === '--config') return argv[i + 1];
  }
  return undefined;
}

export function staticPodPath(configText: string): string | undefined {
  const config = parse(configText) as { staticPodPath?: unknown } | null;
  return typeof config?.staticPodPath === 'string' && config.staticPodPath !== '' ? config.staticPodPath : undefined;
}

/** The pod's first container as a process; throws with what is missing. */
export function podSpec(text: string): PodSpec {
  const pod = parse(text) as {
    metadata?: { name?: unknown; namespace?: unknown };
    spec?: { containers?: unknown; terminationGracePeriodSeconds?: unknown };
  } | null;
  const containers = pod?.spec?.containers;
  const container = (Array.isArray(containers) ? containers[0] : undefined) as
    | { name?: unknown; command?: unknown; args?: unknown; env?: unknown }
    | undefined;
  if (!container) throw new Error('no containers in spec.containers');
  const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
  const argv = [...list(container.command), ...list(container.args)];
  if (argv.length === 0) throw new Error(`container ${String(container.name)} has no command`);
  const env: Record<string, string> = {};
  for (const entry of Array.isArray(container.env) ? (container.env as { name?: unknown; value?: unknown }[]) : []) {
    if (typeof entry.name === 'string') env[entry.name] = String(entry.value ?? '');
  }
  const grace = pod?.spec?.terminationGracePeriodSeconds;
  return {
    name: `${String(pod?.metadata?.namespace ?? 'default')}/${String(pod?.metadata?.name ?? container.name)}`,
    argv,
    env,
    graceMs: (typeof grace === 'number' && grace >= 0 ? grace : DEFAULT_GRACE_S) * 1000,
  };
}

function readManifests(dir: string): Map<string, Manifest> {
  const found = new Map<string, Manifest>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of names.filter((n) => !n.startsWith('.'))) {
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      const text = readFileSync(file, 'utf8');
      found.set(file, { file, text, hash: createHash('sha256').update(text).digest('hex') });
    } catch {
      // moved away meanwhile
    }
  }
  return found;
}

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

class Kubelet {
  private readonly pods = new Map<string, Pod>();
  private stopping = false;

  constructor(private readonly manifestsDir: string) {}

  async run(): Promise<void> {
    log(`lab kubelet: running the static pods in ${this.manifestsDir}`);
    process.on('SIGTERM', () => void this.shutdown());
    process.on('SIGINT', () => void this.shutdown());
    process.on('SIGHUP', () => this.forgetExited());
    while (!this.stopping) {
      await this.sync().catch((err: unknown) => log(`lab kubelet: sync failed: ${(err as Error).stack ?? String(err)}`));
      await new Promise((resolve) => setTimeout(resolve, SYNC_MS));
    }
  }

  /** Pods whose manifest left or changed are stopped; new and changed ones started. */
  private async sync(): Promise<void> {
    const manifests = readManifests(this.manifestsDir);
    const gone = [...this.pods].filter(([file, pod]) => manifests.get(file)?.hash !== pod.hash);
    await Promise.all(gone.map(([file, pod]) => this.stopPod(file, pod)));
    if (this.stopping) return;
    for (const manifest of manifests.values()) {
      const pod = this.pods.get(manifest.file);
      if (!pod) this.startPod(manifest, 0);
      else if (pod.exited && pod.restartAt !== undefined && Date.now() >= pod.restartAt) this.startPod(manifest, pod.restarts + 1);
    }
  }

  private startPod(manifest: Manifest, restarts: number): void {
    let spec: PodSpec;
    try {
      spec = podSpec(manifest.text);
    } catch (err) {
      log(`lab kubelet: ${manifest.file}: ${(err as Error).message}; not run until it changes`);
      this.pods.set(manifest.file, { hash: manifest.hash, exited: true, restarts });
      return;
    }
    const [command, ...args] = spec.argv as [string, ...string[]];
    const child = spawn(command, args, { cwd: '/', env: { PATH: POD_PATH, ...spec.env }, stdio: ['ignore', 'inherit', 'inherit'] });
    const pod: Pod = { hash: manifest.hash, spec, child, exited: false, restarts };
    this.pods.set(manifest.file, pod);
    const crashed = (why: string) => {
      if (pod.exited) return;
      pod.exited = true;
      if (this.stopping || pod.stopping) return;
      const backoff = Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** restarts);
      pod.restartAt = Date.now() + backoff;
      log(`lab kubelet: pod ${spec.name} ${why}; starting it again in ${backoff / 1000} s`);
    };
    child.once('error', (err) => crashed(`did not start: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (signal === null) return crashed(`(pid ${child.pid ?? '?'}) exited with code ${code ?? '?'}`);
      pod.exited = true;
      if (!this.stopping) log(`lab kubelet: pod ${spec.name} (pid ${child.pid ?? '?'}) was killed (${signal}); it stays down until its manifest changes`);
    });
    if (child.pid !== undefined) log(`lab kubelet: pod ${spec.name} started from ${manifest.file}: pid ${child.pid}: ${spec.argv.join(' ')}`);
  }

  /** SIGTERM (after SIGCONT: a frozen process cannot exit), SIGKILL after the grace period. */
  private async stopPod(file: string, pod: Pod): Promise<void> {
    const { child, spec } = pod;
    if (child && spec && !pod.exited) {
      pod.stopping = true;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), spec.graceMs);
      await exited;
      clearTimeout(timer);
      log(`lab kubelet: pod ${spec.name} stopped (its manifest ${file} left or changed)`);
    }
    if (this.pods.get(file) === pod) this.pods.delete(file);
  }

  private forgetExited(): void {
    for (const [file, pod] of this.pods) if (pod.exited) this.pods.delete(file);
  }

  private async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.all([...this.pods].map(([file, pod]) => this.stopPod(file, pod)));
    log('lab kubelet: stopped, with its pods');
    process.exit(0);
  }
}

function main(): void {
  const config = configPath(process.argv.slice(2));
  if (!config) {
    log('lab kubelet: no --config: give the kubelet configuration (as the kubeadm drop-in does: --config=/var/lib/kubelet/config.yaml)');
    process.exit(1);
  }
  const dir = staticPodPath(readFileSync(config, 'utf8'));
  if (!dir) {
    log(`lab kubelet: ${config} has no staticPodPath: there is nothing to run`);
    process.exit(1);
  }
  void new Kubelet(dir).run();
}

// run as a program (kubelet.service), not when a test imports its functions
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) main();
