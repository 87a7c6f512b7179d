/**
 * One benchmark figure: the tool against a baseline measured in the same run,
 * so the ratio means something on a shared, noisy machine.
 */
export interface BenchRow {
  name: string;
  /** what the baseline is, e.g. "scp to 2 hosts" */
  baseline: string;
  baselineValue: number;
  toolValue: number;
  unit: string;
  /** toolValue / baselineValue, or the inverse where higher is better: say which in notes */
  ratio: number;
  target?: string;
  notes?: string;
}
