import { structuredPatch } from 'diff';
import { posix } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { InventoryMember } from '../../inventory/schema.js';
import { parseSystemdUnit } from '../../inventory/systemd.js';
import { shellJoin } from '../../util/shell.js';
import type { FileStat, Transport } from '../../transport/types.js';
import { OperatorError, messageOf } from '../../util/errors.js';
import type { RenderedRunbook } from '../rendered.js';
import { run, type KindIo, type KindResult } from './exec.js';

/**
 * The `edit-config` step kind: set etcd flags where the member's
 * configuration lives — the systemd env file (ETCD_NAME=…) or the kubeadm
 * static-pod manifest (`- --name=…` in the etcd container's command). The
 * edit is a pure function of the file's text; the execution reads the file,
 * backs it up as `<file>.bak-<timestamp>`, writes a temporary file with the
 * old mode and owner and renames it into place, so the file is never seen
 * half-written. Nothing else in the file changes: comments, order, quoting
 * and unrelated lines stay as they were.
 */

export type ConfigFormat = 'env-file' | 'static-pod' | 'unit-drop-in';

/** etcd flag names, without the dashes: name, initial-cluster, … */
export type EtcdFlags = Array<[flag: string, value: string]>;

export interface EditConfigPlan {
  format: ConfigFormat;
  /** the file edited */
  path: string;
  flags: EtcdFlags;
  /** `<path>.bak-<timestamp>` */
  backup: string;
  /** `<path>.tmp-<timestamp>`, renamed over path */
  temp: string;
  /** refuse while this exists (kubeadm: the live manifest, so the kubelet never runs a pod mid-edit) */
  refuseIfExists?: string;
  /** what the operator does when the file is missing */
  whenMissing: string;
  /** unit-drop-in: the unit whose ExecStart the drop-in declares again */
  unitFile?: string;
}

/** The drop-in etcd-runbook writes: last in lexical order, so its ExecStart is the one systemd runs. */
export const DROP_IN_NAME = '99-etcd-runbook.conf';

/** Where a member's flags live, from its layout; `stopped`: kubeadm's manifest parked out of the manifests dir. */
export function planEditConfig(member: InventoryMember, flags: EtcdFlags, timestamp: string, manifest: 'stopped' | 'running'): EditConfigPlan {
  const node = member.node;
  const say = (what: string) => new OperatorError(`edit-config of ${member.name}: ${what}`);
  for (const [flag, value] of flags) {
    if (!/^[a-z][a-z0-9-]*$/.test(flag)) throw say(`"${flag}" is not an etcd flag name (lower-case words joined by dashes, e.g. initial-cluster-state)`);
    if (/[\n\r\0]/.test(value)) throw say(`the value of --${flag} holds a line break`);
  }
  const files = (path: string) => ({ path, backup: `${path}.bak-${timestamp}`, temp: `${path}.tmp-${timestamp}` });
  if (node?.layout === 'systemd') {
    const envFile = node.paths?.envFile;
    const unitFile = node.paths?.unitFile;
    // no env file: the flags are on ExecStart (kubeasz, binary installs), declared again by a drop-in
    if (!envFile && unitFile) {
      const path = posix.join('/etc/systemd/system', `${posix.basename(unitFile)}.d`, DROP_IN_NAME);
      return { format: 'unit-drop-in', flags, ...files(path), unitFile, whenMissing: `the unit ${unitFile} is missing: copy it from a healthy member first` };
    }
    if (!envFile) throw say('no env file and no unit file: set node.paths.envFile (e.g. /etc/etcd/etcd.conf) or node.paths.unitFile in the inventory');
    return { format: 'env-file', flags, ...files(envFile), whenMissing: 'copy the env file from a healthy member first' };
  }
  if (node?.layout === 'kubeadm') {
    const dir = node.paths?.manifestsDir;
    if (!dir) throw say('no manifests dir: set node.paths.manifestsDir in the inventory (e.g. /etc/kubernetes/manifests)');
    const live = posix.join(dir, 'etcd.yaml');
    const parent = posix.dirname(posix.normalize(dir));
    if (manifest === 'running') {
      // the kubelet reads every file in the manifests dir but dotfiles: the backup goes beside the dir, the temp file is hidden
      return { format: 'static-pod', flags, path: live, backup: posix.join(parent, `etcd.yaml.bak-${timestamp}`), temp: posix.join(dir, `.etcd.yaml.tmp-${timestamp}`), whenMissing: 'etcd is not running from the manifests dir' };
    }
    const parked = posix.join(parent, 'etcd.yaml.stopped');
    // the backup is named after the manifest, beside it, not after its parked name
    return { format: 'static-pod', flags, ...files(parked), backup: posix.join(parent, `etcd.yaml.bak-${timestamp}`), refuseIfExists: live, whenMissing: 'the stop step parks etcd.yaml there; copy it from a healthy master and set its name and addresses first' };
  }
  throw say('no layout: set node.layout (kubeadm or systemd) in the inventory');
}

