import type { EndpointProbe, MemberInfo } from '../cluster/types.js';
import { authoritativeMemberList, sameUrl } from '../cluster/verdict.js';
import { isLocalNode } from './infer-nodes.js';
import { isHttpUrl, type Inventory, type InventoryMember } from './schema.js';

export interface LiveMembersOptions {
  /**
   * Add the members the live list has and the description lacks (a member
   * added after --initial-cluster was written, or endpoints given for only
   * some members). Not for an operator's inventory file: it is theirs, and
   * the verdict already warns about members it does not name.
   */
  addMissing: boolean;
  /**
   * Drop the members the live list does not have (discovery's
   * --initial-cluster names the members at creation: one replaced since is
   * gone); never this machine's own member.
   */
  dropUnlisted?: boolean;
}

type Guessable = NonNullable<InventoryMember['guessed']>[number];

/**
 * The description with what was guessed replaced by what the cluster says:
 * a member named after its endpoint's host gets its real name, a guessed
 * peer or client URL the real one. Each member is matched to its own entry
 * in the member list its endpoint answered with (so each side of a split
 * brain names its own members), else to the authoritative list by a URL or
 * name that was not guessed. Pure: the probes are the caller's.
 */
export function withLiveMembers(inventory: Inventory, probes: EndpointProbe[], options: LiveMembersOptions): { inventory: Inventory; notes: string[] } {
  const listed = authoritativeMemberList(probes) ?? [];
  const notes: string[] = [];
  const matched = new Set<string>();
  const taken = new Set(inventory.members.map((member) => member.name));
  const members = inventory.members.flatMap((member) => {
    const live = ownEntry(member, probes) ?? listed.find((entry) => sameMember(member, entry));
    if (live) {
      matched.add(live.id);
      return [refreshed(member, live, taken, notes)];
    }
    if (options.dropUnlisted && listed.length > 0 && !isLocalNode(member.node)) {
      notes.push(`${member.name} left out: the live member list does not have it (removed since --initial-cluster was written)`);
      taken.delete(member.name);
      return [];
    }
    return [member];
  });
  if (options.addMissing) {
    for (const entry of listed) {
      // an unstarted member (a pending add) has no name and no client URL yet: nothing to describe
      if (matched.has(entry.id) || entry.name === '' || taken.has(entry.name) || !usableUrls(entry.clientURLs) || !usableUrls(entry.peerURLs)) continue;
      members.push({ name: entry.name, peerURLs: entry.peerURLs, clientURLs: entry.clientURLs });
      taken.add(entry.name);
      notes.push(`${entry.name} added from the live member list (the description did not name it)`);
    }
  }
  return { inventory: { ...inventory, members }, notes };
}

/** The member list entry of the member that answered at one of this member's client URLs. */
function ownEntry(member: InventoryMember, probes: EndpointProbe[]): MemberInfo | undefined {
  const probe = probes.find((p) => p.memberId !== undefined && member.clientURLs.some((url) => sameUrl(url, p.endpoint)));
  return probe?.members?.find((entry) => entry.id === probe.memberId);
}

/** Matched on what was read, never on a guess. */
function sameMember(member: InventoryMember, entry: MemberInfo): boolean {
  const guessed = new Set(member.guessed ?? []);
  const overlap = (ours: string[], theirs: string[]) => ours.some((url) => theirs.some((other) => sameUrl(url, other)));
  return (
    (!guessed.has('peerURLs') && overlap(member.peerURLs, entry.peerURLs)) ||
    (!guessed.has('clientURLs') && overlap(member.clientURLs, entry.clientURLs)) ||
    (!guessed.has('name') && entry.name !== '' && entry.name === member.name)
  );
}

function refreshed(member: InventoryMember, live: MemberInfo, taken: Set<string>, notes: string[]): InventoryMember {
  const guessed = new Set<Guessable>(member.guessed ?? []);
  const next: InventoryMember = { ...member };
  if (guessed.has('name') && live.name !== '' && (live.name === member.name || !taken.has(live.name))) {
    if (live.name !== member.name) notes.push(`${member.name} is member ${live.name} (named from the live member list)`);
    taken.delete(member.name);
    taken.add(live.name);
    next.name = live.name;
    guessed.delete('name');
  }
  if (guessed.has('peerURLs') && usableUrls(live.peerURLs)) {
    next.peerURLs = live.peerURLs;
    guessed.delete('peerURLs');
  }
  if (guessed.has('clientURLs') && usableUrls(live.clientURLs)) {
    // a guess the member does advertise stays first: it is the endpoint already probed
    const first = member.clientURLs[0];
    const kept = live.clientURLs.find((url) => first !== undefined && sameUrl(url, first));
    next.clientURLs = kept ? [kept, ...live.clientURLs.filter((url) => url !== kept)] : live.clientURLs;
    guessed.delete('clientURLs');
  }
  const confirmed = (member.guessed ?? []).filter((field) => field !== 'name' && !guessed.has(field));
  if (confirmed.length > 0) notes.push(`${next.name}: ${confirmed.map((field) => (field === 'peerURLs' ? 'peer' : 'client')).join(' and ')} URLs from the live member list`);
  delete next.guessed;
  return guessed.size > 0 ? { ...next, guessed: [...guessed] } : next;
}

function usableUrls(urls: string[]): boolean {
  return urls.length > 0 && urls.every(isHttpUrl);
}
