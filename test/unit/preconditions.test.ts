import { describe, expect, it } from 'vitest';
import type { RenderedRunbook, RenderedStep } from '../../src/runbook/rendered.js';
import { changesMembershipOrRestores, judgeAppliesTo, judgeOverrideValue, judgeServerVersions, planWarnings } from '../../src/runbook/preconditions.js';
import { ExitCode } from '../../src/util/errors.js';
import { fakeCluster, reportOf } from '../helpers/probes.js';

const splitBrain = { id: 'split-brain', appliesTo: ['split-brain'] as const };
const backup = { id: 'backup', appliesTo: ['healthy', 'minority-lost'] as const };

describe('judgeAppliesTo: a runbook runs only on a verdict in its appliesTo', () => {
  it('lets a runbook run on a verdict it applies to', () => {
    expect(judgeAppliesTo(splitBrain, 'split-brain')).toEqual({ kind: 'applies' });
    expect(judgeAppliesTo(backup, 'minority-lost')).toEqual({ kind: 'applies' });
  });

  it('refuses split-brain on a healthy cluster in one line naming the runbook, its appliesTo, the verdict and the override flag', () => {
    const judged = judgeAppliesTo(splitBrain, 'healthy');
    expect(judged).toEqual({
      kind: 'refused',
      exitCode: ExitCode.configError,
      message: 'refusing to run split-brain: it applies to split-brain, and the cluster is healthy now (the runbook for healthy is backup); nothing was run. To run it anyway, pass --override-applies-to split-brain',
    });
  });

  it('names every verdict of appliesTo; where no runbook fits the verdict, what detection said instead', () => {
    const judged = judgeAppliesTo(backup, 'unreachable', undefined, 'no endpoint answered (3 of 3 unreachable): check endpoints, certificates and network');
    expect(judged.kind === 'refused' && judged.message).toBe(
      'refusing to run backup: it applies to healthy, minority-lost, and the cluster is unreachable now (no endpoint answered (3 of 3 unreachable): check endpoints, certificates and network); nothing was run. To run it anyway, pass --override-applies-to backup',
    );
    expect(judgeAppliesTo(backup, 'quorum-lost', undefined, 'summary not needed')).toMatchObject({ message: expect.stringContaining('quorum-lost now (the runbook for quorum-lost is restore-quorum);') });
  });

  it('the override naming the runbook lets it run, and says what it overrode', () => {
    expect(judgeAppliesTo(splitBrain, 'healthy', 'split-brain')).toEqual({ kind: 'overridden', verdict: 'healthy', appliesTo: ['split-brain'] });
  });

  it('an override given where the runbook applies overrides nothing', () => {
    expect(judgeAppliesTo(splitBrain, 'split-brain', 'split-brain')).toEqual({ kind: 'applies' });
  });

  it('an override naming another runbook is refused, even where this one applies: a flag meant for one runbook never lets another through', () => {
    const message = '--override-applies-to restore-quorum: this run is of runbook split-brain, so the override must name it: --override-applies-to split-brain';
    expect(judgeAppliesTo(splitBrain, 'healthy', 'restore-quorum')).toEqual({ kind: 'refused', exitCode: ExitCode.configError, message });
    expect(judgeAppliesTo(splitBrain, 'split-brain', 'restore-quorum')).toEqual({ kind: 'refused', exitCode: ExitCode.configError, message });
    expect(judgeOverrideValue('split-brain', '')).toEqual({ ok: false, message: '--override-applies-to "": this run is of runbook split-brain, so the override must name it: --override-applies-to split-brain' });
    expect(judgeOverrideValue('split-brain', undefined)).toEqual({ ok: true });
  });
});

const three = fakeCluster({ voting: 3 });

