import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEtcdArgs } from '../../src/inventory/etcd-flags.js';
import { parseKubeadmManifest, toHostPath, versionOfImage } from '../../src/inventory/kubeadm.js';
import { thrownMessage } from './inventory-helpers.js';

const manifestPath = join(import.meta.dirname, '..', 'fixtures', 'kubeadm', 'etc', 'kubernetes', 'manifests', 'etcd.yaml');
const manifest = readFileSync(manifestPath, 'utf8');

describe('parseKubeadmManifest', () => {
  const etcd = parseKubeadmManifest(manifest, 'etcd.yaml');

  it('reads the etcd flags kubeadm wrote', () => {
    expect(etcd.flags).toEqual({
      name: 'k8s-master-1',
      dataDir: '/var/lib/etcd',
      certFile: '/etc/kubernetes/pki/etcd/server.crt',
      keyFile: '/etc/kubernetes/pki/etcd/server.key',
      trustedCaFile: '/etc/kubernetes/pki/etcd/ca.crt',
      peerCertFile: '/etc/kubernetes/pki/etcd/peer.crt',
      peerKeyFile: '/etc/kubernetes/pki/etcd/peer.key',
      peerTrustedCaFile: '/etc/kubernetes/pki/etcd/ca.crt',
      listenClientUrls: ['https://127.0.0.1:2379', 'https://10.90.1.238:2379'],
      advertiseClientUrls: ['https://10.90.1.238:2379'],
      listenPeerUrls: ['https://10.90.1.238:2380'],
      initialAdvertisePeerUrls: ['https://10.90.1.238:2380'],
      initialCluster: [
        { name: 'k8s-master-1', peerURLs: ['https://10.90.1.238:2380'] },
        { name: 'k8s-master-2', peerURLs: ['https://10.90.1.239:2380'] },
        { name: 'k8s-master-3', peerURLs: ['https://10.90.1.240:2380'] },
      ],
      initialClusterState: 'existing',
    });
  });

  it('keeps the flags it does not model', () => {
    expect(etcd.otherFlags['snapshot-count']).toBe('10000');
    expect(etcd.otherFlags['client-cert-auth']).toBe('true');
  });

  it('takes the etcd version from the image tag', () => {
    expect(etcd.image).toBe('registry.k8s.io/etcd:3.5.9-0');
    expect(etcd.etcdVersion).toBe('3.5.9');
  });

  it('lists the hostPath volumes with their mount paths', () => {
    expect(etcd.mounts).toEqual([
      { volume: 'etcd-certs', hostPath: '/etc/kubernetes/pki/etcd', mountPath: '/etc/kubernetes/pki/etcd' },
      { volume: 'etcd-data', hostPath: '/var/lib/etcd', mountPath: '/var/lib/etcd' },
    ]);
    expect(etcd.dataDir).toBe('/var/lib/etcd');
    expect(etcd.pkiDir).toBe('/etc/kubernetes/pki');
  });

  it('follows a data dir re-pointed through the hostPath only', () => {
    const moved = manifest.replace('      path: /var/lib/etcd\n', '      path: /var/lib/etcd-from-backup\n');
    expect(parseKubeadmManifest(moved, 'etcd.yaml').dataDir).toBe('/var/lib/etcd-from-backup');
  });

  it('reads `--flag value` pairs split across command and args', () => {
    const text = [
      'spec:',
      '  containers:',
      '  - name: etcd',
      '    image: quay.io/coreos/etcd:v3.4.27',
      '    command: [etcd]',
      '    args: ["--name", "master one", "--data-dir", /var/lib/etcd, --client-cert-auth, --initial-cluster, "master one=https://10.0.0.1:2380"]',
    ].join('\n');
    const etcd = parseKubeadmManifest(text, 'etcd.yaml');
    expect(etcd.flags).toEqual({
      name: 'master one',
      dataDir: '/var/lib/etcd',
      initialCluster: [{ name: 'master one', peerURLs: ['https://10.0.0.1:2380'] }],
    });
    expect(etcd.otherFlags).toEqual({ 'client-cert-auth': 'true' });
    expect(etcd.etcdVersion).toBe('3.4.27');
  });

  it('says when there is no etcd container, with the line of containers', () => {
    const text = 'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:v1.28.2\n';
    expect(thrownMessage(() => parseKubeadmManifest(text, 'etcd.yaml'))).toBe(
      'etcd.yaml:5: no container named "etcd" in spec.containers',
    );
  });

  it('says when the etcd container has no command', () => {
    const text = 'spec:\n  containers:\n  - name: etcd\n    image: registry.k8s.io/etcd:3.5.9-0\n';
    expect(thrownMessage(() => parseKubeadmManifest(text, 'etcd.yaml'))).toBe(
      'etcd.yaml:3: the etcd container has no command or args: cannot read its flags',
    );
  });

  it('names the line of a command that is not a list', () => {
    const text = 'spec:\n  containers:\n  - name: etcd\n    command: etcd --name=a\n';
    expect(thrownMessage(() => parseKubeadmManifest(text, 'etcd.yaml'))).toBe('etcd.yaml:4: command must be a list of strings');
  });

  it('reports a YAML syntax error with its line', () => {
    expect(thrownMessage(() => parseKubeadmManifest('spec:\n  containers:\n  - name: "etcd\n', 'etcd.yaml'))).toMatch(
      /^etcd\.yaml:3: YAML syntax error: /,
    );
  });

  it('names the bad --initial-cluster entry and the file', () => {
    const broken = manifest.replace('k8s-master-2=https://10.90.1.239:2380', 'k8s-master-2=10.90.1.239:2380');
    expect(thrownMessage(() => parseKubeadmManifest(broken, 'etcd.yaml'))).toBe(
      'etcd.yaml: --initial-cluster: entry "k8s-master-2=10.90.1.239:2380": peer URL must be an http:// or https:// URL with a host, e.g. https://10.0.0.1:2380',
    );
  });
});

