import type { Color } from '../util/color.js';
import type { Verdict, VerdictResult } from './types.js';
import { ExitCode } from '../util/errors.js';

/** The exit code `status` ends with, by verdict (scripts branch on it). */
export const EXIT_CODE_FOR: Record<Verdict, number> = {
  healthy: ExitCode.healthy,
  'minority-lost': ExitCode.minorityLost,
  'quorum-lost': ExitCode.quorumLost,
  'split-brain': ExitCode.splitBrain,
  unreachable: ExitCode.configError,
  alarm: ExitCode.alarm,
};

export const VERDICT_COLOR: Record<Verdict, Color> = {
  healthy: 'green',
  'minority-lost': 'yellow',
  'quorum-lost': 'red',
  'split-brain': 'magenta',
  unreachable: 'red',
  alarm: 'red',
};

/** The verdict block under the table: headline, evidence, warnings, what to do. */
export function verdictLines(verdict: VerdictResult): string[] {
  const lines = [`verdict: ${verdict.verdict} — ${verdict.summary}`];
  for (const line of verdict.evidence) lines.push(`  · ${line}`);
  for (const line of verdict.warnings) lines.push(`  ! ${line}`);
  if (verdict.recommendedRunbook) {
    const others = verdict.alternatives.length > 0 ? ` (also: ${verdict.alternatives.join(', ')})` : '';
    lines.push(`recommended runbook: ${verdict.recommendedRunbook}${others}`);
  }
  if (verdict.advice) lines.push(`what to do: ${verdict.advice}`);
  return lines;
}
