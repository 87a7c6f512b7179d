import { majorMinor, majorMinorText, restoreToolFor, type RestoreToolName } from '../kinds/snapshot-restore.js';
import type { Transport } from '../../transport/types.js';
import { type Judgement, type GuardDefinition, define, p, str, hasCommand } from './common.js';

/**
 * Guards on etcd versions: etcd, etcdctl and etcdutl agree, and the restore
 * tool the snapshot-restore kind chose is on the node in the servers' version.
 */

export interface VersionFacts {
  node: string;
  etcd?: string;
  etcdctl?: string;
  etcdutl?: string;
  /** the etcd version the snapshot was taken with, when known */
  snapshotVersion?: string;
  /** the restore tool the step uses (kinds/snapshot-restore.ts chose it from the servers' version) */
  tool?: RestoreToolName;
  /** the etcd version the servers run */
  serverVersion?: string;
}

/** The chosen tool is on the node, in the servers' major.minor; else what to install. */
function judgeChosenTool(facts: VersionFacts, tool: RestoreToolName, found: string): Judgement | undefined {
  const server = facts.serverVersion ?? facts.etcd ?? facts[tool] ?? '';
  const line = majorMinorText(server);
  const install = `install ${tool} ${line} on ${facts.node} (from the etcd v${line} release tarball, or copy /usr/local/bin/${tool} out of the registry.k8s.io/etcd image of the servers' version)`;
  const have = facts[tool];
  if (have === undefined) return { ok: false, message: `refusing: etcd ${server} restores with ${tool}, which ${facts.node} lacks (${found || 'no etcd tools found'}): ${install}` };
  if (majorMinorText(have) !== line) return { ok: false, message: `refusing: ${tool} ${have} on ${facts.node} is not the servers' etcd ${server} (major.minor): ${install}` };
  return undefined;
}

export { restoreToolFor, type RestoreTool } from '../kinds/snapshot-restore.js';

/** Guard 16 and 17: the restore tool matches the servers and the snapshot (major.minor); kinds/snapshot-restore.ts chooses it. */
export function judgeEtcdVersion(facts: VersionFacts): Judgement {
  const tools = (['etcd', 'etcdctl', 'etcdutl'] as const).filter((t) => facts[t] !== undefined);
  if (facts.tool) {
    const refusal = judgeChosenTool(facts, facts.tool, tools.map((t) => `${t} ${facts[t]}`).join(', '));
    if (refusal) return refusal;
  }
  if (tools.length === 0) return { ok: false, message: `no etcd, etcdctl or etcdutl found on ${facts.node}` };
  const found = tools.map((t) => `${t} ${facts[t]}`).join(', ');
  const lines = new Set(tools.map((t) => majorMinorText(facts[t] ?? '')));
  if (lines.size > 1) return { ok: false, message: `refusing: etcd tools on ${facts.node} disagree on major.minor (${found}): install matching versions` };
  const version = facts.etcd ?? facts.etcdutl ?? facts.etcdctl ?? '';
  if (facts.snapshotVersion && majorMinorText(facts.snapshotVersion) !== majorMinorText(version)) {
    return { ok: false, message: `refusing: the snapshot comes from etcd ${facts.snapshotVersion}, ${facts.node} has ${found}: restore with the same major.minor` };
  }
  if (facts.tool) return { ok: true, message: `${facts.node}: ${found}; restore will use ${facts.tool} snapshot restore` };
  const wanted = restoreToolFor(version);
  if (wanted.tool === 'etcdutl' && facts.etcdutl === undefined) {
    const mm = majorMinor(version);
    if (facts.etcdctl !== undefined && mm?.major === 3 && mm.minor === 5) {
      return { ok: true, message: `${facts.node}: ${found}; restore will use etcdctl snapshot restore (deprecated in 3.5: etcdutl is missing on this node)` };
    }
    return { ok: false, message: `refusing: etcd ${version} restores with etcdutl, which ${facts.node} lacks (${found})` };
  }
  return { ok: true, message: `${facts.node}: ${found}; restore will use ${wanted.command}` };
}

async function versionOf(transport: Transport, command: string): Promise<string | undefined> {
  if (!(await hasCommand(transport, command))) return undefined;
  const result = await transport.exec(command === 'etcd' ? 'etcd --version' : `${command} version`, { timeoutMs: 10_000 });
  const match = /(?:etcd Version|etcdctl version|etcdutl version|version)[:\s]+v?(\d+\.\d+\.\d+\S*)/i.exec(result.stdout);
  return match?.[1];
}


export const VERSION_GUARDS = {
  'etcd-version-matches': define({
    name: 'etcd-version-matches',
    description: 'etcd, etcdctl and etcdutl on the node agree on major.minor (and with the snapshot); the restore tool the step chose is there, in the servers\' major.minor',
    params: [
      p('node', 'the node'),
      p('snapshotVersion', 'the etcd version the snapshot came from', false),
      p('tool', 'the restore tool the step uses (etcdutl or etcdctl): it must be on the node', false),
      p('serverVersion', 'the etcd version the servers run', false),
      p('toolPath', 'the command the step runs the tool as (the inventory\'s node.paths.etcdutl/etcdctl)', false),
    ],
    gather: async (params, env): Promise<VersionFacts> => {
      const node = str(params, 'node');
      const transport = env.transport(node);
      const toolPath = str(params, 'toolPath');
      const command = (tool: string) => (toolPath && str(params, 'tool') === tool ? toolPath : tool);
      const [etcd, etcdctl, etcdutl] = await Promise.all([versionOf(transport, 'etcd'), versionOf(transport, command('etcdctl')), versionOf(transport, command('etcdutl'))]);
      const snapshotVersion = str(params, 'snapshotVersion');
      const tool = str(params, 'tool');
      const serverVersion = str(params, 'serverVersion');
      return {
        node,
        ...(tool === 'etcdutl' || tool === 'etcdctl' ? { tool } : {}),
        ...(serverVersion ? { serverVersion } : {}),
        ...(etcd ? { etcd } : {}),
        ...(etcdctl ? { etcdctl } : {}),
        ...(etcdutl ? { etcdutl } : {}),
        ...(snapshotVersion ? { snapshotVersion } : {}),
      };
    },
    judge: (facts) => judgeEtcdVersion(facts),
  }),
} satisfies Record<string, GuardDefinition>;
