import type { GuardOutcome } from '../../engine/types.js';
import { messageOf } from '../../util/errors.js';
import type { RenderedGuard } from '../rendered.js';
import { CERTIFICATE_GUARDS } from './certificates.js';
import { GuardParamError, type GuardDefinition, type GuardEnvironment } from './common.js';
import { DATA_DIR_GUARDS } from './data-dir.js';
import { HOST_BACKUP_GUARDS } from './host-backup.js';
import { MEMBERSHIP_GUARDS } from './membership.js';
import { PROCESS_GUARDS } from './processes.js';
import { QUORUM_GUARDS } from './quorum.js';
import { SNAPSHOT_GUARDS } from './snapshot.js';
import { VERSION_GUARDS } from './versions.js';

/**
 * The guards: named checks a step must pass before it may run.
 * Each is a PURE judgement over facts (exported, unit-tested) plus a function
 * that gathers those facts from the live cluster and the nodes. Refusals say
 * exactly what is wrong and what to do, in the operator's words.
 */

export * from './certificates.js';
export * from './common.js';
export * from './data-dir.js';
export * from './host-backup.js';
export * from './membership.js';
export * from './processes.js';
export * from './quorum.js';
export * from './snapshot.js';
export * from './versions.js';

/** Every guard by name: each family's registry, in one place. */
export const GUARDS = {
  ...QUORUM_GUARDS,
  ...MEMBERSHIP_GUARDS,
  ...DATA_DIR_GUARDS,
  ...SNAPSHOT_GUARDS,
  ...PROCESS_GUARDS,
  ...VERSION_GUARDS,
  ...CERTIFICATE_GUARDS,
  ...HOST_BACKUP_GUARDS,
} satisfies Record<string, GuardDefinition>;

export type GuardName = keyof typeof GUARDS;
export const GUARD_NAMES = Object.keys(GUARDS) as GuardName[];

export function isGuardName(name: string): name is GuardName {
  return Object.hasOwn(GUARDS, name);
}

/**
 * Evaluate one rendered guard against the live cluster. Never throws: an
 * unknown guard, a missing parameter or a failure to gather the facts is a
 * failed guard with the reason. A runbook's own message replaces the guard's
 * on failure; the guard's reason is kept after it.
 */
export async function evaluateGuard(guard: RenderedGuard, env: GuardEnvironment): Promise<GuardOutcome> {
  const outcome = (ok: boolean, message: string): GuardOutcome => ({
    check: guard.check,
    ok,
    message: !ok && guard.message ? `${guard.message} (${message})` : message,
    overridable: guard.overridable,
  });
  if (!isGuardName(guard.check)) return outcome(false, `unknown guard "${guard.check}" (known: ${GUARD_NAMES.join(', ')})`);
  try {
    const judgement = await GUARDS[guard.check].run(guard.params, env);
    return outcome(judgement.ok, judgement.message);
  } catch (err) {
    const prefix = err instanceof GuardParamError ? '' : 'could not check: ';
    return outcome(false, `${prefix}${messageOf(err)}`);
  }
}
