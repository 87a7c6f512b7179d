import { Box, Text } from 'ink';
import { summary } from '../../engine/reducer.js';
import type { ClusterReport } from '../../cluster/types.js';
import { VERDICT_COLOR } from '../../cluster/verdict-text.js';
import type { RunOutcome } from '../session.js';
import { useTone } from '../theme.js';

/** The summary (DESIGN §8.4): what ran, was skipped, failed; final verdict; journal and transcript. */
export function SummaryScreen({ outcome, report }: { outcome: RunOutcome; report?: ClusterReport }) {
  const tone = useTone();
  const { state } = outcome;
  const counts = summary(state);
  const statusColor = state.status === 'succeeded' ? 'green' : 'red';
  return (
    <Box flexDirection="column">
      <Text bold>
        Run {state.runId} ({state.runbook.id}): <Text color={tone(statusColor)}>{state.status}</Text>
        {state.abortReason ? ` — ${state.abortReason}` : ''}
      </Text>
      <Text>
        ran {counts.ran} · skipped {counts.skipped} · failed {counts.failed}
        {counts.unknown > 0 ? ` · unknown ${counts.unknown}` : ''}
        {counts.notApplicable > 0 ? ` · not applicable ${counts.notApplicable}` : ''}
        {counts.notReached > 0 ? ` · not reached ${counts.notReached}` : ''} (of {counts.total})
      </Text>
      {state.steps.map((s, i) => {
        const title = state.runbook.steps[i]?.title ?? s.id;
        const mark = s.status === 'succeeded' ? '✓' : s.status === 'skipped' ? '↷' : s.status === 'failed' ? '✗' : s.status === 'unknown' ? '?' : '·';
        return (
          <Text key={s.id} wrap="truncate-end">
            {'  '}
            {mark} {i + 1}. {title} <Text dimColor>({s.status}{s.skipReason ? `: ${s.skipReason}` : ''}{s.error ? `: ${s.error}` : ''})</Text>
          </Text>
        );
      })}
      {report && (
        <Text wrap="truncate-end">
          final verdict: <Text color={tone(VERDICT_COLOR[report.verdict.verdict])}>{report.verdict.verdict}</Text> — {report.verdict.summary}
        </Text>
      )}
      <Text>journal:    {outcome.journal}</Text>
      <Text>transcript: {outcome.transcript}</Text>
      {state.status !== 'succeeded' && <Text dimColor>etcd-runbook resume {outcome.journal} continues it</Text>}
      <Text dimColor>q or Enter quits</Text>
    </Box>
  );
}
