import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup } from 'ink-testing-library';
import { DetectionScreen } from '../../src/ui/detection/detection-screen.js';
import { fakeCluster, reportOf } from '../helpers/probes.js';
import { frameMatching } from './harness.js';

const cluster = fakeCluster({ voting: 3 });
const minorityLost = reportOf([cluster.up(0), cluster.up(1), cluster.down(2)]);
const targets = minorityLost.endpoints.map((p, i) => ({ name: `m${i + 1}`, endpoint: p.endpoint }));

afterEach(() => cleanup());

describe('detection screen', () => {
  it('shows a spinner line per member while the probe runs', async () => {
    const app = render(<DetectionScreen targets={targets} columns={100} />);
    const frame = await frameMatching(app, 'Probing 3 etcd members');
    for (const t of targets) expect(frame).toContain(`${t.name} ${t.endpoint}`);
    // a spinner glyph (dots) before each member
    expect(frame.split('\n').filter((l) => /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] /.test(l))).toHaveLength(3);
  });

  it('then the health table and the verdict with its evidence in operator words', async () => {
    const app = render(<DetectionScreen targets={targets} report={minorityLost} columns={100} />);
    const frame = await frameMatching(app, 'verdict:');
    expect(frame).toMatch(/\|\s+NAME\s+\|.*\|\s+HEALTH\s+\|/);
    expect(frame).toMatch(/\| master-1 .*\| healthy /);
    expect(frame).toMatch(/unreachable/);
    expect(frame.replace(/\s*\n/g, ' ')).toContain('verdict: minority-lost — 1 of 3 members unreachable: quorum held (2 of 3 voting members healthy, 2 needed)');
    expect(frame.replace(/\s*\n/g, ' ')).toMatch(/· master-3 .*unreachable: connection refused/);
    // the proposal is the picker's, not repeated here
    expect(frame).not.toContain('recommended runbook:');
  });

  it('on a narrow terminal the table drops columns whole and no line is wider than the terminal', async () => {
    const app = render(<DetectionScreen targets={targets} report={minorityLost} columns={60} />);
    const frame = await frameMatching(app, 'verdict:');
    const table = frame.split('\n').filter((l) => l.startsWith('|') || l.startsWith('+'));
    expect(table.length).toBeGreaterThan(4);
    for (const line of table) expect(line.length).toBeLessThanOrEqual(60);
    expect(frame).not.toContain('RAFT APPLIED INDEX');
    expect(frame).toContain('HEALTH');
  });

  it('says which nodes were inferred rather than read, after the verdict', async () => {
    const note = "inferred: master-2 (10.0.0.2), master-3 (10.0.0.3): reached over SSH at their peer URL's host";
    const app = render(<DetectionScreen targets={targets} report={minorityLost} columns={100} notes={[note]} />);
    const frame = (await frameMatching(app, 'inferred:')).replace(/\s*\n/g, ' ');
    expect(frame).toContain(note);
    expect(frame.indexOf('verdict:')).toBeLessThan(frame.indexOf('inferred:'));
  });

  it('says when detection itself failed', async () => {
    const app = render(<DetectionScreen targets={targets} error="no endpoint answered" columns={100} />);
    expect(await frameMatching(app, 'detection failed')).toContain('no endpoint answered');
  });
});
