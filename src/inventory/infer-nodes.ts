import type { Inventory, InventoryMember, InventoryNode, InferredNodeField } from './schema.js';

/**
 * Discovery reads one node: the master it runs on. A runbook that restores
 * quorum touches every member's node, and the other masters were almost
 * always set up as this one was (kubeadm join, or the same packages and
 * unit). So each other member's node is inferred from what this master
 * knows: reached over SSH at the host of the member's peer URL, with the
 * operator's own ssh config and agent (no ssh settings of its own), the
 * same layout and paths as this master. Every inferred field is listed in
 * the node's `guessed`, so nothing built on it is trusted unknowingly.
 */
export function inferOtherNodes(inventory: Inventory): { inventory: Inventory; inferred: string[] } {
  const local = inventory.members.find((member) => isLocalNode(member.node))?.node;
  if (!local?.layout) return { inventory, inferred: [] };
  const inferred: string[] = [];
  const members = inventory.members.map((member): InventoryMember => {
    if (member.node) return member;
    const host = peerHost(member);
    if (host === undefined) return member;
    inferred.push(member.name);
    return { ...member, node: nodeLike(local, host) };
  });
  return { inventory: { ...inventory, members }, inferred };
}

/**
 * Members given by endpoints alone, on a master: the nodes its discovery
 * knows (its own, and the ones inferred from it) go to the members with the
 * same peer URL, so a plan run here with --endpoints reaches every node.
 */
export function withNodesFrom(inventory: Inventory, discovered: Inventory): { inventory: Inventory; lent: string[] } {
  const lent: string[] = [];
  const members = inventory.members.map((member): InventoryMember => {
    if (member.node) return member;
    const same = discovered.members.find((other) => other.node && other.peerURLs.some((url) => member.peerURLs.includes(url)));
    if (!same?.node) return member;
    lent.push(member.name);
    return { ...member, node: same.node };
  });
  return { inventory: { ...inventory, members }, lent };
}

/** This machine's node: commands run here without SSH. */
export function isLocalNode(node: InventoryNode | undefined): boolean {
  return node !== undefined && (node.transport === 'local' || (node.transport === undefined && node.host === 'local'));
}

/** The members whose node was inferred rather than read, with what was inferred. */
export function inferredNodes(inventory: Inventory): Array<{ member: string; host: string; fields: InferredNodeField[] }> {
  return inventory.members.flatMap((member) =>
    member.node?.guessed && member.node.guessed.length > 0 ? [{ member: member.name, host: member.node.host, fields: member.node.guessed }] : [],
  );
}

/**
 * One line for the operator, e.g. `inferred: m2 (10.0.0.2), m3 (10.0.0.3):
 * reached over SSH at their peer URL's host, layout systemd and paths as on
 * this master`; undefined when nothing was inferred.
 */
export function inferredNodesLine(inventory: Inventory): string | undefined {
  const nodes = inferredNodes(inventory);
  if (nodes.length === 0) return undefined;
  const layout = inventory.members.find((member) => member.node?.guessed?.includes('layout'))?.node?.layout;
  const which = nodes.map((node) => `${node.member} (${node.host})`).join(', ');
  return `inferred: ${which}: reached over SSH at their peer URL's host with your ssh config and agent, layout ${layout ?? '?'} and paths as on this master; check them with 'etcd-runbook inventory'`;
}

function nodeLike(local: InventoryNode, host: string): InventoryNode {
  const guessed: InferredNodeField[] = ['host', 'transport'];
  const node: InventoryNode = { host, transport: 'ssh' };
  if (local.layout) {
    node.layout = local.layout;
    guessed.push('layout');
  }
  if (local.paths && Object.keys(local.paths).length > 0) {
    node.paths = { ...local.paths };
    guessed.push('paths');
  }
  if (local.etcdVersion) {
    node.etcdVersion = local.etcdVersion;
    guessed.push('etcdVersion');
  }
  return { ...node, guessed };
}

/** The host of the member's first peer URL, without IPv6 brackets (ssh wants the bare address). */
function peerHost(member: InventoryMember): string | undefined {
  const url = member.peerURLs[0];
  if (url === undefined) return undefined;
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  return host === '' ? undefined : host;
}
