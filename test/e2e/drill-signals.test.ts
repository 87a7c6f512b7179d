import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { reapStaleSlots, slotDir } from '../../src/lab/slots.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { expectNothingLeft, labDirOf } from './drill-helpers.js';
import { nodeLeftoversOf, nodeSystemdsOf } from './node-helpers.js';

/**
 * A drill stopped by a signal stops everything it started: no node, no etcd,
 * no stand-in service left running, the lab directory removed, and
 * the exit status says it was interrupted (128 + the signal's number).
 */
describe('a drill interrupted by a signal', () => {
  let child: ResultPromise | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
  });

  function start(...args: string[]): { child: ResultPromise; output: () => string; waitFor: (re: RegExp, ms?: number) => Promise<string> } {
    let output = '';
    const proc = execa(process.execPath, [CLI, 'drill', '--yes', '--no-color', ...args], { reject: false, stdin: 'ignore', all: true, env: { NO_COLOR: '1' } });
    proc.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child = proc;
    const waitFor = async (re: RegExp, ms = 60_000) => {
      const deadline = Date.now() + ms;
      while (!re.test(output)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(re)}; output:\n${output}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return output;
    };
    return { child: proc, output: () => output, waitFor };
  }

  it('SIGINT in the middle of the runbook: exit 130, no node and nothing else left', async () => {
    const drill = start('--fault', 'minority');
    // the member is removed and its manifest moved out: the lab is mid-repair
    await drill.waitFor(/step 4\/\d+:/);
    const labDir = labDirOf(drill.output());
    drill.child.kill('SIGINT');
    const result = await drill.child;
    expect(result.exitCode, drill.output()).toBe(130);
    expect(drill.output()).toContain('drill interrupted (SIGINT)');
    await expectNothingLeft(labDir);
  }, 90_000);

  it('SIGTERM while the lab is still starting (its nodes booting): exit 143, nothing left', async () => {
    const drill = start('--fault', 'frozen', '--members', '5');
    // the lab's directory is known from its slot (the lock names the drill's pid) once a first process is recorded
    const labDir = await labDirWhileStarting(drill.child.pid ?? -1);
    expect(drill.output()).not.toMatch(/^lab: /m);
    drill.child.kill('SIGTERM');
    const result = await drill.child;
    expect(result.exitCode, drill.output()).toBe(143);
    expect(drill.output()).not.toMatch(/^fault: /m);
    await expectNothingLeft(labDir);
  }, 90_000);

  it('SIGKILL (no handler runs): the next slot claim reaps its nodes, their processes and cgroups', async () => {
    const drill = start('--fault', 'quorum');
    await drill.waitFor(/^fault: /m);
    const labDir = labDirOf(drill.output());
    try {
      expect(nodeSystemdsOf(labDir)).toHaveLength(3);
      drill.child.kill('SIGKILL');
      await drill.child;
      // what claimSlot does first, for whichever lab starts next on this machine
      reapStaleSlots();
      const deadline = Date.now() + 5000;
      while ([...nodeSystemdsOf(labDir), ...nodeLeftoversOf(labDir)].length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(nodeSystemdsOf(labDir)).toEqual([]);
      expect(nodeLeftoversOf(labDir)).toEqual([]);
    } finally {
      rmSync(labDir, { recursive: true, force: true });
    }
  }, 90_000);
});

/** The lab directory of the slot this process owns, once its first process is recorded there. */
async function labDirWhileStarting(owner: number, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const lock of readdirSync(slotDir()).filter((f) => f.endsWith('.lock'))) {
      try {
        if (Number(readFileSync(join(slotDir(), lock), 'utf8')) !== owner) continue;
        // a node's PID 1 is recorded with its scratch dir, <lab>/nodes/<name>
        const marker = readFileSync(join(slotDir(), `${lock}.pids`), 'utf8').split('\n')[0]?.split('\t')[1];
        if (marker) return marker.replace(/\/nodes\/[^/]+$/, '');
      } catch {
        // released or not written yet
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${owner} claimed no lab slot with a recorded process within ${timeoutMs} ms`);
}
