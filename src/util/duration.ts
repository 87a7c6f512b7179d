/** Seconds with one decimal: timings an operator reads ("1.2 s"). */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
