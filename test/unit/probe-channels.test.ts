import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProbeChannels } from '../../src/cluster/channels.js';
import { probeCluster, probeEndpoint } from '../../src/cluster/probe.js';

/**
 * A member that accepts connections and never speaks TLS is what a
 * SIGSTOPped etcd looks like. The channels keep the one attempt that went
 * unanswered and look at it again on the next probe, instead of opening a
 * new connection (and waiting the deadline again) every time. Tested on the
 * connections the server sees; the real-etcd side (warm clients seeing a
 * kill, a restart, a freeze and a thaw) is in test/e2e/detection.test.ts.
 */
describe('ProbeChannels: a silent endpoint', () => {
  let server: Server;
  let accepted: Socket[];
  let endpoint: string;
  // read and drop what the client sends (its TLS hello), never answer: a peer's close is then seen
  const accept = (socket: Socket) => {
    accepted.push(socket);
    socket.resume();
  };

  beforeEach(async () => {
    accepted = [];
    server = createServer(accept);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    endpoint = `https://127.0.0.1:${address.port}`;
  });
  afterEach(async () => {
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const open = () => accepted.filter((s) => !s.closed);
  const closed = (socket: Socket | undefined) => new Promise<void>((resolve) => (!socket || socket.closed ? resolve() : socket.once('close', () => resolve())));

  it('keeps one connection attempt across probes and reports how long it has gone unanswered', async () => {
    const channels = new ProbeChannels(undefined);
    try {
      const first = await probeEndpoint({ endpoint }, { deadlineMs: 150, channels });
      expect(first).toMatchObject({ reachable: false, silent: true });
      // the deadline is 150 ms; a timer may fire a millisecond before the clock the message reads says so
      expect(first.error).toMatch(/no answer within 1[4-9]\d ms/);
      for (let i = 0; i < 5; i++) {
        const again = await probeEndpoint({ endpoint }, { deadlineMs: 150, channels });
        expect(again).toMatchObject({ reachable: false, silent: true });
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      const last = await probeEndpoint({ endpoint }, { deadlineMs: 150, channels });
      // the attempt's age: it has gone unanswered since the first probe
      expect(Number(/no answer within (\d+) ms/.exec(last.error ?? '')?.[1])).toBeGreaterThanOrEqual(150 + 200);
      expect(accepted).toHaveLength(1);
    } finally {
      channels.close();
    }
  });

  it('probes at the same time share the attempt', async () => {
    const channels = new ProbeChannels(undefined);
    try {
      await probeEndpoint({ endpoint }, { deadlineMs: 100, channels });
      const together = await Promise.all([1, 2, 3].map(() => probeEndpoint({ endpoint }, { deadlineMs: 100, channels })));
      for (const p of together) expect(p.silent).toBe(true);
      expect(accepted).toHaveLength(1);
    } finally {
      channels.close();
    }
  });

  it('asks anew once the attempt is refused or reset (the member was killed since)', async () => {
    const channels = new ProbeChannels(undefined);
    try {
      await probeEndpoint({ endpoint }, { deadlineMs: 100, channels });
      expect(accepted).toHaveLength(1);
      // the member dies: its connections are reset; the port is gone
      accepted[0]?.resetAndDestroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const dead = await probeEndpoint({ endpoint }, { deadlineMs: 100, channels });
      expect(dead).toMatchObject({ reachable: false, silent: false, error: expect.stringContaining('connection refused') });
      // it comes back (frozen again, say): a new attempt, on the new process
      server = createServer(accept);
      await new Promise<void>((resolve) => server.listen(Number(new URL(endpoint).port), '127.0.0.1', resolve));
      const back = await probeEndpoint({ endpoint }, { deadlineMs: 100, channels });
      expect(back.silent).toBe(true);
      expect(accepted).toHaveLength(2);
    } finally {
      channels.close();
    }
  });

  it('close() ends the attempt it kept, and later probes keep nothing', async () => {
    const channels = new ProbeChannels(undefined);
    await probeCluster([{ endpoint }], { deadlineMs: 100, channels });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(open()).toHaveLength(1);
    channels.close();
    await closed(accepted[0]);
    expect(open()).toHaveLength(0);
    // a probe after close still answers, and leaves no connection behind
    expect((await probeEndpoint({ endpoint }, { deadlineMs: 100, channels })).silent).toBe(true);
    expect(accepted).toHaveLength(2);
    await closed(accepted[1]);
    expect(open()).toHaveLength(0);
  });

  it('without channels every probe is a connection of its own, closed at its deadline (detection, status)', async () => {
    await probeEndpoint({ endpoint }, { deadlineMs: 100 });
    await probeEndpoint({ endpoint }, { deadlineMs: 100 });
    expect(accepted).toHaveLength(2);
  });
});
