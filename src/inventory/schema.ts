import { z } from 'zod';

/**
 * The cluster description every command works from: which etcd
 * members exist, how to reach each member's node, and where its files are.
 * It comes from an inventory file, from etcdctl-style flags/env, or from
 * discovery on the local master; all three produce this one shape.
 */

export const URL_REQUIREMENT = 'must be an http:// or https:// URL with a host, e.g. https://10.0.0.1:2379';

/** The one test of "is this a URL etcd can listen on or be reached at". */
export function isHttpUrl(value: string): boolean {
  try {
    const parsed = new URL(value);
    return (parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.hostname !== '';
  } catch {
    return false;
  }
}

const url = z.string().refine(isHttpUrl, URL_REQUIREMENT);

export const sshSchema = z
  .object({
    user: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    identityFile: z.string().min(1).optional(),
    /** use the agent at SSH_AUTH_SOCK */
    agent: z.boolean().optional(),
    knownHosts: z.string().min(1).optional(),
    /** run commands through sudo (non-root users) */
    sudo: z.boolean().optional(),
  })
  .strict();

export const layoutSchema = z.enum(['kubeadm', 'systemd']);

export const nodePathsSchema = z
  .object({
    dataDir: z.string().min(1).optional(),
    walDir: z.string().min(1).optional(),
    pkiDir: z.string().min(1).optional(),
    /** kubeadm: the static-pod manifests dir, e.g. /etc/kubernetes/manifests */
    manifestsDir: z.string().min(1).optional(),
    etcdBinary: z.string().min(1).optional(),
    etcdctl: z.string().min(1).optional(),
    etcdutl: z.string().min(1).optional(),
    /** systemd: the unit, e.g. /etc/systemd/system/etcd.service */
    unitFile: z.string().min(1).optional(),
    /** systemd: the environment file with ETCD_* variables, e.g. /etc/etcd/etcd.conf */
    envFile: z.string().min(1).optional(),
    /** where snapshots are kept on this node */
    backupDir: z.string().min(1).optional(),
    /** kubeadm: root's kubectl config (default /root/.kube/config) */
    kubeconfig: z.string().min(1).optional(),
    /** kubeadm: the kubelet's state and config dir (default /var/lib/kubelet) */
    kubeletDir: z.string().min(1).optional(),
    /** kubeadm: the kubelet's systemd drop-in as older packages placed it (default /etc/systemd/system/kubelet.service.d/10-kubeadm.conf) */
    kubeletDropIn: z.string().min(1).optional(),
    /** kubeadm: the kubelet's systemd drop-in as current packages place it (default /usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf) */
    kubeletPackageDropIn: z.string().min(1).optional(),
  })
  .strict();

/** start/stop/is-active shell commands for one service on a node */
export const serviceCommandsSchema = z
  .object({
    start: z.string().min(1).optional(),
    stop: z.string().min(1).optional(),
    isActive: z.string().min(1).optional(),
  })
  .strict();

/** The node fields discovery can infer for a member whose node it did not read. */
export const INFERRED_NODE_FIELDS = ['host', 'transport', 'layout', 'paths', 'etcdVersion'] as const;
export type InferredNodeField = (typeof INFERRED_NODE_FIELDS)[number];

export const nodeSchema = z
  .object({
    /** host name or address commands are run on; "local" runs them here */
    host: z.string().min(1),
    /** local, ssh (the default for a host other than "local"), or nsenter: a container on this machine */
    transport: z.enum(['local', 'ssh', 'nsenter']).optional(),
    ssh: sshSchema.optional(),
    /** transport nsenter: the node's PID 1 as this machine sees it (a systemd-nspawn or LXC guest, a lab node) */
    nsenter: z.object({ pid: z.number().int().min(2) }).strict().optional(),
    layout: layoutSchema.optional(),
    paths: nodePathsSchema.optional(),
    /** commands that manage etcd on this node when the layout's default does not fit */
    service: serviceCommandsSchema.optional(),
    /** commands that stop/start the kubelet (default: systemctl … kubelet) */
    kubelet: serviceCommandsSchema.optional(),
    /**
     * commands that stop/start kube-apiserver, kube-controller-manager and
     * kube-scheduler (default by layout: systemctl, or static-pod manifests
     * moved out of / back into the manifests dir)
     */
    controlPlane: serviceCommandsSchema.optional(),
    etcdVersion: z.string().min(1).optional(),
    /**
     * Fields nobody read from this node: inferred from another master
     * (the host from the member's peer URL, layout and paths as on the
     * master that discovered it). Shown as inferred until the operator
     * checks them and removes this list.
     */
    guessed: z.array(z.enum(INFERRED_NODE_FIELDS)).optional(),
  })
  .strict();

export const memberSchema = z
  .object({
    name: z.string().min(1),
    peerURLs: z.array(url).min(1),
    clientURLs: z.array(url).min(1),
    node: nodeSchema.optional(),
    /**
     * Fields that were not read from the cluster's own configuration but
     * inferred (a client URL guessed from the peer host, a name taken from an
     * endpoint host). The live member list replaces them; the UI shows them
     * as guesses so nobody builds a restore command on one unknowingly.
     */
    guessed: z.array(z.enum(['name', 'peerURLs', 'clientURLs'])).optional(),
  })
  .strict();

export const tlsSchema = z
  .object({
    cacert: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
  })
  .strict();

export const inventorySchema = z
  .object({
    apiVersion: z.literal('etcd-runbook/v1').optional(),
    kind: z.literal('Inventory').optional(),
    cluster: z
      .object({
        name: z.string().min(1).optional(),
        etcdVersion: z.string().min(1).optional(),
        /** the initial-cluster-token the cluster was created with */
        token: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** the client credentials this tool uses to talk to etcd */
    tls: tlsSchema.optional(),
    members: z.array(memberSchema).min(1),
  })
  .strict()
  .superRefine((inventory, ctx) => {
    const seen = new Map<string, number>();
    inventory.members.forEach((member, index) => {
      const first = seen.get(member.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['members', index, 'name'],
          message: `duplicate member name "${member.name}" (also members[${first}])`,
        });
      } else {
        seen.set(member.name, index);
      }
      if (member.node?.transport === 'nsenter' && !member.node.nsenter) {
        ctx.addIssue({ code: 'custom', path: ['members', index, 'node', 'nsenter', 'pid'], message: 'transport nsenter needs the node\'s PID 1 as this machine sees it' });
      }
    });
  });

export type Inventory = z.infer<typeof inventorySchema>;
export type InventoryMember = z.infer<typeof memberSchema>;
export type InventoryNode = z.infer<typeof nodeSchema>;
export type TlsFiles = z.infer<typeof tlsSchema>;
export type Layout = z.infer<typeof layoutSchema>;

/** The members whose node is reached over SSH (not this machine: no node, host "local" or transport local; not a container: nsenter). */
export function sshMembers(inventory: Inventory): InventoryMember[] {
  return inventory.members.filter((m) => m.node && m.node.transport !== 'local' && m.node.transport !== 'nsenter' && m.node.host !== 'local');
}

/**
 * Where the description came from, for the operator ("discovered from
 * /etc/kubernetes/manifests/etcd.yaml") and for saving it as a file.
 */
export interface ClusterConfig {
  inventory: Inventory;
  /** client endpoints to probe: the members' client URLs, or --endpoints */
  endpoints: string[];
  sources: string[];
  /**
   * What described the members: an operator's file (theirs, taken as
   * written), endpoints alone, or discovery on this master (both filled in
   * from the live member list). Undefined for a journal's description.
   */
  from?: 'file' | 'endpoints' | 'discovery';
  /**
   * With --endpoints on a master: what discovery found here, whose nodes
   * go to the members with the same peer URLs once the member list names them.
   */
  discovered?: Inventory;
}
