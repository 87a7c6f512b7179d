import stringWidth from 'string-width';

/**
 * etcdctl-style ASCII tables (`-w table`), narrowed to the terminal: when the
 * full table does not fit, the least important columns are dropped whole —
 * a table is compacted, never wrapped or garbled.
 */
export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
  /** lower is more important; columns are dropped from the highest priority down */
  priority: number;
  align?: 'left' | 'right';
}

export function renderTable<Row>(columns: Array<Column<Row>>, rows: Row[], maxWidth = Infinity): string {
  let shown = [...columns];
  let cells = rows.map((row) => shown.map((c) => c.value(row)));
  while (tableWidth(shown, cells) > maxWidth && shown.length > 1) {
    const drop = shown.reduce((worst, c) => (c.priority > worst.priority ? c : worst));
    const index = shown.indexOf(drop);
    shown = shown.filter((_, i) => i !== index);
    cells = cells.map((line) => line.filter((_, i) => i !== index));
  }
  const widths = shown.map((c, i) => Math.max(displayWidth(c.header), ...cells.map((line) => displayWidth(line[i] ?? ''))));
  const border = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const header = '|' + shown.map((c, i) => ` ${center(c.header, widths[i] ?? 0)} `).join('|') + '|';
  const body = cells.map((line) => '|' + line.map((cell, i) => ` ${pad(cell, widths[i] ?? 0, shown[i]?.align ?? 'left')} `).join('|') + '|');
  return [border, header, border, ...body, border].join('\n');
}

function tableWidth<Row>(columns: Array<Column<Row>>, cells: string[][]): number {
  const widths = columns.map((c, i) => Math.max(displayWidth(c.header), ...cells.map((line) => displayWidth(line[i] ?? ''))));
  return widths.reduce((sum, w) => sum + w + 3, 1);
}

/**
 * Terminal columns, not code points: member names may be CJK (two columns a
 * character) or carry combining accents (none). string-width is what ink
 * itself measures with.
 */
export function displayWidth(text: string): number {
  return stringWidth(text);
}

function pad(text: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return align === 'right' ? fill + text : text + fill;
}

function center(text: string, width: number): string {
  const total = Math.max(0, width - displayWidth(text));
  const left = Math.floor(total / 2);
  return ' '.repeat(left) + text + ' '.repeat(total - left);
}

/** Bytes as etcdctl shows DB sizes: "20 kB", "1.2 MB". */
export function humanBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
