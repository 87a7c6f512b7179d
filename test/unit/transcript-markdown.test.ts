import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { duration, transcriptMarkdown, writeTranscript } from '../../src/engine/transcript.js';
import type { EngineEvent } from '../../src/engine/types.js';
import { at, fail, HEALTHY, ok, run, runStep, started } from './engine-fixtures.js';

const events: EngineEvent[] = [
  ...runStep('check-health', ['local'], [ok('cluster-reachable')], false),
  { type: 'guards-evaluated', at: at(), step: 'take-snapshot', outcomes: [ok('quorum')] },
  { type: 'skipped', at: at(), step: 'take-snapshot', reason: 'snapshot taken at 09:55 by hand', operator: 'alice' },
  { type: 'guards-evaluated', at: at(), step: 'stop-etcd', outcomes: [fail('would-lose-quorum', true), ok('quorum')] },
  { type: 'guard-overridden', at: at(), step: 'stop-etcd', check: 'would-lose-quorum', reason: 'master-3 is gone for good', operator: 'alice' },
  { type: 'confirmed', at: at(), step: 'stop-etcd', operator: 'alice' },
  { type: 'step-started', at: '2025-03-01T10:10:00.000Z', step: 'stop-etcd' },
  { type: 'target-started', at: '2025-03-01T10:10:00.000Z', step: 'stop-etcd', node: 'master-1', ran: 'systemctl stop etcd' },
  { type: 'output', at: at(), step: 'stop-etcd', node: 'master-1', stream: 'stderr', chunk: 'stopped ``` etcd\n' },
  { type: 'target-finished', at: '2025-03-01T10:10:02.500Z', step: 'stop-etcd', node: 'master-1', ok: true, exitCode: 0 },
  { type: 'target-started', at: '2025-03-01T10:10:00.000Z', step: 'stop-etcd', node: 'master-2', ran: 'ETCDCTL_PASSWORD=hunter2 systemctl stop etcd' },
  { type: 'target-finished', at: '2025-03-01T10:10:03.000Z', step: 'stop-etcd', node: 'master-2', ok: false, exitCode: 5, error: 'Unit etcd.service not loaded' },
  { type: 'step-finished', at: '2025-03-01T10:10:03.000Z', step: 'stop-etcd', ok: false, error: 'failed on master-2' },
  { type: 'probe', at: at(), report: HEALTHY },
  { type: 'aborted', at: '2025-03-01T10:12:30.000Z', reason: 'step stop-etcd failed', operator: 'alice' },
];

