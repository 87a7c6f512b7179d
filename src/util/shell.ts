import { quote } from 'shell-quote';

/**
 * The one function that turns a value into a shell word. Every interpolated
 * value that reaches a shell goes through here, so a member named
 * `a;rm -rf /` reaches the shell as one inert word.
 *
 * shell-quote (the quoting library npm itself uses) does the escaping; we only
 * pin down the empty string, which must stay a word rather than vanish.
 */
export function shellQuote(value: string | number): string {
  const text = String(value);
  if (text === '') return "''";
  return quote([text]);
}

/** A command line from already-separated words, each quoted. */
export function shellJoin(words: ReadonlyArray<string | number>): string {
  return words.map(shellQuote).join(' ');
}
