import { posix } from 'node:path';
import { chooseSide, sideReasonFor, splitSides, type Side } from '../cluster/sides.js';
import type { ClusterReport } from '../cluster/types.js';
import { listParam } from '../engine/wait-conditions.js';
import type { Inventory, InventoryMember } from '../inventory/schema.js';
import { shellQuote } from '../util/shell.js';
import type { ParamValue } from './rendered.js';
import type { Runbook } from './schema.js';
import { serverVersionOf } from './kinds/snapshot-restore.js';
import { CommandFragment, Unset, type ContextObject, type ContextValue, type Shape, type ShapeScope } from './template.js';

/**
 * What runbook templates can name. Roots:
 *
 *   inventory   the inventory as loaded (cluster, tls, members[…] with node and paths)
 *   cluster     name, token, newToken, initialCluster, endpoints, memberCount, etcdVersion (what the servers run)
 *   detection   verdict, leader, healthyMembers, unhealthyMembers, unstartedMemberIds, highestRevisionMember,
 *               memberToReplace (the member a CORRUPT alarm names, else the first unhealthy one),
 *               sideMember (the default side's newest member: the side with the most members, ties the higher revision), sideReason
 *   inputs      the runbook's inputs, resolved
 *   tls         cacert, cert, key (this tool's client credentials)
 *   run         id, timestamp
 *   tools       this machine's etcdctl, etcdutl and backupDir (defaults when the inventory is silent)
 *   local       the member whose node is this machine (node.host: local), when there is one
 *   member      the member a step runs on (steps whose target is a member; bound per node when fanning out)
 *   target      the member named by inputs.member (runbooks that declare that input)
 *   survivor    the member named by inputs.survivor (runbooks that declare that input), plus side: why its side is restored from
 *   <as>        inside a `repeat` (`as: joiner`): the pass's member record plus
 *               initialCluster, the member list it joins (name=peerURL,…)
 *
 * A member record: name, id, peerURL, clientURL, host, layout, dataDir, walDir,
 * pkiDir, manifestsDir, unitFile, envFile, backupDir, etcdBinary, etcdctl,
 * etcdutl, kubernetesDir (the manifests dir's parent), kubeconfig,
 * kubeletDir, kubeletDropIn, kubeletPackageDropIn (kubeadm defaults: /root/.kube/config,
 * /var/lib/kubelet, /etc/systemd/system/… and /usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf), and service/kubelet/controlPlane.{start, stop, isActive}: the
 * commands that manage etcd, the kubelet and kube-apiserver (with
 * controller-manager and scheduler). These commands are the only command
 * fragments (`{{ member.service.stop | raw }}`).
 */

export interface RunInfo {
  id: string;
  /** sortable, safe in file names: 20261124T183000Z */
  timestamp: string;
}

export interface ContextSources {
  inventory: Inventory;
  report?: ClusterReport;
  inputs: Record<string, ParamValue>;
  run: RunInfo;
}

export const DEFAULT_BACKUP_DIR = '/var/lib/etcd-backup';

const MEMBER_VALUE_FIELDS = [
  'name',
  'id',
  'peerURL',
  'clientURL',
  'host',
  'layout',
  'dataDir',
  'walDir',
  'pkiDir',
  'manifestsDir',
  'unitFile',
  'envFile',
  'backupDir',
  'etcdBinary',
  'etcdctl',
  'etcdutl',
  'kubernetesDir',
  'kubeconfig',
  'kubeletDir',
  'kubeletDropIn',
  'kubeletPackageDropIn',
] as const;

const PATH_FIELDS = ['dataDir', 'walDir', 'pkiDir', 'manifestsDir', 'unitFile', 'envFile', 'backupDir', 'etcdBinary', 'kubeconfig', 'kubeletDir', 'kubeletDropIn', 'kubeletPackageDropIn'] as const;

/**
 * A kubeadm master's own files besides etcd's (what replace-master
 * restores onto a new host): the inventory's paths, else
 * kubeadm's standard ones on a kubeadm node.
 */
