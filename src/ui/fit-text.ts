import { displayWidth } from '../util/table.js';

/**
 * Text cut to terminal columns with exact line counts, so a screen's layout
 * can be planned before Ink draws it (a frame taller than the terminal
 * scrolls its top lines away).
 */

/** Cut a line into pieces of at most `columns` terminal columns (no word wrap: the line count is exact). */
export function hardWrap(line: string, columns: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let width = 0;
  for (const char of line) {
    const w = displayWidth(char);
    if (width + w > columns && piece) {
      pieces.push(piece);
      piece = '';
      width = 0;
    }
    piece += char;
    width += w;
  }
  if (piece || pieces.length === 0) pieces.push(piece);
  return pieces;
}

/**
 * Wrap text at word boundaries into at most `maxLines` lines of `columns`
 * terminal columns; what does not fit ends the last line with "…" after a
 * whole word. Only a single word wider than the line is cut inside.
 */
export function wordWrap(text: string, columns: number, maxLines = Infinity): string[] {
  const width = Math.max(1, columns);
  const words = text.split(/\s+/).filter(Boolean).flatMap((w) => (displayWidth(w) > width ? hardWrap(w, width) : [w]));
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    const next = line ? `${line} ${word}` : word;
    if (displayWidth(next) <= width) {
      line = next;
      continue;
    }
    lines.push(line);
    line = word;
  }
  if (line || lines.length === 0) lines.push(line);
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, Math.max(1, maxLines));
  kept[kept.length - 1] = ellipsize(`${kept[kept.length - 1]} ${lines[kept.length]}`, width);
  return kept;
}

/** One line of at most `columns`, cut after a whole word with "…" when it is longer. */
export function ellipsize(text: string, columns: number): string {
  if (displayWidth(text) <= columns) return text;
  const room = Math.max(0, columns - 1);
  let cut = '';
  for (const word of text.split(' ')) {
    const next = cut ? `${cut} ${word}` : word;
    if (displayWidth(next) > room) break;
    cut = next;
  }
  // one word longer than the line: there is no boundary to cut at
  if (!cut) cut = hardWrap(text, room)[0] ?? '';
  return `${cut.replace(/[\s,;:·—-]+$/, '')}…`;
}
