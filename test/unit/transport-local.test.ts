import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalTransport } from '../../src/transport/local.js';

let dir: string;
const local = new LocalTransport();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'etcd-runbook-local-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('LocalTransport', () => {
  it('streams output, passes stdin and reports the exit code', async () => {
    const seen: string[] = [];
    const result = await local.exec('cat; echo oops >&2; exit 3', { input: 'in\n', onStdout: (c) => seen.push(`o:${c}`), onStderr: (c) => seen.push(`e:${c}`) });
    expect(result).toMatchObject({ exitCode: 3, stdout: 'in\n', stderr: 'oops\n', timedOut: false });
    expect(seen).toEqual(['o:in\n', 'e:oops\n']);
    expect(local.node).toBe('local');
    expect(new LocalTransport('member-1').node).toBe('member-1');
  });

  it('times out the whole process group, not just the shell', async () => {
    const pidFile = join(dir, 'pid');
    const result = await local.exec(`sh -c 'echo $$ > ${pidFile}; exec sleep 30' & wait`, { timeoutMs: 300 });
    expect(result).toMatchObject({ timedOut: true, exitCode: null });
    expect(result.durationMs).toBeLessThan(5000);
    expect(running(Number(await readFile(pidFile, 'utf8')))).toBe(false);
  });

  it('cancels on abort', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const result = await local.exec('sleep 30', { signal: controller.signal });
    expect(result).toMatchObject({ timedOut: false, exitCode: null });
    expect(result.durationMs).toBeLessThan(5000);
  });

  it('creates files exclusively with the given mode', async () => {
    const path = join(dir, 'f');
    const writer = await local.openWrite(path, 0o600);
    await new Promise<void>((resolve) => writer.end('x', () => resolve()));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await expect(local.openWrite(path, 0o600)).rejects.toThrow(/EEXIST/);
    expect(await local.stat(join(dir, 'missing'))).toBeUndefined();
    expect(await local.stat(path)).toMatchObject({ type: 'file', size: 1, mode: 0o600 });
  });
});
