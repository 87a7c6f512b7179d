/** Seconds with one decimal: timings an operator reads ("1.2 s"). */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** "1200", "1200ms", "2s" → milliseconds; undefined passes through. */
export function parseDuration(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (!match) throw new Error(`${flag} ${text}: expected a duration like 1200ms or 2s`);
  const value = Number(match[1]);
  return Math.round(match[2] === 's' ? value * 1000 : value);
}
