import { Box, Text } from 'ink';
import { healthTable, healthWord } from '../../cluster/report-table.js';
import type { ClusterReport } from '../../cluster/types.js';
import { VERDICT_COLOR } from '../../cluster/verdict-text.js';
import { isLeader } from '../../cluster/verdict.js';
import { memberKey } from '../live-health.js';
import { displayWidth } from '../../util/table.js';
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
      <Box flexWrap="wrap" columnGap={COLUMN_GAP}>
        <Text bold>{HEALTH_LABEL}</Text>
        {compactItems(report, changed).map((item) => (
          <Text key={item.endpoint} inverse={item.was !== undefined}>
            {item.key} <Text color={healthColor(item.word)}>{item.word}</Text>
            {item.rest}
          </Text>
        ))}
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

const HEALTH_LABEL = 'health';
const COLUMN_GAP = 2;

/** One member of the compact table: name, health word, then ★ leader and "(was …)". */
function compactItems(report: ClusterReport, changed: Record<string, string>) {
  return report.endpoints.map((p) => {
    const key = memberKey(p);
    const was = changed[key];
    const leader = p.reachable && isLeader(p);
    return { endpoint: p.endpoint, key, word: healthWord(p), was, rest: `${leader ? ' ★' : ''}${was !== undefined ? ` (was ${was})` : ''}` };
  });
}

/** Terminal rows the compact table takes at `columns` (its members wrap as the flex row does, then the verdict line). */
export function compactHealthRows(report: ClusterReport, changed: Record<string, string>, columns: number): number {
  let rows = 1;
  let used = displayWidth(HEALTH_LABEL);
  for (const item of compactItems(report, changed)) {
    const width = displayWidth(`${item.key} ${item.word}${item.rest}`);
    if (used + COLUMN_GAP + width > columns) {
      rows += 1 + Math.floor(Math.max(0, width - 1) / Math.max(1, columns));
      used = width % Math.max(1, columns);
    } else used += COLUMN_GAP + width;
  }
  return rows + 1;
}
