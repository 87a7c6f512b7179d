import { describe, expect, it } from 'vitest';
import { ellipsize, hardWrap, wordWrap } from '../../src/ui/fit-text.js';
import { planStepView, type LayoutInput } from '../../src/ui/step-view/layout.js';

describe('text fitted to terminal columns', () => {
  it('wordWrap breaks at spaces and ends a cut text after a whole word with …', () => {
    expect(wordWrap('why: stop every member before the restore', 20)).toEqual(['why: stop every', 'member before the', 'restore']);
    expect(wordWrap('why: stop every member before the restore', 20, 2)).toEqual(['why: stop every', 'member before the…']);
    expect(wordWrap('short', 20, 2)).toEqual(['short']);
  });

  it('only a word wider than the line is cut inside', () => {
    expect(wordWrap('at /var/lib/etcd-backup/snapshot.db now', 12)).toEqual(['at', '/var/lib/etc', 'd-backup/sna', 'pshot.db now']);
    expect(ellipsize('/var/lib/etcd-backup/snapshot.db', 10)).toBe('/var/lib/…');
  });

  it('ellipsize keeps a line that fits and drops a dangling separator before …', () => {
    expect(ellipsize('Step 1 of 5: Stop etcd', 30)).toBe('Step 1 of 5: Stop etcd');
    expect(ellipsize('Step 1 of 5: Stop etcd on every member', 16)).toBe('Step 1 of 5…');
  });

  it('hardWrap counts columns, not characters (wide characters take two)', () => {
    expect(hardWrap('abcdef', 4)).toEqual(['abcd', 'ef']);
    expect(hardWrap('节点节点', 4)).toEqual(['节点', '节点']);
  });
});

describe('the step view layout', () => {
  const base: LayoutInput = { rows: 22, fixed: 8, commandLines: 10, failing: 0, passing: 16, check: false, nodes: 5, outputLines: 0 };
  const used = (input: LayoutInput) => {
    const l = planStepView(input);
    const guards = l.passingListed ? input.passing : l.passingSummary ? 1 : 0;
    const failing = l.failingListed + (l.failingMore ? 1 : 0);
    const nodes = l.nodesListed ? input.nodes : l.nodesSummary ? 1 : 0;
    return input.fixed + l.commands + failing + guards + (l.check ? 1 : 0) + nodes + (l.pane > 0 ? l.pane + 1 : 0);
  };

  it('16 passing guards condense to a line; what they leave goes to nodes, commands and output', () => {
    const l = planStepView(base);
    expect(l.passingListed).toBe(false);
    expect(l.passingSummary).toBe(true);
    expect(l.nodesListed).toBe(true);
    expect(used(base)).toBeLessThanOrEqual(base.rows);
  });

  it('with room, every guard and node is listed', () => {
    const tall = { ...base, rows: 50 };
    const l = planStepView(tall);
    expect(l.passingListed && l.nodesListed).toBe(true);
    expect(l.commands).toBe(6);
    expect(used(tall)).toBeLessThanOrEqual(tall.rows);
  });

  it('failing guards are listed before anything else; too many are counted on a last line', () => {
    const blocked = { ...base, failing: 3, passing: 13 };
    expect(planStepView(blocked)).toMatchObject({ failingListed: 3, failingMore: false, passingSummary: true });
    const short = { ...base, rows: 14, failing: 8 };
    const l = planStepView(short);
    expect(l).toMatchObject({ failingMore: true, passingSummary: false, nodesSummary: false, pane: 0 });
    expect(used(short)).toBeLessThanOrEqual(short.rows);
  });

  it('a step with output keeps a few lines of it ahead of the long lists, and the pane may be 0 lines', () => {
    const running = { ...base, outputLines: 40 };
    const l = planStepView(running);
    expect(l.pane).toBeGreaterThanOrEqual(3);
    expect(used(running)).toBeLessThanOrEqual(running.rows);
    expect(planStepView({ ...base, rows: 12 }).pane).toBe(0);
  });
});
