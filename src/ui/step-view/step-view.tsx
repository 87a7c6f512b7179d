import { Box, Text } from 'ink';
import Spinner from 'ink-spinner';
import { useEffect } from 'react';
import type { OperatorDecision } from '../../engine/operator.js';
import { currentStep } from '../../engine/reducer.js';
import type { GuardOutcome, RunState, StepState, TargetState } from '../../engine/types.js';
import type { RenderedStep } from '../../runbook/rendered.js';
import { describeTarget } from '../../engine/runner.js';
import { displayWidth } from '../../util/table.js';
import { ellipsize, hardWrap, wordWrap } from '../fit-text.js';
import { CompactHealth, compactHealthRows } from '../health-table/health-table.js';
import type { HealthView } from '../live-health.js';
import { TextPrompt } from '../text-prompt/text-prompt.js';
import { useTone } from '../theme.js';
import { useStepViewKeys } from './use-step-view-keys.js';
import { legalAnswers } from '../../engine/answers.js';
import { planStepView } from './layout.js';
import { useStepViewState, type Prompt, type StepViewState } from './use-step-view-state.js';

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
 * The step view: step k of n, title, why, host(s), the exact
 * command, risk badge, guards with their reasons, one line per node with its
 * own spinner, a bounded output pane, the compact live health table, keys.
 * It fits `rows`: long guard and node lists condense to a line each (g shows
 * them in full, as c does the commands), see layout.ts.
 */
export function StepView({ state, asking, decide, health, columns, rows, isActive = true }: StepViewProps) {
  const tone = useTone();
  const step = currentStep(state);
  const index = state.cursor;
  const def: RenderedStep | undefined = step ? state.runbook.steps[index] : undefined;
  const [view, dispatch, current] = useStepViewState();
  useEffect(() => dispatch({ type: 'reset' }), [index, step?.status, step?.attempts, dispatch]);

  const outputLines = step ? outputOf(step) : [];
  const screen = step && def ? plan({ state, step, def, columns, rows, health, outputLines: outputLines.length, view, asking }) : undefined;
  const pane = screen?.layout.pane ?? 0;
  const maxScroll = Math.max(0, outputLines.length - pane);
  useStepViewKeys({ step, def, inputs: state.runbook.inputs, current, dispatch, decide, asking, isActive, maxScroll });

  if (!step || !def || !screen) return <Text>All steps are done.</Text>;
  const [badge, badgeColor] = RISK_BADGE[def.risk];
  const progress = `Step ${index + 1} of ${state.steps.length}`;

  if (view.prompt.kind === 'help') return <Help />;
  if (view.prompt.kind === 'full-command') {
    return (
      <Box flexDirection="column">
        <Text bold>{progress}: every command as it will run (any key returns)</Text>
        {screen.commands.map((c) => (
          <Text key={c.node}>
            {c.node} @ {c.host} $ {c.text}
          </Text>
        ))}
      </Box>
    );
  }
  if (view.prompt.kind === 'guards') return <GuardsScreen title={`${progress}: every guard and node (any key returns)`} step={step} columns={columns} rows={rows} />;

  const { layout } = screen;
  const shownCommands = commandLines(screen.commands, columns, layout.commands);
  const end = outputLines.length - Math.min(view.scrollBack, maxScroll);
  const shownOutput = outputLines.slice(Math.max(0, end - pane), end);
  const failing = step.guards.filter((g) => !g.ok || g.overriddenBecause !== undefined);
  const passing = step.guards.filter((g) => g.ok && g.overriddenBecause === undefined);
  const guardsInFull = layout.passingListed && !layout.failingMore;
  return (
    <Box flexDirection="column">
      <Text bold>
        {screen.title} <Text color={tone(badgeColor)}>[{badge}]</Text>
      </Text>
      {screen.why.map((line, i) => (
        <Text key={i} dimColor>
          {line}
        </Text>
      ))}
      <Text wrap="truncate-end">
        on {screen.hosts} · <StatusWord step={step} />
      </Text>
      {shownCommands.lines.map((line, i) => (
        <Text key={i} color={tone('cyan')} wrap="truncate-end">
          {line}
        </Text>
      ))}
      {shownCommands.more && <Text dimColor>… c shows every command in full</Text>}
      {guardsInFull
        ? step.guards.map((g) => <GuardLine key={g.check} guard={g} />)
        : failing.slice(0, layout.failingListed).map((g) => <GuardLine key={g.check} guard={g} />)}
      {!guardsInFull && layout.failingMore && (
        <Text color={tone('red')} wrap="truncate-end">
          {'  '}✗ {failing.length - layout.failingListed} {layout.failingListed > 0 ? 'more' : 'guards'} failed or were overridden (g shows every guard)
        </Text>
      )}
      {!guardsInFull && layout.passingSummary && (
        <Text wrap="truncate-end">
          {'  '}
          <Text color={tone('green')}>✓</Text> {passing.length} {passing.length === 1 ? 'guard passes' : 'guards pass'} <Text dimColor>(g shows them)</Text>
        </Text>
      )}
      {layout.check && step.check && <CheckLine check={step.check} />}
      {layout.nodesListed && step.targets.map((t) => <TargetLine key={t.node} target={t} />)}
      {!layout.nodesListed && layout.nodesSummary && <NodesLine targets={step.targets} columns={columns} />}
      {pane > 0 && (
        <Text dimColor wrap="truncate-end">
          ── output{view.scrollBack > 0 ? ` (scrolled back ${Math.min(view.scrollBack, maxScroll)} lines, ↓ returns)` : outputLines.length > pane ? ' (↑ scrolls back; the journal keeps it all)' : ''} ──
        </Text>
      )}
      {pane > 0 && (
        <Box flexDirection="column" height={pane}>
          {shownOutput.map((line, i) => (
            <Text key={i} wrap="truncate-end">
              {line}
            </Text>
          ))}
        </Box>
      )}
      {health.report && <CompactHealth report={health.report} changed={health.changed} refreshing={health.refreshing} />}
      <PromptLine prompt={view.prompt} draft={view.draft} step={step} asking={asking} />
      {view.notice && <Text color={tone('yellow')}>{view.notice}</Text>}
    </Box>
  );
}

