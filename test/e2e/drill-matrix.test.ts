import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

/**
 * The whole rehearsal matrix, as `npm run drill:matrix` runs it: `drill
 * --yes` for every fault on both layouts and both etcd releases, each on
 * its own lab of real nodes. Every drill must end healthy with all its
 * sample keys; one that does not names itself in the table.
 */
const ROOT = join(import.meta.dirname, '..', '..');

describe('drill --yes: every fault × systemd and kubeadm × etcd 3.4 and 3.5 (scripts/drill-matrix.mjs)', () => {
  it('passes all 32 drills', async () => {
    const run = await execa(process.execPath, [join(ROOT, 'scripts', 'drill-matrix.mjs')], { cwd: ROOT, reject: false, timeout: 25 * 60_000 });
    expect(run.exitCode, run.stdout + run.stderr.slice(-3000)).toBe(0);
    expect(run.stdout).toContain('32 of 32 drills passed');
    for (const layout of ['systemd', 'kubeadm']) {
      for (const etcd of ['3.4', '3.5']) {
        for (const fault of ['minority', 'quorum', 'frozen', 'split-brain', 'nospace', 'corrupt', 'expired-certs', 'none']) {
          expect(run.stdout).toMatch(new RegExp(`^\\| ${layout} \\| ${etcd} \\| ${fault} \\| [a-z-]+ \\| [\\d.]+ s \\| \\d+ s \\| passed \\|$`, 'm'));
        }
      }
    }
  }, 26 * 60_000);
});
