import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { OperatorError } from '../util/errors.js';

/**
 * The etcd releases a lab node can run. 3.4 is the host's own (Debian
 * bookworm's etcd-server/etcd-client in /usr/bin); 3.5 is Debian trixie's,
 * which scripts/bootstrap.mjs downloads and unpacks into a cache without
 * installing it (ensureEtcd35 there computes the same paths: keep them in step).
 */
export type EtcdVersion = '3.4' | '3.5';
export const ETCD_VERSIONS: readonly EtcdVersion[] = ['3.4', '3.5'];

/** The binaries a node must find in /usr/bin for its etcd version. */
export const ETCD_BINARIES = ['etcd', 'etcdctl', 'etcdutl'] as const;

/** $ETCD_RUNBOOK_CACHE, else $XDG_CACHE_HOME/etcd-runbook, else ~/.cache/etcd-runbook. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (env.ETCD_RUNBOOK_CACHE) return env.ETCD_RUNBOOK_CACHE;
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'etcd-runbook');
}

/** Where trixie's packages are unpacked (`dpkg -x` keeps their /usr/bin layout). */
export function etcd35Root(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'etcd-3.5');
}

/**
 * The directory holding etcd, etcdctl (and from 3.5 etcdutl) of a version.
 * Throws when the 3.5 cache is missing, saying how to fill it.
 */
export function etcdBinDir(version: EtcdVersion, env: NodeJS.ProcessEnv = process.env): string {
  if (version === '3.4') return '/usr/bin';
  const dir = join(etcd35Root(env), 'usr', 'bin');
  const missing = ETCD_BINARIES.filter((name) => !existsSync(join(dir, name)));
  if (missing.length > 0) {
    throw new OperatorError(`etcd 3.5 is not in ${dir} (missing ${missing.join(', ')}): run npm run bootstrap to fetch Debian trixie's etcd packages`);
  }
  return dir;
}
