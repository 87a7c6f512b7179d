import { healthWord } from '../cluster/report-table.js';
import type { ClusterReport, EndpointProbe } from '../cluster/types.js';
import { Store } from './store.js';

export interface HealthView {
  report?: ClusterReport;
  /** member (name or endpoint) → its health word before the latest change, for the probes since it changed */
  changed: Record<string, string>;
  refreshing: boolean;
}

/** The key a member is known by in the table. */
export function memberKey(probe: EndpointProbe): string {
  return probe.name ?? probe.expectedName ?? probe.endpoint;
}

/**
 * What changed between two probes: members whose health word differs, with
 * the word they had. A change stays marked for `keep` refreshes.
 */
export function healthChanges(previous: ClusterReport | undefined, next: ClusterReport): Record<string, string> {
  if (!previous) return {};
  const before = new Map(previous.endpoints.map((p) => [memberKey(p), healthWord(p)]));
  const changed: Record<string, string> = {};
  for (const probe of next.endpoints) {
    const was = before.get(memberKey(probe));
    if (was !== undefined && was !== healthWord(probe)) changed[memberKey(probe)] = was;
  }
  return changed;
}

/**
 * The health table's feed: probes every `intervalMs` in the background (the
 * next probe starts when the last one ended, so a frozen member never stacks
 * probes up), never on the input path.
 */
export class LiveHealth {
  readonly view = new Store<HealthView>({ changed: {}, refreshing: false });
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  /** how many more refreshes a change stays marked */
  private marks = new Map<string, { was: string; left: number }>();

  constructor(
    private readonly probe: () => Promise<ClusterReport>,
    private readonly intervalMs = 2000,
  ) {}

  /** Seed with a report already taken (detection, the run's last probe). */
  seed(report: ClusterReport): void {
    this.publish(report);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Probe now (detection uses it); the result is published. */
  async refresh(): Promise<ClusterReport> {
    this.view.set({ ...this.view.get(), refreshing: true });
    try {
      const report = await this.probe();
      if (!this.stopped || this.timer === undefined) this.publish(report);
      return report;
    } finally {
      this.view.set({ ...this.view.get(), refreshing: false });
    }
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.refresh()
        .catch(() => undefined)
        .finally(() => {
          if (!this.stopped) this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref?.();
  }

  private publish(report: ClusterReport): void {
    const fresh = healthChanges(this.view.get().report, report);
    for (const [name, mark] of this.marks) {
      if (mark.left <= 1) this.marks.delete(name);
      else this.marks.set(name, { ...mark, left: mark.left - 1 });
    }
    for (const [name, was] of Object.entries(fresh)) this.marks.set(name, { was, left: 3 });
    const changed = Object.fromEntries([...this.marks].map(([name, mark]) => [name, mark.was]));
    this.view.set({ report, changed, refreshing: this.view.get().refreshing });
  }
}