const KUBEADM_HOST_PATHS = {
  kubeconfig: '/root/.kube/config',
  kubeletDir: '/var/lib/kubelet',
  // older kubeadm packages put 10-kubeadm.conf under /etc/systemd/system, current ones under /usr/lib/systemd/system:
  // a master has one or the other (or both, after an upgrade), so both are looked for
  kubeletDropIn: '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf',
  kubeletPackageDropIn: '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf',
} as const;

// ---- the runtime context ------------------------------------------------------

export function buildContext(sources: ContextSources): ContextObject {
  const { inventory, report, inputs, run } = sources;
  const members = inventory.members;
  const localIndex = members.findIndex((m) => m.node?.host === 'local');
  const local = localIndex >= 0 ? memberRecord(inventory, localIndex, report) : undefined;
  const localPaths = localIndex >= 0 ? members[localIndex]?.node?.paths : undefined;
  const context: ContextObject = {
    inventory: toContextValue(inventory),
    cluster: clusterRecord(inventory, run, report),
    detection: detectionRecord(report),
    inputs: { ...inputs },
    tls: {
      cacert: inventory.tls?.cacert ?? new Unset('no CA file: set tls.cacert in the inventory (or pass --cacert)'),
      cert: inventory.tls?.cert ?? new Unset('no client certificate: set tls.cert in the inventory (or pass --cert)'),
      key: inventory.tls?.key ?? new Unset('no client key: set tls.key in the inventory (or pass --key)'),
    },
    run: { id: run.id, timestamp: run.timestamp },
    tools: {
      etcdctl: localPaths?.etcdctl ?? 'etcdctl',
      etcdutl: localPaths?.etcdutl ?? 'etcdutl',
      backupDir: localPaths?.backupDir ?? DEFAULT_BACKUP_DIR,
    },
    local: local ?? new Unset(`no inventory member runs on this machine: give the local member node.host "local" in the inventory`),
  };
  for (const [root, input] of [
    ['target', 'member'],
    ['survivor', 'survivor'],
  ] as const) {
    const name = inputs[input];
    if (name === undefined) continue;
    const index = members.findIndex((m) => m.name === String(name));
    context[root] =
      index >= 0
        ? memberRecord(inventory, index, report)
        : new Unset(`inputs.${input} "${String(name)}" is not a member in the inventory (${members.map((m) => m.name).join(', ')})`);
  }
  const survivor = context.survivor;
  if (report && inputs.survivor !== undefined && isRecord(survivor)) {
    survivor.side = sideReasonFor(reportSides(report), String(inputs.survivor), report.endpoints.length) ?? new Unset(`${String(inputs.survivor)} is on no side: it did not answer`);
  }
  const target = context.target;
  if (isRecord(target)) {
    Object.assign(target, replacementRecord(inventory, String(inputs.member), listParam(inputs.alsoRemove), report));
  }
  return context;
}

function isRecord(value: ContextValue | undefined): value is ContextObject {
  return value !== undefined && !(value instanceof Unset) && !Array.isArray(value) && typeof value === 'object' && !(value instanceof CommandFragment);
}

/**
 * What replacing inputs.member (with inputs.alsoRemove, the other voting
 * members that are down, removed in the same step when the operator names
 * them) needs beyond the member record: removal, the member and alsoRemove,
 * every name the remove step removes; initialCluster, the member list it
 * joins: the live list at detection (the inventory when no probe was made)
 * without alsoRemove, with the member at its inventory peer URLs.
 */

function replacementRecord(inventory: Inventory, member: string, alsoRemove: string[], report?: ClusterReport): ContextObject {
  const self = inventory.members.find((m) => m.name === member);
  const listed = report?.endpoints.find((p) => p.reachable && (p.members?.length ?? 0) > 0)?.members;
  const joined = new Map<string, string[]>();
  for (const m of listed ?? inventory.members) if (m.name !== '') joined.set(m.name, m.peerURLs);
  for (const name of alsoRemove) joined.delete(name);
  joined.set(member, self?.peerURLs ?? []);
  // inventory order first (as cluster.initialCluster), then members the inventory does not know
  const order = [...inventory.members.map((m) => m.name).filter((name) => joined.has(name)), ...[...joined.keys()].filter((name) => !inventory.members.some((m) => m.name === name))];
  return {
    removal: [member, ...alsoRemove.filter((name) => name !== member)],
    initialCluster: order.flatMap((name) => (joined.get(name) ?? []).map((url) => `${name}=${url}`)).join(','),
  };
}

