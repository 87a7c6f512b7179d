import { OperatorError } from '../../src/util/errors.js';

/** The exact message of the OperatorError `action` throws (sync or async). */
export function thrownMessage(action: () => unknown): string {
  try {
    action();
  } catch (err) {
    if (err instanceof OperatorError) return err.message;
    throw err;
  }
  throw new Error('expected an OperatorError, nothing was thrown');
}

export async function rejectedMessage(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
  } catch (err) {
    if (err instanceof OperatorError) return err.message;
    throw err;
  }
  throw new Error('expected an OperatorError, nothing was thrown');
}
