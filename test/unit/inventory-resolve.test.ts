import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveClusterConfig } from '../../src/inventory/resolve.js';
import { rejectedMessage } from './inventory-helpers.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'inventory-resolve-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** a root with no etcd at all, so discovery finds nothing */
const emptyRoot = join(tmp, 'empty-root');
mkdirSync(emptyRoot);
const pki = join(tmp, 'pki');
mkdirSync(pki);
for (const name of ['ca.pem', 'client.pem', 'client-key.pem']) writeFileSync(join(pki, name), 'placeholder\n');

function inventoryFile(name: string, tls: string): string {
  const path = join(tmp, name);
  writeFileSync(
    path,
    `${tls}members:\n  - name: a\n    peerURLs: [https://10.0.0.1:2380]\n    clientURLs: [https://10.0.0.1:2379, http://127.0.0.1:2379]\n` +
      `  - name: b\n    peerURLs: [https://10.0.0.2:2380]\n    clientURLs: [https://10.0.0.2:2379]\n`,
  );
  return path;
}

const withTls = inventoryFile(
  'with-tls.yaml',
  `tls:\n  cacert: ${join(pki, 'ca.pem')}\n  cert: ${join(pki, 'client.pem')}\n  key: ${join(pki, 'client-key.pem')}\n`,
);

describe('resolveClusterConfig: the inventory file comes first', () => {
  it('probes one client URL per member of the inventory', async () => {
    const config = await resolveClusterConfig({ inventoryPath: withTls, flags: {}, env: {}, discoveryRoot: join(fixtures, 'kubeadm') });
    expect(config.endpoints).toEqual(['https://10.0.0.1:2379', 'https://10.0.0.2:2379']);
    expect(config.sources).toEqual([`inventory ${withTls}`]);
    expect(config.inventory.tls?.cacert).toBe(join(pki, 'ca.pem'));
  });

  it('lets TLS flags override the inventory tls, and says so', async () => {
    const other = join(tmp, 'other-ca.pem');
    writeFileSync(other, 'placeholder\n');
    const config = await resolveClusterConfig({ inventoryPath: withTls, flags: { cacert: other }, env: {} });
    expect(config.inventory.tls).toEqual({ cacert: other, cert: join(pki, 'client.pem'), key: join(pki, 'client-key.pem') });
    expect(config.sources).toEqual([`inventory ${withTls}`, 'TLS files from --cacert']);
  });

  it('probes --endpoints instead when given next to an inventory, members unchanged', async () => {
    const config = await resolveClusterConfig({ inventoryPath: withTls, flags: { endpoints: '10.0.0.2:2379' }, env: {} });
    expect(config.endpoints).toEqual(['https://10.0.0.2:2379']);
    expect(config.inventory.members.map((member) => member.name)).toEqual(['a', 'b']);
    expect(config.sources).toEqual([`inventory ${withTls}`, 'probing the endpoints from --endpoints']);
  });

  it('names the inventory field of a TLS file that does not exist', async () => {
    const path = inventoryFile('missing-ca.yaml', 'tls:\n  cacert: /nonexistent/ca.pem\n');
    expect(await rejectedMessage(() => resolveClusterConfig({ inventoryPath: path, flags: {}, env: {} }))).toBe(
      `${path}: tls.cacert /nonexistent/ca.pem: file not found`,
    );
  });

  it('passes the inventory file error through unchanged', async () => {
    expect(await rejectedMessage(() => resolveClusterConfig({ inventoryPath: join(tmp, 'nope.yaml'), flags: {}, env: {} }))).toBe(
      `${join(tmp, 'nope.yaml')}: cannot read (ENOENT): check the --inventory path`,
    );
  });
});

