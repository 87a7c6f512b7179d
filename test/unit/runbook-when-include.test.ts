import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planMarkdown, planText } from '../../src/cli/plan.js';
import type { ClusterReport } from '../../src/cluster/types.js';
import { initialState } from '../../src/engine/reducer.js';
import { transcriptMarkdown } from '../../src/engine/transcript.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { threeMasters } from '../helpers/inventories.js';
import { findRunbook, formatProblem, lintRunbook, listRunbooks, loadRunbookFile, parseRunbook } from '../../src/runbook/loader.js';
import { renderRunbook } from '../../src/runbook/render.js';
import type { RenderedRunbook } from '../../src/runbook/rendered.js';

const inventory: Inventory = threeMasters(() => ({ layout: 'systemd', paths: { dataDir: '/var/lib/etcd', envFile: '/etc/etcd/etcd.conf' } }));

function report(verdict: string, down: string[]): ClusterReport {
  const ids: Record<string, string> = { m1: '8e9e05c52164694d', m2: '91bc3c398fb3c146', m3: 'fd422379fda50e48' };
  return {
    probedAt: '2026-12-06T05:00:00Z',
    durationMs: 10,
    endpoints: ['m1', 'm2', 'm3'].map((name, i) => ({
      endpoint: `https://10.0.0.${i + 1}:2379`,
      expectedName: name,
      reachable: !down.includes(name),
      ...(down.includes(name) ? {} : { name, memberId: ids[name], leaderId: ids.m1, version: '3.5.15', revision: 100 + i, clusterId: verdict === 'split-brain' && name !== 'm1' ? 'bbbb' : 'aaaa' }),
      alarms: [],
      memberErrors: [],
      healthy: !down.includes(name),
      latencyMs: 2,
    })),
    verdict: {
      verdict, summary: `${down.join(', ')} down`, evidence: [], warnings: [], alarms: [], alternatives: [], votingMembers: 3, healthyVoting: 3 - down.length, quorumSize: 2,
      members: ['m1', 'm2', 'm3'].map((name) => ({ id: ids[name], name, isLearner: false, unstarted: false, healthy: !down.includes(name), reachable: !down.includes(name) })),
      clusterIds: ['cdf818194e3a8c32'], leaders: [ids.m1],
    },
  } as unknown as ClusterReport;
}

const run = { id: '20261206T050000Z-when', timestamp: '20261206T050000Z' };

