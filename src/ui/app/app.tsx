import { Box, Text, useApp } from 'ink';
import Spinner from 'ink-spinner';
import { useEffect, useRef, useSyncExternalStore } from 'react';
import type { ClusterReport } from '../../cluster/types.js';
import type { OperatorDecision } from '../../engine/operator.js';
import { messageOf } from '../../util/errors.js';
import { DetectionScreen } from '../detection/detection-screen.js';
import { DryRunBanner } from '../dry-run-banner/dry-run-banner.js';
import { wordWrap } from '../fit-text.js';
import { CompactHealth } from '../health-table/health-table.js';
import { RunbookPicker } from '../runbook-picker/runbook-picker.js';
import type { RunHandle, TuiSession } from '../session.js';
import { StepView } from '../step-view/step-view.js';
import { SummaryScreen } from '../summary/summary-screen.js';
import { ColorContext, useTone } from '../theme.js';
import { useTerminalSize } from '../use-terminal-size.js';
import { useAppKeys } from './use-app-keys.js';
import { useAppState } from './use-app-state.js';

export interface AppProps {
  session: TuiSession;
  color: boolean;
  /** the exit code, once the operator leaves */
  onExit: (code: number) => void;
}

/** The whole interactive view: detection → picker → steps → summary. */
export function App({ session, color, onExit }: AppProps) {
  return (
    <ColorContext.Provider value={color}>
      <Screens session={session} onExit={onExit} />
    </ColorContext.Provider>
  );
}

function Screens({ session, onExit }: Omit<AppProps, 'color'>) {
  const { exit } = useApp();
  const [state, dispatch] = useAppState(session.run);
  const size = useTerminalSize();
  const health = useSyncExternalStore(session.health.view.subscribe, session.health.view.get);
  const leave = (code: number) => {
    onExit(code);
    exit();
  };
  useAppKeys(state, dispatch, leave);

  // detection, then the runbooks that fit its verdict
  useEffect(() => {
    if (session.run) {
      session.health.start();
      return () => session.health.stop();
    }
    let live = true;
    session
      .detect()
      .then(async (report) => {
        if (!live) return;
        dispatch({ type: 'detected', report });
        session.health.start();
        const { choices, problems } = await session.choices(report);
        if (live) dispatch({ type: 'choices-loaded', choices, problems });
      })
      .catch((err: unknown) => live && dispatch({ type: 'detect-failed', error: messageOf(err) }));
    return () => {
      live = false;
      session.health.stop();
    };
  }, []);

  // the run's end → the summary (or straight out when the operator quit)
  const quitting = useRef(false);
  quitting.current = state.quitting;
  useEffect(() => {
    if (!state.run) return;
    let live = true;
    state.run.finished.then(
      (outcome) => {
        if (!live) return;
        if (quitting.current) leave(outcome.exitCode);
        else dispatch({ type: 'run-finished', outcome });
      },
      (err: unknown) => {
        if (live) dispatch({ type: 'start-failed', error: `the run stopped: ${messageOf(err)}` });
      },
    );
    return () => {
      live = false;
    };
  }, [state.run]);

  const pick = (id: string) => {
    if (state.phase !== 'picking' || !state.report) return;
    dispatch({ type: 'picked' });
    session.begin(id, state.report).then(
      (run) => dispatch({ type: 'run-started', run }),
      (err: unknown) => dispatch({ type: 'start-failed', error: messageOf(err) }),
    );
  };

  const report = health.report ?? state.report;
  const dryRun = state.run ? state.run.state.get().dryRun : session.dryRun;
  let body;
  switch (state.phase) {
    case 'detecting':
    case 'picking':
    case 'starting':
      body = (
        <Box flexDirection="column">
          <DetectionScreen targets={session.targets} report={report} changed={health.changed} error={state.detectError} columns={size.columns} notes={session.notes} />
          {state.phase === 'picking' && (
            <RunbookPicker choices={state.choices} problems={state.problems} onPick={pick} isActive={!state.confirmingAbandon} limit={pickerRoom(size.rows, report, dryRun, state.problems.length)} columns={size.columns} />
          )}
          {state.phase === 'starting' && (
            <Text>
              <Spinner type="dots" /> preparing the run (rendering the runbook, opening the journal)…
            </Text>
          )}
          {state.notice && <NoticeLine text={state.notice} />}
          <Text dimColor>{state.phase === 'picking' ? 'q quits' : 'Ctrl-C quits'}</Text>
        </Box>
      );
      break;
    case 'running':
      body = state.run ? <RunScreen run={state.run} health={health} size={size} confirmingAbandon={state.confirmingAbandon} /> : null;
      break;
    case 'summary':
      // one row spare: a frame as tall as the terminal scrolls it
      body = state.outcome ? <SummaryScreen outcome={state.outcome} report={newest(report, state.outcome.state.lastProbe)} columns={size.columns} rows={size.rows - (dryRun ? 1 : 0) - 1} /> : null;
      break;
  }
  return (
    <Box flexDirection="column" width={size.columns}>
      <DryRunBanner dryRun={dryRun} />
      {body}
    </Box>
  );
}

