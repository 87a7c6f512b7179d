import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { OperatorError } from '../../util/errors.js';
import { etcdBinDir, type EtcdVersion } from '../etcd-versions.js';
import { cgroup2Root } from './cgroup.js';
import { NODE_ENV } from './node.js';

/** What a node is booted with (setup-script.ts): util-linux's namespaces tools and the host's systemd. */
const TOOLS = ['unshare', 'nsenter', 'chroot'] as const;
const SYSTEMD = '/lib/systemd/systemd';

/**
 * What this machine lacks to boot lab nodes, in the words of what to get:
 * checked before a lab starts, so a machine that cannot is told at once
 * rather than by a node that fails half-way through its boot.
 */
export function labNodesMissing(version: EtcdVersion): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root for namespaces, mounts and cgroups (run it as root, e.g. with sudo)');
  const absent = TOOLS.filter((tool) => !onPath(tool));
  if (absent.length > 0) missing.push(`${absent.join(', ')} (install util-linux and coreutils)`);
  if (!executable(SYSTEMD)) missing.push(`systemd at ${SYSTEMD} (install systemd)`);
  try {
    cgroup2Root();
  } catch {
    missing.push('a cgroup2 hierarchy at /sys/fs/cgroup');
  }
  if (!etcdInstalled(version)) missing.push(`etcd ${version} (npm run bootstrap installs or fetches it)`);
  return missing;
}

/** Refuse, in one line, a command that boots lab nodes on a machine that cannot. */
export function requireLabNodes(command: string, version: EtcdVersion): void {
  const missing = labNodesMissing(version);
  if (missing.length > 0) throw new OperatorError(`${command} runs on lab nodes (systemd as PID 1 in namespaces of their own), which need ${missing.join('; ')}`);
}

function etcdInstalled(version: EtcdVersion): boolean {
  try {
    return executable(join(etcdBinDir(version), 'etcd'));
  } catch {
    return false;
  }
}

function onPath(tool: string): boolean {
  return NODE_ENV.PATH.split(':').some((dir) => executable(join(dir, tool)));
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
