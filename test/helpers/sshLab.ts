import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { LabSshd } from '../../src/lab/sshd.js';
import { SshPool } from '../../src/transport/sshPool.js';
import { SshTransport, type SshTransportOptions } from '../../src/transport/ssh.js';

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
