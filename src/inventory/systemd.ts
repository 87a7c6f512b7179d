import { posix } from 'node:path';
import { OperatorError } from '../util/errors.js';
import { flagsFromEnvironment, mergeEtcdFlags, parseEtcdArgs, type EtcdFlags } from './etcd-flags.js';

/** An `EnvironmentFile=` of the unit; `-path` means systemd ignores it when missing. */
export interface EnvironmentFileRef {
  path: string;
  optional: boolean;
}

/** The parts of an etcd.service that say how etcd is started. */
export interface SystemdUnit {
  fileName: string;
  /** ExecStart= split into words as systemd does, before ${VAR} expansion */
  execStart: string[];
  execStartLine: number;
  /** Environment= assignments, in order (later wins) */
  environment: Record<string, string>;
  environmentFiles: EnvironmentFileRef[];
}

/** An EnvironmentFile such as /etc/etcd/etcd.conf. */
export interface EtcdEnvFile {
  fileName: string;
  variables: Record<string, string>;
  flags: EtcdFlags;
  /** lines systemd would skip; shown to the operator, never fatal */
  warnings: string[];
}

/** etcd's settings from a unit, its environment files, and its command line. */
export interface SystemdEtcd {
  /** the etcd binary ExecStart runs, e.g. /usr/local/bin/etcd */
  binary?: string;
  flags: EtcdFlags;
  otherFlags: Record<string, string>;
}

interface LogicalLine {
  line: number;
  text: string;
}

/**
 * Joins `\`-continued lines the way systemd does (a comment line inside a
 * continuation is skipped) and remembers where each logical line began.
 */
function logicalLines(text: string): LogicalLine[] {
  const result: LogicalLine[] = [];
  let current: LogicalLine | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (current && /^[#;]/.test(trimmed)) return;
    const continues = trimmed.endsWith('\\');
    const part = continues ? trimmed.slice(0, -1) : trimmed;
    if (current) current.text += ` ${part}`;
    else current = { line: index + 1, text: part };
    if (!continues) {
      result.push(current);
      current = undefined;
    }
  });
  if (current) result.push(current);
  return result;
}

/** Reads an etcd.service unit (or a drop-in); pure: environment files are read by the caller. */
export function parseSystemdUnit(text: string, fileName: string): SystemdUnit {
  const unit: SystemdUnit = { fileName, execStart: [], execStartLine: 0, environment: {}, environmentFiles: [] };
  let section = '';
  for (const { line, text: content } of logicalLines(text)) {
    if (content === '' || /^[#;]/.test(content)) continue;
    const header = /^\[(.+)\]$/.exec(content);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    const equals = content.indexOf('=');
    if (section !== 'Service' || equals < 0) continue;
    readServiceSetting(unit, content.slice(0, equals).trim(), content.slice(equals + 1).trim(), `${fileName}:${line}`, line);
  }
  if (unit.execStart.length === 0) {
    throw new OperatorError(`${fileName}: no ExecStart= in [Service]: cannot tell how etcd is started`);
  }
  return unit;
}

function readServiceSetting(unit: SystemdUnit, key: string, value: string, where: string, line: number): void {
  if (key === 'ExecStart') {
    // an empty ExecStart= resets the list (how drop-ins replace the command)
    unit.execStart = value === '' ? [] : withoutExecPrefix(splitWords(value, `${where}: ExecStart`));
    unit.execStartLine = line;
  } else if (key === 'Environment') {
    for (const assignment of splitWords(value, `${where}: Environment`)) {
      const equals = assignment.indexOf('=');
      if (equals > 0) unit.environment[assignment.slice(0, equals)] = assignment.slice(equals + 1);
    }
  } else if (key === 'EnvironmentFile') {
    if (value === '') unit.environmentFiles = [];
    else {
      const optional = value.startsWith('-');
      unit.environmentFiles.push({ path: optional ? value.slice(1) : value, optional });
    }
  }
}

/** `-`, `@`, `+`, `!`, `!!` before the binary change how systemd runs it, not what runs. */
function withoutExecPrefix(words: string[]): string[] {
  const [first, ...rest] = words;
  if (first === undefined) return words;
  const binary = first.replace(/^[-@+!:|]+/, '');
  return binary === '' ? rest : [binary, ...rest];
}

/**
 * Splits a command line into words: whitespace separates, "double" and
 * 'single' quotes group, a backslash escapes the next character. This is
 * what keeps `--name="etcd a;b"` one word with its spaces and ';' intact.
 */
export function splitWords(text: string, where: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let index = 0; index < text.length; index++) {
    const char = text.charAt(index);
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && index + 1 < text.length) word += text.charAt(++index);
      else word += char;
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
    } else if (char === '\\' && index + 1 < text.length) {
      word = (word ?? '') + text.charAt(++index);
    } else {
      word = (word ?? '') + char;
    }
  }
  if (quote) throw new OperatorError(`${where}: unterminated ${quote} quote`);
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * systemd's variable expansion in ExecStart: `${VAR}` inside a word is
 * replaced in place; a word that is exactly `$VAR` becomes the value split
 * on whitespace; `$$` is a literal dollar.
 */
