import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, startLabSshd, type LabSshd } from '../../src/lab/sshd.js';
import { copyFile } from '../../src/transport/copy.js';
import { parseKnownHosts, entryMatches } from '../../src/transport/knownHosts.js';
import { LocalTransport } from '../../src/transport/local.js';
import type { HostKeyOffer } from '../../src/transport/ssh.js';
import { OperatorError } from '../../src/util/errors.js';
import { labTransport, startSshAgent, writeRandomishFile } from '../helpers/sshLab.js';

const run = promisify(execFile);
const PASSPHRASE = 'correct horse battery staple';

let lab: LabSshd;
let work: string;

beforeAll(async () => {
  lab = await startLabSshd({ passphrase: PASSPHRASE });
  work = await mkdtemp(join(tmpdir(), 'etcd-runbook-faults-'));
});

afterAll(async () => {
  await lab?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function failureOf(work: Promise<unknown>): Promise<OperatorError> {
  const err = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(err).toBeInstanceOf(OperatorError);
  return err as OperatorError;
}

const label = (): string => `${lab.user}@${lab.host}:${lab.port}`;

describe('host keys', () => {
  it('refuses a host whose key does not match known_hosts, without asking', async () => {
    const knownHosts = join(work, 'known_hosts_mismatch');
    const otherKey = await generateKey(work, 'other_host_key');
    const otherPublic = (await readFile(`${otherKey}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
    await writeFile(knownHosts, `# a comment\nother.example ${otherPublic}\n[${lab.host}]:${lab.port} ${otherPublic}\n`);
    const asked: HostKeyOffer[] = [];
    const ssh = labTransport(lab, { knownHostsFile: knownHosts, confirmHostKey: async (offer) => (asked.push(offer), 'accept-once') });
    const err = await failureOf(ssh.exec('true'));
    // ssh-keygen's own fingerprint of the stale key, independent of our code
    const stale = (await run('ssh-keygen', ['-lf', `${otherKey}.pub`])).stdout.split(' ')[1];
    expect(err.message).toBe(
      `ssh ${label()}: host key mismatch (${knownHosts} line 3 has ${stale}, server offered ${lab.hostKeyFingerprint}): ` +
        `if the host was reinstalled, remove the old key with ssh-keygen -R '[${lab.host}]:${lab.port}' -f ${knownHosts}`,
    );
    expect(asked).toEqual([]);
  });

  it('asks about an unknown host: reject refuses, accept-and-save writes a hashed line, the next connect is silent', async () => {
    const knownHosts = join(work, 'known_hosts_unknown');
    const asked: HostKeyOffer[] = [];
    const rejecting = labTransport(lab, { knownHostsFile: knownHosts, confirmHostKey: async (offer) => (asked.push(offer), 'reject') });
    const refused = await failureOf(rejecting.exec('true'));
    expect(refused.message).toBe(`ssh ${label()}: host key ${lab.hostKeyFingerprint} was not accepted: nothing was run on this host`);
    expect(asked).toEqual([{ host: lab.host, port: lab.port, keyType: 'ssh-ed25519', fingerprint: lab.hostKeyFingerprint }]);

    const saving = labTransport(lab, { knownHostsFile: knownHosts, confirmHostKey: async () => 'accept-and-save' });
    expect((await saving.exec('echo in')).stdout).toBe('in\n');
    await saving.close();
    const entries = parseKnownHosts(await readFile(knownHosts, 'utf8'));
    expect(entries).toHaveLength(1);
    expect(entries[0]?.hosts.startsWith('|1|')).toBe(true);
    expect(entries[0] && entryMatches(entries[0], lab.host, lab.port)).toBe(true);
    expect(`${entries[0]?.keyType} ${entries[0]?.key.toString('base64')}`).toBe(lab.hostPublicKey);

    const silent = labTransport(lab, { knownHostsFile: knownHosts, confirmHostKey: async () => { throw new Error('must not ask'); } });
    expect((await silent.exec('echo again')).stdout).toBe('again\n');
    await silent.close();
  });

  it('refuses an unknown host outright when nobody can be asked', async () => {
    const ssh = labTransport(lab, { knownHostsFile: join(work, 'known_hosts_empty') });
    const err = await failureOf(ssh.exec('true'));
    expect(err.message).toContain(`ssh ${label()}: host is not in ${join(work, 'known_hosts_empty')} (ssh-ed25519 ${lab.hostKeyFingerprint})`);
  });
});

describe('authentication', () => {
  it('refuses a key that is not authorized, saying what was tried and what to check', async () => {
    const stranger = await generateKey(work, 'id_stranger');
    const ssh = labTransport(lab, { target: { host: lab.host, ssh: { port: lab.port, user: lab.user, identityFile: stranger, knownHosts: lab.knownHostsFile, agent: false } } });
    const err = await failureOf(ssh.exec('true'));
    expect(err.message).toBe(
      `ssh ${label()}: authentication failed (tried key ${stranger}): check that the public key is in ~${lab.user}/.ssh/authorized_keys on the host, or set ssh.identityFile / ssh.user in the inventory`,
    );
  });

  it('decrypts a passphrase key through the callback, and never puts the passphrase in an error', async () => {
    const keyPath = lab.passphraseIdentityFile ?? '';
    const asked: string[] = [];
    const target = { host: lab.host, ssh: { port: lab.port, user: lab.user, identityFile: keyPath, knownHosts: lab.knownHostsFile, agent: false } };
    const ssh = labTransport(lab, { target, askPassphrase: async (path) => (asked.push(path), PASSPHRASE) });
    expect((await ssh.exec('echo unlocked')).stdout).toBe('unlocked\n');
    expect(asked).toEqual([keyPath]);
    await ssh.close();

    const wrong = labTransport(lab, { target, askPassphrase: async () => `${PASSPHRASE}-typo` });
    const err = await failureOf(wrong.exec('true'));
    expect(err.message).toBe(`ssh ${label()}: could not decrypt private key ${keyPath} after 3 passphrase attempts: check the passphrase, or load the key into ssh-agent`);
    expect(JSON.stringify({ message: err.message, stack: err.stack })).not.toContain(PASSPHRASE);
  });
});

describe('the agent at SSH_AUTH_SOCK', () => {
  it('authenticates with a key held only by ssh-agent', async () => {
    const agent = await startSshAgent(join(work, 'agent.sock'));
    try {
      await agent.add(lab.identityFile);
      const ssh = labTransport(lab, {
        target: { host: lab.host, ssh: { port: lab.port, user: lab.user, knownHosts: lab.knownHostsFile } },
        env: agent.env,
      });
      expect((await ssh.exec('echo via-agent')).stdout).toBe('via-agent\n');
      await ssh.close();
    } finally {
      agent.stop();
    }
  });

  it('a passphrase-protected identity file with nobody to ask: the agent\'s unlocked copy is used; not in the agent, the locked key is named', async () => {
    const keyPath = lab.passphraseIdentityFile ?? '';
    const target = { host: lab.host, ssh: { port: lab.port, user: lab.user, identityFile: keyPath, knownHosts: lab.knownHostsFile } };
    const agent = await startSshAgent(join(work, 'agent-locked.sock'));
    try {
      // an agent holding nothing: unlocking that key is what to do
      const empty = labTransport(lab, { target, env: agent.env });
      const err = await failureOf(empty.exec('true'));
      expect(err.message).toBe(`ssh ${label()}: private key ${keyPath} is passphrase-protected and no passphrase prompt is available: load it into ssh-agent (ssh-add ${keyPath}) or run interactively`);
      await empty.close();

      await agent.add(keyPath, PASSPHRASE);
      const ssh = labTransport(lab, { target, env: agent.env });
      expect((await ssh.exec('echo unlocked-by-agent')).stdout).toBe('unlocked-by-agent\n');
      await ssh.close();
    } finally {
      agent.stop();
    }
  });
});

describe('a connection that drops', () => {
  it('fails the running command with a clear error, and the next call reconnects', async () => {
    const ssh = labTransport(lab, { node: 'member-y' });
    expect((await ssh.exec('echo up')).stdout).toBe('up\n');
    // its failure is taken at once: it may reject while the kill is still being awaited
    const running = failureOf(ssh.exec('sleep 20'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await lab.kill();
    const err = await running;
    expect(err.message).toMatch(new RegExp(`^ssh ${label()}: connection lost \\(.*\\): check the host is up, then retry the step$`));
    const down = await failureOf(ssh.exec('true'));
    expect(down.message).toBe(`ssh ${label()}: connection refused: is sshd running, and is the port right?`);
    await lab.restart();
    expect((await ssh.exec('echo back')).stdout).toBe('back\n');
    await ssh.close();
  });
});

describe('a host that vanishes mid-copy', () => {
  it('fails the copy cleanly, leaves nothing under the final name, and a retry after restart succeeds', async () => {
    const source = join(work, 'snapshot.db');
    await writeRandomishFile(source, 200 * 1024 * 1024);
    const ssh = labTransport(lab, { node: 'member-x' });
    const local = new LocalTransport();
    const to = join(lab.dir, 'restored.db');
    let killed: Promise<void> | undefined;
    const err = await failureOf(
      copyFile({ transport: local, path: source }, { transport: ssh, path: to }, {
        onProgress: ({ bytes }) => {
          if (bytes > 20 * 1024 * 1024) killed ??= lab.kill();
        },
      }),
    );
    await killed;
    expect(killed).toBeDefined();
    expect(err.message).toMatch(new RegExp(`^copy local:${source} → member-x:${to} failed: ssh ${label()}: connection lost \\(.*\\): check the host is up, then retry the step$`));
    expect(await readdir(lab.dir)).not.toContain('restored.db');

    await lab.restart();
    // the temporary could not be removed while the host was gone; the retry sweeps it
    expect((await readdir(lab.dir)).filter((name) => name.startsWith('.restored.db.etcd-runbook-partial-'))).toHaveLength(1);
    expect(await readdir(lab.dir)).not.toContain('restored.db');
    const retried = await copyFile({ transport: local, path: source }, { transport: ssh, path: to });
    expect(retried.bytes).toBe(200 * 1024 * 1024);
    const names = await readdir(lab.dir);
    expect(names).toContain('restored.db');
    expect(names.filter((name) => name.includes('etcd-runbook-partial'))).toEqual([]);
    await ssh.close();
  });
});
