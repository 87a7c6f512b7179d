import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { track, untrack } from '../../src/lab/processes.js';
import type { LabSshd } from '../../src/lab/sshd.js';
import { SshPool } from '../../src/transport/sshPool.js';
import { SshTransport, type SshTransportOptions } from '../../src/transport/ssh.js';
import { shellQuote } from '../../src/util/shell.js';

/** A transport to a lab sshd with its own pool, no ~/.ssh/config, no agent. */
export function labTransport(lab: LabSshd, overrides: Partial<SshTransportOptions> & { sudo?: boolean } = {}): SshTransport {
  const { sudo, ...rest } = overrides;
  return new SshTransport({
    node: `lab-${lab.host}`,
    target: {
      host: lab.host,
      ssh: { port: lab.port, user: lab.user, identityFile: lab.identityFile, knownHosts: lab.knownHostsFile, agent: false, ...(sudo ? { sudo } : {}) },
    },
    sshConfigPath: false,
    pool: new SshPool(),
    ...rest,
  });
}

/**
 * A file of `size` bytes that is neither sparse nor compressible-zero: one
 * random MiB repeated, each copy stamped with its index so no two blocks match.
 */
export async function writeRandomishFile(path: string, size: number): Promise<void> {
  const block = randomBytes(1 << 20);
  const file = await open(path, 'wx', 0o640);
  try {
    for (let offset = 0, index = 0; offset < size; offset += block.length, index += 1) {
      block.writeUInt32BE(index, 0);
      await file.write(block, 0, Math.min(block.length, size - offset), offset);
    }
  } finally {
    await file.close();
  }
}

export interface SshAgent {
  /** SSH_AUTH_SOCK, for a transport's or the CLI's environment */
  env: { SSH_AUTH_SOCK: string };
  /** ssh-add the key; a passphrase is given by an askpass script (ssh-add reads none from a pipe) */
  add(key: string, passphrase?: string): Promise<void>;
  stop(): void;
}

/** An ssh-agent of the test's own on a socket (its parent dir must exist); stop() it in a finally or afterAll. */
export async function startSshAgent(socket: string): Promise<SshAgent> {
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  // killed when this process exits too, however the test ends
  track(agent);
  const env = { SSH_AUTH_SOCK: socket };
  const stop = (): void => {
    untrack(agent);
    agent.kill();
  };
  for (let tries = 0; !(await stat(socket).then(() => true, () => false)); tries += 1) {
    if (tries > 100) {
      stop();
      throw new Error(`ssh-agent did not create ${socket}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const add = async (key: string, passphrase?: string): Promise<void> => {
    const askpass = join(dirname(socket), `askpass-${process.pid}.sh`);
    if (passphrase !== undefined) await writeFile(askpass, `#!/bin/sh\nprintf '%s\\n' ${shellQuote(passphrase)}\n`, { mode: 0o700 });
    const prompt = passphrase === undefined ? {} : { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
    await execa('ssh-add', ['-q', key], { env: { ...env, ...prompt }, stdin: 'ignore' });
  };
  return { env, add, stop };
}
