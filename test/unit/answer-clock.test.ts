import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerClock, floorFor, FROZEN_AFTER_FLOOR_MS, frozenAfterMs } from '../../src/cluster/answer-clock.js';
import { startHandshake } from '../../src/cluster/handshake.js';
import { probeCluster } from '../../src/cluster/probe.js';

describe('frozenAfterMs: when a member that has not answered is judged frozen', () => {
  it.each([
    // answers so far (ms), ceiling, judged frozen after
    [[], 1200, 1200],
    [[3], 1200, 250],
    [[3, 20, 12], 1200, 250],
    [[60], 1200, 300],
    [[60, 100], 1200, 500],
    [[400], 1200, 1200],
    [[30], 200, 200],
    [[10.2], 1200, 250],
    [[70.1], 1200, 351],
  ])('answers %j, ceiling %i ms → %i ms', (answered, ceiling, expected) => {
    expect(frozenAfterMs(answered, ceiling)).toBe(expected);
  });

  it('waits the ceiling while nobody has answered: there is nothing to compare with', () => {
    expect(frozenAfterMs([], 5000)).toBe(5000);
  });

  it('never judges before the floor, however fast the others', () => {
    expect(frozenAfterMs([0], 1200)).toBe(FROZEN_AFTER_FLOOR_MS);
  });

  it('never waits past the ceiling (--timeout), however slow the others', () => {
    expect(frozenAfterMs([10_000], 1200)).toBe(1200);
  });

  it('takes the factor and floor it is given', () => {
    expect(frozenAfterMs([50], 1200, 3, 100)).toBe(150);
    expect(frozenAfterMs([10], 1200, 3, 100)).toBe(100);
  });
});

describe('floorFor: the floor grows when the slowness may be ours', () => {
  it.each([
    // load per CPU, other handshakes in flight in this process, floor
    [0.2, 0, 250],
    [1, 0, 250],
    [2, 0, 500],
    [3.5, 0, 875],
    [0.5, 4, 330],
    [0.5, 95, 2150],
    [2, 2, 540],
    [0.5, -1, 250],
  ])('load %f per CPU, %i other handshakes → %i ms', (load, others, floor) => {
    expect(floorFor(load, others)).toBe(floor);
  });
});

/**
 * Real sockets: a member that accepts the TCP connection and never speaks
 * TLS (what a SIGSTOPped etcd looks like), beside one that answers at once.
 */
describe('probeCluster: the adaptive deadline', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  let silent: string;
  let answering: string;

  const listen = async (hangUp = false): Promise<number> => {
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      if (hangUp) socket.destroy();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    return address.port;
  };

  beforeAll(async () => {
    silent = `https://127.0.0.1:${await listen()}`;
    // plain TCP: connecting is its whole handshake, so it answers at once (then hangs up: no etcd)
    answering = `http://127.0.0.1:${await listen(true)}`;
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    for (const server of servers) server.close();
  });

  it('gives up on a silent member at the floor once another member has said its status, not at the ceiling', async () => {
    const clock = new AnswerClock();
    const attempt = startHandshake(silent, undefined, String);
    try {
      const started = Date.now();
      const waiting = clock.outcomeOf(attempt, 6000);
      // another member's status, 10 ms after the probe began
      clock.answered(10);
      expect(await waiting).toBeUndefined();
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(FROZEN_AFTER_FLOOR_MS - 5);
      // the floor grows with this host's load; still far from the ceiling
      expect(elapsed).toBeLessThan(3000);
    } finally {
      attempt.destroy();
    }
  });

  it('a connection alone sets no pace: beside a member that connects but never says its status, the silent one gets the whole deadline', async () => {
    const report = await probeCluster([{ endpoint: answering }, { endpoint: silent }], { deadlineMs: 700 });
    const frozen = report.endpoints.find((p) => p.endpoint === silent);
    expect(frozen).toMatchObject({ reachable: false, silent: true, error: expect.stringContaining('no answer within 700 ms') });
  });

  it('waits the whole deadline when nobody answers', async () => {
    const report = await probeCluster([{ endpoint: silent }], { deadlineMs: 600 });
    expect(report.endpoints[0]).toMatchObject({ reachable: false, silent: true, error: expect.stringContaining('no answer within 600 ms') });
    expect(report.endpoints[0]?.latencyMs).toBeGreaterThanOrEqual(595);
  });
});
