import { Box, Text } from 'ink';
import { summary } from '../../engine/reducer.js';
import type { ClusterReport } from '../../cluster/types.js';
import { VERDICT_COLOR } from '../../cluster/verdict-text.js';
import type { StepState, StepStatus } from '../../engine/types.js';
import { hardWrap, wordWrap } from '../fit-text.js';
import type { RunOutcome } from '../session.js';
import { useTone } from '../theme.js';

/**
 * The summary: what ran, was skipped, failed; final verdict;
 * journal and transcript. It fits `rows`: the outcome, the counts, the
 * verdict and the paths are always drawn; the list of steps gets what is
 * left — every failed, unknown and skipped step first, then the last steps
 * of the run, and one line counting the steps not shown.
 */
export function SummaryScreen({ outcome, report, columns = 80, rows = 24 }: { outcome: RunOutcome; report?: ClusterReport; columns?: number; rows?: number }) {
  const tone = useTone();
  const { state } = outcome;
  const counts = summary(state);
  const statusColor = state.status === 'succeeded' ? 'green' : 'red';
  const countLines = wordWrap(
    `ran ${counts.ran} · skipped ${counts.skipped} · failed ${counts.failed}` +
      (counts.unknown > 0 ? ` · unknown ${counts.unknown}` : '') +
      (counts.notApplicable > 0 ? ` · not applicable ${counts.notApplicable}` : '') +
      (counts.notReached > 0 ? ` · not reached ${counts.notReached}` : '') +
      ` (of ${counts.total})`,
    columns,
  );
  const journal = hardWrap(`journal:    ${outcome.journal}`, columns);
  const transcript = hardWrap(`transcript: ${outcome.transcript}`, columns);
  const resume = state.status !== 'succeeded' ? wordWrap(`etcd-runbook resume ${outcome.journal} continues it`, columns) : [];
  const fixed = 1 + countLines.length + (report ? 1 : 0) + journal.length + transcript.length + resume.length + 1;
  const list = stepList(state.steps, rows - fixed);
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        Run {state.runId} ({state.runbook.id}): <Text color={tone(statusColor)}>{state.status}</Text>
        {state.abortReason ? ` — ${state.abortReason}` : ''}
      </Text>
      {countLines.map((line, i) => (
        <Text key={i}>{line}</Text>
      ))}
      {list.shown.map((i) => {
        const s = state.steps[i]!;
        const title = state.runbook.steps[i]?.title ?? s.id;
        return (
          <Text key={s.id} wrap="truncate-end">
            {'  '}
            {MARK[s.status] ?? '·'} {i + 1}. {title} <Text dimColor>({s.status}{s.skipReason ? `: ${s.skipReason}` : ''}{s.error ? `: ${s.error}` : ''})</Text>
          </Text>
        );
      })}
      {list.hidden.length > 0 && (
        <Text dimColor wrap="truncate-end">
          {'  '}… {list.hidden.length} more {list.hidden.length === 1 ? 'step' : 'steps'}: {byStatus(list.hidden.map((i) => state.steps[i]!))} (the transcript lists every step)
        </Text>
      )}
      {report && (
        <Text wrap="truncate-end">
          final verdict: <Text color={tone(VERDICT_COLOR[report.verdict.verdict])}>{report.verdict.verdict}</Text> — {report.verdict.summary}
        </Text>
      )}
      {[...journal, ...transcript].map((line, i) => (
        <Text key={i}>{line}</Text>
      ))}
      {resume.map((line, i) => (
        <Text key={i} dimColor>
          {line}
        </Text>
      ))}
      <Text dimColor>q or Enter quits</Text>
    </Box>
  );
}

const MARK: Partial<Record<StepStatus, string>> = { succeeded: '✓', skipped: '↷', failed: '✗', unknown: '?' };

/** Steps an operator must look at after a run: they did not simply run (or were not needed). */
const NOTABLE: ReadonlySet<StepStatus> = new Set<StepStatus>(['failed', 'unknown', 'skipped', 'blocked', 'awaiting-confirmation', 'running']);

/**
 * Which steps (indexes, in order) fit in `room` lines: all of them, or the
 * notable ones and then the last of the run, leaving a line to count the
 * rest.
 */
export function stepList(steps: StepState[], room: number): { shown: number[]; hidden: number[] } {
  const all = steps.map((_, i) => i);
  if (steps.length <= room) return { shown: all, hidden: [] };
  const slots = Math.max(0, room - 1);
  const chosen = new Set(all.filter((i) => NOTABLE.has(steps[i]!.status)).slice(0, slots));
  for (let i = steps.length - 1; i >= 0 && chosen.size < slots; i--) chosen.add(i);
  return { shown: all.filter((i) => chosen.has(i)), hidden: all.filter((i) => !chosen.has(i)) };
}

/** "23 succeeded · 2 not-applicable". */
function byStatus(steps: StepState[]): string {
  const counts = new Map<string, number>();
  for (const s of steps) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} ${status === 'pending' ? 'not reached' : status}`).join(' · ');
}
