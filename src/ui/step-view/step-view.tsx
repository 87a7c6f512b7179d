import { Box, Text } from 'ink';
import Spinner from 'ink-spinner';
import { useEffect } from 'react';
import type { OperatorDecision } from '../../engine/operator.js';
import { currentStep } from '../../engine/reducer.js';
import type { RunState, StepState, TargetState } from '../../engine/types.js';
import type { RenderedStep } from '../../runbook/rendered.js';
import { describeTarget } from '../../engine/runner.js';
import { displayWidth } from '../../util/table.js';
import { CompactHealth } from '../health-table/health-table.js';
import type { HealthView } from '../live-health.js';
import { TextPrompt } from '../text-prompt/text-prompt.js';
import { useTone } from '../theme.js';
import { keysFor, useStepViewKeys } from './use-step-view-keys.js';
import { useStepViewState, type Prompt } from './use-step-view-state.js';

export interface StepViewProps {
  state: RunState;
  /** the runner is waiting for the operator's decision */
  asking: boolean;
  decide: (decision: OperatorDecision) => void;
  health: HealthView;
  columns: number;
  rows: number;
  /** false while another prompt (Ctrl-C's) has the keys */
  isActive?: boolean;
}

const RISK_BADGE = { 'read-only': ['READ-ONLY', 'green'], changes: ['CHANGES STATE', 'yellow'], destructive: ['DESTRUCTIVE', 'red'] } as const;

/**
 * The step view (DESIGN §8.3): step k of n, title, why, host(s), the exact
 * command, risk badge, guards with their reasons, one line per node with its
 * own spinner, a bounded output pane, the compact live health table, keys.
 */
export function StepView({ state, asking, decide, health, columns, rows, isActive = true }: StepViewProps) {
  const tone = useTone();
  const step = currentStep(state);
  const index = state.cursor;
  const def: RenderedStep | undefined = step ? state.runbook.steps[index] : undefined;
  const [view, dispatch, current] = useStepViewState();
  useEffect(() => dispatch({ type: 'reset' }), [index, step?.status, step?.attempts, dispatch]);

  const outputLines = step ? outputOf(step) : [];
  const layout = budget({ state, step, def, columns, rows, health, outputLines: outputLines.length });
  const maxScroll = Math.max(0, outputLines.length - layout.pane);
  useStepViewKeys({ step, def, inputs: state.runbook.inputs, current, dispatch, decide, asking, isActive, maxScroll });

  if (!step || !def) return <Text>All steps are done.</Text>;
  const [badge, badgeColor] = RISK_BADGE[def.risk];
  const commands = def.targets.map((t) => ({ node: t.node, host: t.host, text: describeTarget(t) }));
  const hosts = [...new Set(def.targets.map((t) => (t.host === t.node ? t.host : `${t.node} (${t.host})`)))].join(', ');

  if (view.prompt.kind === 'help') return <Help />;
  if (view.prompt.kind === 'full-command') {
    return (
      <Box flexDirection="column">
        <Text bold>Step {index + 1} of {state.steps.length}: every command as it will run (any key returns)</Text>
        {commands.map((c) => (
          <Text key={c.node}>
            {c.node} @ {c.host} $ {c.text}
          </Text>
        ))}
      </Box>
    );
  }

  const shownCommands = commandLines(commands, columns, layout.command);
  const end = outputLines.length - Math.min(view.scrollBack, maxScroll);
  const pane = outputLines.slice(Math.max(0, end - layout.pane), end);
  return (
    <Box flexDirection="column">
      <Box justifyContent="space-between">
        <Box flexShrink={1}>
          <Text bold wrap="truncate-end">
            Step {index + 1} of {state.steps.length}: {def.title}
          </Text>
        </Box>
        <Box flexShrink={0}>
          <Text bold color={tone(badgeColor)}>
            {' '}[{badge}]
          </Text>
        </Box>
      </Box>
      {hardWrap(`why: ${def.why}`, columns).slice(0, 2).map((line, i) => (
        <Text key={i} dimColor wrap="truncate-end">
          {line}
        </Text>
      ))}
      <Text wrap="truncate-end">
        on {hosts || 'no node'} · <StatusWord step={step} />
      </Text>
      {shownCommands.lines.map((line, i) => (
        <Text key={i} color={tone('cyan')} wrap="truncate-end">
          {line}
        </Text>
      ))}
      {shownCommands.more && <Text dimColor>… c shows every command in full</Text>}
      {step.guards.map((g) => (
        <Text key={g.check} wrap="truncate-end">
          {'  '}
          {g.ok ? <Text color={tone('green')}>✓ pass</Text> : g.overriddenBecause !== undefined ? <Text color={tone('yellow')}>! overridden</Text> : <Text color={tone('red')}>✗ FAIL</Text>} {g.check}: {g.message}
          {g.overriddenBecause !== undefined ? ` (by ${g.overriddenBy ?? '?'}: ${g.overriddenBecause})` : ''}
          {!g.ok && g.overriddenBecause === undefined && g.overridable ? ' (o overrides)' : ''}
        </Text>
      ))}
      {step.check && (
        <Text wrap="truncate-end">
          {'  '}after-check {step.check.ok ? <Text color={tone('green')}>✓ pass</Text> : <Text color={tone('red')}>✗ FAIL</Text>} {step.check.check}: {step.check.message}
        </Text>
      )}
      {step.targets.length > 1 && step.targets.map((t) => <TargetLine key={t.node} target={t} />)}
      <Text dimColor>
        ── output{view.scrollBack > 0 ? ` (scrolled back ${Math.min(view.scrollBack, maxScroll)} lines, ↓ returns)` : outputLines.length > layout.pane ? ' (↑ scrolls back; the journal keeps it all)' : ''} ──
      </Text>
      <Box flexDirection="column" height={layout.pane}>
        {pane.map((line, i) => (
          <Text key={i} wrap="truncate-end">
            {line}
          </Text>
        ))}
      </Box>
      {health.report && <CompactHealth report={health.report} changed={health.changed} refreshing={health.refreshing} />}
      <PromptLine prompt={view.prompt} draft={view.draft} step={step} asking={asking} />
      {view.notice && <Text color={tone('yellow')}>{view.notice}</Text>}
    </Box>
  );
}

