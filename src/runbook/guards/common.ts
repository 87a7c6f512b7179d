import type { ClusterClient } from '../../cluster/client.js';
import type { ClusterReport, MemberInfo, MemberState } from '../../cluster/types.js';
import { isLeader } from '../../cluster/verdict.js';
import type { Transport } from '../../transport/types.js';
import { shellQuote } from '../../util/shell.js';
import type { ParamValue } from '../rendered.js';
import type { FileChecks } from '../file-checks.js';

/**
 * The parts every guard family shares: what a guard is (define, its
 * parameters), the environment it gathers facts from, the member list as
 * the leader sees it, and small text helpers.
 */

export interface GuardMember {
  name: string;
  peerURL: string;
  clientURL: string;
  dataDir?: string;
  /** exit 0 = etcd's service runs or is starting (the systemd layout's: `systemctl is-active etcd | grep -qE '^(active|activating|…)$'`) */
  isActiveCommand?: string;
  /** exit 0 = the node's control plane (kube-apiserver) runs, as the runbooks' member.controlPlane.isActive */
  controlPlaneActiveCommand?: string;
  /** exit 0 = the node's kubelet runs, as the runbooks' member.kubelet.isActive */
  kubeletActiveCommand?: string;
  /** the node's paths a host backup mirrors (pkiDir, kubernetesDir, kubeletDir, envFile, …): the inventory's, with kubeadm's standard ones */
  hostPaths?: Record<string, string>;
}

export interface GuardEnvironment {
  probe(): Promise<ClusterReport>;
  transport(node: string): Transport;
  client: ClusterClient;
  /** the members as the inventory knows them */
  members: GuardMember[];
  /** file checks already made in this run, for files unchanged since (see FileChecks) */
  fileChecks?: FileChecks;
}

export interface Judgement {
  ok: boolean;
  message: string;
}

export type Params = Record<string, ParamValue>;

export interface GuardParam {
  name: string;
  required: boolean;
  description: string;
}

export interface GuardDefinition {
  name: string;
  /** one line: what it checks */
  description: string;
  params: GuardParam[];
  /** gather the facts and judge them; may throw (evaluateGuard turns that into a failure) */
  run(params: Params, env: GuardEnvironment): Promise<Judgement>;
}

export class GuardParamError extends Error {}

export function define<F>(spec: {
  name: string;
  description: string;
  params?: GuardParam[];
  gather: (params: Params, env: GuardEnvironment) => Promise<F>;
  judge: (facts: F, params: Params) => Judgement;
}): GuardDefinition {
  const params = spec.params ?? [];
  return {
    name: spec.name,
    description: spec.description,
    params,
    async run(given, env) {
      for (const p of params) {
        if (p.required && (given[p.name] === undefined || given[p.name] === '')) {
          throw new GuardParamError(`guard ${spec.name} needs the parameter "${p.name}" (${p.description})`);
        }
      }
      return spec.judge(await spec.gather(given, env), given);
    },
  };
}

export const p = (name: string, description: string, required = true): GuardParam => ({ name, description, required });

export function str(params: Params, name: string): string {
  const value = params[name];
  return value === undefined ? '' : String(value);
}

export function findState(members: MemberState[], member: string): MemberState | undefined {
  const key = member.toLowerCase();
  return members.find((m) => m.name === member || m.id === key);
}

/**
 * The member list as the leader sees it, the list `member add` and `remove`
 * change: the leader's own in the probe (the same view of the cluster every
 * guard of a step judges, taken with it) or, when the probe found no healthy
 * leader that listed its members, asked through the client.
 */
export async function listedMembers(env: GuardEnvironment): Promise<MemberInfo[]> {
  const report = await env.probe();
  const leader = report.endpoints.find((e) => e.healthy && isLeader(e) && e.members !== undefined);
  return leader?.members ?? env.client.memberList();
}

export async function memberStatesOf(env: GuardEnvironment): Promise<MemberState[]> {
  return (await env.probe()).verdict.members;
}

export async function hasCommand(transport: Transport, command: string): Promise<boolean> {
  const result = await transport.exec(`command -v ${shellQuote(command)}`, { timeoutMs: 10_000 });
  return result.exitCode === 0 && result.stdout.trim() !== '';
}

export function firstLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  // etcd tools print the error last; prefer a line that says "Error"
  return (lines.find((l) => /error/i.test(l)) ?? lines[0] ?? '').slice(0, 300);
}

export function hostPort(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}