describe('versionOfImage', () => {
  it.each([
    ['registry.k8s.io/etcd:3.5.9-0', '3.5.9'],
    ['k8s.gcr.io/etcd:3.4.13-0', '3.4.13'],
    ['quay.io/coreos/etcd:v3.5.12', '3.5.12'],
    ['registry.local:5000/etcd:3.5.10-0@sha256:22f892d7672adc0b9c86df67792afdb8b2dc08880f49f669eaaa59c47d7908c2', '3.5.10'],
    ['registry.local:5000/etcd', undefined],
    ['registry.k8s.io/etcd:latest', undefined],
  ])('%s → %s', (image, version) => {
    expect(versionOfImage(image)).toBe(version);
  });
});

describe('toHostPath', () => {
  const mounts = [
    { volume: 'data', hostPath: '/srv/etcd', mountPath: '/var/lib/etcd' },
    { volume: 'wal', hostPath: '/fast/wal', mountPath: '/var/lib/etcd/wal' },
  ];
  it('uses the longest mount that contains the path', () => {
    expect(toHostPath(mounts, '/var/lib/etcd/wal/0.wal')).toBe('/fast/wal/0.wal');
    expect(toHostPath(mounts, '/var/lib/etcd/member')).toBe('/srv/etcd/member');
  });
  it('has no host path for a path only the container has', () => {
    expect(toHostPath(mounts, '/var/lib/etcd2')).toBeUndefined();
  });
});

describe('parseEtcdArgs', () => {
  it('treats an empty value as etcd default', () => {
    expect(parseEtcdArgs(['--wal-dir=', '--data-dir=/d'], 'x').flags).toEqual({ dataDir: '/d' });
  });
  it('accepts Go single-dash flags', () => {
    expect(parseEtcdArgs(['-name', 'a', '-data-dir=/d'], 'x').flags).toEqual({ name: 'a', dataDir: '/d' });
  });
  it('does not let a bare boolean flag swallow the next word', () => {
    expect(parseEtcdArgs(['--peer-client-cert-auth', '--name', 'a'], 'x')).toEqual({
      flags: { name: 'a' },
      otherFlags: { 'peer-client-cert-auth': 'true' },
    });
  });
  it('names the flag holding a malformed URL', () => {
    expect(thrownMessage(() => parseEtcdArgs(['--advertise-client-urls=https://a:2379,::bad'], 'etcd.yaml'))).toBe(
      'etcd.yaml: --advertise-client-urls: "::bad" is not a URL',
    );
  });
});
