/**
 * The one function that turns a value into a shell word. Every interpolated
 * value that reaches a shell goes through here, so a member named
 * `a;rm -rf /` reaches the shell as one inert word.
 *
 * POSIX single quotes: inside them nothing is special, so the only character
 * to handle is the quote itself ('\'' closes, adds an escaped quote, reopens).
 * Words made only of characters no shell treats specially stay bare, so
 * commands read naturally (`etcdctl member remove 8e9e05c52164694d`).
 * A library was tried first (shell-quote): it left a leading `~` bare (the
 * shell expanded it to $HOME) and turned `!` into `\!` inside double quotes;
 * test/unit/shell.test.ts runs every case through a real /bin/sh.
 */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(value: string | number): string {
  const text = String(value);
  if (text.includes('\0')) throw new Error('a shell word cannot contain a NUL byte');
  if (SAFE_WORD.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A command line from already-separated words, each quoted. */
export function shellJoin(words: ReadonlyArray<string | number>): string {
  return words.map(shellQuote).join(' ');
}