/** The later of two probes (the live refresh, the runner's own after each step). */
function newest(a: ClusterReport | undefined, b: ClusterReport | undefined): ClusterReport | undefined {
  if (!a || !b) return a ?? b;
  return b.probedAt > a.probedAt ? b : a;
}

/** Runbooks (two lines each) that fit under the detection at this height. */
function pickerRoom(rows: number, report: ClusterReport | undefined, dryRun: boolean, problems: number): number {
  const members = report?.endpoints.length ?? 3;
  // the advice line (what to do when no runbook fits) counts as one more
  const evidence = report ? report.verdict.evidence.length + report.verdict.warnings.length + (report.verdict.advice ? 1 : 0) : 1;
  // a frame as tall as the terminal scrolls it: keep one row spare
  const used = (dryRun ? 1 : 0) + members + 4 + 2 + evidence * 2 + 1 + problems + 1 + 1 + 1;
  return Math.floor((rows - used) / 2);
}

function NoticeLine({ text }: { text: string }) {
  const tone = useTone();
  return <Text color={tone('red')}>{text}</Text>;
}

const ABANDON = 'Abandon the running step? The journal records the abort; resume shows the step as not finished. y abandons, any other key keeps it running';

/**
 * The rows the step view may fill: the terminal's, less the dry-run banner,
 * the run's header line, the Ctrl-C question when it is up, and one spare
 * row (a frame as tall as the terminal scrolls it).
 */
function stepRows(size: { columns: number; rows: number }, dryRun: boolean, confirmingAbandon: boolean): number {
  return size.rows - (dryRun ? 1 : 0) - 1 - (confirmingAbandon ? wordWrap(ABANDON, size.columns).length : 0) - 1;
}

function RunScreen({ run, health, size, confirmingAbandon }: { run: RunHandle; health: ReturnType<TuiSession['health']['view']['get']>; size: { columns: number; rows: number }; confirmingAbandon: boolean }) {
  const tone = useTone();
  const state = useSyncExternalStore(run.state.subscribe, run.state.get);
  const question = useSyncExternalStore(run.operator.question.subscribe, run.operator.question.get);
  const decide = (decision: OperatorDecision) => {
    run.operator.answer(decision);
  };
  // the runner's own probes (wait steps) are fresher than the last refresh
  const shown = { ...health, report: newest(health.report, state.lastProbe) };
  return (
    <Box flexDirection="column">
      <Text dimColor={!state.appliesToOverride} color={state.appliesToOverride ? tone('yellow') : undefined} wrap="truncate-end">
        {state.appliesToOverride ? `APPLIES-TO OVERRIDDEN (cluster was ${state.appliesToOverride.verdict}) · ` : ''}
        {state.runbook.id}: {state.runbook.title} · run {state.runId}
      </Text>
      <StepView state={state} asking={question !== undefined} decide={decide} health={shown} columns={size.columns} rows={stepRows(size, state.dryRun, confirmingAbandon)} isActive={!confirmingAbandon} />
      {confirmingAbandon && (
        <Text bold color={tone('red')}>
          {ABANDON}
        </Text>
      )}
      {!question && state.steps[state.cursor] === undefined && <CompactHealth report={shown.report ?? state.lastProbe!} />}
    </Box>
  );
}
