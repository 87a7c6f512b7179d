import { describe, expect, it } from 'vitest';
import { healthTable, healthWord } from '../../src/cluster/report-table.js';
import { displayWidth } from '../../src/util/table.js';
import { IDS, NO_LEADER, REFUSED, fakeCluster, reportOf } from '../helpers/probes.js';

const ALL_HEADERS = [
  'NAME',
  'ENDPOINT',
  'HEALTH',
  'ID',
  'VERSION',
  'DB SIZE',
  'IS LEADER',
  'IS LEARNER',
  'RAFT TERM',
  'RAFT INDEX',
  'RAFT APPLIED INDEX',
  'LATENCY',
  'ERRORS',
];

function headersOf(table: string): string[] {
  return (table.split('\n')[1] ?? '')
    .split('|')
    .slice(1, -1)
    .map((h) => h.trim());
}

/** the body row whose cells include `text`, as trimmed cells keyed by header */
function rowWith(table: string, text: string): Record<string, string> {
  const headers = headersOf(table);
  const line = table.split('\n').slice(3, -1).find((l) => l.includes(text));
  if (!line) throw new Error(`no row with ${text} in\n${table}`);
  const cells = line.split('|').slice(1, -1).map((c) => c.trim());
  return Object.fromEntries(headers.map((h, i) => [h, cells[i] ?? '']));
}

function oneMemberDown() {
  const c = fakeCluster({ voting: 3 });
  return reportOf([c.up(0), c.up(1), c.down(2, { expectedName: 'master-3' })]);
}

describe('healthTable', () => {
  it("shows an unreachable member as 'unreachable' with its error", () => {
    const table = healthTable(oneMemberDown());
    expect(headersOf(table)).toEqual(ALL_HEADERS);
    expect(rowWith(table, 'master-3')).toEqual({
      NAME: 'master-3',
      ENDPOINT: 'https://10.0.0.3:2379',
      HEALTH: 'unreachable',
      ID: '',
      VERSION: '',
      'DB SIZE': '',
      'IS LEADER': '',
      'IS LEARNER': '',
      'RAFT TERM': '',
      'RAFT INDEX': '',
      'RAFT APPLIED INDEX': '',
      LATENCY: '1 ms',
      ERRORS: REFUSED,
    });
  });

  it('shows live members as etcdctl endpoint status does, leader marked', () => {
    const table = healthTable(oneMemberDown());
    expect(rowWith(table, 'master-1')).toEqual({
      NAME: 'master-1',
      ENDPOINT: 'https://10.0.0.1:2379',
      HEALTH: 'healthy',
      ID: IDS[0],
      VERSION: '3.5.21',
      'DB SIZE': '20 kB',
      'IS LEADER': 'true',
      'IS LEARNER': 'false',
      'RAFT TERM': '7',
      'RAFT INDEX': '18230',
      'RAFT APPLIED INDEX': '18230',
      LATENCY: '3 ms',
      ERRORS: '',
    });
    expect(rowWith(table, 'master-2')['IS LEADER']).toBe('false');
  });

  it('leaves out the ERRORS column when no endpoint has an error', () => {
    const c = fakeCluster({ voting: 3 });
    const table = healthTable(reportOf([c.up(0), c.up(1), c.up(2)]));
    expect(headersOf(table)).toEqual(ALL_HEADERS.filter((h) => h !== 'ERRORS'));
  });

  it('lists health errors, member errors and alarms in ERRORS', () => {
    const c = fakeCluster({ voting: 3 });
    const table = healthTable(
      reportOf([c.up(0, { alarms: [{ alarm: 'NOSPACE', memberId: c.id(0) }], memberErrors: ['slow fdatasync'] }), c.up(1), c.stranded(2)]),
    );
    expect(rowWith(table, 'master-1').ERRORS).toBe('slow fdatasync, alarm:NOSPACE');
    expect(rowWith(table, 'master-3')).toMatchObject({ HEALTH: 'unhealthy', ERRORS: NO_LEADER, 'IS LEADER': 'false' });
  });

  it('shows an alarm on the row of the member it was raised on, not on every member that reports it', () => {
    const c = fakeCluster({ voting: 3 });
    const alarms = [{ alarm: 'NOSPACE', memberId: c.id(1) }];
    const table = healthTable(reportOf([c.up(0, { alarms }), c.up(1, { alarms }), c.up(2, { alarms })]));
    expect(rowWith(table, 'master-2').ERRORS).toBe('alarm:NOSPACE');
    expect(rowWith(table, 'master-1').ERRORS).toBe('');
    expect(rowWith(table, 'master-3').ERRORS).toBe('');
  });

  it('marks a learner', () => {
    const c = fakeCluster({ voting: 3, learners: 1 });
    const table = healthTable(reportOf([c.up(0), c.up(1), c.up(2), c.up(3)]));
    expect(rowWith(table, 'learner-1')['IS LEARNER']).toBe('true');
  });

  it.each([80, 40])('at %i columns drops columns but keeps NAME and HEALTH, and the unreachable row', (width) => {
    const table = healthTable(oneMemberDown(), width);
    const lines = table.split('\n');
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(width);
    expect(new Set(lines.map(displayWidth)).size).toBe(1);
    const headers = headersOf(table);
    expect(headers).toContain('NAME');
    expect(headers).toContain('HEALTH');
    expect(headers.length).toBeLessThan(ALL_HEADERS.length);
    expect(rowWith(table, 'master-3').HEALTH).toBe('unreachable');
    expect(lines).toHaveLength(3 + 4);
  });

  it('at 80 columns keeps the most important columns in priority order', () => {
    const headers = headersOf(healthTable(oneMemberDown(), 80));
    expect(headers.slice(0, 3)).toEqual(['NAME', 'ENDPOINT', 'HEALTH']);
    expect(headers).not.toContain('RAFT APPLIED INDEX');
    expect(headers).not.toContain('IS LEARNER');
    expect(headers).not.toContain('VERSION');
  });

  it('at 40 columns is down to NAME and HEALTH', () => {
    expect(headersOf(healthTable(oneMemberDown(), 40))).toEqual(['NAME', 'HEALTH']);
  });

  it('names an endpoint after the inventory when the probe got no name', () => {
    const c = fakeCluster({ voting: 1 });
    const table = healthTable(reportOf([c.down(0, { expectedName: 'etcd-a' })]));
    expect(rowWith(table, 'etcd-a').HEALTH).toBe('unreachable');
  });
});

describe('healthWord', () => {
  it('says healthy, unhealthy (answers, no linearizable read) or unreachable', () => {
    const c = fakeCluster({ voting: 3 });
    expect(healthWord(c.up(0))).toBe('healthy');
    expect(healthWord(c.stranded(1))).toBe('unhealthy');
    expect(healthWord(c.down(2))).toBe('unreachable');
  });
});