describe('resolveClusterConfig: flags and ETCDCTL_* next', () => {
  it('synthesises one member per endpoint, named after its host, and says so', async () => {
    const config = await resolveClusterConfig({
      flags: { endpoints: 'https://10.23.17.200:2379,https://10.23.207.11:2379' },
      env: {},
      discoveryRoot: join(fixtures, 'kubeadm'),
    });
    expect(config.endpoints).toEqual(['https://10.23.17.200:2379', 'https://10.23.207.11:2379']);
    expect(config.inventory.members).toEqual([
      { name: '10.23.17.200', peerURLs: ['https://10.23.17.200:2380'], clientURLs: ['https://10.23.17.200:2379'], guessed: ['name', 'peerURLs'] },
      { name: '10.23.207.11', peerURLs: ['https://10.23.207.11:2380'], clientURLs: ['https://10.23.207.11:2379'], guessed: ['name', 'peerURLs'] },
    ]);
    expect(config.sources).toEqual([
      'endpoints from --endpoints',
      'members named after their endpoint host, peer URLs guessed as port 2380: the live member list fills in the rest',
    ]);
  });

  it('names members host:port when endpoints share a host', async () => {
    const config = await resolveClusterConfig({ flags: { endpoints: 'http://127.0.0.1:2379,http://127.0.0.1:22379' }, env: {} });
    expect(config.inventory.members.map((member) => member.name)).toEqual(['127.0.0.1:2379', '127.0.0.1:22379']);
  });

  it('reads ETCDCTL_* and, like etcdctl, uses https for a bare host:port when TLS is set', async () => {
    const config = await resolveClusterConfig({
      flags: {},
      env: {
        ETCDCTL_ENDPOINTS: '10.23.17.200:2379,10.23.207.11:2379',
        ETCDCTL_CACERT: join(pki, 'ca.pem'),
        ETCDCTL_CERT: join(pki, 'client.pem'),
        ETCDCTL_KEY: join(pki, 'client-key.pem'),
      },
      discoveryRoot: emptyRoot,
    });
    expect(config.endpoints).toEqual(['https://10.23.17.200:2379', 'https://10.23.207.11:2379']);
    expect(config.inventory.tls).toEqual({ cacert: join(pki, 'ca.pem'), cert: join(pki, 'client.pem'), key: join(pki, 'client-key.pem') });
    expect(config.sources).toEqual([
      'endpoints from ETCDCTL_ENDPOINTS',
      'members named after their endpoint host, peer URLs guessed as port 2380: the live member list fills in the rest',
      'TLS files from ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY',
    ]);
  });

  it('uses http for a bare host:port without TLS', async () => {
    const config = await resolveClusterConfig({ flags: { endpoints: 'etcd-1.lab:2379' }, env: {} });
    expect(config.endpoints).toEqual(['http://etcd-1.lab:2379']);
  });

  it('lets --endpoints win over ETCDCTL_ENDPOINTS', async () => {
    const config = await resolveClusterConfig({
      flags: { endpoints: 'http://10.0.0.9:2379' },
      env: { ETCDCTL_ENDPOINTS: 'http://10.0.0.1:2379' },
    });
    expect(config.endpoints).toEqual(['http://10.0.0.9:2379']);
  });

  it('names a bad endpoint and where it came from', async () => {
    expect(await rejectedMessage(() => resolveClusterConfig({ flags: { endpoints: 'https://10.0.0.1:2379,ftp://10.0.0.2' }, env: {} }))).toBe(
      '--endpoints "ftp://10.0.0.2": must be an http:// or https:// URL with a host, e.g. https://10.0.0.1:2379',
    );
    expect(await rejectedMessage(() => resolveClusterConfig({ flags: {}, env: { ETCDCTL_ENDPOINTS: '10.0.0.1:port' } }))).toBe(
      'ETCDCTL_ENDPOINTS "10.0.0.1:port": must be an http:// or https:// URL with a host, e.g. https://10.0.0.1:2379',
    );
  });

  it('names the flag of a TLS file that does not exist, before any network use', async () => {
    expect(
      await rejectedMessage(() =>
        resolveClusterConfig({ flags: { endpoints: 'https://10.0.0.1:2379', cacert: '/x/ca.pem' }, env: {} }),
      ),
    ).toBe('--cacert /x/ca.pem: file not found');
  });

  it('names the variable of a TLS path that is a directory', async () => {
    expect(
      await rejectedMessage(() =>
        resolveClusterConfig({ flags: { endpoints: 'https://10.0.0.1:2379' }, env: { ETCDCTL_CACERT: pki } }),
      ),
    ).toBe(`ETCDCTL_CACERT ${pki}: not a file`);
  });

  it.skipIf(process.getuid?.() === 0)('says a TLS file cannot be read', async () => {
    const locked = join(tmp, 'locked-key.pem');
    writeFileSync(locked, 'placeholder\n');
    chmodSync(locked, 0o000);
    expect(
      await rejectedMessage(() =>
        resolveClusterConfig({ flags: { endpoints: 'https://10.0.0.1:2379', cert: join(pki, 'client.pem'), key: locked }, env: {} }),
      ),
    ).toBe(`--key ${locked}: cannot read (EACCES)`);
  });

  it('refuses a client cert without its key', async () => {
    expect(
      await rejectedMessage(() =>
        resolveClusterConfig({ flags: { endpoints: 'https://10.0.0.1:2379', cert: join(pki, 'client.pem') }, env: {} }),
      ),
    ).toBe('--cert is set but no client key: pass --key (or ETCDCTL_KEY)');
  });
});

