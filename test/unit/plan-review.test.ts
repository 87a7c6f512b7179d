import { describe, expect, it } from 'vitest';
import { planMarkdown } from '../../src/cli/plan.js';
import type { ClusterReport } from '../../src/cluster/types.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { threeMasters } from '../helpers/inventories.js';
import { findRunbook, listRunbooks } from '../../src/runbook/loader.js';
import { renderRunbook } from '../../src/runbook/render.js';
import { internalReference } from '../../src/runbook/standalone-text.js';

/**
 * What the person approving the change ticket reads: every shipped runbook's
 * `plan --markdown` for a 3-member cluster (two systemd masters, one
 * kubeadm) holds commands a person would type — no line longer than 200
 * characters, no awk program — and no reference to a document that does
 * not ship with the tool.
 */

const inventory: Inventory = threeMasters((i) => ({
  layout: i === '3' ? 'kubeadm' : 'systemd',
  paths: { dataDir: '/var/lib/etcd', envFile: '/etc/etcd/etcd.conf', pkiDir: '/etc/etcd/ssl', unitFile: '/etc/systemd/system/etcd.service', manifestsDir: '/etc/kubernetes/manifests' },
}));

const IDS: Record<string, string> = { m1: '8e9e05c52164694d', m2: '91bc3c398fb3c146', m3: 'fd422379fda50e48' };

/** A probe that found the verdict the runbook is for, the members in `down` not answering. */
function report(verdict: string, down: string[]): ClusterReport {
  const names = ['m1', 'm2', 'm3'];
  return {
    probedAt: '2026-12-06T05:00:00Z',
    durationMs: 10,
    endpoints: names.map((name, i) => ({
      endpoint: `https://10.0.0.${i + 1}:2379`,
      expectedName: name,
      reachable: !down.includes(name),
      ...(down.includes(name) ? {} : { name, memberId: IDS[name], leaderId: IDS.m1, clusterId: verdict === 'split-brain' && name === 'm3' ? 'b0' : 'a0', version: '3.5.15', revision: 100 + i }),
      alarms: [],
      memberErrors: [],
      healthy: !down.includes(name),
      latencyMs: 2,
    })),
    verdict: {
      verdict, summary: 'as probed', evidence: [], warnings: [], alarms: [], alternatives: [], votingMembers: 3, healthyVoting: 3 - down.length, quorumSize: 2,
      members: names.map((name) => ({ id: IDS[name], name, isLearner: false, unstarted: false, healthy: !down.includes(name), reachable: !down.includes(name) })),
      clusterIds: ['a0'], leaders: [IDS.m1],
    },
  } as unknown as ClusterReport;
}

/** The members down for each verdict a runbook applies to first. */
const DOWN: Record<string, string[]> = { healthy: [], alarm: [], 'minority-lost': ['m3'], 'quorum-lost': ['m2', 'm3'], 'split-brain': [], unreachable: ['m1', 'm2', 'm3'] };

async function planOf(id: string): Promise<string> {
  const runbook = await findRunbook(id);
  const verdict = runbook.appliesTo[0] as string;
  const probe = report(verdict, DOWN[verdict] ?? []);
  const rendered = renderRunbook(runbook, { inventory, report: probe, inputs: {}, run: { id: 'review', timestamp: '20261206T050000Z' } });
  return planMarkdown(rendered, { report: probe, generatedAt: '2026-12-06T05:00:00.000Z' });
}

/** The lines inside the plan's fenced code blocks: the commands and diffs. */
function commandLines(markdown: string): string[] {
  return [...markdown.matchAll(/^(`{3,})(?:sh|diff)\n([\s\S]*?)\n\1$/gm)].flatMap((m) => (m[2] as string).split('\n'));
}

describe('every shipped runbook, planned for a 3-member cluster, reads as a change ticket', async () => {
  const ids = (await listRunbooks()).map((r) => r.id);

  it('ships the runbooks this checks', () => {
    expect(ids).toEqual(expect.arrayContaining(['backup', 'reclaim-space', 'replace-master', 'replace-member', 'restore-quorum', 'single-survivor', 'split-brain']));
  });

  it.each(ids)('%s: no command line longer than 200 characters, no awk, no internal reference', async (id) => {
    const markdown = await planOf(id);
    const lines = commandLines(markdown);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((line) => line.length > 200)).toEqual([]);
    expect(lines.filter((line) => /\bawk\b/.test(line))).toEqual([]);
    expect(markdown.split('\n').filter((line) => internalReference(line) !== undefined)).toEqual([]);
  });
});