describe('transcriptMarkdown', () => {
  const md = transcriptMarkdown(run(events), { journalPath: '/var/lib/j/run-1.jsonl' });

  it('heads the transcript with the run, runbook, operator and timing', () => {
    expect(md).toContain('# Replace a failed member: run run-20250301-100000\n');
    expect(md).toContain('| Run | `run-20250301-100000` |');
    expect(md).toContain('| Runbook | `replace-member` — Replace a failed member |');
    expect(md).toContain('| Operator | alice |');
    expect(md).toContain('| Started | 2025-03-01T10:00:00.000Z |');
    expect(md).toContain('| Ended | 2025-03-01T10:12:30.000Z |');
    expect(md).toContain('| Duration | 12 min 30 s |');
    expect(md).toContain('| Status | aborted — step stop-etcd failed |');
    expect(md).toContain('| Inputs | member=`master-3` |');
    expect(md).not.toContain('DRY RUN');
  });

  it('shows the detection: verdict, evidence and a member table', () => {
    expect(md).toContain('## Detection');
    expect(md).toMatch(/\*\*Verdict: minority-lost\*\* — /);
    expect(md).toContain('| member | id | endpoint | voting | reachable | healthy | problem |');
    expect(md).toMatch(/\| master-3 \| `[0-9a-f]+` \| .* \| yes \| no \| no \|/);
  });

  it('shows each step with k/n, status, risk, hosts, guards, overrides and skip reasons', () => {
    expect(md).toContain('### 1/5 Check cluster health — succeeded');
    expect(md).toContain('### 2/5 Take a snapshot — skipped');
    expect(md).toContain('Skipped by alice: snapshot taken at 09:55 by hand');
    expect(md).toContain('### 3/5 Stop etcd on every member — failed');
    expect(md).toContain('Risk: **destructive** · kind: command · on: master-1 (root@10.0.0.11), master-2 (root@10.0.0.12) · took 3 s · confirmed by alice');
    expect(md).toContain('- ⚠ `would-lose-quorum`: would-lose-quorum fails — **overridden** by alice: master-3 is gone for good');
    expect(md).toContain('- ✓ `quorum`: quorum holds');
    expect(md).toContain('### 4/5 Move the static pod manifest — not-applicable');
    expect(md).toContain('### 5/5 Start etcd — pending');
    expect(md).toContain('Error: failed on master-2');
  });

  it('shows the command as run per node in fenced blocks, with exit codes, durations and output', () => {
    expect(md).toContain('**master-1** (root@10.0.0.11) — succeeded, exit 0, 2.5 s\n\n```sh\nsystemctl stop etcd\n```');
    expect(md).toContain('**master-2** (root@10.0.0.12) — failed, exit 5, 3 s');
    expect(md).toContain('Error: Unit etcd.service not loaded');
    // the output holds ``` so its fence is longer
    expect(md).toContain('Output (last lines):\n\n````text\nstopped ``` etcd\n````');
    expect(md).toContain('Not run; the command would be:\n\n```sh\nsystemctl start etcd\n```');
  });

  it('never shows a secret', () => {
    expect(md).not.toContain('hunter2');
    expect(md).toContain('ETCDCTL_PASSWORD=[REDACTED] systemctl stop etcd');
  });

  it('ends with the summary and the final verdict from the last probe', () => {
    expect(md).toContain('| ran | skipped | failed | unknown | not applicable | not reached |\n|---|---|---|---|---|---|\n| 1 | 1 | 1 | 0 | 1 | 1 |');
    expect(md).toContain('Run aborted: step stop-etcd failed.');
    expect(md).toMatch(/Final verdict: \*\*healthy\*\* — all 3 members healthy/);
    expect(md).toContain('Journal: `/var/lib/j/run-1.jsonl`');
  });

  it('says a dry run is one', () => {
    const dry = transcriptMarkdown(run([], { ...run([]), dryRun: true }));
    expect(dry).toContain('> **DRY RUN** — nothing on the cluster was changed');
    expect(dry).toContain('| Mode | dry run |');
  });

  it('marks a step that was running when the tool died as unknown', () => {
    const s = run([
      { type: 'guards-evaluated', at: at(), step: 'check-health', outcomes: [] },
      { type: 'step-started', at: at(), step: 'check-health' },
      { type: 'run-resumed', at: '2025-03-02T08:00:00.000Z', operator: 'bob' },
      { type: 'step-unknown', at: at(), step: 'check-health' },
    ]);
    const text = transcriptMarkdown(s);
    expect(text).toContain('### 1/5 Check cluster health — unknown');
    expect(text).toContain('**Unknown — check before re-running**');
    expect(text).toContain('| Resumed | 2025-03-02T08:00:00.000Z by bob (was in-progress) |');
  });

  it('handles a run with no detection and no probe', () => {
    const text = transcriptMarkdown(run([], { ...run([]), detection: undefined, lastProbe: undefined }));
    expect(text).toContain('No detection was recorded for this run.');
    expect(text).toContain('Final verdict: no probe was recorded.');
    expect(started.runId).toBe('run-20250301-100000');
  });
});

describe('duration', () => {
  it.each([
    ['2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.250Z', '250 ms'],
    ['2025-01-01T00:00:00.000Z', '2025-01-01T00:00:12.340Z', '12.3 s'],
    ['2025-01-01T00:00:00.000Z', '2025-01-01T00:02:05.000Z', '2 min 5 s'],
    ['2025-01-01T00:00:00.000Z', '2025-01-01T01:00:01.000Z', '1 h 0 min 1 s'],
    ['2025-01-01T00:00:01.000Z', '2025-01-01T00:00:00.000Z', '—'],
  ])('%s → %s is %s', (from, to, text) => {
    expect(duration(from, to)).toBe(text);
  });
});

describe('writeTranscript', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes mode 0600 through a temporary name and leaves no temporary behind', () => {
    dir = mkdtempSync(join(tmpdir(), 'transcript-test-'));
    const path = join(dir, 'run-1.md');
    writeTranscript(path, '# one\n');
    writeTranscript(path, '# two\n');
    expect(readFileSync(path, 'utf8')).toBe('# two\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['run-1.md']);
  });

  it('says where it could not write', () => {
    expect(() => writeTranscript('/nonexistent-dir/x.md', '#')).toThrow(/cannot write transcript \/nonexistent-dir\/x\.md/);
  });
});
