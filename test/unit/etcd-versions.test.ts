import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheDir, etcdBinDir } from '../../src/lab/etcd-versions.js';
import { OperatorError } from '../../src/util/errors.js';

describe('etcd versions for lab nodes', () => {
  it('finds the cache in $ETCD_RUNBOOK_CACHE, else $XDG_CACHE_HOME, else ~/.cache', () => {
    expect(cacheDir({ ETCD_RUNBOOK_CACHE: '/c', XDG_CACHE_HOME: '/x' }, '/home/u')).toBe('/c');
    expect(cacheDir({ XDG_CACHE_HOME: '/x' }, '/home/u')).toBe('/x/etcd-runbook');
    expect(cacheDir({}, '/home/u')).toBe('/home/u/.cache/etcd-runbook');
  });

  it("runs 3.4 from the host's /usr/bin", () => {
    expect(etcdBinDir('3.4', {})).toBe('/usr/bin');
  });

  it('refuses 3.5 from an empty cache, saying to run the bootstrap', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'etcd-runbook-cache-'));
    try {
      expect(() => etcdBinDir('3.5', { ETCD_RUNBOOK_CACHE: empty })).toThrow(OperatorError);
      expect(() => etcdBinDir('3.5', { ETCD_RUNBOOK_CACHE: empty })).toThrow(/npm run bootstrap/);
    } finally {
      await rm(empty, { recursive: true });
    }
  });

  it('runs 3.5 from the cache the bootstrap filled', () => {
    expect(etcdBinDir('3.5')).toBe(join(cacheDir(), 'etcd-3.5', 'usr', 'bin'));
  });
});
