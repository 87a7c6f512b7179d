import type { Inventory } from '../inventory/schema.js';
import { NodeTransports, type SshPrompts } from '../transport/for-node.js';
import { ExitCode, OperatorError } from '../util/errors.js';

/**
 * Every SSH node is logged into before the first step runs anywhere, so a
 * fan-out never runs on some nodes and fails on the one whose login was
 * refused. A refused login (authentication, host key mismatch, unknown host
 * declined, unreadable key) stops here, exit 4, nothing run; a node that is
 * merely down is only warned about — it may be the failed member.
 */
export async function checkSshLogins(inventory: Inventory, prompts?: SshPrompts): Promise<void> {
  const transports = new NodeTransports(inventory, prompts);
  try {
    const failures = await transports.preconnect();
    const refused = failures.filter((f) => SSH_LOGIN_REFUSED.test(f.error));
    for (const f of failures) if (!refused.includes(f)) process.stderr.write(`etcd-runbook: ssh to ${f.node} failed: ${f.error} (steps on ${f.node} will fail until it is reachable)\n`);
    if (refused.length > 0) throw new OperatorError(`${refused.map((f) => f.error).join('; ')} (nothing was run)`, ExitCode.configError);
  } finally {
    // the pool keeps the connections for the run; this set of transports is done
    await transports.closeAll();
  }
}

/** The SSH transport's own messages (transport/sshConnect.ts) for a login the host refused, as opposed to a host that is down. */
const SSH_LOGIN_REFUSED = /: (authentication failed|host key mismatch|host is not in |the server's host key .* @revoked|cannot read private key|private key .* is passphrase-protected|could not decrypt private key)/;
