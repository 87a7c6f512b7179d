import { availableParallelism, loadavg } from 'node:os';
import { handshakesInFlight, type HandshakeAttempt } from './handshake.js';

/**
 * The adaptive per-endpoint deadline: the verdict comes in under a second
 * even with a frozen member. A probe connects to every
 * member at once; once some have answered (their status, connection
 * included), a member still silent after several times the slowest of those
 * answers is judged frozen, instead of being waited for up to the whole
 * deadline (`--timeout`, the ceiling). A connection alone is no answer: a
 * member that connects and then cannot say its status in time sets no pace.
 *
 * It bounds the connection (TCP and TLS handshake) only: the Go runtime
 * answers a handshake whatever raft is doing, so a member busy in an
 * election, or slow to serve a read, still connects at once and then gets
 * the whole deadline for its calls. What stays silent here sends not one
 * byte back: SIGSTOPped, blackholed, or a host too starved to say hello.
 *
 * The floor keeps one fast answer from judging the others on a busy machine,
 * and it grows when the slowness may be ours: with the host's load past its
 * CPUs (an answer then waits for a CPU on either side), and with the TLS
 * handshakes this process has in flight (each costs it CPU time, one after
 * the other: the last to be served is late through no fault of its member).
 */
export const FROZEN_AFTER_FACTOR = 5;
export const FROZEN_AFTER_FLOOR_MS = 250;
/** what each other handshake in flight in this process may add to an answer */
export const PER_HANDSHAKE_IN_FLIGHT_MS = 20;

/**
 * The floor for this moment: FROZEN_AFTER_FLOOR_MS times the host's load per
 * CPU (when over 1), plus PER_HANDSHAKE_IN_FLIGHT_MS per other handshake this
 * process has in flight.
 */
export function floorFor(loadPerCpu: number, otherHandshakes: number): number {
  return Math.ceil(FROZEN_AFTER_FLOOR_MS * Math.max(1, loadPerCpu) + PER_HANDSHAKE_IN_FLIGHT_MS * Math.max(0, otherHandshakes));
}

function currentFloor(): number {
  return floorFor((loadavg()[0] ?? 0) / availableParallelism(), handshakesInFlight() - 1);
}

/**
 * How long after its attempt began a member that has not answered is judged
 * frozen: the ceiling while nobody has answered; then `factor` times the
 * slowest answer so far, never under the floor nor over the ceiling.
 */
export function frozenAfterMs(answeredMs: readonly number[], ceilingMs: number, factor = FROZEN_AFTER_FACTOR, floorMs = FROZEN_AFTER_FLOOR_MS): number {
  if (answeredMs.length === 0) return ceilingMs;
  return Math.min(ceilingMs, Math.max(floorMs, Math.ceil(factor * Math.max(...answeredMs))));
}

/** The answers of one probe's connection attempts, which set how long the silent ones are waited for. */
export class AnswerClock {
  private readonly answeredMs: number[];
  private readonly listeners = new Set<() => void>();
  /** endpoints this probe will hear nothing more from */
  private readonly gone = new Map<string, 'frozen' | 'down'>();
  private readonly goneListeners = new Set<() => void>();

  constructor(seedMs: readonly number[] = []) {
    this.answeredMs = [...seedMs];
  }

  /** A fresh clock for a later round of the same probe, knowing how fast the members answered. */
  next(): AnswerClock {
    return new AnswerClock(this.answeredMs);
  }

  /** A member said its status `ms` after its probe began. */
  answered(ms: number): void {
    this.answeredMs.push(ms);
    for (const listener of [...this.listeners]) listener();
  }

  /** This probe gave up on the endpoint as silent. */
  markFrozen(endpoint: string): void {
    this.mark(endpoint, 'frozen');
  }

  /** The endpoint refused or failed: it will not answer this probe either. */
  markDown(endpoint: string): void {
    this.mark(endpoint, 'down');
  }

  /** Resolves if and when this probe gives up on the endpoint as silent. */
  whenFrozen(endpoint: string): Promise<void> {
    return this.until(() => this.gone.get(urlKey(endpoint)) === 'frozen');
  }

  /**
   * Resolves with how many can still answer, if and when fewer than `needed`
   * of these members can (each given by its client URLs; one gone is enough).
   */
  whenFewerThan(members: readonly (readonly string[])[], needed: number): Promise<number> {
    const left = () => members.filter((urls) => !urls.some((url) => this.gone.has(urlKey(url)))).length;
    return this.until(() => left() < needed).then(left);
  }

  private mark(endpoint: string, how: 'frozen' | 'down'): void {
    this.gone.set(urlKey(endpoint), how);
    for (const check of [...this.goneListeners]) check();
  }

  private until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const check = () => {
        if (!test()) return;
        this.goneListeners.delete(check);
        resolve();
      };
      this.goneListeners.add(check);
    });
  }

  slowestAnswerMs(): number | undefined {
    return this.answeredMs.length === 0 ? undefined : Math.max(...this.answeredMs);
  }

  /** The attempt's outcome, or undefined when it is still silent at frozenAfterMs (recomputed as answers come in). */
  async outcomeOf(attempt: HandshakeAttempt, ceilingMs: number): Promise<string | undefined> {
    for (;;) {
      const outcome = attempt.outcome();
      if (outcome !== undefined) return outcome;
      const left = frozenAfterMs(this.answeredMs, ceilingMs, FROZEN_AFTER_FACTOR, currentFloor()) - (Date.now() - attempt.startedAt);
      if (left <= 0) {
        // timers run before the I/O of the same turn: an answer already in may not have been read yet
        await new Promise((resolve) => setImmediate(resolve));
        return attempt.outcome();
      }
      // whichever comes first: its own outcome, its limit, or another member's answer (a new limit)
      await this.firstOf(attempt, left);
    }
  }

  private firstOf(attempt: HandshakeAttempt, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.listeners.add(done);
      void attempt.settled.then(done);
    });
  }

}

function urlKey(url: string): string {
  return url.replace(/\/+$/, '');
}
