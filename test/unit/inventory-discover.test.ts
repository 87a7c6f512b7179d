import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clientUrlGuess, discoverLocal } from '../../src/inventory/discover.js';
import { rejectedMessage } from './inventory-helpers.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A scratch node root, optionally starting as a copy of a fixture. */
function scratchRoot(from?: string): string {
  const root = mkdtempSync(join(tmpdir(), 'inventory-discover-'));
  roots.push(root);
  if (from) cpSync(join(fixtures, from), root, { recursive: true });
  return root;
}

function writeAt(root: string, path: string, text: string): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}

describe('discoverLocal on a kubeadm master', () => {
  it('builds the members from --initial-cluster and the local node from the manifest', async () => {
    const root = join(fixtures, 'kubeadm');
    const found = await discoverLocal({ root });
    expect(found?.source).toBe(join(root, 'etc/kubernetes/manifests/etcd.yaml'));
    expect(found?.inventory.members.map((member) => [member.name, member.peerURLs, member.clientURLs])).toEqual([
      ['k8s-master-1', ['https://10.90.1.238:2380'], ['https://10.90.1.238:2379']],
      ['k8s-master-2', ['https://10.90.1.239:2380'], ['https://10.90.1.239:2379']],
      ['k8s-master-3', ['https://10.90.1.240:2380'], ['https://10.90.1.240:2379']],
    ]);
    expect(found?.inventory.members[0]?.node).toEqual({
      host: 'local',
      transport: 'local',
      layout: 'kubeadm',
      paths: { dataDir: '/var/lib/etcd', pkiDir: '/etc/kubernetes/pki', manifestsDir: '/etc/kubernetes/manifests' },
      etcdVersion: '3.5.9',
    });
    expect(found?.inventory.cluster).toEqual({ etcdVersion: '3.5.9' });
  });

  it('marks the other members client URLs as guessed and says so', async () => {
    const found = await discoverLocal({ root: join(fixtures, 'kubeadm') });
    expect(found?.inventory.members.map((member) => member.guessed)).toEqual([undefined, ['clientURLs'], ['clientURLs']]);
    expect(found?.notes).toEqual([
      'client URL of k8s-master-2 guessed from its peer URL: https://10.90.1.239:2379',
      'client URL of k8s-master-3 guessed from its peer URL: https://10.90.1.240:2379',
      'members are as --initial-cluster listed them at start; the live member list is authoritative',
      "inferred: k8s-master-2 (10.90.1.239), k8s-master-3 (10.90.1.240): reached over SSH at their peer URL's host with your ssh config and agent, layout kubeadm and paths as on this master; check them with 'etcd-runbook inventory'",
    ]);
  });

  it('infers the other masters as reached over SSH at their peer host, laid out as this one, every field marked guessed', async () => {
    const found = await discoverLocal({ root: join(fixtures, 'kubeadm') });
    expect(found?.inventory.members[2]?.node).toEqual({
      host: '10.90.1.240',
      transport: 'ssh',
      layout: 'kubeadm',
      paths: { dataDir: '/var/lib/etcd', pkiDir: '/etc/kubernetes/pki', manifestsDir: '/etc/kubernetes/manifests' },
      etcdVersion: '3.5.9',
      guessed: ['host', 'transport', 'layout', 'paths', 'etcdVersion'],
    });
  });

  it('uses the healthcheck-client certificate when kubeadm made one', async () => {
    const root = join(fixtures, 'kubeadm');
    const found = await discoverLocal({ root });
    expect(found?.inventory.tls).toEqual({
      cacert: join(root, 'etc/kubernetes/pki/etcd/ca.crt'),
      cert: join(root, 'etc/kubernetes/pki/etcd/healthcheck-client.crt'),
      key: join(root, 'etc/kubernetes/pki/etcd/healthcheck-client.key'),
    });
  });

  it('falls back to the server certificate without a healthcheck-client one', async () => {
    const root = scratchRoot('kubeadm');
    rmSync(join(root, 'etc/kubernetes/pki/etcd/healthcheck-client.key'));
    const found = await discoverLocal({ root });
    expect(found?.inventory.tls).toEqual({
      cacert: join(root, 'etc/kubernetes/pki/etcd/ca.crt'),
      cert: join(root, 'etc/kubernetes/pki/etcd/server.crt'),
      key: join(root, 'etc/kubernetes/pki/etcd/server.key'),
    });
  });

  it('prefers the kubeadm manifest over a systemd unit on the same host', async () => {
    const root = scratchRoot('kubeadm');
    cpSync(join(fixtures, 'systemd'), root, { recursive: true });
    const found = await discoverLocal({ root });
    expect(found?.inventory.members[0]?.node?.layout).toBe('kubeadm');
  });
});

