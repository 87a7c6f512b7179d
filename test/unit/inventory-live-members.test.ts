import { describe, expect, it } from 'vitest';
import type { EndpointProbe, MemberInfo } from '../../src/cluster/types.js';
import { inferOtherNodes, inferredNodesLine, withNodesFrom } from '../../src/inventory/infer-nodes.js';
import { withLiveMembers } from '../../src/inventory/live-members.js';
import { inventorySchema, type Inventory } from '../../src/inventory/schema.js';

const listed = (id: string, name: string, ip: string): MemberInfo => ({
  id,
  name,
  peerURLs: [`https://${ip}:2380`],
  clientURLs: [`https://${ip}:2379`],
  isLearner: false,
});

const M1 = listed('a1', 'q0', '10.0.0.1');
const M2 = listed('b2', 'q1', '10.0.0.2');
const M3 = listed('c3', 'q2', '10.0.0.3');

function answered(member: MemberInfo, members: MemberInfo[], leaderId = member.id): EndpointProbe {
  return {
    endpoint: member.clientURLs[0] ?? '',
    reachable: true,
    healthy: true,
    memberId: member.id,
    leaderId,
    members,
    alarms: [],
    memberErrors: [],
    latencyMs: 3,
  };
}

function silent(endpoint: string): EndpointProbe {
  return { endpoint, reachable: false, healthy: false, alarms: [], memberErrors: [], latencyMs: 1000, silent: true };
}

/** What --endpoints alone describes: members named after their host, peer URLs guessed. */
function fromEndpoints(...ips: string[]): Inventory {
  return inventorySchema.parse({
    members: ips.map((ip) => ({ name: ip, peerURLs: [`https://${ip}:2380`], clientURLs: [`https://${ip}:2379`], guessed: ['name', 'peerURLs'] })),
  });
}

describe('withLiveMembers', () => {
  it('names members given by endpoint as the member list names them, the dead ones from the survivor\'s list', () => {
    const probes = [answered(M1, [M1, M2, M3]), silent('https://10.0.0.2:2379'), silent('https://10.0.0.3:2379')];
    const { inventory, notes } = withLiveMembers(fromEndpoints('10.0.0.1', '10.0.0.2', '10.0.0.3'), probes, { addMissing: true });
    expect(inventory.members.map((m) => [m.name, m.guessed])).toEqual([
      ['q0', undefined],
      ['q1', undefined],
      ['q2', undefined],
    ]);
    expect(notes[0]).toBe('10.0.0.1 is member q0 (named from the live member list)');
  });

  it('in a split brain, each endpoint is named by its own member list', () => {
    const alone1 = { ...M1, name: 'left' };
    const alone2 = { ...M2, name: 'right' };
    const probes = [answered(alone1, [alone1]), answered(alone2, [alone2])];
    const { inventory } = withLiveMembers(fromEndpoints('10.0.0.1', '10.0.0.2'), probes, { addMissing: true });
    expect(inventory.members.map((m) => m.name)).toEqual(['left', 'right']);
  });

  it('adds the members the description lacked, unless it is the operator\'s file; never an unstarted one', () => {
    const unstarted: MemberInfo = { id: 'd4', name: '', peerURLs: ['https://10.0.0.4:2380'], clientURLs: [], isLearner: true };
    const probes = [answered(M1, [M1, M2, unstarted])];
    const added = withLiveMembers(fromEndpoints('10.0.0.1'), probes, { addMissing: true });
    expect(added.inventory.members.map((m) => m.name)).toEqual(['q0', 'q1']);
    expect(added.notes).toContain('q1 added from the live member list (the description did not name it)');
    expect(withLiveMembers(fromEndpoints('10.0.0.1'), probes, { addMissing: false }).inventory.members.map((m) => m.name)).toEqual(['q0']);
  });

  it('for a discovered master, leaves out a member --initial-cluster named that the live list no longer has (never this machine\'s own)', () => {
    const discovered = inventorySchema.parse({
      members: [
        { name: 'q0', peerURLs: ['https://10.0.0.1:2380'], clientURLs: ['https://10.0.0.1:2379'], node: { host: 'local', layout: 'systemd' } },
        { name: 'old', peerURLs: ['https://10.0.0.7:2380'], clientURLs: ['https://10.0.0.7:2379'], guessed: ['clientURLs'] },
      ],
    });
    const { inventory, notes } = withLiveMembers(discovered, [answered(M2, [M2, M3])], { addMissing: true, dropUnlisted: true });
    expect(inventory.members.map((m) => m.name)).toEqual(['q0', 'q1', 'q2']);
    expect(notes).toContain('old left out: the live member list does not have it (removed since --initial-cluster was written)');
    // nothing answered: nothing is known to be gone
    expect(withLiveMembers(discovered, [silent('https://10.0.0.1:2379')], { addMissing: true, dropUnlisted: true }).inventory).toEqual(discovered);
  });

  it('never renames a member whose name was read, and leaves a description unchanged when nothing answered', () => {
    const read = inventorySchema.parse({ members: [{ name: 'etcd-a', peerURLs: ['https://10.0.0.1:2380'], clientURLs: ['https://10.0.0.1:2379'] }] });
    expect(withLiveMembers(read, [answered(M1, [M1])], { addMissing: false }).inventory).toEqual(read);
    const guessed = fromEndpoints('10.0.0.1');
    expect(withLiveMembers(guessed, [silent('https://10.0.0.1:2379')], { addMissing: true }).inventory).toEqual(guessed);
  });
});

