import { OperatorError } from '../util/errors.js';

/** `--set a=b --set c=d` → { a: 'b', c: 'd' }; a value may contain '='. */
export function parseSets(sets: string[]): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const set of sets) {
    const eq = set.indexOf('=');
    if (eq <= 0) throw new OperatorError(`--set ${set}: expected name=value, e.g. --set member=m3`);
    inputs[set.slice(0, eq)] = set.slice(eq + 1);
  }
  return inputs;
}
