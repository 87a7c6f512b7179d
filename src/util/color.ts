/** ANSI colour, off for NO_COLOR (https://no-color.org), --no-color, and pipes. */
export type Color = 'green' | 'yellow' | 'red' | 'magenta' | 'cyan' | 'gray' | 'bold';

const CODES: Record<Color, [number, number]> = {
  green: [32, 39],
  yellow: [33, 39],
  red: [31, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
  bold: [1, 22],
};

export function colorEnabled(flagNoColor: boolean | undefined, stream: { isTTY?: boolean } = process.stdout): boolean {
  if (flagNoColor) return false;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  return Boolean(stream.isTTY);
}

export function paint(text: string, color: Color, enabled: boolean): string {
  if (!enabled) return text;
  const [open, close] = CODES[color];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}
