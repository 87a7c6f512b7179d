/**
 * What one read of typed input does to a one-line prompt, key by key.
 *
 * A terminal hands over several keys in one read when they come faster than
 * the app reads them: a paste ending in Enter, a held Backspace, typing over
 * a slow SSH link. Ink splits a read only at escape sequences, so
 * "m1,m2,m3\r" or four DELs reach the input handler as one string with no
 * key flag set; only a key that arrived alone is named (key.return,
 * key.backspace…). Both forms are read here into the same edits, in order.
 */
export type PromptEdit = { kind: 'text'; text: string } | { kind: 'erase' } | { kind: 'clear' } | { kind: 'submit' };

/** The key flags ink sets for a key that arrived alone (a subset of its Key). */
export interface PromptKey {
  return?: boolean;
  backspace?: boolean;
  delete?: boolean;
  ctrl?: boolean;
  meta?: boolean;
}

const ERASE = new Set(['\u007f', '\b']);
const SUBMIT = new Set(['\r', '\n']);
/** Ctrl-U, the terminal's "kill line" */
const CLEAR = '\u0015';

/**
 * The edits a read makes, in order, ending at the first Enter: what follows
 * an Enter in the same read is not returned, since it was typed before the
 * operator saw what the Enter led to. Other control characters type nothing.
 */
export function promptEdits(input: string, key: PromptKey): PromptEdit[] {
  if (key.return) return [{ kind: 'submit' }];
  // DEL is reported as "delete" by ink, ^H as "backspace": both erase the last character
  if (key.backspace || key.delete) return [{ kind: 'erase' }];
  if (key.ctrl) return input === 'u' ? [{ kind: 'clear' }] : [];
  if (key.meta) return [];
  const edits: PromptEdit[] = [];
  let text = '';
  const endText = (): void => {
    if (text) edits.push({ kind: 'text', text });
    text = '';
  };
  for (const char of input) {
    if (SUBMIT.has(char)) {
      endText();
      edits.push({ kind: 'submit' });
      return edits;
    }
    if (ERASE.has(char) || char === CLEAR) {
      endText();
      edits.push({ kind: char === CLEAR ? 'clear' : 'erase' });
    } else if (!/[\u0000-\u001f]/.test(char)) text += char;
  }
  endText();
  return edits;
}

/** The draft less its last character (a whole code point: member names may be unicode). */
export function eraseLast(draft: string): string {
  return Array.from(draft).slice(0, -1).join('');
}