/**
 * The context of one pass of a `repeat`: its variable bound to the member
 * record plus initialCluster, the members the joiner meets (name=peerURL of
 * each, in the order given) — exactly the member list once it is added.
 */
export function withRepeat(context: ContextObject, as: string, inventory: Inventory, memberName: string, cluster: readonly string[], report?: ClusterReport): ContextObject {
  const index = inventory.members.findIndex((m) => m.name === memberName);
  if (index < 0) return { ...context, [as]: new Unset(`"${memberName}" is not a member in the inventory`) };
  const peers = cluster.flatMap((name) => inventory.members.find((m) => m.name === name)?.peerURLs.map((url) => `${name}=${url}`) ?? []);
  return { ...context, [as]: { ...memberRecord(inventory, index, report), initialCluster: peers.join(',') } };
}

/** The context with `member` bound to one inventory member (a step's target node). */
export function withMember(context: ContextObject, inventory: Inventory, memberName: string, report?: ClusterReport): ContextObject {
  const index = inventory.members.findIndex((m) => m.name === memberName);
  const member = index >= 0 ? memberRecord(inventory, index, report) : new Unset(`"${memberName}" is not a member in the inventory`);
  return { ...context, member };
}

export function memberRecord(inventory: Inventory, index: number, report?: ClusterReport): ContextObject {
  const m = inventory.members[index] as InventoryMember;
  const node = m.node;
  const paths = node?.paths ?? {};
  const at = `members[${index}]`;
  const unset = (field: string, inventoryField: string) => new Unset(`${m.name} has no ${field}: set ${at}.${inventoryField} in the inventory`);
  const record: ContextObject = {
    name: m.name,
    id: memberId(m, report) ?? new Unset(`the member ID of ${m.name} is not known: the live member list does not name it (is the cluster reachable?)`),
    peerURL: m.peerURLs[0] as string,
    clientURL: m.clientURLs[0] as string,
    host: node?.host ?? unset('host', 'node.host'),
    layout: node?.layout ?? unset('layout', 'node.layout (kubeadm or systemd)'),
    etcdctl: paths.etcdctl ?? 'etcdctl',
    etcdutl: paths.etcdutl ?? 'etcdutl',
  };
  for (const field of PATH_FIELDS) record[field] = paths[field] ?? unset(field, `node.paths.${field}`);
  if (node?.layout === 'kubeadm') for (const [field, path] of Object.entries(KUBEADM_HOST_PATHS)) record[field] = paths[field as keyof typeof KUBEADM_HOST_PATHS] ?? path;
  // /etc/kubernetes: the manifests dir's parent, where static-pod manifests are parked (staticPodCommands)
  record.kubernetesDir = paths.manifestsDir
    ? posix.dirname(posix.normalize(paths.manifestsDir))
    : node?.layout === 'kubeadm'
      ? '/etc/kubernetes'
      : unset('kubernetesDir', 'node.paths.manifestsDir (kubeadm: /etc/kubernetes/manifests)');
  record.service = serviceRecord(m, at);
  record.kubelet = kubeletRecord(m);
  record.controlPlane = controlPlaneRecord(m, at);
  return record;
}

type ServiceCommands = Record<'start' | 'stop' | 'isActive', CommandFragment | Unset>;

const CONTROL_PLANE = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;

/**
 * How etcd, the kubelet and the control plane are started/stopped on the
 * member's node: the inventory's own commands (node.service, node.kubelet,
 * node.controlPlane) win; else by layout. systemd: systemctl. kubeadm: the
 * static-pod way, moving manifests out of (and back into) the manifests dir
 * so the kubelet stops (starts) the pods; the kubelet itself is a systemd
 * service on both layouts.
 */
