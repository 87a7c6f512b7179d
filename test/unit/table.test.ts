import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { displayWidth, humanBytes, renderTable, type Column } from '../../src/util/table.js';

interface Row {
  name: string;
  endpoint: string;
  size: number;
  note: string;
}

const rows: Row[] = [
  { name: 'master-1', endpoint: 'https://10.0.0.1:2379', size: 20_480, note: 'leader' },
  { name: 'master-2', endpoint: 'https://10.0.0.2:2379', size: 1_234_567, note: '' },
];

const columns: Array<Column<Row>> = [
  { header: 'NAME', priority: 0, value: (r) => r.name },
  { header: 'ENDPOINT', priority: 1, value: (r) => r.endpoint },
  { header: 'NOTE', priority: 9, value: (r) => r.note },
  { header: 'DB SIZE', priority: 5, value: (r) => humanBytes(r.size), align: 'right' },
];

function headersOf(table: string): string[] {
  const header = table.split('\n')[1] ?? '';
  return header
    .split('|')
    .slice(1, -1)
    .map((h) => h.trim());
}

function widths(table: string): number[] {
  return table.split('\n').map(displayWidth);
}

describe('renderTable', () => {
  it('renders an etcdctl-style table: borders, centred headers, left and right alignment', () => {
    expect(renderTable(columns, rows)).toBe(
      [
        '+----------+-----------------------+--------+---------+',
        '|   NAME   |       ENDPOINT        |  NOTE  | DB SIZE |',
        '+----------+-----------------------+--------+---------+',
        '| master-1 | https://10.0.0.1:2379 | leader |   20 kB |',
        '| master-2 | https://10.0.0.2:2379 |        |  1.2 MB |',
        '+----------+-----------------------+--------+---------+',
      ].join('\n'),
    );
  });

  it('keeps every column when the width is unlimited (the default)', () => {
    expect(headersOf(renderTable(columns, rows))).toEqual(['NAME', 'ENDPOINT', 'NOTE', 'DB SIZE']);
    expect(headersOf(renderTable(columns, rows, Infinity))).toEqual(['NAME', 'ENDPOINT', 'NOTE', 'DB SIZE']);
  });

  it('keeps every column when the table exactly fits', () => {
    const full = renderTable(columns, rows);
    const width = displayWidth(full.split('\n')[0] ?? '');
    expect(width).toBe(55);
    expect(renderTable(columns, rows, width)).toBe(full);
  });

  it('drops the highest-priority-number column first, even when it is neither the widest nor the last', () => {
    const table = renderTable(columns, rows, 54);
    expect(headersOf(table)).toEqual(['NAME', 'ENDPOINT', 'DB SIZE']);
    expect(Math.max(...widths(table))).toBeLessThanOrEqual(54);
  });

  it('drops whole columns one at a time, in priority order, until the table fits', () => {
    expect(headersOf(renderTable(columns, rows, 46))).toEqual(['NAME', 'ENDPOINT', 'DB SIZE']);
    expect(headersOf(renderTable(columns, rows, 45))).toEqual(['NAME', 'ENDPOINT']);
    expect(headersOf(renderTable(columns, rows, 36))).toEqual(['NAME', 'ENDPOINT']);
    expect(headersOf(renderTable(columns, rows, 35))).toEqual(['NAME']);
  });

  it('drops only as many columns as it needs when several share the highest number', () => {
    const tied: Array<Column<Row>> = [
      { header: 'NAME', priority: 0, value: (r) => r.name },
      { header: 'A', priority: 4, value: () => 'aaaa' },
      { header: 'B', priority: 4, value: () => 'bbbb' },
    ];
    const full = renderTable(tied, rows);
    const width = displayWidth(full.split('\n')[0] ?? '');
    const table = renderTable(tied, rows, width - 1);
    expect(headersOf(table)).toHaveLength(2);
    expect(headersOf(table)[0]).toBe('NAME');
  });

  it('never wraps or truncates: below the narrowest column it keeps the most important column whole', () => {
    const table = renderTable(columns, rows, 5);
    expect(headersOf(table)).toEqual(['NAME']);
    expect(table.split('\n')).toEqual([
      '+----------+',
      '|   NAME   |',
      '+----------+',
      '| master-1 |',
      '| master-2 |',
      '+----------+',
    ]);
  });

  it('never wraps: one line per row plus header and three borders, at every width', () => {
    for (const width of [Infinity, 80, 54, 45, 40, 30, 10, 1]) {
      const lines = renderTable(columns, rows, width).split('\n');
      expect(lines).toHaveLength(rows.length + 4);
      expect(new Set(widths(lines.join('\n'))).size).toBe(1);
    }
  });

  it('renders a header-only table for no rows', () => {
    expect(renderTable(columns.slice(0, 2), [])).toBe(
      ['+------+----------+', '| NAME | ENDPOINT |', '+------+----------+', '+------+----------+'].join('\n'),
    );
  });

  it('keeps borders aligned for unicode names: every line has the same display width', () => {
    const unicode: Row[] = [
      { name: 'mäster-ü', endpoint: 'https://[fd00::1]:2379', size: 1, note: 'ñ' },
      { name: 'мастер-2', endpoint: 'https://10.0.0.2:2379', size: 2, note: '' },
      { name: 'ετcd', endpoint: 'https://10.0.0.3:2379', size: 3, note: 'Ω' },
      { name: '𝔪𝔞𝔰𝔱𝔢𝔯', endpoint: 'https://10.0.0.4:2379', size: 4, note: 'astral plane: two UTF-16 units each' },
    ];
    for (const width of [Infinity, 60, 30]) {
      const table = renderTable(columns, unicode, width);
      expect(new Set(widths(table)).size).toBe(1);
      expect(table).toContain('| 𝔪𝔞𝔰𝔱𝔢𝔯   |');
    }
  });

  // What an operator sees: the table written to a terminal. Wide (CJK)
  // characters take two columns and combining accents none, so counting code
  // points misaligns the right border for such names.
  it.each([
    ['wide CJK characters', '主节点-1'],
    ['a combining accent', 'e\u0301tcd-1'],
  ])('keeps the right border in one terminal column for names with %s', async (_what, name) => {
    const table = renderTable(columns.slice(0, 2), [{ ...rows[0]!, name }, rows[1]!]);
    const lastBorderColumns = await rightBorderColumns(table);
    expect(new Set(lastBorderColumns).size).toBe(1);
  });
});

