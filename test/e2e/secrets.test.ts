import { chmod, copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/schema.js';
import { keyFileWarnings } from '../../src/inventory/key-permissions.js';
import { LabCluster } from '../../src/lab/cluster.js';
import { generateKey } from '../../src/lab/sshd.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startSshAgent, type SshAgent } from '../helpers/sshLab.js';

/**
 * Secrets (issue 8 part 3): a full run with an inventory and flags that
 * reference a client key and a passphrase-protected SSH identity, and a run
 * whose commands print a private key and pass passwords. Every artefact —
 * stdout, stderr, every file in the journal dir — is searched for every
 * line of key material, the passphrase and the passwords: none may appear.
 * Journals and transcripts are 0600 in a 0700 directory. Keys readable by
 * group or others get a warning naming the file and `chmod 600`.
 *
 * The nodes are reached over SSH with that identity: its public key is
 * authorized on every node, and the key is unlocked in an ssh-agent (what a
 * non-interactive run needs for a passphrase-protected key), so the runs
 * really log in with it.
 */
const SSH_PASSPHRASE = 'tr0ub4dor&3 horse-battery';
const ETCD_PASSWORD = 'Sup3r-s3cret-etcd-pw';

/** The base64 body lines of a PEM/OpenSSH private key: what must never leak. */
function keyBodyLines(pem: string): string[] {
  const lines = pem.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('-----'));
  expect(lines.length).toBeGreaterThan(0);
  return lines;
}