function StatusWord({ step }: { step: StepState }) {
  const tone = useTone();
  switch (step.status) {
    case 'pending':
      return (
        <Text>
          <Spinner type="dots" /> checking guards…
        </Text>
      );
    case 'running':
      return (
        <Text color={tone('cyan')}>
          <Spinner type="dots" /> running
        </Text>
      );
    case 'awaiting-confirmation':
      return <Text color={tone('green')}>ready: waiting for you</Text>;
    case 'blocked':
      return <Text color={tone('red')}>BLOCKED by a guard</Text>;
    case 'failed':
      return <Text color={tone('red')}>FAILED{step.error ? `: ${step.error}` : ''}</Text>;
    case 'unknown':
      return <Text color={tone('yellow')}>UNKNOWN — it was running when the tool stopped: check before re-running</Text>;
    default:
      return <Text>{step.status}</Text>;
  }
}

function TargetLine({ target }: { target: TargetState }) {
  const tone = useTone();
  const last = target.outputTail.trimEnd().split('\n').at(-1) ?? '';
  const mark = {
    pending: <Text dimColor>·</Text>,
    running: (
      <Text color={tone('cyan')}>
        <Spinner type="dots" />
      </Text>
    ),
    succeeded: <Text color={tone('green')}>✓</Text>,
    recorded: <Text color={tone('yellow')}>✓ recorded (dry run)</Text>,
    failed: <Text color={tone('red')}>✗ {target.error ?? 'failed'}</Text>,
    unknown: <Text color={tone('yellow')}>? unknown</Text>,
  }[target.status];
  return (
    <Text wrap="truncate-end">
      {'  '}
      {target.node} {mark} <Text dimColor>{last}</Text>
    </Text>
  );
}

function PromptLine({ prompt, draft, step, asking }: { prompt: Prompt; draft: string; step: StepState; asking: boolean }) {
  const tone = useTone();
  switch (prompt.kind) {
    case 'skip-reason':
      return <TextPrompt label="Reason for skipping:" text={draft} />;
    case 'override-reason':
      return <TextPrompt label={`Reason for overriding ${prompt.check}:`} text={draft} />;
    case 'type-names':
      return <TextPrompt label={`DESTRUCTIVE: type ${prompt.expected.join(',')} to run it:`} text={draft} />;
    case 'confirm-abort':
      return <Text color={tone('red')}>Abort the run here? The journal keeps it; resume continues later. y aborts, any other key goes back</Text>;
    default: {
      if (!asking) return <Text dimColor>Ctrl-C {step.status === 'running' ? 'abandons the running step' : 'quits'} · ? help</Text>;
      const can = keysFor(step);
      const keys = [can.run && 'y run', can.retry && (step.status === 'blocked' ? 'r re-check' : 'r retry'), can.skip && 's skip', can.override && 'o override', 'a abort', '? help'].filter(Boolean);
      return <Text bold>{keys.join(' · ')}</Text>;
    }
  }
}