describe('judgeServerVersions: no change on a server older than 3.4', () => {
  it('passes when every server that answered runs 3.4 or newer', () => {
    expect(judgeServerVersions(reportOf([three.up(0, { version: '3.4.30' }), three.up(1, { version: '3.5.21' }), three.up(2, { version: '3.6.0' })]))).toEqual({ ok: true });
  });

  it('refuses, naming each member and its version, when one reports 3.3', () => {
    const judged = judgeServerVersions(reportOf([three.up(0, { version: '3.4.30' }), three.up(1, { version: '3.3.27' }), three.up(2, { version: '3.2.32' })]));
    expect(judged).toEqual({
      ok: false,
      message:
        'refusing before any change: master-2 (https://10.0.0.2:2379) runs etcd 3.3.27; master-3 (https://10.0.0.3:2379) runs etcd 3.2.32, older than 3.4 (no learners, no applied index): upgrade them to 3.4 or newer first (etcd upgrades one minor version at a time)',
    });
  });

  it('does not judge a member that did not answer (no version), nor a version it cannot read', () => {
    expect(judgeServerVersions(reportOf([three.up(0, { version: '3.4.30' }), three.down(1), three.up(2, { version: 'unknown' })]))).toEqual({ ok: true });
  });
});

function step(id: string, targets: RenderedStep['targets'], kind: RenderedStep['kind'] = 'command'): RenderedStep {
  return { id, title: id, why: id, kind, risk: 'changes', timeoutMs: 1000, guards: [], targets };
}
function runbook(...steps: RenderedStep[]): RenderedRunbook {
  return { id: 'x', title: 'x', description: 'x', sources: [], inputs: {}, steps };
}

describe('changesMembershipOrRestores: which runbooks the minimum version applies to', () => {
  it('a member add, remove or promote, a snapshot restore, or a forced new cluster', () => {
    expect(changesMembershipOrRestores(runbook(step('add', [{ node: 'local', host: 'local', etcd: { action: 'member-add', params: {} } }], 'etcd')))).toBe(true);
    expect(changesMembershipOrRestores(runbook(step('remove', [{ node: 'local', host: 'local', etcd: { action: 'member-remove', params: {} } }], 'etcd')))).toBe(true);
    expect(changesMembershipOrRestores(runbook(step('restore', [{ node: 'm1', host: 'local', command: "etcdutl snapshot restore '/x.db' --name m1" }])))).toBe(true);
    expect(changesMembershipOrRestores(runbook(step('force', [{ node: 'm1', host: 'local', command: 'etcd --force-new-cluster' }])))).toBe(true);
  });

  it('not a backup: a snapshot save, a status, a shell command', () => {
    expect(
      changesMembershipOrRestores(
        runbook(
          step('save', [{ node: 'local', host: 'local', etcd: { action: 'snapshot-save', params: {} } }], 'etcd'),
          step('status', [{ node: 'local', host: 'local', etcd: { action: 'status', params: {} } }], 'etcd'),
          step('prune', [{ node: 'local', host: 'local', command: 'ls -1t /backups | tail -n +4' }]),
        ),
      ),
    ).toBe(false);
  });
});

describe('planWarnings: plan renders anything, and says what run would refuse', () => {
  it('warns of the appliesTo refusal and its override, and of a server too old for a membership change', () => {
    const healthy = reportOf([three.up(0, { version: '3.3.27' }), three.up(1), three.up(2)]);
    const rendered = runbook(step('add', [{ node: 'local', host: 'local', etcd: { action: 'member-add', params: {} } }], 'etcd'));
    expect(planWarnings({ id: 'replace-member', appliesTo: ['minority-lost'] }, rendered, healthy)).toEqual([
      "replace-member applies to minority-lost, and the cluster is healthy now: 'run' refuses it unless given --override-applies-to replace-member",
      "'run' refuses it: master-1 (https://10.0.0.1:2379) runs etcd 3.3.27, older than 3.4 (no learners, no applied index): upgrade it to 3.4 or newer first (etcd upgrades one minor version at a time)",
    ]);
    expect(planWarnings(backup, runbook(), reportOf([three.up(0), three.up(1), three.up(2)]))).toEqual([]);
  });
});
