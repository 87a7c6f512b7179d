import type { RunState } from '../engine/types.js';
import { createRun, type DriveOptions, type RunOutcome } from '../session/create.js';
import { colorEnabled } from '../util/color.js';
import { StepLog } from './step-log.js';

/** Run to the end (or until Ctrl-C), printing the step log, then write the transcript. */
export async function driveRun(state: RunState, options: DriveOptions): Promise<RunOutcome> {
  const log = new StepLog(colorEnabled(options.noColor));
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  for (const event of options.opening ?? []) {
    const line = log.line(event, state);
    if (line) process.stdout.write(`${line}\n`);
  }
  const run = createRun(state, {
    ...options,
    signal: interrupt.signal,
    onEvent: (event, next) => {
      const line = log.line(event, next);
      if (line) process.stdout.write(`${line}\n`);
    },
  });
  let outcome: RunOutcome;
  try {
    outcome = await run.run();
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  process.stdout.write(`journal: ${outcome.journal}\ntranscript: ${outcome.transcript}\n`);
  return outcome;
}
