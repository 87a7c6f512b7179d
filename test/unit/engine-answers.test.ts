import { describe, expect, it } from 'vitest';
import type { RenderedStep } from '../../src/runbook/rendered.js';
import { legalAnswers, namesToConfirm } from '../../src/engine/answers.js';
import type { StepState } from '../../src/engine/types.js';

const step = (targets: RenderedStep['targets']): RenderedStep => ({ id: 's', title: 'S', why: 'w', kind: 'etcd', risk: 'destructive', targetKind: 'local', targets, guards: [] }) as unknown as RenderedStep;

describe('the names a destructive step wants typed back', () => {
  it('every member a member remove acts on: the replaced one and the other down voters removed with it', () => {
    const remove = step([{ node: 'local', host: 'local', etcd: { action: 'member-remove', params: { member: 'm2', also: 'm4,m5' } } }] as RenderedStep['targets']);
    expect(namesToConfirm(remove, { member: 'm2' })).toEqual(['m2', 'm4', 'm5']);
  });

  it('just the member when nothing is removed with it', () => {
    const remove = step([{ node: 'local', host: 'local', etcd: { action: 'member-remove', params: { member: 'm3', also: '' } } }] as RenderedStep['targets']);
    expect(namesToConfirm(remove, { member: 'm3' })).toEqual(['m3']);
  });

  it('the nodes a command runs on, and "local" for a local step about no member', () => {
    expect(namesToConfirm(step([{ node: 'm1', host: 'h1', command: 'x' }, { node: 'm2', host: 'h2', command: 'x' }] as RenderedStep['targets']))).toEqual(['m1', 'm2']);
    expect(namesToConfirm(step([{ node: 'local', host: 'local', command: 'x' }] as RenderedStep['targets']))).toEqual(['local']);
  });
});

describe('the answers the engine allows for a step in each state', () => {
  const state = (status: StepState['status'], guards: StepState['guards'] = []): StepState => ({ id: 's', status, guards, targets: [], attempts: 0 });
  const failing = (overridable: boolean, overriddenBecause?: string) => ({ check: 'quorum-held', ok: false, message: 'no', overridable, ...(overriddenBecause ? { overriddenBecause } : {}) });

  it('run only when it awaits confirmation; skip and retry where the reducer accepts them', () => {
    expect(legalAnswers(state('awaiting-confirmation'))).toEqual({ confirm: true, skip: true, retry: false });
    expect(legalAnswers(state('failed'))).toEqual({ confirm: false, skip: true, retry: true });
    expect(legalAnswers(state('running'))).toEqual({ confirm: false, skip: false, retry: false });
    expect(legalAnswers(state('succeeded'))).toEqual({ confirm: false, skip: false, retry: false });
  });

  it('override names the failing guard of a blocked step only when it may be overridden, once', () => {
    expect(legalAnswers(state('blocked', [failing(true)])).override).toBe('quorum-held');
    expect(legalAnswers(state('blocked', [failing(false)])).override).toBeUndefined();
    expect(legalAnswers(state('blocked', [failing(true, 'the operator said so')])).override).toBeUndefined();
  });
});
