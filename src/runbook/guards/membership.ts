import type { MemberInfo, MemberState } from '../../cluster/types.js';
import { listParam } from '../../engine/wait-conditions.js';
import { type Judgement, type GuardDefinition, GuardParamError, define, p, str, listedMembers, sameUrl, findState } from './common.js';

/**
 * Guards on the member list: a member already present or absent, the other
 * voters healthy, one learner at a time, no member added and never started.
 */

export interface AddFacts {
  members: MemberInfo[];
  name: string;
  peerURL: string;
}

/**
 * Guard 15, idempotent add. PASSES when the peer URL is absent (it will be
 * added) and ALSO when it is present as an unstarted member or as the member
 * with this very name: the add action returns that member instead of adding
 * it twice, so re-running a step after a crash must not be blocked. It FAILS
 * only on a conflict the add cannot resolve: the peer URL belongs to a member
 * with another name, or the name is still taken by a member with another
 * peer URL (the failed member was not removed first: guard 3).
 */
export function judgeMemberAlreadyPresent(facts: AddFacts): Judgement {
  const byPeer = facts.members.find((m) => m.peerURLs.some((u) => sameUrl(u, facts.peerURL)));
  const byName = facts.members.find((m) => m.name !== '' && m.name === facts.name);
  if (byName && (!byPeer || byPeer !== byName)) {
    return {
      ok: false,
      message: `refusing to add ${facts.name} at ${facts.peerURL}: member ${byName.name} (${byName.id}) is still in the member list with peer URL ${byName.peerURLs.join(',')}: remove it first (replace = remove, then add)`,
    };
  }
  if (byPeer && byPeer.name !== '' && byPeer.name !== facts.name) {
    return {
      ok: false,
      message: `refusing to add ${facts.name}: peer URL ${facts.peerURL} belongs to member ${byPeer.name} (${byPeer.id})`,
    };
  }
  if (byPeer) {
    const state = byPeer.name === '' ? 'added but not started yet' : 'started';
    return {
      ok: true,
      message: `${facts.name} is already in the member list as ${byPeer.id} (${byPeer.isLearner ? 'learner' : 'voting'}, ${state}): the add will reuse it, not add it twice`,
    };
  }
  return { ok: true, message: `${facts.name} (${facts.peerURL}) is not in the member list: it will be added` };
}

/** The member (by name, hex ID or peer URL) is not in the member list. */
export function judgeMemberAbsent(members: MemberInfo[], member: string, peerURL: string): Judgement {
  const key = member.toLowerCase();
  const found = members.find(
    (m) => (member !== '' && (m.name === member || m.id === key)) || (peerURL !== '' && m.peerURLs.some((u) => sameUrl(u, peerURL))),
  );
  const what = [member, peerURL].filter((s) => s !== '').join(' / ');
  if (found) return { ok: false, message: `${what} is still in the member list as ${found.name || '(unstarted)'} ${found.id} (${found.peerURLs.join(',')})` };
  return { ok: true, message: `${what} is not in the member list` };
}

/**
 * Before a member is removed to be added back: every other voting member
 * is healthy, or is removed in the same step (`also`). etcd (strict reconfig
 * check, on by default) refuses `member add` while any voting member is
 * unreachable, so with another voter down and kept the removed member could
 * not come back and the cluster would be left a member short. A healthy
 * member in `also` is refused: this removes only members that are down; so
 * is `also` with a healthy member being replaced.
 */
export function judgeOtherVotersHealthy(members: MemberState[], member: string, also: string[] = []): Judgement {
  const removed = [member, ...also].map((name) => findState(members, name));
  const self = removed[0];
  if (also.length > 0 && self?.healthy && !self.isLearner) {
    return {
      ok: false,
      message: `refusing: ${member} is healthy: removing it together with ${also.join(', ')} would shrink the cluster to its healthy rest; replace the members that are down first (one run each), then ${member}`,
    };
  }
  const healthyRemoved = also.map((name) => findState(members, name)).filter((m): m is MemberState => m !== undefined && m.healthy && !m.isLearner);
  if (healthyRemoved.length > 0) {
    const them = healthyRemoved.map((m) => m.name || m.id || '(unnamed)').join(', ');
    return {
      ok: false,
      message: `refusing: ${them} ${healthyRemoved.length === 1 ? 'is' : 'are'} healthy: only voting members that are down are removed along with ${member} (leave ${healthyRemoved.length === 1 ? 'it' : 'them'} out of alsoRemove)`,
    };
  }
  const others = members.filter((m) => !m.isLearner && !removed.includes(m));
  const down = others.filter((m) => !m.healthy).map((m) => m.name || m.id || '(unnamed)');
  const alsoDone = also.length > 0 ? `; ${also.join(', ')} ${also.length === 1 ? 'is' : 'are'} down and removed in the same step` : '';
  if (down.length === 0) return { ok: true, message: `every other voting member is healthy (${others.length})${alsoDone}` };
  const them = down.join(', ');
  return {
    ok: false,
    message:
      `${them} ${down.length === 1 ? 'is' : 'are'} down too: etcd refuses to add a member while any voting member is unreachable, ` +
      `so ${member} would be removed and could not be added back: start ${them} again if ${down.length === 1 ? 'its' : 'their'} data is intact, ` +
      `or remove ${down.length === 1 ? 'it' : 'them'} in the same step (--set alsoRemove=${[...also, ...down].join(',')}) and add ${down.length === 1 ? 'it' : 'them'} back with ${down.length === 1 ? 'its' : 'their'} own run afterwards`,
  };
}

