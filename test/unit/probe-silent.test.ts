import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentRecheck } from '../../src/cluster/probe.js';

/**
 * A member that accepts connections but never answers (what a SIGSTOPped
 * etcd looks like: the kernel completes the TCP handshake, nobody speaks
 * TLS) is re-checked with the short deadline once it has been silent, and
 * gets the full one back as soon as it answers anything.
 */
describe('silentRecheck', () => {
  let server: Server;
  const sockets: Socket[] = [];
  let endpoint: string;

  beforeAll(async () => {
    server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    endpoint = `https://127.0.0.1:${address.port}`;
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });

  it('gives a silent member the short deadline next time, and the full one once it answers', async () => {
    const probe = silentRecheck([{ endpoint }], { deadlineMs: 400 }, 100);
    const first = await probe();
    expect(first.endpoints[0]).toMatchObject({ reachable: false, silent: true, error: expect.stringContaining('no answer within 400 ms') });
    const second = await probe();
    expect(second.endpoints[0]).toMatchObject({ reachable: false, silent: true, error: expect.stringContaining('no answer within 100 ms') });
    // a run's probes start from its detection: silent there, short at once
    const seeded = silentRecheck([{ endpoint }], { deadlineMs: 400 }, 100, first);
    expect((await seeded()).endpoints[0]?.error).toContain('no answer within 100 ms');
    // it answers now (a refusal is an answer): back on the full deadline
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const refused = await probe();
    expect(refused.endpoints[0]).toMatchObject({ reachable: false, silent: false, error: expect.stringContaining('connection refused') });
    server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(Number(new URL(endpoint).port), '127.0.0.1', resolve));
    const again = await probe();
    expect(again.endpoints[0]?.error).toContain('no answer within 400 ms');
  });
});