function expandWords(words: ReadonlyArray<string>, env: Readonly<Record<string, string>>): string[] {
  return words.flatMap((word) => {
    const whole = /^\$([A-Za-z_]\w*)$/.exec(word);
    if (whole) return (env[whole[1] ?? ''] ?? '').split(/\s+/).filter((part) => part !== '');
    return [
      word.replace(/\$\$|\$\{([A-Za-z_]\w*)\}/g, (match, name: string | undefined) =>
        name === undefined ? '$' : (env[name] ?? ''),
      ),
    ];
  });
}

/**
 * etcd's settings as systemd would start it: Environment= is overridden by
 * the environment files (systemd's rule), and those by the flags on
 * ExecStart (etcd's rule). `envFiles` are the unit's EnvironmentFiles
 * that exist, already parsed, in the unit's order.
 */
export function etcdFlagsFromUnit(unit: SystemdUnit, envFiles: ReadonlyArray<EtcdEnvFile>): SystemdEtcd {
  let env: Record<string, string> = { ...unit.environment };
  let flags = flagsFromEnvironment(unit.environment, `${unit.fileName}: Environment=`);
  for (const file of envFiles) {
    env = { ...env, ...file.variables };
    flags = mergeEtcdFlags(flags, file.flags);
  }
  const argv = etcdArgv(expandWords(unit.execStart, env), `${unit.fileName}:${unit.execStartLine}`);
  const fromCommandLine = parseEtcdArgs(argv.slice(1), `${unit.fileName}:${unit.execStartLine}`);
  const binary = argv[0];
  return {
    ...(binary !== undefined && { binary }),
    flags: mergeEtcdFlags(flags, fromCommandLine.flags),
    otherFlags: fromCommandLine.otherFlags,
  };
}

/**
 * The directory of etcd's certificates on a systemd master (what backup
 * copies and replace-master restores): where ETCD_CERT_FILE and
 * ETCD_PEER_CERT_FILE (or --cert-file/--peer-cert-file) live, when that is
 * one directory; undefined when neither is set or they are in two places,
 * with the reason.
 */
export function pkiDirFromFlags(flags: Pick<EtcdFlags, 'certFile' | 'peerCertFile'>): { pkiDir?: string; note?: string } {
  const dirs = [...new Set([flags.certFile, flags.peerCertFile].flatMap((file) => (file && posix.isAbsolute(file) ? [posix.dirname(file)] : [])))];
  if (dirs.length === 1) return { pkiDir: dirs[0] as string };
  if (dirs.length === 0) return {};
  return { note: `the server and peer certificates are in two directories (${dirs.join(', ')}): set node.paths.pkiDir in the inventory to the one to back up` };
}

/**
 * The etcd command itself. Older packages (CentOS's etcd.service) wrap it:
 * `/bin/bash -c "GOMAXPROCS=$(nproc) /usr/bin/etcd --name=\"${ETCD_NAME}\" ..."`,
 * so a shell's -c script is split again and searched for the etcd word.
 */
function etcdArgv(words: string[], where: string): string[] {
  const [binary, flag, script] = words;
  const isShell = binary !== undefined && /^(ba|da|z)?sh$/.test(posix.basename(binary));
  if (!isShell || flag !== '-c' || script === undefined) return words;
  const inner = splitWords(script, `${where}: ExecStart shell script`);
  const start = inner.findIndex((word) => posix.basename(word) === 'etcd');
  return start < 0 ? words : inner.slice(start);
}

/**
 * Reads an EnvironmentFile with ETCD_* variables (a binary install's
 * /etc/etcd/etcd.conf): `NAME=value`, `NAME="value"`, `#`/`;` comment
 * lines, a comment after the value, `export ` tolerated (the file is often
 * also sourced by shell scripts).
 */
export function parseEtcdEnvFile(text: string, fileName: string): EtcdEnvFile {
  const variables: Record<string, string> = {};
  const warnings: string[] = [];
  for (const { line, text: content } of logicalLines(text)) {
    if (content === '' || /^[#;]/.test(content)) continue;
    const match = /^(?:export\s+)?([A-Za-z_]\w*)\s*=\s*(.*)$/.exec(content);
    if (!match) {
      warnings.push(`${fileName}:${line}: not NAME=value, ignored (as systemd does): ${content}`);
      continue;
    }
    variables[match[1] ?? ''] = envValue(match[2] ?? '', `${fileName}:${line}: ${match[1] ?? ''}`);
  }
  return { fileName, variables, flags: flagsFromEnvironment(variables, fileName), warnings };
}

function envValue(raw: string, where: string): string {
  const quote = raw.charAt(0);
  // unquoted: a " #" starts a comment; no etcd value contains one
  if (quote !== '"' && quote !== "'") return raw.replace(/\s+#.*$/, '').trim();
  let value = '';
  for (let index = 1; index < raw.length; index++) {
    const char = raw.charAt(index);
    if (char === quote) {
      const after = raw.slice(index + 1).trim();
      if (after !== '' && !/^[#;]/.test(after)) {
        throw new OperatorError(`${where}: unexpected text after the closing ${quote} quote: ${after}`);
      }
      return value;
    }
    if (char === '\\' && quote === '"' && index + 1 < raw.length) value += raw.charAt(++index);
    else value += char;
  }
  throw new OperatorError(`${where}: unterminated ${quote} quote`);
}
