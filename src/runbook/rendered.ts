import type { Verdict } from '../cluster/types.js';
import type { EditConfigPlan } from './kinds/edit-config.js';
import type { MoveAsidePlan } from './kinds/move-aside.js';
import type { RenewCertificatesPlan } from './kinds/renew-certificates.js';
import type { SnapshotRestorePlan } from './kinds/snapshot-restore.js';
import type { EtcdAction, Risk, StepKind, WaitCondition } from './schema.js';

/**
 * A runbook with every template filled in for one cluster: what `plan`
 * prints and what the engine executes. Commands here are final strings —
 * every interpolated value already quoted by util/shell.ts.
 */
export type ParamValue = string | number | boolean;

export interface RenderedGuard {
  check: string;
  params: Record<string, ParamValue>;
  /** the runbook's message, else the guard's own when it fails */
  message?: string;
  overridable: boolean;
  /** one line, for plan and the step view: what it checks */
  description: string;
}

/** One node's share of a step. */
export interface RenderedTarget {
  /** member name, or 'local' */
  node: string;
  /** where it runs, as shown to the operator: "local", "root@10.0.0.2" */
  host: string;
  /**
   * The shell command; for a typed kind (restore, moveAside), what `plan`
   * shows and the journal records: the runner executes the kind's plan.
   */
  command?: string;
  restore?: SnapshotRestorePlan;
  moveAside?: MoveAsidePlan;
  editConfig?: EditConfigPlan;
  renewCertificates?: RenewCertificatesPlan;
  etcd?: { action: EtcdAction; params: Record<string, ParamValue> };
  copy?: { fromNode: string; fromPath: string; toPath: string; recursive: boolean; optional: boolean };
  wait?: { until: WaitCondition; params: Record<string, ParamValue>; intervalMs: number };
  instruction?: string;
}

export interface RenderedStep {
  id: string;
  title: string;
  why: string;
  kind: StepKind;
  risk: Risk;
  source?: string;
  timeoutMs: number;
  guards: RenderedGuard[];
  check?: RenderedGuard;
  /**
   * The step starts or stops no service and changes nothing in etcd
   * (runbook/render.ts says which steps): a probe taken before it still
   * describes the cluster after it. Absent: it may change the cluster.
   */
  leavesClusterAsIs?: true;
  /** why the step's `when:` leaves it out of this run (its targets are then empty: it never runs) */
  leftOut?: string;
  /** empty when the step does not apply to this cluster's layouts, or its `when:` leaves it out */
  targets: RenderedTarget[];
}

export interface RenderedRunbook {
  id: string;
  title: string;
  description: string;
  /** the verdicts it is for (absent in journals written before it was kept): resume judges them again */
  appliesTo?: Verdict[];
  sources: string[];
  inputs: Record<string, ParamValue>;
  steps: RenderedStep[];
}
