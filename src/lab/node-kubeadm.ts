import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { OperatorError } from '../util/errors.js';
import { shellQuote } from '../util/shell.js';
import { kubeadmNodeFiles, kubeconfigFor, KUBELET_CLIENT_LINK, KUBELET_DROP_IN, NODE_PATHS, type ClusterShape, type NodeFile, type NodeMember } from './layouts.js';
import { apiserverStandIn, checked, systemctl } from './node-members.js';
import type { LabNode, NodeBind } from './node/node.js';
import type { LabPki, MemberCert } from './pki.js';

/**
 * A real lab node laid out as a kubeadm master (node/node.ts; the files
 * kubeadm and the Kubernetes packages leave): etcd and the control plane as
 * static pods in /etc/kubernetes/manifests, run by kubelet.service from the
 * package's unit and kubeadm's drop-in, whose /usr/bin/kubelet is the lab
 * kubelet (lab-kubelet.ts) run with the host's node. Written through the
 * node, never from the host into its root.
 */
export const KUBELET_UNIT_FILE = '/usr/lib/systemd/system/kubelet.service';
const KUBELET_BIN = '/usr/bin/kubelet';

/** kubelet.service as the Kubernetes deb and rpm packages ship it; kubeadm's drop-in sets its ExecStart. */
const KUBELET_UNIT = `[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=${KUBELET_BIN}
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`;

/** The controller-manager and scheduler: processes that run until their pod stops, which is all the runbooks observe. */
const STAND_IN_COMPONENTS = ['kube-controller-manager', 'kube-scheduler'] as const;

function standInScript(component: string): NodeFile {
  // a loop rather than exec sleep, so the process keeps the component's name (ps, pgrep)
  const content = `#!/bin/sh
# etcd-runbook lab stand-in for ${component}: runs until stopped
trap 'kill "$child" 2>/dev/null; exit 0' TERM INT
while :; do sleep 3600 & child=$!; wait "$child"; done
`;
  return { path: `/usr/local/bin/${component}`, content, mode: 0o755 };
}

function standInManifest(component: string): NodeFile {
  const conf = `/etc/kubernetes/${component.replace(/^kube-/, '')}.conf`;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { labels: { component, tier: 'control-plane' }, name: component, namespace: 'kube-system' },
    spec: {
      containers: [{ command: [component, `--kubeconfig=${conf}`, '--leader-elect=true'], image: `registry.k8s.io/${component}:v1.28.2`, name: component }],
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      volumes: [{ hostPath: { path: conf, type: 'FileOrCreate' }, name: 'kubeconfig' }],
    },
    status: {},
  };
  return { path: `${NODE_PATHS.kubeadm.manifestsDir}/${component}.yaml`, content: stringify(pod), mode: 0o600 };
}

/**
 * Where the lab kubelet's compiled program is: beside this module (dist),
 * beside the one-file bundle (scripts/package.mjs), or in dist when the lab
 * runs from the sources (the tests).
 */
