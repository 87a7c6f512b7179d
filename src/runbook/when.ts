import type { ParamValue } from './rendered.js';
import type { StepWhen } from './schema.js';
import { resolvePath, TemplateError, Unset, type ContextObject } from './template.js';

/**
 * A step's `when:` judged for one run: from the resolved inputs or a fact
 * of the render context (what the probe found). Pure; plan and the engine
 * both read the answer from the rendered step.
 */

/** undefined: the step applies; else why it is left out ("inputs.failedHostAnswers is false"). */
export function whyLeftOut(when: StepWhen, inputs: Record<string, ParamValue>, context: ContextObject): string | undefined {
  const subject = when.input !== undefined ? `inputs.${when.input}` : (when.fact as string);
  const value = when.input !== undefined ? inputValue(inputs, when.input) : factValue(context, when.fact as string);
  if (holds(when, value)) return undefined;
  return when.reason ?? `${subject} is ${shown(value)} (the step is for ${condition(when)})`;
}

function holds(when: StepWhen, value: string): boolean {
  if (when.equals !== undefined) return value === String(when.equals);
  if (when.notEquals !== undefined) return value !== String(when.notEquals);
  return (when.oneOf ?? []).some((v) => String(v) === value);
}

/** "true", "anything but none", "one of a, b" */
function condition(when: StepWhen): string {
  if (when.equals !== undefined) return shown(String(when.equals));
  if (when.notEquals !== undefined) return `anything but ${shown(String(when.notEquals))}`;
  return `one of ${(when.oneOf ?? []).map((v) => shown(String(v))).join(', ')}`;
}

function shown(value: string): string {
  return value === '' ? 'empty' : value;
}

/** An optional input nobody set reads as empty. */
function inputValue(inputs: Record<string, ParamValue>, name: string): string {
  const value = inputs[name];
  return value === undefined ? '' : String(value);
}

function factValue(context: ContextObject, fact: string): string {
  const value = resolvePath(context, fact.split('.'));
  if (value instanceof Unset) throw new TemplateError(`when: ${fact}: ${value.reason}`);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(String).join(',');
  throw new TemplateError(`when: ${fact} is not a single value: name one of its fields`);
}
