import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import type { LabPki, MemberCert } from './pki.js';

/**
 * What a lab node's root looks like, per layout found on real masters
 * (an etcd.service with /etc/etcd/etcd.conf as binary installs such as
 * kubeasz make; kubeadm's static pods under /etc/kubernetes/manifests).
 * Every path is the node's own ("/var/lib/etcd"): the files are written
 * through the node (node-members.ts, node-kubeadm.ts).
 */
export type LabLayout = 'systemd' | 'kubeadm';
export const LAB_LAYOUTS: readonly LabLayout[] = ['systemd', 'kubeadm'];

/** The node's own paths (as the node sees them, before the root prefix). */
export const NODE_PATHS = {
  dataDir: '/var/lib/etcd',
  /** where a lab with a separate WAL dir keeps it (its own dir, beside the data dir) */
  walDir: '/var/lib/etcd-wal',
  systemd: {
    envFile: '/etc/etcd/etcd.conf',
    unitFile: '/etc/systemd/system/etcd.service',
    pkiDir: '/etc/etcd/pki',
  },
  kubeadm: {
    manifestsDir: '/etc/kubernetes/manifests',
    pkiDir: '/etc/kubernetes/pki',
    etcdPki: '/etc/kubernetes/pki/etcd',
    /** the control-plane files replace-master copies onto a new host */
    adminConf: '/etc/kubernetes/admin.conf',
    kubeconfig: '/root/.kube/config',
    kubeletConfig: '/var/lib/kubelet/config.yaml',
    kubeletFlags: '/var/lib/kubelet/kubeadm-flags.env',
    /** a pod's mounted Secret, as the kubelet keeps it: never part of a backup */
    podSecret: '/var/lib/kubelet/pods/0b7e1c2a-lab/volumes/kubernetes.io~secret/token/token',
    /** where older kubeadm packages put the drop-in (the lab writes none there) */
    kubeletDropIn: '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf',
    /** where current kubeadm packages put it (the lab's) */
    kubeletPackageDropIn: '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf',
  },
} as const;

export interface NodeMember {
  name: string;
  ip: string;
  clientURL: string;
  peerURL: string;
}

export interface ClusterShape {
  initialCluster: string;
  token: string;
  /** etcd's --quota-backend-bytes, when the lab sets one (etcd's default otherwise: 2 GiB) */
  quotaBackendBytes?: number;
  /** etcd's --wal-dir (ETCD_WAL_DIR), when the WAL lives apart from the data dir */
  walDir?: string;
  /** systemd: every flag on the unit's ExecStart and no env file (kubeasz, hand-made installs) */
  flagsOnExecStart?: boolean;
}

/** The real path of a node path under the node root. */
export function under(root: string, nodePath: string): string {
  return join(root, nodePath);
}

// ---- systemd ------------------------------------------------------------------------

/** A file of a node: its own path, its bytes, its mode. */
export interface NodeFile {
  path: string;
  content: string | Buffer;
  mode: number;
}

/** A systemd master's etcd files: the env file, the unit and the PKI, at the node's own paths. */
export async function systemdNodeFiles(member: NodeMember, pki: LabPki, cert: MemberCert, cluster: ClusterShape): Promise<NodeFile[]> {
  const p = NODE_PATHS.systemd;
  const env = systemdEnv(member, cluster);
  const config: NodeFile[] = cluster.flagsOnExecStart
    ? [{ path: p.unitFile, content: execStartUnit(env), mode: 0o644 }]
    : [
        { path: p.envFile, content: formatEnv(env), mode: 0o600 },
        { path: p.unitFile, content: SYSTEMD_UNIT, mode: 0o644 },
      ];
  return [
    { path: `${p.pkiDir}/ca.crt`, content: await readFile(pki.caCert), mode: 0o644 },
    // the CA's key on the master, as etcd's security guide and kubeadm keep it: certificates are renewed from it
    { path: `${p.pkiDir}/ca.key`, content: await readFile(pki.caKey), mode: 0o600 },
    { path: `${p.pkiDir}/server.crt`, content: await readFile(cert.cert), mode: 0o644 },
    { path: `${p.pkiDir}/server.key`, content: await readFile(cert.key), mode: 0o600 },
    ...config,
  ];
}