function Help() {
  return (
    <Box flexDirection="column">
      <Text bold>Keys (any key returns)</Text>
      <Text>  y   run this step (destructive steps: type the member/host name to confirm)</Text>
      <Text>  s   skip it (asks why; the reason goes into the journal)</Text>
      <Text>  r   retry a failed or unknown step; re-check the guards of a blocked one</Text>
      <Text>  o   override a failing guard that allows it (asks why)</Text>
      <Text>  a   abort the run (asks to confirm; resume continues it later)</Text>
      <Text>  c   show every command in full</Text>
      <Text>  ↑/↓ scroll the output pane back and forth</Text>
      <Text>  Ctrl-C  while a step runs: abandon it (asks); otherwise quit</Text>
      <Text dimColor>Nothing that changes the cluster runs without y. The health table refreshes every 2 s.</Text>
    </Box>
  );
}

/** Every node's output, newest last, prefixed by node when there are several. */
export function outputOf(step: StepState): string[] {
  const several = step.targets.length > 1;
  return step.targets.flatMap((t) => {
    const text = t.outputTail.replace(/\n$/, '');
    if (!text) return [];
    return text.split('\n').map((line) => (several ? `[${t.node}] ${line}` : line));
  });
}

/** Terminal lines a text takes when wrapped at `columns`. */
function linesOf(text: string, columns: number): number {
  return text.split('\n').reduce((n, line) => n + Math.max(1, Math.ceil(displayWidth(line) / Math.max(1, columns))), 0);
}

/** Cut a line into pieces of at most `columns` terminal columns (no word wrap: the line count is exact). */
export function hardWrap(line: string, columns: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let width = 0;
  for (const char of line) {
    const w = displayWidth(char);
    if (width + w > columns && piece) {
      pieces.push(piece);
      piece = '';
      width = 0;
    }
    piece += char;
    width += w;
  }
  if (piece || pieces.length === 0) pieces.push(piece);
  return pieces;
}

/** Commands as `$ cmd` (or `node $ cmd` for several nodes), cut to a number of terminal lines. */
function commandLines(commands: Array<{ node: string; host: string; text: string }>, columns: number, max: number): { lines: string[]; more: boolean } {
  const single = commands.length === 1;
  const all = commands.flatMap((c) => hardWrap((single ? `$ ${c.text}` : `${c.node} $ ${c.text}`).replace(/\s*\n\s*/g, ' '), columns));
  if (all.length <= max) return { lines: all, more: false };
  return { lines: all.slice(0, Math.max(1, max - 1)), more: true };
}

/**
 * Fit the view in the terminal's rows: the output pane gets what the fixed
 * parts leave (at least 3 lines), the commands at most a few lines.
 */
function budget(input: { state: RunState; step: StepState | undefined; def: RenderedStep | undefined; columns: number; rows: number; health: HealthView; outputLines: number }) {
  const { state, step, def, columns, rows, health } = input;
  if (!step || !def) return { pane: 3, command: 3 };
  const healthLines = health.report ? 1 + Math.ceil(health.report.endpoints.length * 24 / columns) : 0;
  const fixed =
    (state.dryRun ? 1 : 0) + // banner
    1 + // title
    Math.min(2, linesOf(`why: ${def.why}`, columns)) +
    1 + // on … · status
    step.guards.length +
    (step.check ? 1 : 0) +
    (step.targets.length > 1 ? step.targets.length : 0) +
    1 + // output rule
    healthLines +
    2 + // keys / prompt, notice
    1; // the app's header
  const room = rows - fixed;
  const command = Math.max(1, Math.min(6, Math.floor(room / 2)));
  const pane = Math.max(3, room - command - 1);
  return { pane: Math.min(pane, 20), command };
}
