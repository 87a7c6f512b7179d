import { afterEach, describe, expect, it } from 'vitest';
import { confirmThrough, KEYS, PtyCli } from '../helpers/pty.js';
import { expectNothingLeft } from './drill-helpers.js';

/**
 * The drill as a new user meets it, in a real pseudo-terminal, on lab nodes: the fault's
 * verdict in the interactive view, the recommended runbook opened with
 * Enter, each step confirmed with the keys an operator types (the member's
 * name for the destructive removal), the summary, and then the drill's
 * report — healthy, every sample key intact — with nothing left running.
 */

describe('drill in the pseudo-terminal', () => {
  let cli: PtyCli | undefined;
  afterEach(() => cli?.kill());

  async function rehearse(fault: string, runbook: string, rows = 24): Promise<string> {
    cli = new PtyCli(['drill', '--fault', fault], { env: { NO_COLOR: '1' }, rows, cols: 80 });
    const screen = await cli.waitFor(new RegExp(`❯ ${runbook} \\(recommended\\)`), 90_000);
    const labDir = /lab: (\/\S+)/.exec(cli.raw)?.[1];
    expect(labDir, cli.raw).toBeDefined();
    expect(screen).toMatch(/verdict: (minority|quorum)-lost/);
    await cli.type(KEYS.enter);
    await cli.waitFor(/Step 1 of \d+:/);
    await confirmThrough(cli, 120_000);
    const summary = await cli.waitFor('transcript:');
    expect(summary).toMatch(/succeeded/);
    await cli.type('q');
    const report = await cli.waitFor(/drill (passed|FAILED)/, 30_000);
    expect(report).toContain('300/300 sample keys intact');
    expect(report).toMatch(/operator\s+\d+\.\d s/);
    expect(report).toContain('drill passed');
    expect(await cli.exit()).toBe(0);
    await expectNothingLeft(labDir as string);
    return report;
  }

  it('minority: replace-member stepped through with typed confirmations, then healthy and nothing left running', async () => {
    const report = await rehearse('minority', 'replace-member');
    expect(report).toMatch(/time from fault to healthy: \d+\.\d s/);
  }, 180_000);

  it('quorum: restore-quorum stepped through with typed confirmations, then healthy and nothing left running', async () => {
    // 80x24: restore-quorum's data-dir step (ten guards over three nodes) condenses its passing guards
    await rehearse('quorum', 'restore-quorum');
  }, 180_000);

  it('--runbook single-survivor for quorum opens straight at its first step; aborted there, the drill fails with exit 5 and nothing is left', async () => {
    cli = new PtyCli(['drill', '--fault', 'quorum', '--runbook', 'single-survivor'], { env: { NO_COLOR: '1' } });
    // the keys are live once the step says it waits for the operator
    await cli.waitFor((screen) => /Step 1 of \d+: Make sure etcd stays down on every member but m1/.test(screen) && /ready: waiting for you/.test(screen) && /a abort/.test(screen), 90_000);
    const labDir = /lab: (\/\S+)/.exec(cli.raw)?.[1];
    expect(labDir, cli.raw).toBeDefined();
    await cli.type('a');
    await cli.waitFor('Abort the run here?');
    await cli.type('y');
    await cli.waitFor('transcript:', 30_000);
    await cli.type('q');
    const report = await cli.waitFor(/drill (passed|FAILED)/, 30_000);
    expect(report).toMatch(/runbook\s+single-survivor: run aborted/);
    expect(report).toContain('drill FAILED');
    expect(await cli.exit()).toBe(5);
    await expectNothingLeft(labDir as string);
  }, 150_000);

  it('without --fault it asks which scenario; digits select nothing, q leaves before anything starts', async () => {
    cli = new PtyCli(['drill'], { env: { NO_COLOR: '1' } });
    const picker = await cli.waitFor('Which failure to rehearse');
    expect(picker).toMatch(/❯ minority — a member dies/);
    expect(picker).toContain('verdict quorum-lost → runbook restore-quorum');
    await cli.type('2', '5', '1');
    await cli.type(KEYS.down);
    await cli.waitFor(/❯ quorum — /);
    expect(cli.raw).not.toContain('starting a');
    await cli.type('q');
    expect(await cli.exit()).toBe(130);
    expect(cli.raw).not.toContain('starting a');
  }, 30_000);
});
