/**
 * Secrets never reach the journal, the transcript or the screen: private key
 * blocks (PEM), etcdctl passwords (`--password`, `--user name:password`,
 * `ETCDCTL_PASSWORD`) and key passphrases are replaced by `[REDACTED]`.
 *
 * `redact(text)` is for whole strings (commands, errors, output tails). A
 * command's output arrives in chunks, and a key can straddle two of them, so
 * `OutputRedactor` carries what it needs from one chunk to the next: whether
 * a key block is still open, and the end of the last unfinished line.
 *
 * Fail closed: a `BEGIN … PRIVATE KEY` without its `END` is redacted to the
 * end of the text, and an `END` without its `BEGIN` (a tail cut in the middle
 * of a key) is redacted from the start.
 */

export const REDACTED = '[REDACTED]';

const KEY_BEGIN = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----/g;
const KEY_END = /-----END ([A-Z0-9 ]*)PRIVATE KEY-----/g;

/** a shell word as it appears in a command: 'single quoted', "double quoted" or bare */
const VALUE = `'(?:[^']|'\\\\'')*'|"(?:[^"\\\\]|\\\\.)*"|[^\\s'"]+`;

/** `--password=x`, `--password x`, `--passphrase …`, `--new-password …` (etcdctl user passwd) */
const PASSWORD_FLAG = new RegExp(`(--(?:[a-z-]*-)?pass(?:word|phrase)(?:=|\\s+))(${VALUE})`, 'g');
/** `ETCDCTL_PASSWORD=x`, `ETCDCTL_PASSWORD: x` (env dumps, YAML) */
const PASSWORD_ENV = new RegExp(`((?:ETCDCTL|ETCD)_PASSWORD\\s*[=:]\\s*)(${VALUE})`, 'g');
/** `--user name:password` / `--user=name:password`: only what follows the first colon */
const USER_FLAG = new RegExp(`(--user(?:=|\\s+))(${VALUE})`, 'g');

interface Range {
  start: number;
  end: number;
}

/** Where the secrets are in text; `openAtStart` means a key block began before it. */
function secretRanges(text: string, openAtStart: boolean): { ranges: Range[]; openAtEnd: boolean } {
  const ranges: Range[] = [];
  let openAtEnd = false;
  let from = 0;
  if (openAtStart) {
    const end = findFrom(KEY_END, text, 0);
    if (!end) return { ranges: [{ start: 0, end: text.length }], openAtEnd: true };
    ranges.push({ start: 0, end: end.index });
    from = end.index + end[0].length;
  } else {
    // an END with no BEGIN before it: the start of this text is the inside of a key
    const firstEnd = findFrom(KEY_END, text, 0);
    const firstBegin = findFrom(KEY_BEGIN, text, 0);
    if (firstEnd && (!firstBegin || firstEnd.index < firstBegin.index)) {
      ranges.push({ start: 0, end: firstEnd.index });
      from = firstEnd.index + firstEnd[0].length;
    }
  }
  for (;;) {
    const begin = findFrom(KEY_BEGIN, text, from);
    if (!begin) break;
    const bodyStart = begin.index + begin[0].length;
    const end = findFrom(KEY_END, text, bodyStart);
    if (!end) {
      ranges.push({ start: bodyStart, end: text.length });
      openAtEnd = true;
      break;
    }
    ranges.push({ start: bodyStart, end: end.index });
    from = end.index + end[0].length;
  }
  for (const match of text.matchAll(PASSWORD_FLAG)) pushValue(ranges, match, match[2]);
  for (const match of text.matchAll(PASSWORD_ENV)) pushValue(ranges, match, match[2]);
  for (const match of text.matchAll(USER_FLAG)) {
    const value = match[2] ?? '';
    const colon = value.indexOf(':');
    if (colon < 0) continue;
    const valueStart = (match.index ?? 0) + (match[1]?.length ?? 0);
    const quote = value.startsWith("'") || value.startsWith('"') ? 1 : 0;
    ranges.push({ start: valueStart + colon + 1, end: valueStart + value.length - quote });
  }
  return { ranges: merge(ranges), openAtEnd };
}

function pushValue(ranges: Range[], match: RegExpMatchArray, value: string | undefined): void {
  if (!value || value === REDACTED) return;
  const start = (match.index ?? 0) + match[0].length - value.length;
  ranges.push({ start, end: start + value.length });
}

function findFrom(pattern: RegExp, text: string, from: number): RegExpExecArray | null {
  pattern.lastIndex = from;
  return pattern.exec(text);
}

function merge(ranges: Range[]): Range[] {
  const sorted = ranges.filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/** The part of text from `offset` on, with every secret range replaced. */
function replaceRanges(text: string, ranges: Range[], offset = 0): string {
  let out = '';
  let at = offset;
  for (const r of ranges) {
    if (r.end <= at) continue;
    const start = Math.max(r.start, at);
    out += text.slice(at, start);
    // a key body keeps its line breaks around the marker, so the block still reads as one
    const secret = text.slice(start, r.end);
    const lead = secret.startsWith('\n') ? '\n' : '';
    const trail = secret.length > 1 && secret.endsWith('\n') ? '\n' : '';
    out += `${lead}${REDACTED}${trail}`;
    at = r.end;
  }
  return out + text.slice(at);
}

/**
 * What every pattern above needs somewhere in the text: a string with none
 * of these (nearly every string a run writes: probe reports, names, paths)
 * is returned as it is without the five scans. Kept a superset of the
 * patterns, so it can only let more text through to them, never less.
 */
const MAYBE_SECRET = /PRIVATE KEY|pass(?:word|phrase)|_PASSWORD|--user/;

/** Every secret in a whole string replaced by [REDACTED]. Idempotent. */
export function redact(text: string): string {
  if (!MAYBE_SECRET.test(text)) return text;
  const { ranges } = secretRanges(text, false);
  return ranges.length === 0 ? text : replaceRanges(text, ranges);
}

/** Whether text holds anything redact() would replace. */
export function containsSecret(text: string): boolean {
  return redact(text) !== text;
}

/** How much of an unfinished line is kept to recognise a secret split across chunks. */
const CARRY = 256;

/**
 * Redacts one output stream chunk by chunk. A key block opened in one chunk
 * stays redacted until its END line arrives; a BEGIN line or a `--password`
 * split across two chunks is recognised from the end of the previous chunk.
 */
export class OutputRedactor {
  private open = false;
  private carry = '';

  push(chunk: string): string {
    const combined = this.carry + chunk;
    const { ranges, openAtEnd } = secretRanges(combined, this.open);
    const out = replaceRanges(combined, ranges, this.carry.length);
    this.open = openAtEnd;
    const lastBreak = combined.lastIndexOf('\n');
    this.carry = (lastBreak < 0 ? combined : combined.slice(lastBreak + 1)).slice(-CARRY);
    return out;
  }
}
