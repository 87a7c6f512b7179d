/**
 * Errors are values an operator can act on: a one-line message naming the
 * file / field / host and what to do, and the exit code the CLI maps it to.
 * One place (cli/main.ts) turns them into output.
 */
export const ExitCode = {
  healthy: 0,
  minorityLost: 1,
  quorumLost: 2,
  splitBrain: 3,
  /** unreachable cluster, configuration error, bad input */
  configError: 4,
  /** a runbook step failed or the operator aborted */
  runFailed: 5,
  /** quorum held, but a NOSPACE or CORRUPT alarm is active */
  alarm: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class OperatorError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.configError) {
    super(message);
    this.name = 'OperatorError';
    this.exitCode = exitCode;
  }
}

/** The message of anything thrown, on one line. */
export function messageOf(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  return raw.replace(/\s*\n\s*/g, ' ').trim();
}