/** The file's new text: pure, for plan (a diff) and for the run; a drop-in also needs its unit's text. */
export function applyEdit(format: ConfigFormat, text: string, flags: EtcdFlags, path = 'the file', unitText?: string): string {
  if (format === 'unit-drop-in') return setDropInFlags(unitText ?? '', text, flags, path);
  return format === 'env-file' ? setEnvFlags(text, flags) : setManifestFlags(text, flags, path);
}

// ---- unit drop-in ---------------------------------------------------------------------

/**
 * A drop-in that resets ExecStart and declares it again: the command the
 * unit (with this drop-in, when there is one) runs now, with each flag set
 * (`--flag=value` or `--flag value` replaced, a missing flag added).
 */
export function setDropInFlags(unitText: string, dropInText: string, flags: EtcdFlags, path = 'the drop-in'): string {
  const current = parseSystemdUnit(`${unitText}\n${dropInText}`, path).execStart;
  const [binary, ...args] = current;
  const wanted = new Map(flags);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i] as string;
    const match = /^--?([a-z0-9-]+)(=.*)?$/.exec(word);
    const flag = match?.[1];
    if (flag === undefined || !wanted.has(flag)) {
      out.push(word);
      continue;
    }
    // `--flag value`: the value is the next word
    if (match?.[2] === undefined && i + 1 < args.length && !(args[i + 1] as string).startsWith('-')) i++;
    if (out.some((w) => w.startsWith(`--${flag}=`))) continue;
    out.push(`--${flag}=${wanted.get(flag) as string}`);
  }
  for (const [flag, value] of wanted) if (!out.some((w) => w.startsWith(`--${flag}=`))) out.push(`--${flag}=${value}`);
  const lines = [binary as string, ...out].map(unitWord);
  return [
    '# written by etcd-runbook: etcd\'s flags for the recovered cluster (ExecStart reset, then declared again)',
    '[Service]',
    'ExecStart=',
    `ExecStart=${lines.join(' \\\n  ')}`,
    '',
  ].join('\n');
}

