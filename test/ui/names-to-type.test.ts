import { describe, expect, it } from 'vitest';
import type { RenderedStep } from '../../src/runbook/rendered.js';
import { namesToType } from '../../src/ui/step-view/use-step-view-keys.js';

const step = (targets: RenderedStep['targets']): RenderedStep => ({ id: 's', title: 'S', why: 'w', kind: 'etcd', risk: 'destructive', targetKind: 'local', targets, guards: [] }) as unknown as RenderedStep;

describe('the names a destructive step wants typed back', () => {
  it('every member a member remove acts on: the replaced one and the other down voters removed with it', () => {
    const remove = step([{ node: 'local', host: 'local', etcd: { action: 'member-remove', params: { member: 'm2', also: 'm4,m5' } } }] as RenderedStep['targets']);
    expect(namesToType(remove, { member: 'm2' })).toEqual(['m2', 'm4', 'm5']);
  });

  it('just the member when nothing is removed with it', () => {
    const remove = step([{ node: 'local', host: 'local', etcd: { action: 'member-remove', params: { member: 'm3', also: '' } } }] as RenderedStep['targets']);
    expect(namesToType(remove, { member: 'm3' })).toEqual(['m3']);
  });

  it('the nodes a command runs on, and "local" for a local step about no member', () => {
    expect(namesToType(step([{ node: 'm1', host: 'h1', command: 'x' }, { node: 'm2', host: 'h2', command: 'x' }] as RenderedStep['targets']))).toEqual(['m1', 'm2']);
    expect(namesToType(step([{ node: 'local', host: 'local', command: 'x' }] as RenderedStep['targets']))).toEqual(['local']);
  });
});