export function systemdEnv(member: NodeMember, cluster: ClusterShape): Record<string, string> {
  const pki = NODE_PATHS.systemd.pkiDir;
  return {
    ETCD_NAME: member.name,
    ETCD_DATA_DIR: NODE_PATHS.dataDir,
    ETCD_LISTEN_CLIENT_URLS: member.clientURL,
    ETCD_ADVERTISE_CLIENT_URLS: member.clientURL,
    ETCD_LISTEN_PEER_URLS: member.peerURL,
    ETCD_INITIAL_ADVERTISE_PEER_URLS: member.peerURL,
    ETCD_INITIAL_CLUSTER: cluster.initialCluster,
    ETCD_INITIAL_CLUSTER_STATE: 'new',
    ETCD_INITIAL_CLUSTER_TOKEN: cluster.token,
    ETCD_CLIENT_CERT_AUTH: 'true',
    ETCD_TRUSTED_CA_FILE: `${pki}/ca.crt`,
    ETCD_CERT_FILE: `${pki}/server.crt`,
    ETCD_KEY_FILE: `${pki}/server.key`,
    ETCD_PEER_CLIENT_CERT_AUTH: 'true',
    ETCD_PEER_TRUSTED_CA_FILE: `${pki}/ca.crt`,
    ETCD_PEER_CERT_FILE: `${pki}/server.crt`,
    ETCD_PEER_KEY_FILE: `${pki}/server.key`,
    ETCD_LOGGER: 'zap',
    ETCD_LOG_OUTPUTS: 'stderr',
    ...(cluster.quotaBackendBytes === undefined ? {} : { ETCD_QUOTA_BACKEND_BYTES: String(cluster.quotaBackendBytes) }),
    ...(cluster.walDir === undefined ? {} : { ETCD_WAL_DIR: cluster.walDir }),
  };
}