function serviceRecord(m: InventoryMember, at: string): ContextObject {
  return withOwn(m.node?.service, etcdDefaults(m, at));
}

function kubeletRecord(m: InventoryMember): ContextObject {
  return withOwn(m.node?.kubelet, systemctlCommands(['kubelet'], 'systemctl is-active --quiet kubelet'));
}

function controlPlaneRecord(m: InventoryMember, at: string): ContextObject {
  const layout = m.node?.layout;
  if (layout === 'systemd') return withOwn(m.node?.controlPlane, systemctlCommands(CONTROL_PLANE, 'systemctl is-active --quiet kube-apiserver'));
  if (layout === 'kubeadm') {
    const dir = m.node?.paths?.manifestsDir;
    if (!dir) return withOwn(m.node?.controlPlane, allUnset(kubeadmWithoutManifests(m, at, 'node.controlPlane')));
    return withOwn(m.node?.controlPlane, staticPodCommands(dir, CONTROL_PLANE, 'kube-apiserver'));
  }
  return withOwn(m.node?.controlPlane, allUnset(withoutLayout(m, at, 'node.controlPlane')));
}

function etcdDefaults(m: InventoryMember, at: string): ServiceCommands {
  const layout = m.node?.layout;
  if (layout === 'systemd') return systemctlCommands(['etcd'], ETCD_UNIT_RUNS);
  if (layout === 'kubeadm') {
    const dir = m.node?.paths?.manifestsDir;
    return dir ? staticPodCommands(dir, ['etcd'], 'etcd') : allUnset(kubeadmWithoutManifests(m, at, 'node.service'));
  }
  return allUnset(withoutLayout(m, at, 'node.service'));
}

/**
 * etcd's unit counts as running in every state but stopped (inactive) and
 * failed. `systemctl is-active` says "activating" for a Type=notify etcd that
 * waits for quorum to be ready, and for a unit with Restart= between two
 * restarts: both are an old member that runs, or will in a moment, so the
 * stop steps stop it and the old-members-stopped guard refuses on it.
 */
const ETCD_UNIT_RUNS = "systemctl is-active etcd | grep -qE '^(active|activating|deactivating|reloading)$'";

/** systemctl start/stop of the units; isActive: the command whose exit 0 means they run. */
function systemctlCommands(units: readonly string[], isActive: string): ServiceCommands {
  return {
    start: new CommandFragment(`systemctl start ${units.join(' ')}`),
    stop: new CommandFragment(`systemctl stop ${units.join(' ')}`),
    isActive: new CommandFragment(isActive),
  };
}

/**
 * Static pods: a manifest moved to <manifests>/../<pod>.yaml.stopped is what
 * the kubelet stops; moved back, it starts again. One pod is a plain mv (so
 * the command reads as what an operator would type); several are a loop that
 * leaves alone a pod whose manifest is already where it should be.
 */
export function staticPodCommands(manifestsDir: string, pods: readonly string[], probe: string): ServiceCommands {
  const parked = posix.dirname(posix.normalize(manifestsDir));
  const manifest = (pod: string) => posix.join(manifestsDir, `${pod}.yaml`);
  const stopped = (pod: string) => posix.join(parked, `${pod}.yaml.stopped`);
  const isActive = new CommandFragment(`test -f ${shellQuote(manifest(probe))}`);
  if (pods.length === 1) {
    const pod = pods[0] as string;
    return {
      start: new CommandFragment(`mv -- ${shellQuote(stopped(pod))} ${shellQuote(manifest(pod))}`),
      stop: new CommandFragment(`mv -- ${shellQuote(manifest(pod))} ${shellQuote(stopped(pod))}`),
      isActive,
    };
  }
  // one statement a line, as an operator would type the loop (plan shows it so)
  const loop = (body: string) => new CommandFragment(`m=${shellQuote(manifestsDir)}; p=${shellQuote(parked)}\nfor c in ${pods.join(' ')}; do\n  ${body}\ndone`);
  return {
    stop: loop('if [ -f "$m/$c.yaml" ]; then mv -- "$m/$c.yaml" "$p/$c.yaml.stopped" || exit 1; fi'),
    start: loop('if [ -f "$p/$c.yaml.stopped" ] && [ ! -f "$m/$c.yaml" ]; then mv -- "$p/$c.yaml.stopped" "$m/$c.yaml" || exit 1; fi'),
    isActive,
  };
}