describe('when: a step an input or a fact leaves out', () => {
  const replace = async (inputs: Record<string, string>) => renderRunbook(await findRunbook('replace-member'), { inventory, report: report('minority-lost', ['m3']), inputs, run });

  it('replace-member keeps its stop steps on a host that answers (the default)', async () => {
    const rendered = await replace({});
    for (const id of ['stop-control-plane', 'stop-etcd']) {
      const step = rendered.steps.find((s) => s.id === id);
      expect(step?.leftOut).toBeUndefined();
      expect(step?.targets.map((t) => t.node)).toEqual(['m3']);
    }
  });

  it('leaves them out when the failed host does not answer: plan says why, the engine settles them as not applicable, the transcript records it', async () => {
    const rendered = await replace({ hostReachable: 'false' });
    const stop = rendered.steps.find((s) => s.id === 'stop-control-plane');
    expect(stop).toMatchObject({ targets: [], guards: [], leftOut: "m3's host does not answer (hostReachable=false): nothing runs there to stop" });
    expect(rendered.steps.find((s) => s.id === 'stop-etcd')?.targets).toEqual([]);
    // the membership guards that stood on the first stop step still stand on the remove
    expect(rendered.steps.find((s) => s.id === 'remove-member')?.guards.map((g) => g.check)).toContain('would-lose-quorum');

    expect(planText(rendered)).toContain("Stop the control plane on m3 if it still runs  [changes]\n  why: the failed master's own apiserver talks to its local etcd; it is stopped, then etcd, before the member is removed, so no client writes through the member being replaced\n  skipped: m3's host does not answer (hostReachable=false): nothing runs there to stop\n");
    expect(planMarkdown(rendered, { generatedAt: 'now' })).toContain("_Skipped: m3's host does not answer (hostReachable=false): nothing runs there to stop._");

    const state = initialState(started(rendered));
    // (restore-control-plane is for kubeadm masters: not applicable here either, for its layout)
    expect(state.steps.filter((s) => s.status === 'not-applicable').map((s) => s.id)).toEqual(['stop-control-plane', 'stop-etcd', 'restore-control-plane']);
    expect(transcriptMarkdown(state)).toContain("Not applicable: skipped: m3's host does not answer (hostReachable=false): nothing runs there to stop.");
  });

  it('restore-quorum saves a snapshot, or copies the file given: the other step is skipped, saying why', async () => {
    const runbook = await findRunbook('restore-quorum');
    const render = (inputs: Record<string, string>) => renderRunbook(runbook, { inventory, report: report('quorum-lost', ['m2', 'm3']), inputs, run });
    const saved = render({});
    expect(saved.steps.find((s) => s.id === 'save-snapshot')?.targets).toHaveLength(1);
    expect(saved.steps.find((s) => s.id === 'copy-snapshot-file')).toMatchObject({ targets: [], leftOut: 'no snapshot file was given; the step before saves one from m1' });
    const given = render({ snapshot: '/srv/snap.db' });
    expect(given.steps.find((s) => s.id === 'save-snapshot')).toMatchObject({ targets: [], leftOut: 'a snapshot file was given (/srv/snap.db); the next step copies it in' });
    const copy = given.steps.find((s) => s.id === 'copy-snapshot-file');
    expect(copy?.targets[0]?.command?.split('\n')[0]).toBe('cp -p -- /srv/snap.db /var/lib/etcd-backup/restore-20261206T050000Z.db.partial &&');
    expect(copy?.guards.map((g) => [g.check, g.params.path])).toEqual([
      ['snapshot-verified', '/srv/snap.db'],
      ['nothing-at-path', '/var/lib/etcd-backup/restore-20261206T050000Z.db'],
    ]);
  });

  it('judges a fact of detection, and says the condition when the runbook gives no reason', () => {
    const runbook = parseRunbook(whenRunbook('fact: detection.verdict\n      notEquals: minority-lost'), 'w.yaml');
    const lost = renderRunbook(runbook, { inventory, report: report('minority-lost', ['m3']), inputs: {}, run });
    expect(lost.steps[0]?.leftOut).toBe('detection.verdict is minority-lost (the step is for anything but minority-lost)');
    const healthy = renderRunbook(runbook, { inventory, report: report('healthy', []), inputs: {}, run });
    expect(healthy.steps[0]?.leftOut).toBeUndefined();
    expect(healthy.steps[0]?.targets).toHaveLength(1);
  });

  it('lint names an undeclared input, an unknown fact, and a when that is not one subject and one test', () => {
    const problems = (when: string) => lintRunbook(whenRunbook(when), 'w.yaml').map(formatProblem);
    expect(problems('input: nosuch\n      equals: true')).toEqual(['w.yaml:15: steps[0].when.input: names no input of this runbook (flag)']);
    expect(problems('fact: detection.nosuch\n      equals: x')[0]).toMatch(/^w\.yaml:15: steps\[0\]\.when\.fact: unknown variable \{\{ detection\.nosuch \}\}: detection has verdict, /);
    expect(problems('input: flag\n      fact: detection.verdict\n      equals: true')).toEqual(['w.yaml:15: steps[0].when: names exactly one of input or fact']);
    expect(problems('input: flag')).toEqual(['w.yaml:15: steps[0].when: takes exactly one of equals, notEquals or oneOf']);
  });
});

/** A one-step runbook with an input `flag` and the given `when:` body. */
function whenRunbook(when: string): string {
  return `id: w
title: W
description: d
appliesTo: [healthy, minority-lost]
inputs:
  - name: flag
    description: f
    type: boolean
    default: true
steps:
  - id: only
    title: Only
    why: w
    when:
      ${when}
    target: local
    kind: command
    risk: read-only
    run: "true"
`;
}

function started(runbook: RenderedRunbook) {
  return { type: 'run-started' as const, at: '2026-12-06T05:00:00.000Z', runId: run.id, runbook, dryRun: false, operator: 'alice' };
}

