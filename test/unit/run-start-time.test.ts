import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStartTime, runTimestamp } from '../../src/session/run-ids.js';

describe('a run\'s start time', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'etcd-runbook-runtime-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is never the second of a run already in the journal dir (its files are named by it and never overwritten)', async () => {
    const taken = runTimestamp(new Date());
    await writeFile(join(dir, `${taken}-backup-abcd.jsonl`), '');
    const start = await runStartTime(dir);
    expect(runTimestamp(start)).not.toBe(taken);
    expect(runTimestamp(start) > taken).toBe(true);
  });

  it('is now when the journal dir has no run of this second, or does not exist yet', async () => {
    const before = Date.now();
    expect((await runStartTime(join(dir, 'missing'))).getTime()).toBeGreaterThanOrEqual(before);
  });
});
