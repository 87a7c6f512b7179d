import type { RenderedStep } from '../runbook/rendered.js';
import type { StepState, StepStatus } from './types.js';

/**
 * What the operator may answer for a step in the state it is in: the
 * reducer's own rules (it refuses any other answer), said once here so a
 * view only maps its keys to them and never decides on its own.
 */
export const SKIPPABLE: ReadonlySet<StepStatus> = new Set(['awaiting-confirmation', 'blocked', 'failed', 'unknown']);
export const RETRYABLE: ReadonlySet<StepStatus> = new Set(['failed', 'unknown', 'blocked']);

export interface LegalAnswers {
  /** run it (a destructive step: once the names of namesToConfirm are typed back) */
  confirm: boolean;
  skip: boolean;
  /** re-check the guards of a blocked step, or run a failed one again */
  retry: boolean;
  /** the failing guard an override would set aside, when one may be */
  override?: string;
}

export function legalAnswers(step: StepState): LegalAnswers {
  const check = step.status === 'blocked' ? overridableFailure(step) : undefined;
  return {
    confirm: step.status === 'awaiting-confirmation',
    skip: SKIPPABLE.has(step.status),
    retry: RETRYABLE.has(step.status),
    ...(check ? { override: check } : {}),
  };
}

/** The first failing guard the operator may override. */
export function overridableFailure(step: StepState): string | undefined {
  return step.guards.find((g) => !g.ok && g.overridable && g.overriddenBecause === undefined)?.check;
}

/**
 * The names a destructive step wants typed back: the members it runs on; for
 * an etcd action run from this machine (member remove), every member it acts
 * on (its member and also parameters: replace-member removes the other down
 * voters in the same step), else the runbook's member input, else "local".
 */
export function namesToConfirm(def: RenderedStep, inputs: Record<string, unknown> = {}): string[] {
  const members = def.targets.map((t) => t.node).filter((node) => node !== 'local');
  if (members.length > 0) return members;
  const params = def.targets[0]?.etcd?.params ?? {};
  const named = [params.member, ...String(params.also ?? '').split(',')].map((v) => String(v ?? '').trim()).filter((v) => v !== '');
  if (named.length > 0) return [...new Set(named)];
  return typeof inputs.member === 'string' && inputs.member ? [inputs.member] : ['local'];
}
