import { humanBytes } from '../util/table.js';
import type { EndpointProbe } from './types.js';

/**
 * The sides of a split brain: the reachable endpoints grouped by the cluster
 * ID they report. Each side is its own cluster with its own revision counter,
 * so revisions only compare within a side; across sides the side holding the
 * most members is the default (it is what most of the control plane saw),
 * and only a tie falls back to the higher revision.
 */
export interface Side {
  clusterId: string;
  /** the members' names (the endpoint when a member has none), in probe order */
  members: string[];
  /** the highest revision a member of this side reports */
  revision?: number;
  /** the largest DB size (bytes) a member of this side reports */
  dbSize?: number;
  /** the member a snapshot is taken from: the side's member with the highest revision (revisions compare within a side) */
  source: string;
  /** the leader's name (or id when its name is unknown); undefined when no member knows of one */
  leader?: string;
}

export interface SideChoice {
  side: Side;
  /** one line: the side, its members and why it is the default */
  reason: string;
}

const nameOf = (p: EndpointProbe): string => p.name || p.expectedName || p.endpoint;

const maxOf = (values: Array<number | undefined>): number | undefined => {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? Math.max(...known) : undefined;
};

/** The sides, one per cluster ID the reachable endpoints report (endpoints without one are left out). */
export function splitSides(probes: EndpointProbe[]): Side[] {
  const reachable = probes.filter((p) => p.reachable && p.clusterId);
  const ids = [...new Set(reachable.map((p) => p.clusterId as string))];
  return ids.map((clusterId) => {
    const side = reachable.filter((p) => p.clusterId === clusterId);
    const leaderProbe = side.find((p) => p.leaderId !== undefined && p.memberId === p.leaderId);
    const leaderId = side.find((p) => p.leaderId !== undefined)?.leaderId;
    const newest = side.reduce((best, p) => ((p.revision ?? -1) > (best.revision ?? -1) ? p : best));
    return {
      clusterId,
      members: side.map(nameOf),
      revision: maxOf(side.map((p) => p.revision)),
      dbSize: maxOf(side.map((p) => p.dbSize)),
      source: nameOf(newest),
      leader: leaderProbe ? nameOf(leaderProbe) : leaderId,
    };
  });
}

/** The default side: the most members, ties broken by the higher revision (then the first seen). */
export function chooseSide(sides: Side[], totalMembers: number): SideChoice | undefined {
  const ranked = [...sides].sort((a, b) => b.members.length - a.members.length || (b.revision ?? -1) - (a.revision ?? -1));
  const [side, next] = ranked;
  if (!side) return undefined;
  return { side, reason: `${describeSide(side, totalMembers)}; chosen because ${whyChosen(side, next)}` };
}

function whyChosen(side: Side, next: Side | undefined): string {
  if (next === undefined) return 'it is the only side';
  if (next.members.length < side.members.length) return 'it holds the most members';
  if ((next.revision ?? -1) < (side.revision ?? -1)) return `it ties on members (${side.members.length}) and has the higher revision (${side.revision} > ${next.revision ?? 'unknown'})`;
  return `it ties on members (${side.members.length}) and revision (${side.revision ?? 'unknown'}) and was seen first`;
}

/** "side 8e9e05c52164694d: m1, m2 (2 of 3 members)" */
export function describeSide(side: Side, totalMembers: number): string {
  return `side ${side.clusterId}: ${side.members.join(', ')} (${side.members.length} of ${totalMembers} members)`;
}

/** One line per side with every field: the verdict's evidence. */
export function sideEvidence(side: Side, totalMembers: number): string {
  const revision = side.revision === undefined ? 'revision unknown' : `revision ${side.revision}`;
  const db = side.dbSize === undefined ? 'DB size unknown' : `DB size ${humanBytes(side.dbSize)}`;
  return `${describeSide(side, totalMembers)}, ${revision}, ${db}, leader ${side.leader ?? 'none'}`;
}

/** The side a member (name) or cluster ID names, or undefined. */
export function findSide(sides: Side[], choice: string): Side | undefined {
  return sides.find((s) => s.clusterId === choice || s.members.includes(choice));
}

/**
 * Why the side holding `member` is the one restored from: the default's
 * reason, or that the operator chose it. Undefined when no side holds it.
 */
export function sideReasonFor(sides: Side[], member: string, totalMembers: number): string | undefined {
  const side = findSide(sides, member);
  if (!side) return undefined;
  const choice = chooseSide(sides, totalMembers);
  return choice && choice.side === side ? choice.reason : `${describeSide(side, totalMembers)}; chosen by the operator (the default was ${choice?.side.clusterId ?? 'none'})`;
}

/** The one line that names every side, for an error that asks to choose one. */
export function listSides(sides: Side[], totalMembers: number): string {
  return sides.map((s) => describeSide(s, totalMembers)).join('; ');
}