function GuardLine({ guard: g, wrap = false }: { guard: GuardOutcome; wrap?: boolean }) {
  const tone = useTone();
  const mark = guardMark(g);
  return (
    <Text wrap={wrap ? 'wrap' : 'truncate-end'}>
      {'  '}
      <Text color={tone(mark.color)}>{mark.text}</Text> {guardDetail(g)}
    </Text>
  );
}

function guardMark(g: GuardOutcome): { text: string; color: 'green' | 'yellow' | 'red' } {
  if (g.ok) return { text: '✓ pass', color: 'green' };
  if (g.overriddenBecause !== undefined) return { text: '! overridden', color: 'yellow' };
  return { text: '✗ FAIL', color: 'red' };
}

/** "check: message", who overrode it and why, or that o may override it. */
function guardDetail(g: GuardOutcome): string {
  const overridden = g.overriddenBecause !== undefined ? ` (by ${g.overriddenBy ?? '?'}: ${g.overriddenBecause})` : '';
  const may = !g.ok && g.overriddenBecause === undefined && g.overridable ? ' (o overrides)' : '';
  return `${g.check}: ${g.message}${overridden}${may}`;
}

/**
 * g: every guard (wrapped when that fits, else a line each, failing ones
 * first), the after-check and every node — still within `rows`.
 */
function GuardsScreen({ title, step, columns, rows }: { title: string; step: StepState; columns: number; rows: number }) {
  const nodes = step.targets.length > 1 ? step.targets.length : 0;
  const check = step.check ? 1 : 0;
  const room = rows - 1 - check;
  const wrapped = step.guards.reduce((n, g) => n + wordWrap(`  ${guardMark(g).text} ${guardDetail(g)}`, columns).length, 0);
  const wrap = wrapped + nodes <= room;
  const nodesListed = wrap || step.guards.length + nodes <= room;
  const guardRoom = room - (nodesListed ? nodes : nodes > 0 ? 1 : 0);
  const ordered = [...step.guards].sort((a, b) => Number(a.ok && a.overriddenBecause === undefined) - Number(b.ok && b.overriddenBecause === undefined));
  const shown = step.guards.length <= guardRoom ? step.guards : ordered.slice(0, Math.max(0, guardRoom - 1));
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {title}
      </Text>
      {step.guards.length === 0 && <Text dimColor>  no guards</Text>}
      {shown.map((g) => (
        <GuardLine key={g.check} guard={g} wrap={wrap} />
      ))}
      {shown.length < step.guards.length && <Text dimColor>  … {step.guards.length - shown.length} more guards (the journal has every outcome)</Text>}
      {step.check && <CheckLine check={step.check} />}
      {nodes > 0 && (nodesListed ? step.targets.map((t) => <TargetLine key={t.node} target={t} />) : <NodesLine targets={step.targets} columns={columns} />)}
    </Box>
  );
}

