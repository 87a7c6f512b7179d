import type { ControlPlaneFacts } from './quorum.js';
import { portAnswers } from '../../cluster/address.js';
import { listParam } from '../../engine/wait-conditions.js';
import { type GuardMember, type GuardEnvironment, type Judgement, type Params, type GuardDefinition, GuardParamError, define, p, str, hostPort } from './common.js';

/**
 * Guards on what runs on the nodes: every old member stopped (ports and
 * service), and the control plane's state the quorum-lost guard asks about.
 */

export interface RunningFacts {
  member: string;
  clientAnswers: boolean;
  peerAnswers: boolean;
  /** undefined when no isActive command is known for the node */
  serviceActive?: boolean;
  clientAddress: string;
  peerAddress: string;
  isActiveCommand?: string;
}

/** Guard 13: every old member is down (ports closed, service inactive) before restored members start. */
export function judgeOldMembersStopped(facts: RunningFacts[]): Judgement {
  const running = facts.filter((f) => f.clientAnswers || f.peerAnswers || f.serviceActive === true);
  if (running.length === 0) {
    return { ok: true, message: `${facts.map((f) => f.member).join(', ')} stopped: client and peer ports closed${facts.some((f) => f.serviceActive === false) ? ', services inactive' : ''}` };
  }
  const lines = running.map((f) => {
    const why = [
      f.clientAnswers ? `client port ${f.clientAddress} answers` : '',
      f.peerAnswers ? `peer port ${f.peerAddress} answers` : '',
      f.serviceActive ? `\`${f.isActiveCommand ?? 'is-active'}\` says it runs` : '',
    ].filter((s) => s !== '');
    return `${f.member} (${why.join(', ')})`;
  });
  return {
    ok: false,
    message: `refusing: ${running.length === 1 ? 'an old member is' : `${running.length} old members are`} still running: ${lines.join('; ')}; stop ${running.length === 1 ? 'it' : 'them'} first, or the restored members meet a cluster ID mismatch`,
  };
}

export interface NodeDownFacts {
  member: string;
  /** undefined: no command is known to ask */
  kubelet?: boolean;
  controlPlane?: boolean;
}

/** No kubelet and no control plane runs on any listed node: nothing restarts etcd or writes to it while its data is replaced. */
export function judgeNodesDown(facts: NodeDownFacts[]): Judgement {
  const up = facts.flatMap((f) => {
    const running = [f.kubelet ? 'the kubelet' : '', f.controlPlane ? 'the control plane' : ''].filter((s) => s !== '');
    return running.length > 0 ? [`${running.join(' and ')} on ${f.member}`] : [];
  });
  if (up.length > 0) return { ok: false, message: `refusing: still running: ${up.join('; ')}; stop it first (a kubelet restarts static pods, an apiserver writes to etcd)` };
  const unknown = facts.filter((f) => f.kubelet === undefined && f.controlPlane === undefined).map((f) => f.member);
  const down = facts.filter((f) => !unknown.includes(f.member)).map((f) => f.member);
  return { ok: true, message: `${down.length > 0 ? `the kubelet and the control plane are down on ${down.join(', ')}` : ''}${unknown.length > 0 ? `${down.length > 0 ? '; ' : ''}no command to ask on ${unknown.join(', ')}` : ''}` };
}

async function nodeDownFacts(member: GuardMember, env: GuardEnvironment): Promise<NodeDownFacts> {
  const transport = env.transport(member.name);
  const active = (command: string | undefined) => (command ? transport.exec(command, { timeoutMs: 10_000 }).then((r) => r.exitCode === 0) : Promise.resolve(undefined));
  const [kubelet, controlPlane] = await Promise.all([active(member.kubeletActiveCommand), active(member.controlPlaneActiveCommand)]);
  return { member: member.name, ...(kubelet !== undefined ? { kubelet } : {}), ...(controlPlane !== undefined ? { controlPlane } : {}) };
}

export async function controlPlaneFacts(member: GuardMember, env: GuardEnvironment): Promise<ControlPlaneFacts> {
  if (!member.controlPlaneActiveCommand) return { member: member.name };
  const result = await env.transport(member.name).exec(member.controlPlaneActiveCommand, { timeoutMs: 10_000 });
  return { member: member.name, active: result.exitCode === 0 };
}

async function runningFacts(member: GuardMember, env: GuardEnvironment, isActiveOverride?: string): Promise<RunningFacts> {
  const isActiveCommand = isActiveOverride || member.isActiveCommand;
  const [clientAnswers, peerAnswers, serviceActive] = await Promise.all([
    portAnswers(member.clientURL),
    portAnswers(member.peerURL),
    isActiveCommand
      ? env.transport(member.name).exec(isActiveCommand, { timeoutMs: 10_000 }).then((r) => r.exitCode === 0)
      : Promise.resolve(undefined),
  ]);
  return {
    member: member.name,
    clientAnswers,
    peerAnswers,
    ...(serviceActive !== undefined ? { serviceActive } : {}),
    clientAddress: hostPort(member.clientURL),
    peerAddress: hostPort(member.peerURL),
    ...(isActiveCommand ? { isActiveCommand } : {}),
  };
}

function membersParam(params: Params, env: GuardEnvironment): GuardMember[] {
  const names = listParam(params.nodes ?? params.members);
  if (names.length === 0) return env.members;
  return names.map((name) => {
    const member = env.members.find((m) => m.name === name);
    if (!member) throw new GuardParamError(`no member named ${name} in the inventory (${env.members.map((m) => m.name).join(', ')})`);
    return member;
  });
}


export const PROCESS_GUARDS = {
  'nodes-down': define({
    name: 'nodes-down',
    description: 'no kubelet and no control plane runs on the listed members (the runbooks\' own is-active commands)',
    params: [p('nodes', 'comma-separated members (default: every member)', false)],
    gather: async (params, env) => Promise.all(membersParam(params, env).map((m) => nodeDownFacts(m, env))),
    judge: (facts) => judgeNodesDown(facts),
  }),
  'old-members-stopped': define({
    name: 'old-members-stopped',
    description: 'every listed member\'s client and peer ports are closed and its service inactive',
    params: [
      p('nodes', 'comma-separated members (default: every member)', false),
      p('isActive', 'command whose exit 0 means etcd is active', false),
      p('service', 'false: judge by the client and peer ports alone (a dead member whose service is still enabled, e.g. a killed static pod, is parked next)', false),
    ],
    gather: async (params, env) => {
      const portsOnly = params.service === false || params.service === 'false';
      return Promise.all(membersParam(params, env).map((m) => runningFacts(portsOnly ? { name: m.name, peerURL: m.peerURL, clientURL: m.clientURL } : m, env, portsOnly ? undefined : str(params, 'isActive') || undefined)));
    },
    judge: (facts) => judgeOldMembersStopped(facts),
  }),
} satisfies Record<string, GuardDefinition>;
