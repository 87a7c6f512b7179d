import type { ClusterReport } from '../cluster/types.js';
import type { RunState } from '../engine/types.js';
import type { LiveHealth } from './live-health.js';
import type { Store } from './store.js';
import type { TuiOperator } from './tui-operator.js';

/**
 * What the full-screen view is given by the CLI: effects behind small
 * interfaces (so component tests pass fakes), and nothing that decides what
 * to do about the cluster — the runner decides, the view shows and asks.
 */
export interface ProbeTargetView {
  name: string;
  endpoint: string;
}

export interface RunbookChoice {
  id: string;
  title: string;
  /** one line */
  description: string;
  /** why it is offered for this verdict */
  reason: string;
  recommended: boolean;
}

export interface RunOutcome {
  state: RunState;
  journal: string;
  transcript: string;
  exitCode: number;
}

/** A run in progress: its state as the runner moves it, the operator it asks, and its end. */
export interface RunHandle {
  state: Store<RunState>;
  operator: TuiOperator;
  /** Ctrl-C confirmed: the runner's AbortSignal; the step in flight is abandoned and journaled */
  abandon(): void;
  finished: Promise<RunOutcome>;
}

export interface TuiSession {
  dryRun: boolean;
  /** the members being probed, for the spinners */
  targets: ProbeTargetView[];
  /** about the cluster description, shown with the verdict before any step (nodes inferred, not read) */
  notes?: string[];
  /** first detection */
  detect(): Promise<ClusterReport>;
  /** runbooks offered for a verdict, recommended first; problems loading others, one line each */
  choices(report: ClusterReport): Promise<{ choices: RunbookChoice[]; problems: string[] }>;
  /** render and start a runbook (journal created); throws an operator-readable error */
  begin(runbookId: string, report: ClusterReport): Promise<RunHandle>;
  /** refreshed every 2 s while the view is up */
  health: LiveHealth;
  /** a run to open at once (run <runbook>, resume), skipping detection and choice */
  run?: RunHandle;
}