describe('include: shared step files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'include-'));
  mkdirSync(join(dir, 'shared'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const shared = `shared: tail
description: the shared tail
inputs:
  - name: where
    description: a path
    type: path
steps:
  - id: make
    title: Make {{ inputs.where }}
    why: w
    target: local
    kind: command
    risk: changes
    run: mkdir -p -- {{ inputs.where }}
`;
  const runbook = (inputs: string, includeGuards = '') => `id: inc
title: Inc
description: d
appliesTo: [healthy]
inputs:
${inputs}
steps:
  - id: first
    title: First
    why: w
    target: local
    kind: command
    risk: read-only
    run: "true"
  - include: shared/tail.yaml
${includeGuards}`;
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  write('shared/tail.yaml', shared);
  const where = '  - name: where\n    description: w\n    type: path\n    default: /srv/x';

  it('takes the shared steps in where the runbook names them, with the include\'s guards first', async () => {
    const file = write('inc.yaml', runbook(where, '    guards:\n      - check: quorum-held\n'));
    const loaded = await loadRunbookFile(file);
    expect(loaded.steps.map((s) => s.id)).toEqual(['first', 'make']);
    const rendered = renderRunbook(loaded, { inventory, report: report('healthy', []), inputs: {}, run });
    expect(rendered.steps[1]).toMatchObject({ title: 'Make /srv/x', guards: [{ check: 'quorum-held' }], targets: [{ node: 'local', command: 'mkdir -p -- /srv/x' }] });
  });

  it('lint: an input the shared steps read must be declared with its type; the shared file\'s own problems carry its name', () => {
    const file = join(dir, 'bad.yaml');
    expect(lintRunbook(runbook('  - name: other\n    description: o'), file).map(formatProblem)).toEqual([
      `${file}:16: steps[1].include: shared/tail.yaml reads inputs.where: declare an input named "where" (type path) in this runbook`,
    ]);
    expect(lintRunbook(runbook('  - name: where\n    description: w\n    type: number'), file).map(formatProblem)).toEqual([
      `${file}:17: steps[1].include: shared/tail.yaml reads inputs.where as a path; this runbook declares it as a number`,
    ]);
    write('shared/broken.yaml', shared.replace('inputs.where', 'inputs.wher'));
    expect(lintRunbook(runbook(where).replace('tail.yaml', 'broken.yaml'), file).map(formatProblem)).toEqual([
      `${join(dir, 'shared', 'broken.yaml')}:9: steps[0].title: unknown variable {{ inputs.wher }}: inputs has where`,
    ]);
    expect(lintRunbook(runbook(where).replace('tail.yaml', 'gone.yaml'), file).map(formatProblem)).toEqual([`${file}:18: steps[1].include: cannot read ${join(dir, 'shared', 'gone.yaml')} (ENOENT)`]);
  });

  it('lints a shared file on its own, refuses to load it as a runbook, and never lists it', async () => {
    expect(lintRunbook(shared, 'tail.yaml')).toEqual([]);
    expect(() => parseRunbook(shared, 'tail.yaml')).toThrow(/^tail\.yaml:1: shared: this is a shared step file, not a runbook/);
    expect((await listRunbooks(dir)).map((r) => r.id)).toEqual(['inc']);
  });

  it('restore-quorum and split-brain render the same restore from one shared file; split-brain is its own snapshot plus the include', async () => {
    const quorum = renderRunbook(await findRunbook('restore-quorum'), { inventory, report: report('quorum-lost', ['m2', 'm3']), inputs: {}, run });
    const split = renderRunbook(await findRunbook('split-brain'), { inventory, report: report('split-brain', []), inputs: { survivor: 'm1' }, run });
    const tail = (r: RenderedRunbook) => r.steps.slice(r.steps.findIndex((s) => s.id === 'distribute-snapshot'));
    expect(tail(split)).toEqual(tail(quorum));
    expect(tail(quorum)).toHaveLength(15);
    expect(split.steps.slice(0, 3).map((s) => [s.id, s.guards.map((g) => g.check)])).toEqual([
      ['prepare-backup-dir', ['split-brain-now']],
      ['stop-control-plane', ['split-brain-now', 'etcd-version-matches', 'etcd-version-matches', 'etcd-version-matches']],
      ['save-snapshot', ['nothing-at-path']],
    ]);
  });
});