/** A word as systemd's ExecStart reads it back: bare when plain, else double-quoted (`${VAR}` in the unit's own words kept as is). */
function unitWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./${}-]+$/.test(word) ? word : `"${word.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

// ---- env file -----------------------------------------------------------------------

/** --initial-cluster-state → ETCD_INITIAL_CLUSTER_STATE, as etcd reads its environment. */
export function envName(flag: string): string {
  return `ETCD_${flag.toUpperCase().replace(/-/g, '_')}`;
}

const ENV_LINE = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)(.*)$/;

/**
 * Each flag's ETCD_ variable takes the value on its first line, quoted as
 * that line was (a later line setting it again is dropped: it would win);
 * a variable the file lacks is added at the end, double-quoted.
 */
export function setEnvFlags(text: string, flags: EtcdFlags): string {
  const wanted = new Map(flags.map(([flag, value]) => [envName(flag), value]));
  const done = new Set<string>();
  const lines = splitLines(text);
  const out: string[] = [];
  for (const line of lines) {
    const match = ENV_LINE.exec(line);
    const key = match?.[2];
    if (!match || key === undefined || !wanted.has(key)) {
      out.push(line);
      continue;
    }
    if (done.has(key)) continue;
    done.add(key);
    out.push(`${match[1]}${key}${match[3]}${envValue(wanted.get(key) as string, quoteOf(match[4] ?? ''))}`);
  }
  for (const [key, value] of wanted) if (!done.has(key)) out.push(`${key}=${envValue(value, '"')}`);
  return joinLines(out, text);
}

function quoteOf(value: string): '"' | "'" | '' {
  const first = value.trimStart()[0];
  return first === '"' || first === "'" ? first : '';
}

/** A value as systemd's EnvironmentFile (and a shell) reads it back. */
function envValue(value: string, quote: '"' | "'" | ''): string {
  const plain = /^[A-Za-z0-9_@%+=:,./-]*$/.test(value);
  if (quote === '' && plain) return value;
  if (quote === "'" && !value.includes("'")) return `'${value}'`;
  return `"${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

// ---- static-pod manifest ---------------------------------------------------------------

