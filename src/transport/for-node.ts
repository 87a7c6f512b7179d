import { sshMembers, type Inventory } from '../inventory/schema.js';
import { OperatorError } from '../util/errors.js';
import { LocalTransport } from './local.js';
import { NsenterTransport } from './nsenter.js';
import { SshTransport, type SshTransportOptions } from './ssh.js';
import type { Transport } from './types.js';

/**
 * One transport per node, reused: 'local' is this machine; a member's node
 * is reached locally when the inventory says host "local" (or transport
 * local), through nsenter when it is a container here (transport nsenter),
 * else over SSH with the inventory's ssh settings.
 */
export type SshPrompts = Pick<SshTransportOptions, 'askPassphrase' | 'confirmHostKey'>;

export class NodeTransports {
  private readonly cache = new Map<string, Transport>();

  constructor(
    private readonly inventory: Inventory,
    private readonly prompts: SshPrompts = {},
  ) {}

  get(node: string): Transport {
    let transport = this.cache.get(node);
    if (!transport) {
      transport = this.create(node);
      this.cache.set(node, transport);
    }
    return transport;
  }

  /**
   * Open the SSH connection to every node that uses SSH, in parallel, while
   * the terminal is still a plain terminal: host-key and passphrase
   * questions are answered before a full-screen view owns the keyboard.
   * Connections stay pooled (one per user@host:port) and are reused later.
   * A node that cannot be reached is reported, not fatal: it may be the
   * failed member the runbook is about.
   */
  async preconnect(): Promise<Array<{ node: string; error: string }>> {
    const results = await Promise.all(
      sshMembers(this.inventory).map(async (m) => {
        try {
          const result = await this.get(m.name).exec('true', { timeoutMs: 15_000 });
          return result.exitCode === 0 ? undefined : { node: m.name, error: `a test command exited ${result.exitCode ?? result.signal}` };
        } catch (err) {
          return { node: m.name, error: (err as Error).message };
        }
      }),
    );
    return results.filter((r): r is { node: string; error: string } => r !== undefined);
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.cache.values()].map((t) => t.close()));
    this.cache.clear();
  }

  private create(node: string): Transport {
    if (node === 'local') return new LocalTransport('local');
    const member = this.inventory.members.find((m) => m.name === node);
    if (!member) throw new OperatorError(`no member "${node}" in the inventory: the runbook names a node the cluster does not have`);
    const where = member.node;
    if (!where || where.transport === 'local' || (where.transport === undefined && where.host === 'local')) return new LocalTransport(node);
    if (where.transport === 'nsenter' && where.nsenter) return new NsenterTransport(node, where.nsenter.pid);
    return new SshTransport({ node, target: { host: where.host, ssh: where.ssh }, ...this.prompts });
  }
}
