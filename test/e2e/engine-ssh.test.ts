import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../../src/lab/cluster.js';
import { loadInventoryFile } from '../../src/inventory/file.js';
import { runCli } from '../helpers/cli.js';

/**
 * A lab whose nodes are reached over SSH (sshd.service on each node's
 * address), driven through the real CLI. The work dir is shared with every
 * node (a node's /tmp is its own): the copies the nodes receive land where
 * the test reads them.
 */
describe('runbooks over SSH', () => {
  let lab: LabCluster;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-ssh-'));
    lab = await LabCluster.start({ members: 3, shared: [work] });
  });
  afterAll(async () => {
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the lab inventory reaches every member node over ssh on its own address', async () => {
    const inventory = await loadInventoryFile(lab.inventoryPath);
    for (const member of inventory.members) {
      expect(member.node?.transport).toBe('ssh');
      expect(member.clientURLs[0]).toContain(member.node?.host);
      expect(member.node?.ssh?.knownHosts).toBeDefined();
    }
  });

  it('each-member commands run on each node through its sshd, and copies arrive with the same sha256', async () => {
    const file = join(work, 'payload.bin');
    const bytes = randomBytes(3 * 1024 * 1024);
    await writeFile(file, bytes);
    const dest = join(work, 'copied');
    const result = await runCli(['run', join(import.meta.dirname, '..', 'fixtures', 'runbooks', 'ssh-fanout.yaml'), '--yes',
      '--inventory', lab.inventoryPath, '--set', `file=${file}`, '--set', `dest=${dest}`, '--journal-dir', join(work, 'journal')]);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    for (const member of lab.members) {
      // SSH_CONNECTION is "client-ip client-port server-ip server-port": the server is the member's sshd
      expect(result.stdout).toMatch(new RegExp(`\\[${member.name}\\] via \\S+ \\d+ ${member.ip.replace(/\./g, '\\.')} ${lab.sshOf(member.name).port}`));
      expect(result.stdout).toContain(`[${member.name}] ETCD_NAME="${member.name}"`);
      const copied = await readFile(`${dest}-${member.name}`);
      expect(createHash('sha256').update(copied).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    expect(result.stdout).toMatch(/guard pass data-dir-empty/);
  });
});
