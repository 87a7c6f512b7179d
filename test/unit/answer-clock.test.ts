import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FROZEN_AFTER_FLOOR_MS, frozenAfterMs } from '../../src/cluster/answer-clock.js';
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

  it('judges a silent member frozen at the floor once another member has answered, not at the ceiling', async () => {
    const started = Date.now();
    const report = await probeCluster([{ endpoint: answering }, { endpoint: silent }], { deadlineMs: 3000 });
    const elapsed = Date.now() - started;
    const frozen = report.endpoints.find((p) => p.endpoint === silent);
    expect(frozen).toMatchObject({ reachable: false, silent: true });
    expect(frozen?.error).toMatch(/^no answer within 2\d\d ms while the members that answered took at most \d+ ms \(member frozen, overloaded or blackholed\?\)$/);
    expect(frozen?.latencyMs).toBeGreaterThanOrEqual(FROZEN_AFTER_FLOOR_MS - 5);
    // the answering endpoint hangs up on its calls at once: the silent one sets the time
    expect(elapsed).toBeLessThan(1000);
  });

  it('waits the whole deadline when nobody answers', async () => {
    const report = await probeCluster([{ endpoint: silent }], { deadlineMs: 600 });
    expect(report.endpoints[0]).toMatchObject({ reachable: false, silent: true, error: expect.stringContaining('no answer within 600 ms') });
    expect(report.endpoints[0]?.latencyMs).toBeGreaterThanOrEqual(595);
  });
});