describe('secrets never reach an artefact', () => {
  let lab: LabCluster;
  let work: string;
  let inventoryPath: string;
  let clientKey: string;
  let sshKey: string;
  let needles: Array<{ what: string; text: string }>;
  /** holds the ssh identity unlocked, for every run */
  let agent: SshAgent | undefined;

  beforeAll(async () => {
    lab = await LabCluster.start({ members: 3 });
    work = await mkdtemp(join(tmpdir(), 'etcd-runbook-secrets-'));
    // the client key, referenced by --key; a passphrase-protected ssh identity, referenced by every node
    clientKey = join(work, 'client.key');
    await copyFile(lab.pki.clientKey, clientKey);
    await chmod(clientKey, 0o600);
    sshKey = await generateKey(work, 'id_ed25519_secret', { passphrase: SSH_PASSPHRASE });
    const publicKey = await readFile(`${sshKey}.pub`, 'utf8');
    for (const m of lab.members) {
      const added = await m.node.exec(['/bin/sh', '-c', 'cat >> /etc/ssh/authorized_keys/root'], { input: publicKey });
      expect(added.exitCode, `authorizing the key on ${m.name}: ${added.stderr}`).toBe(0);
    }
    agent = await startSshAgent(join(work, 'agent.sock'));
    await agent.add(sshKey, SSH_PASSPHRASE);
    const inventory = parse(await readFile(lab.inventoryPath, 'utf8')) as Inventory;
    for (const member of inventory.members) {
      if (member.node) member.node.ssh = { ...member.node.ssh, identityFile: sshKey };
    }
    inventoryPath = join(work, 'inventory.yaml');
    await writeFile(inventoryPath, stringify(inventory), { mode: 0o600 });
    needles = [
      ...keyBodyLines(await readFile(clientKey, 'utf8')).map((text) => ({ what: 'client key line', text })),
      ...keyBodyLines(await readFile(lab.pki.clientKey, 'utf8')).map((text) => ({ what: 'lab client key line', text })),
      ...keyBodyLines(await readFile(sshKey, 'utf8')).map((text) => ({ what: 'ssh key line', text })),
      { what: 'ssh passphrase', text: SSH_PASSPHRASE },
      { what: 'etcd password', text: ETCD_PASSWORD },
    ];
  });
  afterAll(async () => {
    agent?.stop();
    await lab?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** stdout, stderr and every file under the journal dir, with the modes checked on the way. */
  async function artefacts(result: CliResult, journalDir: string): Promise<Array<{ name: string; text: string }>> {
    const found = [{ name: 'stdout', text: result.stdout }, { name: 'stderr', text: result.stderr }];
    expect((await stat(journalDir)).mode & 0o777).toBe(0o700);
    const names = await readdir(journalDir);
    expect(names.some((n) => n.endsWith('.jsonl'))).toBe(true);
    expect(names.some((n) => n.endsWith('.md'))).toBe(true);
    for (const name of names) {
      const path = join(journalDir, name);
      expect((await stat(path)).mode & 0o777, `${name} mode`).toBe(0o600);
      found.push({ name, text: await readFile(path, 'utf8') });
    }
    return found;
  }

  function expectNoSecrets(files: Array<{ name: string; text: string }>): void {
    const leaks: string[] = [];
    for (const file of files) {
      for (const needle of needles) if (file.text.includes(needle.text)) leaks.push(`${needle.what} in ${file.name}`);
    }
    expect(leaks).toEqual([]);
  }

  it('a full backup run with the key on --key and a passphrase-protected ssh identity in the inventory', async () => {
    const journalDir = join(work, 'journal-backup');
    const result = await runCli(['run', 'backup', '--yes', '--inventory', inventoryPath, '--key', clientKey,
      '--set', `backupDir=${join(work, 'backups')}`, '--journal-dir', journalDir], agent!.env);
    expect(result.stderr).toBe('');
    expect(result.exitCode, result.stdout).toBe(0);
    expect(result.stdout).toContain('run succeeded');
    const files = await artefacts(result, journalDir);
    // the artefacts do name the files (so the operator knows what was used), never their contents
    expect(files.find((f) => f.name.endsWith('.jsonl'))?.text).toContain(sshKey);
    expectNoSecrets(files);
  });

  it('commands that print a private key and pass passwords: output tails, commands and failures are redacted', async () => {
    const runbook = join(work, 'leaky.yaml');
    await writeFile(runbook, `id: leaky
title: Print secrets
description: Commands whose output and arguments hold key material and passwords.
appliesTo: [healthy]
inputs:
  - name: keyFile
    description: a private key
    type: path
  - name: sshKey
    description: an encrypted ssh key
    type: path
steps:
  - id: show-key
    title: Print the client key
    why: a careless step an operator might write
    target: local
    kind: command
    risk: read-only
    run: "cat -- {{ inputs.keyFile }}"
  - id: passwords
    title: Pass passwords around
    why: etcdctl auth takes them on the command line and from the environment
    target: local
    kind: command
    risk: read-only
    run: "echo etcdctl --user root:${ETCD_PASSWORD} --password=${ETCD_PASSWORD} && echo ETCDCTL_PASSWORD=${ETCD_PASSWORD}"
  - id: fail-with-key
    title: Fail after printing an ssh key to stderr
    why: a failure's output tail is shown and journaled
    target: local
    kind: command
    risk: read-only
    run: "cat -- {{ inputs.sshKey }} >&2 && false"
`);
    const journalDir = join(work, 'journal-leaky');
    const result = await runCli(['run', runbook, '--yes', '--inventory', inventoryPath, '--key', clientKey,
      '--set', `keyFile=${clientKey}`, '--set', `sshKey=${sshKey}`, '--journal-dir', journalDir], agent!.env);
    expect(result.exitCode).not.toBe(0);
    const files = await artefacts(result, journalDir);
    const all = files.map((f) => f.text).join('\n');
    // the steps did run and print: what they printed was replaced, not dropped silently
    expect(all).toContain('[REDACTED]');
    expect(all).toContain('-----BEGIN PRIVATE KEY-----');
    expect(all).toContain('--user root:[REDACTED]');
    expect(all).toContain('ETCDCTL_PASSWORD=[REDACTED]');
    expect(all).toContain('-----BEGIN OPENSSH PRIVATE KEY-----');
    const events = files.find((f) => f.name.endsWith('.jsonl'))!.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // the key went to stderr chunk by chunk and was journaled redacted; the step failed after it
    expect(events.some((e) => e.type === 'output' && e.step === 'fail-with-key' && e.stream === 'stderr' && String(e.chunk).includes('[REDACTED]'))).toBe(true);
    expect(events.some((e) => e.type === 'output' && e.step === 'show-key' && String(e.chunk).includes('[REDACTED]'))).toBe(true);
    expect(events.find((e) => e.type === 'step-finished' && e.step === 'fail-with-key')?.ok).toBe(false);
    expectNoSecrets(files);
  });

  it('warns about group- and world-readable key files, naming the file and chmod 600', async () => {
    const loose = join(work, 'loose.key');
    await copyFile(lab.pki.clientKey, loose);
    await chmod(loose, 0o644);
    const groupKey = join(work, 'group.key');
    await copyFile(sshKey, groupKey);
    await chmod(groupKey, 0o640);
    const inventory = parse(await readFile(inventoryPath, 'utf8')) as Inventory;
    inventory.tls = { ...inventory.tls, key: loose };
    for (const member of inventory.members) if (member.node) member.node.ssh = { identityFile: groupKey };
    const looseInventory = join(work, 'loose-inventory.yaml');
    await writeFile(looseInventory, stringify(inventory), { mode: 0o600 });

    expect(await keyFileWarnings(inventory)).toEqual([
      `warning: private key ${loose} is readable by anyone on this machine (mode 0644): chmod 600 ${loose}`,
      `warning: private key ${groupKey} is readable by its group (mode 0640): chmod 600 ${groupKey}`,
    ]);
    const result = await runCli(['status', '--json', '--inventory', looseInventory]);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout).verdict).toBe('healthy');
    expect(result.stderr).toContain(`etcd-runbook: warning: private key ${loose} is readable by anyone on this machine (mode 0644): chmod 600 ${loose}\n`);
    expect(result.stderr).toContain(`chmod 600 ${groupKey}`);
    expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(2);

    await chmod(loose, 0o600);
    await chmod(groupKey, 0o600);
    expect(await keyFileWarnings(inventory)).toEqual([]);
  });
});
