import { createInterface } from 'node:readline/promises';
import type { Operator, OperatorDecision } from '../engine/operator.js';
import { currentStep } from '../engine/reducer.js';
import type { RunState } from '../engine/types.js';

/**
 * The operator at a plain terminal, one question per step: the interactive
 * fallback until the full-screen view; same decisions, same Operator
 * interface. Destructive steps need the node's name typed back.
 */
export class LineOperator implements Operator {
  async decide(state: RunState): Promise<OperatorDecision> {
    const step = currentStep(state);
    const rendered = step ? state.runbook.steps.find((s) => s.id === step.id) : undefined;
    if (!step || !rendered) return { type: 'abort', reason: 'no step to decide on' };
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      const blocked = step.status === 'blocked';
      const options = blocked ? '[s]kip, [o]verride, [r]e-check, [a]bort' : step.status === 'awaiting-confirmation' ? '[y] run, [s]kip, [a]bort' : '[r]etry, [s]kip, [a]bort';
      process.stdout.write(`  risk: ${rendered.risk}; runs on ${rendered.targets.map((t) => t.host).join(', ') || 'nothing'}\n`);
      for (;;) {
        const answer = (await rl.question(`  ${options}? `)).trim().toLowerCase();
        if (answer === 'y' && step.status === 'awaiting-confirmation') {
          if (rendered.risk !== 'destructive') return { type: 'confirm' };
          const names = rendered.targets.map((t) => t.node).join(',');
          const typed = (await rl.question(`  destructive: type the node name(s) to confirm (${names}): `)).trim();
          if (typed === names) return { type: 'confirm' };
          process.stdout.write('  names do not match; not run\n');
        } else if (answer === 's') {
          const reason = (await rl.question('  reason for skipping: ')).trim();
          if (reason) return { type: 'skip', reason };
        } else if (answer === 'r' && step.status !== 'awaiting-confirmation') {
          return { type: 'retry' };
        } else if (answer === 'o' && blocked) {
          const failed = step.guards.find((g) => !g.ok && g.overridable && !g.overriddenBecause);
          if (!failed) {
            process.stdout.write('  no failing guard here may be overridden\n');
            continue;
          }
          const reason = (await rl.question(`  reason for overriding ${failed.check}: `)).trim();
          if (reason) return { type: 'override', check: failed.check, reason };
        } else if (answer === 'a') {
          const reason = (await rl.question('  reason for aborting: ')).trim() || 'aborted by the operator';
          return { type: 'abort', reason };
        }
      }
    } finally {
      rl.close();
    }
  }
}