function CheckLine({ check }: { check: GuardOutcome }) {
  const tone = useTone();
  return (
    <Text wrap="truncate-end">
      {'  '}after-check {check.ok ? <Text color={tone('green')}>✓ pass</Text> : <Text color={tone('red')}>✗ FAIL</Text>} {check.check}: {check.message}
    </Text>
  );
}

/** Every node on one line with its mark, or (when that is too wide) how many are in each state. */
function NodesLine({ targets, columns }: { targets: TargetState[]; columns: number }) {
  const tone = useTone();
  const inline = `  nodes: ${targets.map((t) => `${t.node} ${SHORT_MARK[t.status]}`).join('  ')}`;
  if (displayWidth(inline) <= columns) {
    return (
      <Text wrap="truncate-end">
        {'  '}nodes:
        {targets.map((t) => (
          <Text key={t.node}>
            {'  '}
            {t.node} <ShortMark status={t.status} />
          </Text>
        ))}
      </Text>
    );
  }
  const counts = new Map<string, number>();
  for (const t of targets) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  const failed = counts.get('failed') ?? 0;
  return (
    <Text wrap="truncate-end">
      {'  '}
      {targets.length} nodes: {[...counts].map(([status, n]) => `${n} ${status}`).join(' · ')}
      {failed > 0 ? <Text color={tone('red')}> ✗</Text> : ''} <Text dimColor>(g shows each)</Text>
    </Text>
  );
}

const SHORT_MARK: Record<TargetState['status'], string> = { pending: '·', running: '⠋', succeeded: '✓', recorded: '✓', failed: '✗', unknown: '?' };

function ShortMark({ status }: { status: TargetState['status'] }) {
  const tone = useTone();
  if (status === 'running')
    return (
      <Text color={tone('cyan')}>
        <Spinner type="dots" />
      </Text>
    );
  const color = status === 'failed' ? 'red' : status === 'unknown' || status === 'recorded' ? 'yellow' : status === 'succeeded' ? 'green' : undefined;
  return color ? <Text color={tone(color)}>{SHORT_MARK[status]}</Text> : <Text dimColor>{SHORT_MARK[status]}</Text>;
}

function StatusWord({ step }: { step: StepState }) {
  const tone = useTone();
  const status = statusOf(step);
  return (
    <Text color={status.color ? tone(status.color) : undefined}>
      {status.spinner && (
        <>
          <Spinner type="dots" />{' '}
        </>
      )}
      {status.text}
    </Text>
  );
}

/** The step's state in words (a spinner in front while something happens). */
function statusOf(step: StepState): { text: string; spinner: boolean; color?: 'cyan' | 'green' | 'red' | 'yellow' } {
  switch (step.status) {
    case 'pending':
      return { text: 'checking guards…', spinner: true };
    case 'running':
      return { text: 'running', spinner: true, color: 'cyan' };
    case 'awaiting-confirmation':
      return { text: 'ready: waiting for you', spinner: false, color: 'green' };
    case 'blocked':
      return { text: 'BLOCKED by a guard', spinner: false, color: 'red' };
    case 'failed':
      return { text: `FAILED${step.error ? `: ${step.error}` : ''}`, spinner: false, color: 'red' };
    case 'unknown':
      return { text: 'UNKNOWN — it was running when the tool stopped: check before re-running', spinner: false, color: 'yellow' };
    default:
      return { text: step.status, spinner: false };
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
      return <Text color={tone('red')}>{CONFIRM_ABORT}</Text>;
    default:
      return asking ? <Text bold>{keyLine(step, asking)}</Text> : <Text dimColor>{keyLine(step, asking)}</Text>;
  }
}

const CONFIRM_ABORT = 'Abort the run here? The journal keeps it; resume continues later. y aborts, any other key goes back';