const FLAG_ITEM = /^(\s*)-\s+(["']?)--([a-z0-9-]+)(?:=(.*?))?\2\s*$/;

/**
 * In the etcd container's command (the list that starts `- etcd`), each
 * flag's `- --flag=value` line takes the new value (a repeat of it is
 * dropped); a flag not there is added after the last one, at its indent.
 * A line edit rather than a YAML round trip: the file keeps its shape,
 * comments and key order exactly.
 */
export function setManifestFlags(text: string, flags: EtcdFlags, path = 'the manifest'): string {
  const lines = splitLines(text);
  const start = lines.findIndex((l) => /^\s*-\s+["']?etcd["']?\s*$/.test(l));
  if (start < 0) throw new OperatorError(`no "- etcd" command line in ${path}: set the flags in it by hand`);
  const indent = (/^(\s*)-/.exec(lines[start] as string)?.[1] ?? '');
  let end = start + 1;
  while (end < lines.length && new RegExp(`^${indent}-\\s`).test(lines[end] as string)) end++;
  const wanted = new Map(flags);
  const done = new Set<string>();
  const command: string[] = [lines[start] as string];
  for (const line of lines.slice(start + 1, end)) {
    const flag = FLAG_ITEM.exec(line)?.[3];
    if (flag === undefined || !wanted.has(flag)) {
      command.push(line);
      continue;
    }
    if (done.has(flag)) continue;
    done.add(flag);
    command.push(`${indent}- ${yamlItem(`--${flag}=${wanted.get(flag) as string}`)}`);
  }
  for (const [flag, value] of wanted) if (!done.has(flag)) command.push(`${indent}- ${yamlItem(`--${flag}=${value}`)}`);
  return joinLines([...lines.slice(0, start), ...command, ...lines.slice(end)], text);
}

/**
 * A plain YAML scalar when it reads back as the same string (a block
 * sequence item starting `--`: commas and brackets inside are plain text),
 * else double-quoted.
 */
function yamlItem(value: string): string {
  return /: |\s#|^\s|\s$|["'\\\t]/.test(value) || value.endsWith(':') || !value.startsWith('--') ? JSON.stringify(value) : value;
}

// ---- lines and diff -------------------------------------------------------------------------

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Lines back into text, ending with a newline as a config file should (the original did, or was empty). */
function joinLines(lines: string[], original: string): string {
  return lines.length === 0 ? original : `${lines.join('\n')}\n`;
}

/**
 * A unified diff of two texts (`diff -u` style, 3 lines of context), as
 * `plan` and the step log show an edit: jsdiff's hunks under one `---`/`+++`
 * pair naming the file.
 */
export function unifiedDiff(path: string, before: string, after: string, context = 3): string {
  const { hunks } = structuredPatch(path, path, before, after, undefined, undefined, { context });
  if (hunks.length === 0) return '';
  // the format's quirk: an empty side's range starts one line lower
  const start = (at: number, lines: number): number => (lines === 0 ? at - 1 : at);
  return [
    `--- ${path}`,
    `+++ ${path}`,
    ...hunks.flatMap((h) => [`@@ -${start(h.oldStart, h.oldLines)},${h.oldLines} +${start(h.newStart, h.newLines)},${h.newLines} @@`, ...h.lines]),
  ].join('\n');
}

/** What `plan` shows when the file cannot be read at plan time: the flags, as they will read in the file. */
export function describeEditConfig(plan: EditConfigPlan): string {
  const shown = plan.flags.map(([flag, value]) =>
    plan.format === 'env-file' ? `${envName(flag)}=${envValue(value, '"')}` : plan.format === 'static-pod' ? `- ${yamlItem(`--${flag}=${value}`)}` : unitWord(`--${flag}=${value}`),
  );
  const what = plan.format === 'unit-drop-in' ? `write ${plan.path} (ExecStart of ${plan.unitFile ?? 'the unit'} declared again), setting:` : `edit ${plan.path} (backup ${plan.backup}), setting:`;
  return [`# ${what}`, ...shown.map((l) => `#   ${l}`), ...(plan.format === 'unit-drop-in' ? ['systemctl daemon-reload'] : [])].join('\n');
}

/** The diff `plan` shows when the file can be read now, else the flags to set; an error in the file is said, not thrown. */
export function describeEditOf(plan: EditConfigPlan, text: string | undefined, unitText?: string): string {
  if (text === undefined) return describeEditConfig(plan);
  try {
    const diff = unifiedDiff(plan.path, text, applyEdit(plan.format, text, plan.flags, plan.path, unitText));
    return diff === '' ? `# ${plan.path} already sets these flags: nothing to change` : diff;
  } catch (err) {
    return `${describeEditConfig(plan)}\n# as it is now: ${messageOf(err)}`;
  }
}

// ---- execution ----------------------------------------------------------------------

/**
 * On the node: the file as it is now, the edit, a backup (kept if a retry
 * finds one: it holds the file from before the first attempt), the new text
 * in a temporary file with the old mode and owner, renamed into place.
 */
export async function runEditConfig(transport: Transport, plan: EditConfigPlan, io: KindIo): Promise<KindResult> {
  const where = `${plan.path} on ${transport.node}`;
  const fail = (error: string): KindResult => ({ ok: false, error });
  if (plan.refuseIfExists && (await transport.stat(plan.refuseIfExists))) return fail(`${plan.refuseIfExists} on ${transport.node} is still in the manifests dir: stop etcd first (the kubelet would run the pod mid-edit)`);
  const unit = plan.unitFile ? await readText(transport, plan.unitFile) : undefined;
  if (plan.unitFile && unit === undefined) return fail(`${plan.unitFile} on ${transport.node} is missing: ${plan.whenMissing}`);
  const found = await transport.stat(plan.path);
  // a drop-in is new the first time: it stands for the unit (mode 0644, root's)
  const stat: FileStat | undefined = found ?? (plan.format === 'unit-drop-in' ? { type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtimeMs: 0 } : undefined);
  if (!stat) return fail(`${where} is missing: ${plan.whenMissing}`);
  if (stat.type !== 'file') return fail(`${where} is a ${stat.type}, not a file`);
  const before = found ? (await transport.readFile(plan.path)).toString('utf8') : '';
  let after: string;
  try {
    after = applyEdit(plan.format, before, plan.flags, where, unit);
  } catch (err) {
    return fail(messageOf(err));
  }
  if (after === before) {
    io.say(`${where} already sets ${plan.flags.map(([f]) => `--${f}`).join(', ')}: nothing to change\n${flagLines(plan, after)}`);
    return { ok: true, exitCode: 0 };
  }
  io.say(`${unifiedDiff(plan.path, before, after)}\n`);
  if (!found) await transport.mkdir(posix.dirname(plan.path), 0o755).catch(() => undefined);
  else if (await transport.stat(plan.backup)) io.say(`backup ${plan.backup} is already there (an earlier attempt): kept as it is\n`);
  else await writeFileAs(transport, plan.backup, before, stat, io);
  if (await transport.stat(plan.temp)) await transport.unlink(plan.temp);
  await writeFileAs(transport, plan.temp, after, stat, io);
  await transport.rename(plan.temp, plan.path);
  io.say(`${where} written${found ? `; backup: ${plan.backup}` : ''}\n${flagLines(plan, after)}`);
  // systemd reads a unit's drop-ins again only when told to
  if (plan.format === 'unit-drop-in') return run(transport, shellJoin(['systemctl', 'daemon-reload']), io);
  return { ok: true, exitCode: 0 };
}

/** The lines of the file that set the plan's flags, as the file now has them (the step log's proof). */
function flagLines(plan: EditConfigPlan, text: string): string {
  if (plan.format === 'unit-drop-in') return text;
  const names = new Set(plan.flags.map(([flag]) => flag));
  const sets = (line: string) => {
    if (plan.format === 'unit-drop-in') return line.startsWith('ExecStart=');
    if (plan.format === 'static-pod') return names.has(FLAG_ITEM.exec(line)?.[3] ?? '');
    const key = ENV_LINE.exec(line)?.[2];
    return plan.flags.some(([flag]) => envName(flag) === key);
  };
  return splitLines(text).filter(sets).map((l) => `${l}\n`).join('');
}

async function readText(transport: Transport, path: string): Promise<string | undefined> {
  return (await transport.stat(path)) ? (await transport.readFile(path)).toString('utf8') : undefined;
}

/** A new file with the text, the mode and the owner of the file it stands for. */
export async function writeFileAs(transport: Transport, path: string, text: string, like: FileStat, io: KindIo): Promise<void> {
  const writer: Writable = await transport.openWrite(path, like.mode);
  await pipeline(Readable.from([Buffer.from(text, 'utf8')]), writer);
  await transport.chmod(path, like.mode);
  const written = await transport.stat(path);
  if (written && (written.uid !== like.uid || written.gid !== like.gid)) {
    try {
      await transport.chown(path, like.uid, like.gid);
    } catch (err) {
      io.sayError(`could not keep owner ${like.uid}:${like.gid} on ${path} (${messageOf(err)})\n`);
    }
  }
}

/**
 * `plan` on this machine: each edit of a file it can read here (a member
 * whose node is local) shows as the diff it makes now. A kubeadm manifest
 * that the stop step has not parked yet is read where it still is.
 */
export async function withLocalDiffs(plan: RenderedRunbook, read: (path: string) => Promise<string | undefined>): Promise<RenderedRunbook> {
  const steps = await Promise.all(
    plan.steps.map(async (step) => ({
      ...step,
      targets: await Promise.all(
        step.targets.map(async (target) => {
          const edit = target.editConfig;
          if (!edit || target.host !== 'local') return target;
          if (edit.unitFile) {
            // a drop-in not written yet is empty: the diff is the whole drop-in, from the unit as it is
            const unit = await read(edit.unitFile);
            return unit === undefined ? target : { ...target, command: `${describeEditOf(edit, (await read(edit.path)) ?? '', unit)}\nsystemctl daemon-reload` };
          }
          const text = (await read(edit.path)) ?? (edit.refuseIfExists ? await read(edit.refuseIfExists) : undefined);
          return { ...target, command: describeEditOf(edit, text) };
        }),
      ),
    })),
  );
  return { ...plan, steps };
}
