import type { Etcd3 } from 'etcd3';
import type { AnswerClock } from './answer-clock.js';
import { failureOf, startHandshake, outcomeWithin, type HandshakeAttempt, type HandshakeFailure } from './handshake.js';
import type { ClientTls } from './tls.js';

/**
 * What the repeated probes of one run or view keep between probes, so that
 * a probe costs the RPCs it makes and not the connections it opens (every
 * step of a run probes the cluster for its guards; two TLS handshakes per
 * endpoint per probe were most of the tool's own time in a drill):
 *
 *  - an endpoint that answered keeps its client. The next probe makes the
 *    same calls (status, member list, a linearizable read) on the open
 *    connection; it proves the member answers now just as a new connection
 *    would. Probes at the same time (a wait's first probe while the probe
 *    after the last step is still out) share it: gRPC multiplexes their
 *    calls on its one connection, where each used to open its own. Any
 *    failure on it closes it, and the endpoint is probed on a new
 *    connection at once: a member killed or restarted between probes is
 *    seen as it is now.
 *  - an endpoint that stayed silent (frozen, blackholed) keeps its one
 *    connection attempt: the next probe looks at whether that attempt has
 *    been answered since, instead of opening another and waiting the
 *    deadline again. "No answer for 4 s" is the same finding, made in no
 *    time, and a member that thaws answers that attempt at once.
 *
 * Still one client per endpoint, no retries, a deadline per endpoint, so
 * one frozen member cannot stall the others. close() when the run or view ends: open clients hold the
 * process up.
 */
export class ProbeChannels {
  private readonly warm = new Map<string, Etcd3>();
  private readonly waiting = new Map<string, HandshakeAttempt>();
  private closed = false;

  constructor(readonly tls: ClientTls | undefined) {}

  /** The endpoint's open client, if it answered last time; it stays kept unless the caller drops it. */
  lend(endpoint: string): Etcd3 | undefined {
    return this.warm.get(endpoint);
  }

  /** Keep a client that just answered for the next probe (one per endpoint: a second one is closed). */
  keep(endpoint: string, client: Etcd3): void {
    const kept = this.warm.get(endpoint);
    if (kept === client) return;
    if (this.closed || kept) {
      client.close();
      return;
    }
    this.warm.set(endpoint, client);
  }

  /** Close a client that failed a probe (and forget it, if it is the kept one): the next probe connects anew. */
  drop(endpoint: string, client: Etcd3): void {
    if (this.warm.get(endpoint) === client) this.warm.delete(endpoint);
    client.close();
  }

  /**
   * Connect within `deadlineMs`, counting the time an attempt left open by an
   * earlier probe has already waited. Probes of the endpoint at the same
   * time (the run's, the client's ranking) share its one attempt. Undefined
   * when it answered. With a clock, a silent attempt is given up on as soon
   * as the clock judges it frozen (see AnswerClock).
   */
  async handshake(
    endpoint: string,
    deadlineMs: number,
    describe: (err: unknown) => string,
    silentError: (ms: number) => string,
    clock?: AnswerClock,
  ): Promise<HandshakeFailure | undefined> {
    const wait = (attempt: HandshakeAttempt, ms: number) => (clock ? clock.outcomeOf(attempt, ms) : outcomeWithin(attempt, ms - (Date.now() - attempt.startedAt)));
    const earlier = this.waiting.get(endpoint);
    if (earlier) {
      const outcome = await wait(earlier, deadlineMs);
      if (outcome === undefined) return failureOf(outcome, silentError(Date.now() - earlier.startedAt));
      // answered since (thawed), or refused or reset since (killed): either way, ask it again now
      this.forget(earlier);
    }
    const attempt = startHandshake(endpoint, this.tls, describe);
    if (!this.closed && !this.waiting.has(endpoint)) this.waiting.set(endpoint, attempt);
    const outcome = await wait(attempt, deadlineMs);
    // left open for the next probe while silent, unless another probe's attempt already is
    if (outcome !== undefined) this.forget(attempt);
    else if (this.waiting.get(endpoint) !== attempt) attempt.destroy();
    return failureOf(outcome, silentError(Date.now() - attempt.startedAt), attempt.certificate());
  }

  private forget(attempt: HandshakeAttempt): void {
    attempt.destroy();
    if (this.waiting.get(attempt.endpoint) === attempt) this.waiting.delete(attempt.endpoint);
  }

  close(): void {
    this.closed = true;
    for (const client of this.warm.values()) client.close();
    this.warm.clear();
    for (const attempt of this.waiting.values()) attempt.destroy();
    this.waiting.clear();
  }
}