/** The keys that mean something now (or, while the runner is busy, how to leave). */
function keyLine(step: StepState, asking: boolean): string {
  if (!asking) return `Ctrl-C ${step.status === 'running' ? 'abandons the running step' : 'quits'} · ? help`;
  const can = legalAnswers(step);
  return [can.confirm && 'y run', can.retry && (step.status === 'blocked' ? 'r re-check' : 'r retry'), can.skip && 's skip', can.override && 'o override', 'a abort', '? help'].filter(Boolean).join(' · ');
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
      <Text>  g   show every guard and every node in full</Text>
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

/** Commands as `$ cmd` (or `node $ cmd` for several nodes), cut to a number of terminal lines (the last says when there are more). */
function commandLines(commands: Array<{ node: string; host: string; text: string }>, columns: number, max: number): { lines: string[]; more: boolean } {
  const all = allCommandLines(commands, columns);
  if (all.length <= max) return { lines: all, more: false };
  return { lines: all.slice(0, Math.max(1, max - 1)), more: true };
}

function allCommandLines(commands: Array<{ node: string; text: string }>, columns: number): string[] {
  const single = commands.length === 1;
  return commands.flatMap((c) => hardWrap((single ? `$ ${c.text}` : `${c.node} $ ${c.text}`).replace(/\s*\n\s*/g, ' '), columns));
}

/** The hosts a step runs on, as long as the line has room for: with addresses, names only, or a count. */
function hostsText(def: RenderedStep, room: number): string {
  if (def.targets.length === 0) return def.leftOut !== undefined ? `none (skipped: ${def.leftOut})` : 'no node';
  const full = [...new Set(def.targets.map((t) => (t.host === t.node ? t.host : `${t.node} (${t.host})`)))].join(', ');
  if (displayWidth(full) <= room) return full;
  const names = [...new Set(def.targets.map((t) => t.node))];
  const short = names.join(', ');
  if (displayWidth(short) <= room) return short;
  return `${names.length} nodes`;
}

/** The key line's text as drawn (to count the rows it wraps to). */
function promptText(prompt: Prompt, draft: string, step: StepState, asking: boolean): string {
  const typing = (label: string) => `${label} ${draft}   (Enter to confirm, Esc to go back)`;
  switch (prompt.kind) {
    case 'skip-reason':
      return typing('Reason for skipping:');
    case 'override-reason':
      return typing(`Reason for overriding ${prompt.check}:`);
    case 'type-names':
      return typing(`DESTRUCTIVE: type ${prompt.expected.join(',')} to run it:`);
    case 'confirm-abort':
      return CONFIRM_ABORT;
    default:
      return keyLine(step, asking);
  }
}

/**
 * Decide what the step view draws in `rows` × `columns`: the lines always
 * drawn are measured here, the rest is planStepView's (layout.ts).
 */
function plan(input: { state: RunState; step: StepState; def: RenderedStep; columns: number; rows: number; health: HealthView; outputLines: number; view: StepViewState; asking: boolean }) {
  const { state, step, def, columns, rows, health, view, asking } = input;
  const [badge] = RISK_BADGE[def.risk];
  const title = ellipsize(`Step ${state.cursor + 1} of ${state.steps.length}: ${def.title}`, Math.max(1, columns - displayWidth(badge) - 3));
  const why = wordWrap(`why: ${def.why}`, columns, 2);
  const status = statusOf(step);
  const hosts = hostsText(def, columns - displayWidth(`on  · ${status.text}`) - (status.spinner ? 2 : 0));
  const commands = def.targets.map((t) => ({ node: t.node, host: t.host, text: describeTarget(t) }));
  const fixed =
    1 + // title
    why.length +
    1 + // on … · status
    (health.report ? compactHealthRows(health.report, health.changed, columns) : 0) +
    wordWrap(promptText(view.prompt, view.draft, step, asking), columns).length +
    (view.notice ? wordWrap(view.notice, columns).length : 0);
  const failing = step.guards.filter((g) => !g.ok || g.overriddenBecause !== undefined).length;
  const layout = planStepView({
    rows,
    fixed,
    commandLines: allCommandLines(commands, columns).length,
    failing,
    passing: step.guards.length - failing,
    check: step.check !== undefined,
    nodes: step.targets.length,
    outputLines: input.outputLines,
  });
  return { title, why, hosts, commands, layout };
}
