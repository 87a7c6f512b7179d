import { randomBytes } from 'node:crypto';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NODE_TARGET } from './setup-script.js';

/**
 * The files a node has of its own from its first instant (copied over the
 * overlay before systemd starts): its hostname and machine id, the boot
 * target, and masks for what must not run in a node.
 */
export type SeedEntry =
  | { path: string; content: string; mode?: number }
  | { path: string; symlinkTo: string };

/**
 * Units a node must not run: they act on the host's kernel (modules, binfmt,
 * debugfs and friends are not namespaced) or are pointless in a container.
 */
const MASKED_UNITS = [
  'systemd-modules-load.service',
  'systemd-binfmt.service',
  'proc-sys-fs-binfmt_misc.automount',
  'sys-kernel-config.mount',
  'sys-kernel-debug.mount',
  'sys-kernel-tracing.mount',
  'sys-fs-fuse-connections.mount',
  'dev-hugepages.mount',
  'systemd-pcrphase-sysinit.service',
  'systemd-pcrphase.service',
  'systemd-repart.service',
  'systemd-firstboot.service',
];

const TARGET_UNIT = `[Unit]
Description=etcd-runbook lab node
Requires=basic.target
After=basic.target
AllowIsolate=yes
`;

export function baseSeed(name: string): SeedEntry[] {
  return [
    { path: '/etc/hostname', content: `${name}\n` },
    { path: '/etc/machine-id', content: `${randomBytes(16).toString('hex')}\n`, mode: 0o444 },
    // the host's fstab names the host's disks; a node mounts nothing from it
    { path: '/etc/fstab', content: '' },
    // systemd's provision.conf creates /root/.ssh at boot: a node's home stays empty
    { path: '/etc/tmpfiles.d/provision.conf', content: '' },
    { path: `/etc/systemd/system/${NODE_TARGET}`, content: TARGET_UNIT },
    ...MASKED_UNITS.map((unit) => ({ path: `/etc/systemd/system/${unit}`, symlinkTo: '/dev/null' })),
  ];
}

/** A unit started with the node's target (its own unit file must be in the seed or the host). */
export function wantedAtBoot(unit: string): SeedEntry {
  return { path: `/etc/systemd/system/${NODE_TARGET}.wants/${unit}`, symlinkTo: `/etc/systemd/system/${unit}` };
}

export async function writeSeed(seedDir: string, entries: SeedEntry[]): Promise<void> {
  for (const entry of entries) {
    const path = join(seedDir, entry.path);
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    if ('symlinkTo' in entry) {
      await symlink(entry.symlinkTo, path);
    } else {
      await writeFile(path, entry.content, { mode: entry.mode ?? 0o644 });
      // writeFile's mode is filtered by the umask; the node must see exactly this one
      await chmod(path, entry.mode ?? 0o644);
    }
  }
}
