import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { matchesPatternList } from './hostPatterns.js';

/**
 * The basics of ~/.ssh/config that decide where and as whom we connect:
 * Host blocks (patterns, negation), HostName, User, Port, IdentityFile.
 * As in ssh_config(5), the first value obtained wins and IdentityFile
 * accumulates. Match blocks and Include are not followed (their keywords are
 * skipped), so an exotic config degrades to the inventory's settings.
 *
 * Hand-written rather than a dependency: the subset is small and the rules
 * that matter (first wins, negation) are easy to get subtly wrong elsewhere.
 */

export interface SshConfigResult {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  /** keywords seen but not applied (Match, Include, ...), for diagnostics */
  ignored: string[];
}

interface Directive {
  keyword: string;
  args: string[];
  line: number;
}

interface Block {
  /** undefined: the lines before the first Host (apply to every host) */
  patterns?: string[];
  /** a Match block: never applied */
  match?: boolean;
  directives: Directive[];
}

export function parseSshConfig(text: string): Block[] {
  const blocks: Block[] = [{ directives: [] }];
  text.split('\n').forEach((raw, index) => {
    const directive = parseDirective(raw, index + 1);
    if (!directive) return;
    if (directive.keyword === 'host') blocks.push({ patterns: directive.args, directives: [] });
    else if (directive.keyword === 'match') blocks.push({ match: true, directives: [] });
    else blocks[blocks.length - 1]?.directives.push(directive);
  });
  return blocks;
}

/** `Keyword value`, `Keyword=value`, `Keyword "quoted value"`; `#` comments. */
function parseDirective(raw: string, line: number): Directive | undefined {
  const trimmed = raw.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const match = /^([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/.exec(trimmed);
  if (!match?.[1]) return undefined;
  return { keyword: match[1].toLowerCase(), args: splitArgs(match[2] ?? ''), line };
}

function splitArgs(text: string): string[] {
  const args: string[] = [];
  for (const match of text.matchAll(/"([^"]*)"|(\S+)/g)) {
    const word = match[1] ?? match[2] ?? '';
    if (word.startsWith('#')) break;
    args.push(word);
  }
  return args;
}

export interface ResolveContext {
  /** the remote user when known, for %r in IdentityFile */
  user?: string;
  home?: string;
  localUser?: string;
}

/** What the config says for `host` (the name as the inventory gives it). */
export function resolveSshConfig(blocks: readonly Block[], host: string, context: ResolveContext = {}): SshConfigResult {
  const result: SshConfigResult = { identityFiles: [], ignored: [] };
  const rawIdentityFiles: string[] = [];
  for (const block of blocks) {
    if (block.match) {
      result.ignored.push('Match');
      continue;
    }
    if (block.patterns && !matchesPatternList(host, block.patterns)) continue;
    for (const directive of block.directives) applyDirective(result, rawIdentityFiles, directive);
  }
  const home = context.home ?? homedir();
  const tokens = {
    h: result.hostName ?? host,
    r: result.user ?? context.user ?? '',
    u: context.localUser ?? userInfo().username,
    d: home,
  };
  result.identityFiles = rawIdentityFiles.map((file) => expandPath(file, tokens, home));
  if (result.hostName) result.hostName = expandTokens(result.hostName, { ...tokens, h: host });
  return result;
}

function applyDirective(result: SshConfigResult, identityFiles: string[], directive: Directive): void {
  const value = directive.args[0];
  if (value === undefined) return;
  switch (directive.keyword) {
    case 'hostname':
      result.hostName ??= value;
      return;
    case 'user':
      result.user ??= value;
      return;
    case 'port': {
      const port = Number(value);
      if (result.port === undefined && Number.isInteger(port) && port > 0 && port < 65536) result.port = port;
      return;
    }
    case 'identityfile':
      identityFiles.push(value);
      return;
    case 'include':
      result.ignored.push('Include');
      return;
  }
}

function expandTokens(text: string, tokens: Record<string, string>): string {
  return text.replace(/%(.)/g, (whole, letter: string) => (letter === '%' ? '%' : tokens[letter] ?? whole));
}

function expandPath(file: string, tokens: Record<string, string>, home: string): string {
  const expanded = expandTokens(file, tokens);
  if (expanded === '~') return home;
  return expanded.startsWith('~/') ? join(home, expanded.slice(2)) : expanded;
}

/** Read and resolve a config file; a missing file is an empty config. */
export async function loadSshConfig(path: string, host: string, context: ResolveContext = {}): Promise<SshConfigResult> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return resolveSshConfig(parseSshConfig(text), host, context);
}
