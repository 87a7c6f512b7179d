import type { Inventory } from '../inventory/schema.js';
import { OperatorError } from '../util/errors.js';
import { LocalTransport } from './local.js';
import { SshTransport, type SshTransportOptions } from './ssh.js';
import type { Transport } from './types.js';

/**
 * One transport per node, reused: 'local' is this machine; a member's node
 * is reached locally when the inventory says host "local" (or transport
 * local), else over SSH with the inventory's ssh settings.
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
    return new SshTransport({ node, target: { host: where.host, ssh: where.ssh }, ...this.prompts });
  }
}
