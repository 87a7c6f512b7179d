import { Box, Text } from 'ink';
import { healthTable, healthWord } from '../../cluster/report-table.js';
import type { ClusterReport } from '../../cluster/types.js';
import { VERDICT_COLOR } from '../../cluster/verdict-text.js';
import { memberKey } from '../live-health.js';
import { useTone } from '../theme.js';

export interface HealthTableProps {
  report: ClusterReport;
  /** member → its health before a recent change */
  changed?: Record<string, string>;
  columns: number;
}

/**
 * The full health table (the one `status` prints; narrower terminals drop
 * columns whole), changed members marked beside it.
 */
export function HealthTable({ report, changed = {}, columns }: HealthTableProps) {
  const lines = healthTable(report, columns).split('\n');
  const changes = Object.entries(changed);
  return (
    <Box flexDirection="column">
      {lines.map((line, i) => (
        <Text key={i} wrap="truncate-end">
          {line}
        </Text>
      ))}
      {changes.length > 0 && <ChangeLine report={report} changed={changed} />}
    </Box>
  );
}

function ChangeLine({ report, changed }: { report: ClusterReport; changed: Record<string, string> }) {
  const tone = useTone();
  const now = new Map(report.endpoints.map((p) => [memberKey(p), healthWord(p)]));
  return (
    <Text color={tone('cyan')} wrap="truncate-end">
      changed: {Object.entries(changed).map(([name, was]) => `${name} ${was} → ${now.get(name) ?? '?'}`).join(', ')}
    </Text>
  );
}

/**
 * The compact table while steps run: one line of members (health, ★ leader,
 * a changed member marked "was …"), one line of verdict.
 */
export function CompactHealth({ report, changed = {}, refreshing }: { report: ClusterReport; changed?: Record<string, string>; refreshing?: boolean }) {
  const tone = useTone();
  const healthColor = (word: string) => tone(word === 'healthy' ? 'green' : word === 'unhealthy' ? 'yellow' : 'red');
  const verdict = report.verdict;
  return (
    <Box flexDirection="column">
      <Box flexWrap="wrap" columnGap={2}>
        <Text bold>health</Text>
        {report.endpoints.map((p) => {
          const key = memberKey(p);
          const word = healthWord(p);
          const leader = p.reachable && p.memberId !== undefined && p.memberId === p.leaderId;
          const was = changed[key];
          return (
            <Text key={p.endpoint} inverse={was !== undefined}>
              {key} <Text color={healthColor(word)}>{word}</Text>
              {leader ? ' ★' : ''}
              {was !== undefined ? ` (was ${was})` : ''}
            </Text>
          );
        })}
      </Box>
      <Text wrap="truncate-end">
        <Text color={tone(VERDICT_COLOR[verdict.verdict])}>{verdict.verdict}</Text>
        <Text dimColor>
          {' '}
          — {verdict.summary} · {new Date(report.probedAt).toLocaleTimeString()}
          {refreshing ? ' ↻' : ''}
        </Text>
      </Text>
    </Box>
  );
}