function withOwn(own: { start?: string; stop?: string; isActive?: string } | undefined, defaults: ServiceCommands): ContextObject {
  return {
    start: own?.start !== undefined ? new CommandFragment(own.start) : defaults.start,
    stop: own?.stop !== undefined ? new CommandFragment(own.stop) : defaults.stop,
    isActive: own?.isActive !== undefined ? new CommandFragment(own.isActive) : defaults.isActive,
  };
}

function allUnset(missing: Unset): ServiceCommands {
  return { start: missing, stop: missing, isActive: missing };
}

function kubeadmWithoutManifests(m: InventoryMember, at: string, field: string): Unset {
  return new Unset(`${m.name} is a kubeadm node without a manifests dir: set ${at}.node.paths.manifestsDir (e.g. /etc/kubernetes/manifests) or ${at}.${field}`);
}

function withoutLayout(m: InventoryMember, at: string, field: string): Unset {
  return new Unset(`${m.name} has no layout: set ${at}.node.layout (kubeadm or systemd) or the commands in ${at}.${field}`);
}

function memberId(m: InventoryMember, report?: ClusterReport): string | undefined {
  if (!report) return undefined;
  const byName = report.verdict.members.find((s) => s.name === m.name && s.id);
  if (byName?.id) return byName.id;
  for (const probe of report.endpoints) {
    const listed = probe.members?.find((x) => x.name === m.name || x.peerURLs.some((u) => m.peerURLs.includes(u)));
    if (listed) return listed.id;
  }
  return undefined;
}

function clusterRecord(inventory: Inventory, run: RunInfo, report?: ClusterReport): ContextObject {
  const name = inventory.cluster?.name;
  // one cluster runs one version: what a member reported, else what the inventory says
  const first = inventory.members[0];
  const etcdVersion = first ? serverVersionOf(first, inventory, report) : undefined;
  return {
    name: name ?? new Unset('the cluster has no name: set cluster.name in the inventory'),
    token: inventory.cluster?.token ?? new Unset('the initial-cluster-token is not known: set cluster.token in the inventory'),
    newToken: `${name ?? 'etcd'}-restore-${run.timestamp}`,
    initialCluster: inventory.members.flatMap((m) => m.peerURLs.map((url) => `${m.name}=${url}`)).join(','),
    endpoints: inventory.members.flatMap((m) => m.clientURLs).join(','),
    memberCount: inventory.members.length,
    etcdVersion: etcdVersion ?? new Unset('the etcd version is not known (no member reported it): set cluster.etcdVersion in the inventory, e.g. 3.5.15'),
  };
}

function detectionRecord(report?: ClusterReport): ContextObject {
  if (!report) {
    const none = new Unset('no cluster probe was made');
    return { verdict: none, leader: none, healthyMembers: none, unhealthyMembers: none, unstartedMemberIds: none, highestRevisionMember: none, memberToReplace: none, sideMember: none, sideReason: none };
  }
  const { verdict } = report;
  const nameOf = (id: string): string | undefined =>
    verdict.members.find((m) => m.id === id)?.name || report.endpoints.find((p) => p.memberId === id)?.name || undefined;
  const leaderName = verdict.leaders.length === 1 ? nameOf(verdict.leaders[0] as string) : undefined;
  const reachable = report.endpoints.filter((p) => p.reachable && p.revision !== undefined);
  const newest = reachable.reduce<(typeof reachable)[number] | undefined>((best, p) => (best === undefined || (p.revision ?? 0) > (best.revision ?? 0) ? p : best), undefined);
  const newestName = newest ? newest.name || newest.expectedName : undefined;
  const unhealthy = verdict.members.filter((m) => !m.healthy && !m.unstarted && m.name).map((m) => m.name);
  return {
    verdict: verdict.verdict,
    leader:
      leaderName ??
      new Unset(
        verdict.leaders.length === 0
          ? 'no member knows of a leader'
          : verdict.leaders.length > 1
            ? `${verdict.leaders.length} leaders seen (${verdict.leaders.join(', ')})`
            : `leader ${verdict.leaders[0] ?? ''} has no name in the member list`,
      ),
    healthyMembers: verdict.members.filter((m) => m.healthy && !m.unstarted && m.name).map((m) => m.name),
    unhealthyMembers: unhealthy,
    unstartedMemberIds: verdict.members.filter((m) => m.unstarted && m.id).map((m) => m.id as string),
    highestRevisionMember: newestName ?? new Unset('no reachable member reported a revision'),
    // a CORRUPT member answers reads: it is replaced from the majority all the same
    memberToReplace: verdict.alarms.find((a) => a.alarm === 'CORRUPT' && !a.removed)?.member ?? unhealthy[0] ?? new Unset('no member is unhealthy or CORRUPT: name one with --set member=<name>'),
    ...sideRecord(report),
  };
}