export function labKubeletProgram(): string {
  const candidates = ['./lab-kubelet.js', './lab-kubelet.mjs', '../../dist/src/lab/lab-kubelet.js'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new OperatorError(`the lab kubelet is not built (looked for ${candidates.join(', ')}): run npm run build`);
  return found;
}

/**
 * What the nodes must see of the host for the lab kubelet to run: its
 * program's directory and the yaml package it imports (hidden if they live
 * under /root or /tmp, which are a node's own: an npx install, for one).
 */
export function labKubeletBinds(): NodeBind[] {
  const program = labKubeletProgram();
  // the bundled program (.mjs) carries yaml inside it
  const yaml = program.endsWith('.mjs') ? [] : [dirname(createRequire(import.meta.url).resolve('yaml/package.json'))];
  return [...new Set([dirname(program), ...yaml])].map((hostPath) => ({ hostPath, readOnly: true }));
}

export interface KubeadmNodeShape {
  etcdVersion: string;
  /** the first master: `kubeadm init` leaves /root/.kube/config there only */
  first: boolean;
}

/** A kubeadm master's files, the stand-ins and the kubelet unit, written through the node; systemd reloaded. */
export async function writeKubeadmMemberNode(
  node: LabNode,
  member: NodeMember,
  pki: LabPki,
  cert: MemberCert,
  cluster: ClusterShape,
  shape: KubeadmNodeShape,
): Promise<void> {
  const p = NODE_PATHS.kubeadm;
  checked(await node.exec(['install', '-d', '-m', '0700', p.etcdPki]), node, 'mkdir etcd pki');
  const kubeconfig = kubeconfigFor(member);
  const packaged = kubeadmPackageFiles();
  const files: NodeFile[] = [
    // the drop-in is the packages' (below): written once
    ...(await kubeadmNodeFiles(member, pki, cert, cluster, { etcdVersion: shape.etcdVersion, etcdServers: member.clientURL, rootKubeconfig: shape.first })).filter(
      (file) => !packaged.some((own) => own.path === file.path),
    ),
    ...['controller-manager', 'scheduler', 'kubelet'].map((name) => ({ path: `/etc/kubernetes/${name}.conf`, content: kubeconfig, mode: 0o600 })),
    ...STAND_IN_COMPONENTS.map(standInManifest),
    ...packaged,
  ];
  for (const file of files) await node.writeFile(file.path, file.content, file.mode);
  const link = KUBELET_CLIENT_LINK;
  checked(await node.exec(['ln', '-sfn', '--', link.target, link.path]), node, `link ${link.path}`);
  await systemctl(node, 'daemon-reload');
}

/**
 * What installing the kubelet and kubeadm packages leaves on a host
 * (kubelet.service, kubeadm's drop-in where current packages put it,
 * /usr/bin/kubelet) and the control plane's programs (what its images
 * would bring): a freshly installed kubeadm master before `kubeadm init` or
 * `join`, with no /etc/kubernetes, no /var/lib/kubelet, no /root/.kube.
 */
export function kubeadmPackageFiles(): NodeFile[] {
  return [
    ...STAND_IN_COMPONENTS.map(standInScript),
    apiserverStandIn(),
    { path: KUBELET_UNIT_FILE, content: KUBELET_UNIT, mode: 0o644 },
    { path: NODE_PATHS.kubeadm.kubeletPackageDropIn, content: KUBELET_DROP_IN, mode: 0o644 },
    { path: KUBELET_BIN, content: kubeletWrapper(), mode: 0o755 },
  ];
}

/** The node's etcd release (`etcd --version`), for the etcd image tag kubeadm writes in etcd.yaml. */
export async function nodeEtcdVersion(node: LabNode): Promise<string> {
  const result = await node.exec(['etcd', '--version']);
  checked(result, node, 'etcd --version');
  const version = /etcd Version:\s*(\S+)/.exec(result.stdout)?.[1];
  if (!version) throw new Error(`etcd --version on lab node ${node.name} said no version: ${result.stdout.trim()}`);
  return version;
}

/** The kubelet (and with it etcd and the control plane, its static pods). */
export async function startKubeadmNode(node: LabNode): Promise<void> {
  await systemctl(node, 'start', 'kubelet');
}

/** Ask the node's kubelet to run again the pods whose process died (lab-kubelet.ts: SIGHUP). */
export async function resyncKubelet(node: LabNode): Promise<void> {
  await systemctl(node, 'kill', '--kill-whom=main', '--signal=SIGHUP', 'kubelet');
}

/** Where a parked static pod's manifest waits: beside the manifests dir, as src/runbook/context.ts parks it. */
export function parkedManifest(pod: string): string {
  return posix.join(posix.dirname(NODE_PATHS.kubeadm.manifestsDir), `${pod}.yaml.stopped`);
}

function kubeletWrapper(): string {
  return `#!/bin/sh
# etcd-runbook lab kubelet: runs the static pods of its --config's staticPodPath (src/lab/lab-kubelet.ts)
exec ${shellQuote(process.execPath)} ${shellQuote(labKubeletProgram())} "$@"
`;
}
