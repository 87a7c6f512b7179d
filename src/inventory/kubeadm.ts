import { posix } from 'node:path';
import { OperatorError } from '../util/errors.js';
import { parseEtcdArgs, type EtcdFlags } from './etcd-flags.js';
import { lineOfPath, parseYamlSource, type PathSegment, type YamlSource } from './yaml-source.js';

/** A hostPath volume of the etcd pod and where the container sees it. */
export interface HostPathMount {
  volume: string;
  hostPath: string;
  /** undefined when no volumeMount of the etcd container uses the volume */
  mountPath?: string;
}

/** What the kubeadm etcd static pod says about the local member. */
export interface KubeadmEtcd {
  /** flags as etcd sees them: paths are container paths */
  flags: EtcdFlags;
  otherFlags: Record<string, string>;
  image?: string;
  /** `registry.k8s.io/etcd:3.5.9-0` → `3.5.9` */
  etcdVersion?: string;
  mounts: HostPathMount[];
  /** the host directory behind --data-dir (kubeadm: the etcd-data volume) */
  dataDir?: string;
  /** the host's Kubernetes PKI dir, e.g. /etc/kubernetes/pki (parent of pki/etcd) */
  pkiDir?: string;
}

interface ContainerSpec {
  name?: unknown;
  image?: unknown;
  command?: unknown;
  args?: unknown;
  volumeMounts?: unknown;
}

/**
 * Reads /etc/kubernetes/manifests/etcd.yaml: the etcd container's
 * command and args, its image tag, and the hostPath volumes, translating
 * container paths to host paths through the volume mounts (the data dir
 * is often re-pointed by editing only the hostPath, as Kubernetes' etcd
 * restore guide does).
 */
export function parseKubeadmManifest(text: string, fileName: string): KubeadmEtcd {
  const source = parseYamlSource(text, fileName);
  const pod: unknown = source.document.toJS();
  const { container, index } = findEtcdContainer(pod, source);
  const argv = [...stringList(container.command, source, ['spec', 'containers', index, 'command']),
    ...stringList(container.args, source, ['spec', 'containers', index, 'args'])];
  if (argv.length === 0) {
    fail(source, ['spec', 'containers', index], 'the etcd container has no command or args: cannot read its flags');
  }
  // kubeadm writes `command: [etcd, --flag=value, ...]`; args alone carry flags only
  const args = argv[0]?.startsWith('-') ? argv : argv.slice(1);
  const { flags, otherFlags } = parseEtcdArgs(args, `${fileName}`);
  const image = typeof container.image === 'string' ? container.image : undefined;
  const mounts = hostPathMounts(pod, container);
  return {
    flags,
    otherFlags,
    ...(image !== undefined && { image }),
    ...optional('etcdVersion', image && versionOfImage(image)),
    mounts,
    ...optional('dataDir', flags.dataDir && toHostPath(mounts, flags.dataDir)),
    ...optional('pkiDir', pkiDirOf(mounts, flags)),
  };
}

function optional<K extends string>(key: K, value: string | undefined | ''): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}

function fail(source: YamlSource, path: ReadonlyArray<PathSegment>, what: string): never {
  throw new OperatorError(`${source.fileName}:${lineOfPath(source, path)}: ${what}`);
}

function findEtcdContainer(pod: unknown, source: YamlSource): { container: ContainerSpec; index: number } {
  const containers = (pod as { spec?: { containers?: unknown } } | null)?.spec?.containers;
  if (!Array.isArray(containers)) {
    fail(source, ['spec'], 'no spec.containers: is this the etcd static pod manifest?');
  }
  const list = containers as ContainerSpec[];
  let index = list.findIndex((container) => container?.name === 'etcd');
  if (index < 0) index = list.findIndex((container) => String(container?.image ?? '').includes('etcd'));
  const container = list[index];
  if (!container) fail(source, ['spec', 'containers'], 'no container named "etcd" in spec.containers');
  return { container, index };
}

function stringList(value: unknown, source: YamlSource, path: ReadonlyArray<PathSegment>): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    fail(source, path, `${String(path[path.length - 1])} must be a list of strings`);
  }
  return value as string[];
}

/** etcd images are tagged `<version>-<build>`, e.g. 3.5.9-0, sometimes with a v. */
export function versionOfImage(image: string): string | undefined {
  const withoutDigest = image.split('@')[0] ?? '';
  const lastPart = withoutDigest.slice(withoutDigest.lastIndexOf('/') + 1);
  const colon = lastPart.lastIndexOf(':');
  if (colon < 0) return undefined;
  return /^v?(\d+\.\d+\.\d+)(?:-[\w.]+)?$/.exec(lastPart.slice(colon + 1))?.[1];
}

function hostPathMounts(pod: unknown, container: ContainerSpec): HostPathMount[] {
  const volumes = (pod as { spec?: { volumes?: unknown } }).spec?.volumes;
  if (!Array.isArray(volumes)) return [];
  const mounts = Array.isArray(container.volumeMounts) ? (container.volumeMounts as unknown[]) : [];
  return volumes.flatMap((volume: unknown): HostPathMount[] => {
    const { name, hostPath } = (volume ?? {}) as { name?: unknown; hostPath?: { path?: unknown } };
    if (typeof name !== 'string' || typeof hostPath?.path !== 'string') return [];
    const mount = mounts.find((entry) => (entry as { name?: unknown })?.name === name) as
      | { mountPath?: unknown }
      | undefined;
    const mountPath = typeof mount?.mountPath === 'string' ? mount.mountPath : undefined;
    return [{ volume: name, hostPath: hostPath.path, ...(mountPath !== undefined && { mountPath }) }];
  });
}

/**
 * The host path behind a container path: the longest mountPath that
 * contains it decides. A path no volume covers lives only in the container,
 * so there is no host path to give.
 */
export function toHostPath(mounts: ReadonlyArray<HostPathMount>, containerPath: string): string | undefined {
  let best: HostPathMount | undefined;
  for (const mount of mounts) {
    if (mount.mountPath === undefined || !isWithin(containerPath, mount.mountPath)) continue;
    if (!best || (best.mountPath?.length ?? 0) < mount.mountPath.length) best = mount;
  }
  if (!best?.mountPath) return undefined;
  const rest = posix.relative(best.mountPath, containerPath);
  return rest === '' ? best.hostPath : posix.join(best.hostPath, rest);
}

function isWithin(path: string, dir: string): boolean {
  const rest = posix.relative(dir, path);
  return rest === '' || (!rest.startsWith('..') && !posix.isAbsolute(rest));
}

/** kubeadm keeps etcd's certs in <pki>/etcd; the tool wants <pki>. */
function pkiDirOf(mounts: ReadonlyArray<HostPathMount>, flags: EtcdFlags): string | undefined {
  const certFile = flags.trustedCaFile ?? flags.certFile;
  const certDir = certFile ? toHostPath(mounts, posix.dirname(certFile)) : undefined;
  if (!certDir) return undefined;
  return posix.basename(certDir) === 'etcd' ? posix.dirname(certDir) : certDir;
}
