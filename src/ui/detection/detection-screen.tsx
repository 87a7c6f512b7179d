import { Box, Text } from 'ink';
import Spinner from 'ink-spinner';
import type { ClusterReport } from '../../cluster/types.js';
import { VERDICT_COLOR, verdictLines } from '../../cluster/verdict-text.js';
import { HealthTable } from '../health-table/health-table.js';
import type { ProbeTargetView } from '../session.js';
import { useTone } from '../theme.js';

export interface DetectionScreenProps {
  targets: ProbeTargetView[];
  /** undefined while the first probe runs */
  report?: ClusterReport;
  changed?: Record<string, string>;
  error?: string;
  columns: number;
  /** lines about the description itself (nodes inferred), after the evidence */
  notes?: string[];
}

/**
 * Discovery/detection: a spinner per member while probing,
 * then the health table and the verdict with its evidence.
 */
export function DetectionScreen({ targets, report, changed, error, columns, notes = [] }: DetectionScreenProps) {
  const tone = useTone();
  if (error) {
    return (
      <Box flexDirection="column">
        <Text color={tone('red')}>detection failed: {error}</Text>
        <Text dimColor>q quits</Text>
      </Box>
    );
  }
  if (!report) {
    return (
      <Box flexDirection="column">
        <Text bold>Probing {targets.length} etcd member{targets.length === 1 ? '' : 's'} in parallel…</Text>
        {targets.map((t) => (
          <Text key={t.endpoint}>
            <Text color={tone('cyan')}>
              <Spinner type="dots" />
            </Text>{' '}
            {t.name} <Text dimColor>{t.endpoint}</Text>
          </Text>
        ))}
      </Box>
    );
  }
  const [headline = '', ...rest] = verdictLines(report.verdict);
  // the recommendation is the picker's job, not a line here
  const evidence = rest.filter((line) => !line.startsWith('recommended runbook:'));
  return (
    <Box flexDirection="column">
      <HealthTable report={report} changed={changed} columns={columns} />
      <Text bold color={tone(VERDICT_COLOR[report.verdict.verdict])}>
        {headline}
      </Text>
      {evidence.map((line, i) => (
        <Text key={i}>{line}</Text>
      ))}
      {notes.map((line, i) => (
        <Text key={`note-${i}`} color={tone('yellow')}>
          {line}
        </Text>
      ))}
    </Box>
  );
}