/** The sides of the report (one on a whole cluster): revisions only compare within one. */
export function reportSides(report: ClusterReport): Side[] {
  return report.verdict.sides ?? splitSides(report.endpoints);
}

function sideRecord(report: ClusterReport): ContextObject {
  const choice = chooseSide(reportSides(report), report.endpoints.length);
  const none = new Unset('no reachable member reported a cluster ID');
  return { sideMember: choice?.side.source ?? none, sideReason: choice?.reason ?? none };
}

function toContextValue(value: unknown): ContextValue {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map(toContextValue);
  if (value && typeof value === 'object') {
    const out: ContextObject = {};
    for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = toContextValue(v);
    return out;
  }
  return new Unset('not set in the inventory');
}

// ---- the static shape (lint, no cluster needed) ---------------------------------------

const value: Shape = { type: 'value' };
const fragment: Shape = { type: 'fragment' };
const list = (of: Shape): Shape => ({ type: 'list', of });
const object = (fields: Record<string, Shape>): Extract<Shape, { type: 'object' }> => ({ type: 'object', fields });
const values = (...names: string[]): Extract<Shape, { type: 'object' }> => object(Object.fromEntries(names.map((n) => [n, value])));

export const MEMBER_SHAPE = object({
  ...Object.fromEntries(MEMBER_VALUE_FIELDS.map((f) => [f, value])),
  service: object({ start: fragment, stop: fragment, isActive: fragment }),
  kubelet: object({ start: fragment, stop: fragment, isActive: fragment }),
  controlPlane: object({ start: fragment, stop: fragment, isActive: fragment }),
});

const INVENTORY_SHAPE = object({
  apiVersion: value,
  kind: value,
  cluster: values('name', 'etcdVersion', 'token'),
  tls: values('cacert', 'cert', 'key'),
  members: list(
    object({
      name: value,
      peerURLs: list(value),
      clientURLs: list(value),
      guessed: list(value),
      node: object({
        host: value,
        transport: value,
        layout: value,
        etcdVersion: value,
        guessed: list(value),
        ssh: values('user', 'port', 'identityFile', 'agent', 'knownHosts', 'sudo'),
        paths: values(...PATH_FIELDS, 'etcdctl', 'etcdutl'),
        service: values('start', 'stop', 'isActive'),
        kubelet: values('start', 'stop', 'isActive'),
        controlPlane: values('start', 'stop', 'isActive'),
      }),
    }),
  ),
});

function baseFields(runbook: Pick<Runbook, 'inputs'>): Record<string, Shape> {
  return {
    inventory: INVENTORY_SHAPE,
    cluster: values('name', 'token', 'newToken', 'initialCluster', 'endpoints', 'memberCount', 'etcdVersion'),
    detection: object({
      verdict: value,
      leader: value,
      healthyMembers: list(value),
      unhealthyMembers: list(value),
      unstartedMemberIds: list(value),
      highestRevisionMember: value,
      memberToReplace: value,
      sideMember: value,
      sideReason: value,
    }),
    inputs: values(...runbook.inputs.map((i) => i.name)),
    tls: values('cacert', 'cert', 'key'),
    run: values('id', 'timestamp'),
    tools: values('etcdctl', 'etcdutl', 'backupDir'),
    local: MEMBER_SHAPE,
  };
}