describe('resolveClusterConfig: local discovery last', () => {
  it('discovers the kubeadm master and lists the notes in sources', async () => {
    const root = join(fixtures, 'kubeadm');
    const config = await resolveClusterConfig({ flags: {}, env: {}, discoveryRoot: root });
    expect(config.endpoints).toEqual(['https://10.90.1.238:2379', 'https://10.90.1.239:2379', 'https://10.90.1.240:2379']);
    expect(config.sources[0]).toBe(`discovered from ${join(root, 'etc/kubernetes/manifests/etcd.yaml')}`);
    expect(config.sources).toContain('client URL of k8s-master-2 guessed from its peer URL: https://10.90.1.239:2379');
  });

  it('lets TLS flags override discovered files', async () => {
    const config = await resolveClusterConfig({
      flags: { cert: join(pki, 'client.pem'), key: join(pki, 'client-key.pem') },
      env: {},
      discoveryRoot: join(fixtures, 'systemd'),
    });
    expect(config.inventory.tls).toEqual({
      cacert: join(fixtures, 'systemd/etc/kubernetes/ssl/ca.pem'),
      cert: join(pki, 'client.pem'),
      key: join(pki, 'client-key.pem'),
    });
  });

  it('names the discovered file and field of a missing certificate', async () => {
    const root = join(tmp, 'no-certs');
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    writeFileSync(
      join(root, 'etc/systemd/system/etcd.service'),
      '[Service]\nExecStart=/usr/bin/etcd --name=a --initial-advertise-peer-urls=https://10.0.0.1:2380 --trusted-ca-file=/etc/etcd/ca.pem\n',
    );
    const unit = join(root, 'etc/systemd/system/etcd.service');
    expect(await rejectedMessage(() => resolveClusterConfig({ flags: {}, env: {}, discoveryRoot: root }))).toBe(
      `${unit} (discovered) tls.cacert ${join(root, 'etc/etcd/ca.pem')}: file not found`,
    );
  });

  it('explains the three ways to describe the cluster when none works', async () => {
    expect(await rejectedMessage(() => resolveClusterConfig({ flags: {}, env: {}, discoveryRoot: emptyRoot }))).toBe(
      'no cluster description: pass --inventory cluster.yaml, or --endpoints (or ETCDCTL_ENDPOINTS) with --cacert/--cert/--key, ' +
        'or run this on a master that has /etc/kubernetes/manifests/etcd.yaml or an etcd.service unit',
    );
  });
});
