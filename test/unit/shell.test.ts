import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellJoin, shellQuote } from '../../src/util/shell.js';

/**
 * Every quoted word goes through a real /bin/sh. The shell runs in a scratch
 * directory with a PATH holding only `touch` (so `rm`, `reboot` and friends
 * cannot run even if quoting failed) and a HOME that is not the real one.
 */
let scratch: string;
let cwd: string;
let markers: string;
let bin: string;
const FAKE_HOME = '/nonexistent-home-for-shell-test';

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'shellquote-'));
  cwd = join(scratch, 'cwd');
  markers = join(scratch, 'markers');
  bin = join(scratch, 'bin');
  for (const dir of [cwd, markers, bin]) mkdirSync(dir);
  symlinkSync(execFileSync('/bin/sh', ['-c', 'command -v touch'], { encoding: 'utf8' }).trim(), join(bin, 'touch'));
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function sh(script: string): string {
  return execFileSync('/bin/sh', ['-c', script], {
    cwd,
    encoding: 'utf8',
    env: { PATH: bin, HOME: FAKE_HOME, IFS: ' \t\n' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** How many words the shell makes of `quoted`, and what they are. */
function wordsOf(quoted: string): { count: number; first: string } {
  const out = sh(`set -- ${quoted}; printf '%s\\n' "$#"; printf '%s' "$1"`);
  const newline = out.indexOf('\n');
  return { count: Number(out.slice(0, newline)), first: out.slice(newline + 1) };
}

const HOSTILE: Array<[string, string]> = [
  ['a command separator', 'a;rm -rf /'],
  ['command substitution', '$(reboot)'],
  ['backticks', '`reboot`'],
  ['a variable', '$HOME'],
  ['a braced variable', '${HOME:-x}'],
  ['an arithmetic expansion', '$((1+1))'],
  ['single quotes', "it's"],
  ['double quotes', 'say "hi"'],
  ['both quotes', `mixed 'single' and "double"`],
  ['a backslash', 'back\\slash'],
  ['a trailing backslash', 'end\\'],
  ['a newline', 'line1\nline2'],
  ['a trailing newline', 'trailing\n'],
  ['a space', 'master 1'],
  ['leading and trailing spaces', '  padded  '],
  ['a tab', 'tab\there'],
  ['unicode', 'ünïcödé-主节点-мастер'],
  ['an astral-plane emoji', 'etcd-🚀'],
  ['the empty string', ''],
  ['a lone glob star', '*'],
  ['a glob question mark', '?'],
  ['a bracket glob', '[abc]'],
  ['brace expansion', '{a,b}'],
  ['a comment sign', '#comment'],
  ['an option-looking word', '-n'],
  ['a double dash', '--'],
  ['a bang', '!'],
  ['a pipe', 'a|b'],
  ['an ampersand', 'a&b'],
  ['redirections', '<in >out 2>&1'],
  ['an assignment-looking word', 'X=1'],
  ['a quote and a space', "don't panic"],
  ['a tilde inside a word', 'a~b'],
  ['a leading tilde', '~'],
  ['a leading tilde with a user', '~root'],
  ['a leading tilde with a path', '~/etcd'],
  ['a quote, a space and a bang', "it's here!"],
  ['everything at once', `a'b"c$d\`e\\f!g h\ni;j|k&l*m?n[o]p{q}r~s`],
];

describe('shellQuote', () => {
  it.each(HOSTILE)('makes a name with %s exactly one inert word that prints back unchanged', (_what, name) => {
    const quoted = shellQuote(name);
    expect(sh(`printf '%s\\n' ${quoted}`)).toBe(`${name}\n`);
    expect(wordsOf(quoted)).toEqual({ count: 1, first: name });
  });

  const SIDE_EFFECTS: Array<[string, (marker: string) => string]> = [
    ['a ; command', (m) => `x; touch ${m}`],
    ['$(…)', (m) => `$(touch ${m})`],
    ['backticks', (m) => `\`touch ${m}\``],
    ['&&', (m) => `x && touch ${m}`],
    ['a pipe', (m) => `x | touch ${m}`],
    ['a background &', (m) => `x & touch ${m}`],
    ['a redirection', (m) => `x >${m}`],
    ['a newline', (m) => `x\ntouch ${m}`],
    ['a single-quote breakout', (m) => `x'; touch ${m}; echo '`],
    ['a double-quote breakout', (m) => `x"; touch ${m}; echo "`],
    ['a breakout with spaces and a bang', (m) => `it's"; touch ${m}; echo "!`],
  ];

  it.each(SIDE_EFFECTS)('runs nothing hidden in a name through %s', (what, build) => {
    const marker = join(markers, what.replace(/[^a-z]+/gi, '-'));
    const name = build(marker);
    const out = sh(`printf '%s\\n' ${shellQuote(name)}`);
    expect(readdirSync(markers)).toEqual([]);
    expect(out).toBe(`${name}\n`);
  });

  it('the side-effect check works: unquoted, the same name does create the marker', () => {
    const marker = join(markers, 'control');
    sh(`printf '%s\\n' x; touch ${marker}`);
    expect(readdirSync(markers)).toEqual(['control']);
    rmSync(marker);
  });

  it('creates no file in the working directory', () => {
    for (const [, name] of HOSTILE) {
      try {
        sh(`printf '%s\\n' ${shellQuote(name)}`);
      } catch {
        // a failing case is reported by its own test above
      }
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("keeps the empty string a word: ''", () => {
    expect(shellQuote('')).toBe("''");
    expect(wordsOf(shellQuote(''))).toEqual({ count: 1, first: '' });
  });

  it('leaves plain words readable and quotes numbers as their text', () => {
    expect(shellQuote('master-1')).toBe('master-1');
    expect(shellQuote(2379)).toBe('2379');
    expect(wordsOf(shellQuote('https://10.0.0.1:2379'))).toEqual({ count: 1, first: 'https://10.0.0.1:2379' });
  });
});

describe('shellJoin', () => {
  it('turns each word into exactly one shell word', () => {
    const words = ['etcdctl', 'member', 'remove', 'a;rm -rf /', '', "it's $(x)", 2379];
    const out = sh(`set -- ${shellJoin(words)}; printf '%s\\n' "$#"; for w in "$@"; do printf '<%s>\\n' "$w"; done`);
    expect(out).toBe(`7\n${words.map((w) => `<${w}>`).join('\n')}\n`);
  });

  it('joins an empty list to an empty string', () => {
    expect(shellJoin([])).toBe('');
  });
});