describe('discoverLocal on a systemd etcd', () => {
  it('reads a flags-style unit', async () => {
    const root = join(fixtures, 'systemd');
    const found = await discoverLocal({ root });
    expect(found?.source).toBe(join(root, 'etc/systemd/system/etcd.service'));
    expect(found?.inventory.cluster).toEqual({ token: 'etcd-cluster-0' });
    expect(found?.inventory.members[0]).toEqual({
      name: 'etcd-192.168.0.37',
      peerURLs: ['https://192.168.0.37:2380'],
      clientURLs: ['https://192.168.0.37:2379'],
      node: {
        host: 'local',
        transport: 'local',
        layout: 'systemd',
        // pkiDir: where --cert-file and --peer-cert-file both live (backup copies it, replace-master restores it)
        paths: { dataDir: '/var/lib/etcd', pkiDir: '/etc/kubernetes/ssl', etcdBinary: '/usr/local/bin/etcd', unitFile: '/etc/systemd/system/etcd.service' },
      },
    });
    expect(found?.inventory.members[2]?.clientURLs).toEqual(['https://192.168.0.39:2379']);
    expect(found?.inventory.tls).toEqual({
      cacert: join(root, 'etc/kubernetes/ssl/ca.pem'),
      cert: join(root, 'etc/kubernetes/ssl/etcd.pem'),
      key: join(root, 'etc/kubernetes/ssl/etcd-key.pem'),
    });
  });

  it('reads a unit whose settings live in /etc/etcd/etcd.conf', async () => {
    const found = await discoverLocal({ root: join(fixtures, 'systemd-env') });
    expect(found?.inventory.members.map((member) => member.name)).toEqual(['etcd1', 'etcd2', 'etcd3']);
    expect(found?.inventory.members[0]?.clientURLs).toEqual(['https://10.23.17.200:2379']);
    expect(found?.inventory.members[0]?.node?.paths).toEqual({
      dataDir: '/var/lib/etcd/default.etcd',
      // from ETCD_CERT_FILE and ETCD_PEER_CERT_FILE in etcd.conf
      pkiDir: '/etc/kubernetes/ssl',
      etcdBinary: '/usr/bin/etcd',
      unitFile: '/usr/lib/systemd/system/etcd.service',
      envFile: '/etc/etcd/etcd.conf',
    });
    // the other two masters: no ssh settings of their own (the operator's ssh config and agent apply)
    expect(found?.inventory.members.slice(1).map((member) => member.node)).toEqual(
      ['10.23.207.11', '10.23.97.19'].map((host) => ({
        host,
        transport: 'ssh',
        layout: 'systemd',
        paths: found?.inventory.members[0]?.node?.paths,
        guessed: ['host', 'transport', 'layout', 'paths'],
      })),
    );
  });

  it('reads /etc/etcd/etcd.conf when the unit names no EnvironmentFile, and says so', async () => {
    const root = scratchRoot();
    writeAt(root, '/lib/systemd/system/etcd.service', '[Service]\nExecStart=/usr/bin/etcd --name=from-flag\n');
    writeAt(root, '/etc/etcd/etcd.conf', 'ETCD_NAME=from-conf\nETCD_INITIAL_CLUSTER="from-flag=http://10.0.0.1:2380"\n');
    const found = await discoverLocal({ root });
    expect(found?.inventory.members).toEqual([
      {
        name: 'from-flag',
        peerURLs: ['http://10.0.0.1:2380'],
        clientURLs: ['http://10.0.0.1:2379'],
        guessed: ['clientURLs'],
        node: {
          host: 'local',
          transport: 'local',
          layout: 'systemd',
          paths: { etcdBinary: '/usr/bin/etcd', unitFile: '/lib/systemd/system/etcd.service', envFile: '/etc/etcd/etcd.conf' },
        },
      },
    ]);
    expect(found?.notes[0]).toBe('the unit names no EnvironmentFile; read /etc/etcd/etcd.conf too (its flags on ExecStart win)');
  });

  it('notes a required EnvironmentFile that is missing', async () => {
    const root = scratchRoot();
    writeAt(
      root,
      '/etc/systemd/system/etcd.service',
      '[Service]\nEnvironmentFile=/etc/default/etcd\nExecStart=/usr/bin/etcd --name=a --initial-advertise-peer-urls=https://10.0.0.1:2380 --advertise-client-urls=https://10.0.0.1:2379\n',
    );
    const found = await discoverLocal({ root });
    expect(found?.notes).toEqual(['EnvironmentFile /etc/default/etcd is missing: systemd will refuse to start etcd']);
    expect(found?.inventory.members).toHaveLength(1);
    expect(found?.inventory.members[0]?.clientURLs).toEqual(['https://10.0.0.1:2379']);
  });

  it('keeps member names with spaces, metacharacters and unicode intact', async () => {
    const root = scratchRoot();
    const names = ["master one; rm -rf / 'x'", 'узел-2', '主节点 $(id)'];
    const cluster = names.map((name, index) => `${name}=https://10.0.0.${index + 1}:2380`).join(',');
    writeAt(root, '/etc/systemd/system/etcd.service', '[Service]\nEnvironmentFile=-/etc/etcd/etcd.conf\nExecStart=/usr/bin/etcd\n');
    writeAt(root, '/etc/etcd/etcd.conf', `ETCD_NAME="${names[0]}"\nETCD_INITIAL_CLUSTER="${cluster}"\n`);
    const found = await discoverLocal({ root });
    expect(found?.inventory.members.map((member) => member.name)).toEqual(names);
    expect(found?.inventory.members[0]?.node?.host).toBe('local');
  });

  it('leaves pkiDir unset, and says why, when the server and peer certificates are in two directories', async () => {
    const root = scratchRoot();
    writeAt(root, '/etc/systemd/system/etcd.service', '[Service]\nEnvironmentFile=/etc/etcd/etcd.conf\nExecStart=/usr/bin/etcd\n');
    const conf = 'ETCD_NAME=a\nETCD_INITIAL_ADVERTISE_PEER_URLS=https://10.0.0.1:2380\nETCD_CERT_FILE=/etc/etcd/server/s.pem\n';
    writeAt(root, '/etc/etcd/etcd.conf', `${conf}ETCD_PEER_CERT_FILE=/etc/etcd/peer/p.pem\n`);
    const split = await discoverLocal({ root });
    expect(split?.inventory.members[0]?.node?.paths?.pkiDir).toBeUndefined();
    expect(split?.notes).toContain('the server and peer certificates are in two directories (/etc/etcd/server, /etc/etcd/peer): set node.paths.pkiDir in the inventory to the one to back up');
    // only the server certificate named: its directory
    writeAt(root, '/etc/etcd/etcd.conf', conf);
    const one = await discoverLocal({ root });
    expect(one?.inventory.members[0]?.node?.paths?.pkiDir).toBe('/etc/etcd/server');
    expect(one?.notes.filter((n) => n.includes('pkiDir'))).toEqual([]);
  });

  it('refuses a unit that names no members at all', async () => {
    const root = scratchRoot();
    writeAt(root, '/etc/systemd/system/etcd.service', '[Service]\nExecStart=/usr/bin/etcd --name=a\n');
    expect(await rejectedMessage(() => discoverLocal({ root }))).toBe(
      `${join(root, 'etc/systemd/system/etcd.service')}: neither --initial-cluster nor --initial-advertise-peer-urls is set: cannot tell the members; pass --endpoints or --inventory`,
    );
  });
});

describe('discoverLocal elsewhere', () => {
  it('finds nothing on a host without etcd', async () => {
    expect(await discoverLocal({ root: scratchRoot() })).toBeUndefined();
  });

  it('says why an unreadable manifest stops discovery', async () => {
    const root = scratchRoot();
    // a directory where the manifest should be: readFile fails with EISDIR, as EACCES would
    mkdirSync(join(root, 'etc/kubernetes/manifests/etcd.yaml'), { recursive: true });
    expect(await rejectedMessage(() => discoverLocal({ root }))).toBe(
      `${join(root, 'etc/kubernetes/manifests/etcd.yaml')}: cannot read (EISDIR): run as root, or pass --inventory`,
    );
  });
});

describe('clientUrlGuess', () => {
  it('keeps scheme and host and uses port 2379', () => {
    expect(clientUrlGuess('https://10.90.1.239:2380')).toBe('https://10.90.1.239:2379');
    expect(clientUrlGuess('http://etcd-2.example:12380')).toBe('http://etcd-2.example:2379');
    expect(clientUrlGuess('https://[fd00::2]:2380')).toBe('https://[fd00::2]:2379');
  });
});