const MEMBER_ABSENT = 'member is only defined on steps that run on members (target each-member, each-surviving-member, each-other-member, member, survivor or a repeat\'s member)';

function declares(runbook: Pick<Runbook, 'inputs'>, name: string): boolean {
  return runbook.inputs.some((i) => i.name === name);
}

export const FAN_OUT_TARGETS: ReadonlyArray<string> = ['each-member', 'each-surviving-member', 'each-other-member'];

/** A repeat's variable: a member record plus the member list it joins. */
export const REPEAT_MEMBER_SHAPE = object({ ...MEMBER_SHAPE.fields, initialCluster: value });

/** target: the member being replaced, plus what its replacement needs (replacementRecord). */
export const TARGET_SHAPE = object({ ...MEMBER_SHAPE.fields, initialCluster: value, removal: list(value) });

/**
 * The paths a step's templates may use. `perTarget` false is for the parts of
 * a step that are rendered once, not per node (title, why, the after-check):
 * on a step that fans out, `member` is not one member there.
 */
export function stepShape(runbook: Pick<Runbook, 'inputs'>, step: { target: string }, perTarget = true, repeat?: { as: string }): ShapeScope {
  const fields = baseFields(runbook);
  const absent: Record<string, string> = {};
  // a step in a repeat: the variable is the pass's member (target: <as> runs on it, with member = it)
  if (repeat) fields[repeat.as] = REPEAT_MEMBER_SHAPE;
  if (declares(runbook, 'member')) fields.target = TARGET_SHAPE;
  else absent.target = 'target is the member named by inputs.member: declare an input named "member"';
  if (declares(runbook, 'survivor')) fields.survivor = object({ ...MEMBER_SHAPE.fields, side: value });
  else absent.survivor = 'survivor is the member named by inputs.survivor: declare an input named "survivor"';
  if (step.target === 'local') absent.member = `${MEMBER_ABSENT}; this step's target is local: use local.… or tools.…`;
  else if (!perTarget && FAN_OUT_TARGETS.includes(step.target)) absent.member = `this step runs on ${step.target}, so member is not one member here: use it in the per-node fields (run, with, instruction, paths) or in guards`;
  else fields.member = MEMBER_SHAPE;
  return { shape: object(fields), absent };
}

/**
 * The paths the default of the input at `index` may use: everything known
 * before inputs are resolved, and the inputs declared above it (resolved
 * first, in order).
 */
export function defaultShape(runbook: Pick<Runbook, 'inputs'>, index = 0): ShapeScope {
  const fields = baseFields(runbook);
  const above = runbook.inputs.slice(0, index).map((i) => i.name);
  if (above.length > 0) fields.inputs = values(...above);
  else delete fields.inputs;
  // target exists once inputs.member is resolved (an input below it may default to a target value)
  if (above.includes('member')) fields.target = TARGET_SHAPE;
  return {
    shape: object(fields),
    absent: {
      inputs: 'an input default can use only the inputs declared above it (none here): use inventory, cluster, detection, tools or local',
      member: MEMBER_ABSENT,
      target: 'an input default can use target only below the input named member (it depends on inputs.member)',
      survivor: 'an input default cannot use survivor (it depends on inputs.survivor)',
    },
  };
}

/** All the valid paths of a step's context, for docs and `--help`: "member.service.stop (command)". */
export function contextPaths(scope: ShapeScope): string[] {
  const out: string[] = [];
  const walk = (shape: Shape, prefix: string): void => {
    if (shape.type === 'object') for (const [k, v] of Object.entries(shape.fields)) walk(v, prefix ? `${prefix}.${k}` : k);
    else if (shape.type === 'list') walk(shape.of, `${prefix}.N`);
    else out.push(shape.type === 'fragment' ? `${prefix} (command)` : prefix);
  };
  walk(scope.shape, '');
  return out;
}
