import { humanBytes, renderTable, type Column } from '../util/table.js';
import type { ClusterReport, EndpointProbe } from './types.js';

/**
 * The health table: `etcdctl endpoint status -w table` plus name, health and
 * latency, one row per probed endpoint.
 */
export function healthTable(report: ClusterReport, maxWidth = Infinity): string {
  return renderTable(columnsFor(report), report.endpoints, maxWidth);
}

function columnsFor(report: ClusterReport): Array<Column<EndpointProbe>> {
  const leaderOf = (p: EndpointProbe) => p.reachable && p.memberId !== undefined && p.memberId === p.leaderId;
  const columns: Array<Column<EndpointProbe>> = [
    { header: 'NAME', priority: 0, value: (p) => p.name ?? p.expectedName ?? '' },
    { header: 'ENDPOINT', priority: 1, value: (p) => p.endpoint },
    { header: 'HEALTH', priority: 0, value: healthWord },
    { header: 'ID', priority: 3, value: (p) => p.memberId ?? '' },
    { header: 'VERSION', priority: 6, value: (p) => p.version ?? '' },
    { header: 'DB SIZE', priority: 5, value: (p) => humanBytes(p.dbSize), align: 'right' },
    { header: 'IS LEADER', priority: 2, value: (p) => (p.reachable ? String(leaderOf(p)) : '') },
    { header: 'IS LEARNER', priority: 7, value: (p) => (p.reachable ? String(Boolean(p.isLearner)) : '') },
    { header: 'RAFT TERM', priority: 4, value: (p) => num(p.raftTerm), align: 'right' },
    { header: 'RAFT INDEX', priority: 5, value: (p) => num(p.raftIndex), align: 'right' },
    { header: 'RAFT APPLIED INDEX', priority: 8, value: (p) => num(p.raftAppliedIndex), align: 'right' },
    { header: 'LATENCY', priority: 4, value: (p) => `${p.latencyMs} ms`, align: 'right' },
    { header: 'ERRORS', priority: 3, value: (p) => errorsOf(p) },
  ];
  const anyErrors = report.endpoints.some((p) => errorsOf(p) !== '');
  return columns.filter((column) => column.header !== 'ERRORS' || anyErrors);
}

export function healthWord(probe: EndpointProbe): string {
  if (probe.healthy) return 'healthy';
  if (probe.reachable) return 'unhealthy';
  return 'unreachable';
}

function errorsOf(probe: EndpointProbe): string {
  // every member lists every member's alarms: each is shown on the row of the member it was raised on
  const own = probe.alarms.filter((a) => a.memberId === undefined || a.memberId === probe.memberId);
  return [probe.error, probe.healthError, ...probe.memberErrors, ...own.map((a) => `alarm:${a.alarm}`)]
    .filter((e): e is string => Boolean(e))
    .join(', ');
}

function num(value: number | undefined): string {
  return value === undefined ? '' : String(value);
}