describe('inferring the other masters\' nodes', () => {
  const discovered = inventorySchema.parse({
    members: [
      { name: 'q0', peerURLs: ['https://10.0.0.1:2380'], clientURLs: ['https://10.0.0.1:2379'], node: { host: 'local', transport: 'local', layout: 'kubeadm', paths: { dataDir: '/var/lib/etcd', manifestsDir: '/etc/kubernetes/manifests' } } },
      { name: 'q1', peerURLs: ['https://[fd00::2]:2380'], clientURLs: ['https://[fd00::2]:2379'], guessed: ['clientURLs'] },
    ],
  });

  it('reaches them over SSH at the peer host (IPv6 without brackets), laid out as this master, and says so in one line', () => {
    const { inventory, inferred } = inferOtherNodes(discovered);
    expect(inferred).toEqual(['q1']);
    expect(inventory.members[1]?.node).toEqual({
      host: 'fd00::2',
      transport: 'ssh',
      layout: 'kubeadm',
      paths: { dataDir: '/var/lib/etcd', manifestsDir: '/etc/kubernetes/manifests' },
      guessed: ['host', 'transport', 'layout', 'paths'],
    });
    expect(inferredNodesLine(inventory)).toMatch(/^inferred: q1 \(fd00::2\): reached over SSH at their peer URL's host with your ssh config and agent, layout kubeadm and paths as on this master/);
    expect(inventorySchema.parse(inventory)).toEqual(inventory);
  });

  it('infers nothing without a local node whose layout is known', () => {
    const endpointsOnly = fromEndpoints('10.0.0.1', '10.0.0.2');
    expect(inferOtherNodes(endpointsOnly)).toEqual({ inventory: endpointsOnly, inferred: [] });
    expect(inferredNodesLine(endpointsOnly)).toBeUndefined();
  });

  it('lends the nodes discovery knows to members given by endpoint with the same peer URL', () => {
    const named = withLiveMembers(fromEndpoints('10.0.0.1', '10.0.0.9'), [answered(M1, [M1])], { addMissing: false }).inventory;
    const { inventory, lent } = withNodesFrom(named, inferOtherNodes(discovered).inventory);
    expect(lent).toEqual(['q0']);
    expect(inventory.members[0]?.node?.host).toBe('local');
    expect(inventory.members[1]?.node).toBeUndefined();
  });
});
