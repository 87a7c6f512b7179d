import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { probeCluster } from '../cluster/probe.js';
import { serializeInventory } from '../inventory/file.js';
import type { Inventory } from '../inventory/schema.js';
import { clusterTargetFrom, liveTarget } from '../session/cluster-target.js';
import { OperatorError } from '../util/errors.js';
import { connectionFlags, connectionFlagsHelp } from './connection-flags.js';

export const inventoryHelp = `Usage: etcd-runbook inventory [connection flags]

Print the cluster description every other command would use (from
--inventory FILE, from --endpoints and the TLS flags, or discovered on this
master) as an inventory file that --inventory accepts. The cluster is probed
once, read-only: members are named as the live member list names them, and
members it lists that the description lacked are added. On a master
discovered without an inventory, the other members' nodes are inferred
(SSH at their peer URL's host, the same layout and paths as this master);
every inferred field is listed under that node's "guessed": check it, edit
what is wrong, and delete the list.

  etcd-runbook inventory > cluster.yaml
  etcd-runbook status --inventory cluster.yaml

${connectionFlagsHelp}`;

const GUESSED_NOTE = 'a "guessed" list names fields nobody confirmed: check them, correct them, then delete the list';

export async function inventoryCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: connectionFlags, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(`${inventoryHelp}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new OperatorError(`inventory takes no arguments, got "${positionals[0] ?? ''}": save its output with etcd-runbook inventory > cluster.yaml`);
  const described = await clusterTargetFrom(values);
  // one probe, no waiting out an election: names and URLs are all it needs
  const report = await probeCluster(described.targets, { tls: described.tls, deadlineMs: described.deadlineMs });
  const { config } = liveTarget(described, report);
  const answered = report.endpoints.some((probe) => probe.members && probe.members.length > 0);
  const notes = [
    ...config.sources,
    ...(answered ? [] : ['no member answered with a member list: names and URLs are as described, unconfirmed']),
    ...(hasGuesses(config.inventory) ? [GUESSED_NOTE] : []),
  ];
  process.stdout.write(serializeInventory(withAbsoluteTls(config.inventory), notes));
  return 0;
}

function hasGuesses(inventory: Inventory): boolean {
  return inventory.members.some((member) => (member.guessed?.length ?? 0) > 0 || (member.node?.guessed?.length ?? 0) > 0);
}

/** `--cacert ca.pem` was relative to here; the file may be used from anywhere. */
function withAbsoluteTls(inventory: Inventory): Inventory {
  if (!inventory.tls) return inventory;
  const tls = Object.fromEntries(Object.entries(inventory.tls).map(([field, path]) => [field, isAbsolute(path) ? path : resolve(path)]));
  return { ...inventory, tls };
}