/** Guard 5: no learner is joining right now. */
export function judgeOneLearnerAtATime(members: MemberInfo[]): Judgement {
  const learners = members.filter((m) => m.isLearner);
  if (learners.length === 0) return { ok: true, message: 'no learner in the member list' };
  const names = learners.map((m) => `${m.name || '(unstarted)'} ${m.id}`).join(', ');
  return { ok: false, message: `refusing: learner ${names} is still joining: promote it (or remove it) before adding another member` };
}

/** Guard 8: members left unstarted by a failed add; `except` is the peer URL the next step will start. */
export function judgeNoUnstartedMembers(members: MemberInfo[], except: string[] = []): Judgement {
  const unstarted = members.filter((m) => m.name === '' && m.clientURLs.length === 0 && !m.peerURLs.some((u) => except.some((e) => sameUrl(u, e))));
  if (unstarted.length === 0) return { ok: true, message: 'every member in the list has started' };
  const what = unstarted.map((m) => `${m.id} (${m.peerURLs.join(',')})`).join(', ');
  const remove = unstarted.map((m) => `etcdctl member remove ${m.id}`).join('; ');
  return { ok: false, message: `${unstarted.length === 1 ? 'a member was' : `${unstarted.length} members were`} added but never started: ${what}: start ${unstarted.length === 1 ? 'it' : 'them'} or remove (${remove})` };
}


/**
 * Guard 6: the initial-cluster a joining member was given lists the live
 * member list exactly (name=peerURL, in any order). The joiner itself is in
 * the list unnamed until it starts: its entry takes the joiner's name. Else
 * etcd refuses to start it, or it joins the wrong cluster.
 */
export function judgeInitialClusterMatches(initialCluster: string, members: MemberInfo[], joining: string): Judgement {
  const want = initialCluster.split(',').map((e) => e.trim()).filter((e) => e !== '').sort().join(',');
  const got = members.flatMap((m) => m.peerURLs.map((url) => `${m.name || joining}=${url}`)).sort().join(',');
  if (got === want) return { ok: true, message: `initial-cluster matches the member list: ${want}` };
  return { ok: false, message: `initial-cluster ${want} does not match the member list ${got}: fix the inventory (or the member list) before starting ${joining}` };
}

export const MEMBERSHIP_GUARDS = {
  'initial-cluster-matches': define({
    name: 'initial-cluster-matches',
    description: 'the initial-cluster written for the joining member lists the live member list exactly',
    params: [p('initialCluster', 'the initial-cluster written (name=peerURL,…)'), p('member', 'the joining member, unnamed in the list until it starts')],
    gather: async (_params, env) => listedMembers(env),
    judge: (members, params) => judgeInitialClusterMatches(str(params, 'initialCluster'), members, str(params, 'member')),
  }),
  'member-already-present': define({
    name: 'member-already-present',
    description: 'adding the member is safe to repeat: present by peer URL is reused, a conflicting name or URL refuses',
    params: [p('name', 'the new member\'s name'), p('peerURL', 'its peer URL')],
    gather: async (_params, env) => listedMembers(env),
    judge: (members, params) => judgeMemberAlreadyPresent({ members, name: str(params, 'name'), peerURL: str(params, 'peerURL') }),
  }),
  'member-absent': define({
    name: 'member-absent',
    description: 'the member is not in the member list',
    params: [p('member', 'member name or hex ID', false), p('peerURL', 'its peer URL', false), p('also', 'more members (names or hex IDs, comma-separated) that must be gone too', false)],
    gather: async (params, env) => {
      if (!str(params, 'member') && !str(params, 'peerURL')) throw new GuardParamError('guard member-absent needs "member" or "peerURL"');
      return listedMembers(env);
    },
    judge: (members, params) => {
      const judged = [judgeMemberAbsent(members, str(params, 'member'), str(params, 'peerURL')), ...listParam(params.also).map((name) => judgeMemberAbsent(members, name, ''))];
      const failed = judged.filter((j) => !j.ok);
      return { ok: failed.length === 0, message: (failed.length > 0 ? failed : judged).map((j) => j.message).join('; ') };
    },
  }),
  'other-voters-healthy': define({
    name: 'other-voters-healthy',
    description: 'every voting member but the one being replaced (and those removed with it) is healthy (etcd refuses member add while a voter is unreachable)',
    params: [p('member', 'the member being replaced'), p('also', 'the voting members that are down and removed in the same step (comma-separated)', false)],
    gather: async (_params, env) => (await env.probe()).verdict.members,
    judge: (members, params) => judgeOtherVotersHealthy(members, str(params, 'member'), listParam(params.also)),
  }),
  'one-learner-at-a-time': define({
    name: 'one-learner-at-a-time',
    description: 'no learner is in the member list',
    gather: async (_params, env) => listedMembers(env),
    judge: (members) => judgeOneLearnerAtATime(members),
  }),
  'no-unstarted-members': define({
    name: 'no-unstarted-members',
    description: 'no member was added and never started',
    params: [p('except', 'peer URL(s) of a member about to be started', false)],
    gather: async (_params, env) => listedMembers(env),
    judge: (members, params) => judgeNoUnstartedMembers(members, listParam(params.except)),
  }),
} satisfies Record<string, GuardDefinition>;