describe('displayWidth', () => {
  it('counts code points, not UTF-16 units', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('𝔪𝔞')).toBe(2);
    expect('𝔪𝔞'.length).toBe(4);
    expect(displayWidth('')).toBe(0);
  });
});

describe('humanBytes', () => {
  it.each<[number | undefined, string]>([
    [undefined, ''],
    [Number.NaN, ''],
    [Number.POSITIVE_INFINITY, ''],
    [0, '0 B'],
    [1, '1 B'],
    [999, '999 B'],
    [1000, '1.0 kB'],
    [1500, '1.5 kB'],
    [20_480, '20 kB'],
    [999_000, '999 kB'],
    [1_000_000, '1.0 MB'],
    [1_234_567, '1.2 MB'],
    [2_147_483_648, '2.1 GB'],
    [8_000_000_000, '8.0 GB'],
    [1e12, '1.0 TB'],
    [1e15, '1000 TB'],
  ])('shows %s bytes as %j, in SI units like etcdctl', (bytes, text) => {
    expect(humanBytes(bytes)).toBe(text);
  });
});

/** The terminal column of each line's last border character, as xterm lays it out. */
async function rightBorderColumns(table: string): Promise<number[]> {
  const require = createRequire(import.meta.url);
  const { Terminal } = require('@xterm/headless') as typeof import('@xterm/headless');
  const lines = table.split('\n');
  const term = new Terminal({ cols: 200, rows: lines.length + 2, allowProposedApi: true });
  await new Promise<void>((resolve) => term.write(lines.join('\r\n'), resolve));
  const columnsSeen: number[] = [];
  for (let y = 0; y < lines.length; y++) {
    const line = term.buffer.active.getLine(y);
    let last = -1;
    for (let x = 0; line && x < line.length; x++) {
      const chars = line.getCell(x)?.getChars();
      if (chars === '|' || chars === '+') last = x;
    }
    columnsSeen.push(last);
  }
  term.dispose();
  return columnsSeen;
}
