import { appliesToOverrideText } from '../engine/transcript.js';
import type { EngineEvent, RunState } from '../engine/types.js';
import { inferredNodesLine } from '../inventory/infer-nodes.js';
import { paint } from '../util/color.js';

/**
 * The plain, line-by-line view of a run (non-interactive `run --yes`, CI,
 * drills, pipes): one line per transition, output indented under its node.
 * Output arrives in chunks that split lines anywhere: whole lines are
 * printed as they complete, the rest when the node finishes.
 */
export class StepLog {
  private readonly partial = new Map<string, string>();

  constructor(private readonly color: boolean) {}

  line(event: EngineEvent, state: RunState): string | undefined {
    if (event.type === 'output') {
      const text = (this.partial.get(event.node) ?? '') + event.chunk;
      const end = text.lastIndexOf('\n');
      this.partial.set(event.node, text.slice(end + 1));
      return end < 0 ? undefined : prefixed(event.node, text.slice(0, end));
    }
    const rest = event.type === 'target-finished' ? this.flush(event.node) : undefined;
    const own = stepLogLine(event, state, this.color);
    return [rest, own].filter((x): x is string => x !== undefined).join('\n') || undefined;
  }

  private flush(node: string): string | undefined {
    const text = this.partial.get(node);
    this.partial.delete(node);
    return text ? prefixed(node, text) : undefined;
  }
}

function prefixed(node: string, text: string): string {
  return text.split('\n').map((line) => `  [${node}] ${line}`).join('\n');
}

export function stepLogLine(event: EngineEvent, state: RunState, color: boolean): string | undefined {
  const total = state.runbook.steps.length;
  const index = (id: string) => state.runbook.steps.findIndex((s) => s.id === id) + 1;
  const title = (id: string) => state.runbook.steps.find((s) => s.id === id)?.title ?? id;
  switch (event.type) {
    case 'run-started': {
      const started = paint(`${event.dryRun ? 'DRY RUN — nothing that changes state will run. ' : ''}runbook ${event.runbook.id}: ${event.runbook.title} (run ${event.runId})`, 'bold', color);
      // before the first step: which nodes nobody read (their commands run on a guess)
      const inferred = event.cluster && inferredNodesLine(event.cluster.inventory);
      return inferred ? `${started}\n${paint(inferred, 'yellow', color)}` : started;
    }
    case 'run-resumed':
      return `resumed by ${event.operator}`;
    case 'applies-to-overridden':
      return paint(appliesToOverrideText(event), 'yellow', color);
    case 'guards-evaluated': {
      const lines = [`step ${index(event.step)}/${total}: ${title(event.step)}`];
      for (const g of event.outcomes) lines.push(`  guard ${g.ok ? paint('pass', 'green', color) : paint('FAIL', 'red', color)} ${g.check}: ${g.message}`);
      return lines.join('\n');
    }
    case 'guard-overridden':
      return paint(`  guard ${event.check} overridden by ${event.operator}: ${event.reason}`, 'yellow', color);
    case 'confirmed':
      return `  confirmed by ${event.operator}`;
    case 'skipped':
      return paint(`  skipped by ${event.operator}: ${event.reason}`, 'yellow', color);
    case 'retry':
      return `  retry of step ${index(event.step)} by ${event.operator}`;
    case 'target-started':
      return `  [${event.node}] $ ${event.ran}`;
    case 'output':
      return prefixed(event.node, event.chunk.replace(/\n$/, ''));
    case 'target-finished':
      return event.ok
        ? paint(`  [${event.node}] ${event.recorded ? 'recorded (dry run)' : 'ok'}`, 'green', color)
        : paint(`  [${event.node}] FAILED${event.error ? `: ${event.error}` : ''}`, 'red', color);
    case 'check-evaluated':
      return `  check ${event.outcome.ok ? 'pass' : 'FAIL'} ${event.outcome.check}: ${event.outcome.message}`;
    case 'step-finished':
      return event.ok ? paint(`  ✓ ${title(event.step)}`, 'green', color) : paint(`  ✗ ${title(event.step)}: ${event.error ?? 'failed'}`, 'red', color);
    case 'step-unknown':
      return paint(`  step ${index(event.step)} (${title(event.step)}) was running when the tool stopped: state unknown — check before re-running`, 'yellow', color);
    case 'aborted':
      return paint(`aborted by ${event.operator}: ${event.reason}`, 'red', color);
    case 'run-finished':
      return paint(`run ${event.status}`, event.status === 'succeeded' ? 'green' : 'red', color);
    default:
      return undefined;
  }
}
