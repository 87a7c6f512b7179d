import { valueAt, type PathSegment } from '../inventory/yaml-source.js';

/**
 * What an operator reads in a runbook must make sense on its own: a step's
 * why, a guard's message, a source. A citation of a document that does not
 * ship with the tool ("DESIGN §10.9", "field-notes/001", "../shared/…")
 * tells the person at the console nothing; the reason itself does, and a
 * source cites a public page (etcd.io, kubernetes.io) they can open.
 */

/** The citations of documents that do not ship: the first match is named in lint's message. */
const INTERNAL_REFERENCES: readonly RegExp[] = [/\bDESIGN\s*§\s*[\d.]*/, /\bfield[- ]notes?\b(?:\/\d+|\s+\d+)?/i, /(?:\.\.\/)+shared\b\S*/, /§\s*\d[\d.]*/];

/** The internal reference a text cites ("DESIGN §10.9", "field-notes/001"), or undefined when it stands alone. */
export function internalReference(text: string): string | undefined {
  for (const pattern of INTERNAL_REFERENCES) {
    const match = pattern.exec(text);
    if (match) return match[0].trim().replace(/[.,;:]+$/, '');
  }
  return undefined;
}

/** The fields of a step an operator reads: shown in the step view, `plan` and the transcript. */
const STEP_TEXT = ['title', 'why', 'source', 'instruction'] as const;

/**
 * Every operator-facing text of a runbook as parsed from YAML (before the
 * schema, so one schema mistake hides nothing here), with its path:
 * title, description, sources, input descriptions, and per step (in a
 * repeat too) its title, why, source, instruction and guard messages.
 */
export function operatorTexts(input: unknown): Array<{ path: PathSegment[]; text: string }> {
  const out: Array<{ path: PathSegment[]; text: string }> = [];
  const take = (path: PathSegment[]) => {
    const value = valueAt(input, path);
    if (typeof value === 'string') out.push({ path, text: value });
  };
  take(['title']);
  take(['description']);
  eachIndex(valueAt(input, ['sources']), (i) => take(['sources', i]));
  eachIndex(valueAt(input, ['inputs']), (i) => take(['inputs', i, 'description']));
  const step = (base: PathSegment[]) => {
    for (const field of STEP_TEXT) take([...base, field]);
    eachIndex(valueAt(input, [...base, 'guards']), (j) => take([...base, 'guards', j, 'message']));
    take([...base, 'check', 'message']);
    take([...base, 'when', 'reason']);
  };
  eachIndex(valueAt(input, ['steps']), (i) => {
    step(['steps', i]);
    eachIndex(valueAt(input, ['steps', i, 'steps']), (j) => step(['steps', i, 'steps', j]));
  });
  return out;
}

function eachIndex(list: unknown, visit: (index: number) => void): void {
  if (Array.isArray(list)) list.forEach((_, index) => visit(index));
}
