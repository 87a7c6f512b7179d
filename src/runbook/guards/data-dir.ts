import { decideMoveAside, moveAsideFacts, ASIDE_ENTRY } from '../kinds/move-aside.js';
import { shellQuote } from '../../util/shell.js';
import { type GuardEnvironment, type Judgement, type Params, type GuardDefinition, GuardParamError, define, p, str } from './common.js';

/**
 * Guards on data dirs: empty, absent, and whether one can be moved aside.
 */

export interface DirFacts {
  node: string;
  path: string;
  kind: 'missing' | 'directory' | 'file' | 'symlink' | 'other';
  /** directory entries, when a directory */
  entries: string[];
}

/** Guards 7 and 12: a joining member's / a restore's data dir must be empty or missing. */
export function judgeDataDirEmpty(facts: DirFacts): Judgement {
  const where = `${facts.path} on ${facts.node}`;
  if (facts.kind === 'missing') return { ok: true, message: `data dir ${where} does not exist (etcd will create it)` };
  if (facts.kind !== 'directory') return { ok: false, message: `refusing: data dir ${where} is a ${facts.kind}, not a directory: move it aside` };
  if (facts.entries.length === 0) return { ok: true, message: `data dir ${where} is empty` };
  // a mount point's old contents, moved aside inside it (kinds/move-aside.ts): etcd looks only for member/
  if (facts.entries.every((e) => ASIDE_ENTRY.test(e))) return { ok: true, message: `data dir ${where} holds only earlier data moved aside (${facts.entries.join(', ')}): empty for etcd` };
  const shown = facts.entries.slice(0, 4).join(', ') + (facts.entries.length > 4 ? `, … (${facts.entries.length} entries)` : '');
  return {
    ok: false,
    message: `refusing: data dir ${where} is not empty (${shown}): move it aside with a timestamp (mv ${shellQuote(facts.path)} ${shellQuote(`${facts.path}.old-$(date +%s)`)}), never delete it`,
  };
}

/** `snapshot restore` wants a data dir that does not exist yet. */
export function judgeDataDirAbsent(facts: DirFacts): Judgement {
  const where = `${facts.path} on ${facts.node}`;
  if (facts.kind === 'missing') return { ok: true, message: `${where} does not exist: the restore may create it` };
  return { ok: false, message: `refusing: ${where} already exists (${facts.kind}${facts.kind === 'directory' ? `, ${facts.entries.length} entries` : ''}): move it aside with a timestamp first, never delete it` };
}

/** A file a step writes (a snapshot, say) is never written over: nothing may be at its path yet. */
export function judgeNothingAt(facts: DirFacts): Judgement {
  const where = `${facts.path} on ${facts.node}`;
  if (facts.kind === 'missing') return { ok: true, message: `nothing at ${where} yet` };
  return { ok: false, message: `refusing: ${where} already exists (${facts.kind}): this step never writes over it; move it aside with a timestamp, or give another path` };
}

async function dirFacts(params: Params, env: GuardEnvironment): Promise<DirFacts> {
  const node = str(params, 'node');
  const path = str(params, 'path') || env.members.find((m) => m.name === node)?.dataDir || '';
  if (!path) throw new GuardParamError(`no data dir path given and none known for ${node}`);
  const transport = env.transport(node);
  const stat = await transport.stat(path);
  if (!stat) return { node, path, kind: 'missing', entries: [] };
  if (stat.type !== 'directory') return { node, path, kind: stat.type, entries: [] };
  const entries = (await transport.readdir(path)).map((e) => e.name).sort();
  return { node, path, kind: 'directory', entries };
}


export const DATA_DIR_GUARDS = {
  'data-dir-empty': define({
    name: 'data-dir-empty',
    description: 'the data dir is empty or missing',
    params: [p('node', 'the node'), p('path', 'the data dir (default: the inventory\'s)', false)],
    gather: dirFacts,
    judge: (facts) => judgeDataDirEmpty(facts),
  }),
  'data-dir-absent': define({
    name: 'data-dir-absent',
    description: 'nothing exists at the data dir path yet',
    params: [p('node', 'the node'), p('path', 'the data dir (default: the inventory\'s)', false)],
    gather: dirFacts,
    judge: (facts) => judgeDataDirAbsent(facts),
  }),
  'nothing-at-path': define({
    name: 'nothing-at-path',
    description: 'nothing exists at the path the step writes (it never writes over a file)',
    params: [p('node', 'the node'), p('path', 'the file the step writes')],
    gather: dirFacts,
    judge: (facts) => judgeNothingAt(facts),
  }),
  'can-move-aside': define({
    name: 'can-move-aside',
    description: 'the dir can be moved aside: nothing is at its .old-<timestamp> name yet; a mount point has its contents moved instead',
    params: [
      p('node', 'the node'),
      p('path', 'the dir'),
      p('aside', 'where it moves (<path>.old-<timestamp>)'),
      p('asideInside', 'where a mount point\'s contents move (<path>/.old-<timestamp>)'),
      p('fresh', 'true: a new host\'s own file, moved whatever it is (a file, a link, an empty dir)', false),
    ],
    gather: async (params, env) => moveAsideFacts(env.transport(str(params, 'node')), { path: str(params, 'path'), aside: str(params, 'aside'), asideInside: str(params, 'asideInside') }, params.fresh === true || params.fresh === 'true'),
    judge: (facts) => {
      const { action, message } = decideMoveAside(facts);
      return { ok: action.kind !== 'refuse', message };
    },
  }),
} satisfies Record<string, GuardDefinition>;