export const SYSTEMD_UNIT = `[Unit]
Description=etcd key-value store
Documentation=https://github.com/etcd-io/etcd
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
EnvironmentFile=/etc/etcd/etcd.conf
ExecStart=/usr/bin/etcd
Restart=on-failure
RestartSec=5
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;

/**
 * The unit as kubeasz and hand-made installs write it: no EnvironmentFile,
 * each setting a `--flag=value` on ExecStart (the same settings as the env file).
 */
function execStartUnit(env: Record<string, string>): string {
  const flags = Object.entries(env).map(([key, value]) => `--${key.replace(/^ETCD_/, '').toLowerCase().replace(/_/g, '-')}=${value}`);
  const execStart = ['/usr/bin/etcd', ...flags].join(' \\\n  ');
  return SYSTEMD_UNIT.replace('EnvironmentFile=/etc/etcd/etcd.conf\n', '').replace('ExecStart=/usr/bin/etcd\n', `ExecStart=${execStart}\n`);
}

export function formatEnv(vars: Record<string, string>): string {
  return Object.entries(vars).map(([k, v]) => `${k}="${v}"`).join('\n') + '\n';
}

export function parseEnvLines(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z_][A-Z0-9_]*)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (match?.[1]) vars[match[1]] = match[2] ?? '';
  }
  return vars;
}

// ---- kubeadm ------------------------------------------------------------------------

export interface KubeadmNodeOptions {
  etcdVersion: string;
  /** the first member's client URL: where the apiserver stand-in says it reaches etcd */
  etcdServers: string;
  /** /root/.kube/config too (default): `kubeadm init` leaves it on the first master only */
  rootKubeconfig?: boolean;
}

/**
 * The kubelet's rotated client certificate: a dated file and the link to
 * the current one, as on a real host (the link is made beside the files).
 */
export const KUBELET_CLIENT_LINK = {
  path: `${dirname(NODE_PATHS.kubeadm.kubeletConfig)}/pki/kubelet-client-current.pem`,
  target: 'kubelet-client-2026-01-02-03-04-05.pem',
} as const;

/**
 * A kubeadm master's files at the node's own paths: etcd's PKI and the
 * apiserver's client pair, the kubeconfigs, the kubelet's configuration and
 * drop-in, and the etcd and kube-apiserver static pods; written through the
 * node (node-kubeadm.ts).
 */
export async function kubeadmNodeFiles(
  member: NodeMember,
  pki: LabPki,
  cert: MemberCert,
  cluster: ClusterShape,
  options: KubeadmNodeOptions,
): Promise<NodeFile[]> {
  const p = NODE_PATHS.kubeadm;
  const [caCert, caKey, serverCert, serverKey, clientCert, clientKey] = await Promise.all([
    readFile(pki.caCert),
    readFile(pki.caKey),
    readFile(cert.cert),
    readFile(cert.key),
    readFile(pki.clientCert),
    readFile(pki.clientKey),
  ]);
  const file = (path: string, content: string | Buffer, mode = 0o644): NodeFile => ({ path, content, mode });
  const kubeconfig = kubeconfigFor(member);
  return [
    file(`${p.etcdPki}/ca.crt`, caCert),
    file(`${p.etcdPki}/ca.key`, caKey, 0o600),
    ...['server', 'peer'].flatMap((kind) => [file(`${p.etcdPki}/${kind}.crt`, serverCert), file(`${p.etcdPki}/${kind}.key`, serverKey, 0o600)]),
    file(`${p.etcdPki}/healthcheck-client.crt`, clientCert),
    file(`${p.etcdPki}/healthcheck-client.key`, clientKey, 0o600),
    file(`${p.pkiDir}/apiserver-etcd-client.crt`, clientCert),
    file(`${p.pkiDir}/apiserver-etcd-client.key`, clientKey, 0o600),
    file(p.adminConf, kubeconfig, 0o600),
    ...(options.rootKubeconfig === false ? [] : [file(p.kubeconfig, kubeconfig, 0o600)]),
    file(p.kubeletConfig, KUBELET_CONFIG),
    file(`${dirname(KUBELET_CLIENT_LINK.path)}/${KUBELET_CLIENT_LINK.target}`, `${clientCert.toString()}${clientKey.toString()}`, 0o600),
    file(p.kubeletFlags, KUBEADM_FLAGS),
    file(p.podSecret, "a pod's service-account token\n", 0o600),
    file(p.kubeletPackageDropIn, KUBELET_DROP_IN),
    file(`${p.manifestsDir}/etcd.yaml`, etcdManifest(member, cluster, options.etcdVersion), 0o600),
    file(`${p.manifestsDir}/kube-apiserver.yaml`, apiserverManifest(member, options.etcdServers), 0o600),
  ];
}

/** A kubeadm-style etcd static pod: the etcd flags on the container's command, hostPath mounts for data and PKI. */
export function etcdManifest(member: NodeMember, cluster: ClusterShape, etcdVersion: string): string {
  const pki = NODE_PATHS.kubeadm.etcdPki;
  const command = [
    'etcd',
    `--advertise-client-urls=${member.clientURL}`,
    `--cert-file=${pki}/server.crt`,
    '--client-cert-auth=true',
    `--data-dir=${NODE_PATHS.dataDir}`,
    `--initial-advertise-peer-urls=${member.peerURL}`,
    `--initial-cluster=${cluster.initialCluster}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=${cluster.token}`,
    `--key-file=${pki}/server.key`,
    `--listen-client-urls=${member.clientURL}`,
    `--listen-peer-urls=${member.peerURL}`,
    `--name=${member.name}`,
    `--peer-cert-file=${pki}/peer.crt`,
    '--peer-client-cert-auth=true',
    `--peer-key-file=${pki}/peer.key`,
    `--peer-trusted-ca-file=${pki}/ca.crt`,
    ...(cluster.quotaBackendBytes === undefined ? [] : [`--quota-backend-bytes=${cluster.quotaBackendBytes}`]),
    '--snapshot-count=10000',
    `--trusted-ca-file=${pki}/ca.crt`,
  ];
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      annotations: { 'kubeadm.kubernetes.io/etcd.advertise-client-urls': member.clientURL },
      creationTimestamp: null,
      labels: { component: 'etcd', tier: 'control-plane' },
      name: 'etcd',
      namespace: 'kube-system',
    },
    spec: {
      containers: [
        {
          command,
          image: `registry.k8s.io/etcd:${etcdVersion}-0`,
          imagePullPolicy: 'IfNotPresent',
          name: 'etcd',
          resources: { requests: { cpu: '100m', memory: '100Mi' } },
          volumeMounts: [
            { mountPath: NODE_PATHS.dataDir, name: 'etcd-data' },
            { mountPath: pki, name: 'etcd-certs' },
          ],
        },
      ],
      hostNetwork: true,
      priority: 2000001000,
      priorityClassName: 'system-node-critical',
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      volumes: [
        { hostPath: { path: pki, type: 'DirectoryOrCreate' }, name: 'etcd-certs' },
        { hostPath: { path: NODE_PATHS.dataDir, type: 'DirectoryOrCreate' }, name: 'etcd-data' },
      ],
    },
    status: {},
  };
  return stringify(pod);
}

function apiserverManifest(member: NodeMember, etcdServers: string): string {
  const pki = NODE_PATHS.kubeadm.pkiDir;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { labels: { component: 'kube-apiserver', tier: 'control-plane' }, name: 'kube-apiserver', namespace: 'kube-system' },
    spec: {
      containers: [
        {
          command: [
            'kube-apiserver',
            `--advertise-address=${member.ip}`,
            `--etcd-cafile=${pki}/etcd/ca.crt`,
            `--etcd-certfile=${pki}/apiserver-etcd-client.crt`,
            `--etcd-keyfile=${pki}/apiserver-etcd-client.key`,
            `--etcd-servers=${etcdServers}`,
            '--secure-port=6443',
          ],
          image: 'registry.k8s.io/kube-apiserver:v1.28.2',
          name: 'kube-apiserver',
          volumeMounts: [{ mountPath: pki, name: 'k8s-certs', readOnly: true }],
        },
      ],
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      volumes: [{ hostPath: { path: pki, type: 'DirectoryOrCreate' }, name: 'k8s-certs' }],
    },
    status: {},
  };
  return stringify(pod);
}

export function kubeconfigFor(member: NodeMember): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kubernetes', cluster: { server: `https://${member.ip}:6443`, 'certificate-authority-data': 'LAB-PLACEHOLDER' } }],
    contexts: [{ name: 'kubernetes-admin@kubernetes', context: { cluster: 'kubernetes', user: 'kubernetes-admin' } }],
    'current-context': 'kubernetes-admin@kubernetes',
    users: [{ name: 'kubernetes-admin', user: { 'client-certificate-data': 'LAB-PLACEHOLDER', 'client-key-data': 'LAB-PLACEHOLDER' } }],
  });
}

const KUBELET_CONFIG = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
staticPodPath: /etc/kubernetes/manifests
`;

const KUBEADM_FLAGS = `KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --pod-infra-container-image=registry.k8s.io/pause:3.9"
`;

export const KUBELET_DROP_IN = `# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;
