/**
 * How the step view fills the terminal's rows (it must work at 80×24). The header, the why, the target line, the compact health table
 * and the key line are always drawn; what is left goes, in this order, to
 * the commands (at least one line), the failing guards (each listed: they
 * are why a step is blocked), one line saying how many guards pass, the
 * after-check, one line summing up the nodes, a little output when there
 * is some, and only then to the passing guards and the nodes one line
 * each, more command lines and the output pane. A section that does not fit
 * is condensed to a line that says so (g / c show it in full), never cut in
 * the middle. Pure: the component draws what this decides.
 */
export interface LayoutInput {
  /** rows the view may fill */
  rows: number;
  /** the lines always drawn: header, why, target, health, key line, notice */
  fixed: number;
  /** every command's lines, wrapped at the terminal's width */
  commandLines: number;
  /** guards that failed or were overridden: one line each, listed first */
  failing: number;
  passing: number;
  check: boolean;
  /** target nodes (listed one a line when more than one) */
  nodes: number;
  outputLines: number;
}

export interface StepLayout {
  /** command lines drawn, including the "c shows every command" line */
  commands: number;
  /** failing guards listed; the rest are counted on one line */
  failingListed: number;
  failingMore: boolean;
  /** every passing guard on its own line (else one line counts them, when `passingSummary`) */
  passingListed: boolean;
  passingSummary: boolean;
  check: boolean;
  /** one line per node (else one line sums them up, when `nodesSummary`) */
  nodesListed: boolean;
  nodesSummary: boolean;
  /** output lines shown (the rule above them is drawn only when > 0) */
  pane: number;
}

const MAX_COMMAND_LINES = 6;
const MAX_PANE = 20;
/** output lines kept on screen ahead of the long lists when a step has output */
const SOME_OUTPUT = 3;

export function planStepView(input: LayoutInput): StepLayout {
  let room = input.rows - input.fixed;
  const take = (lines: number): boolean => {
    if (lines > room) return false;
    room -= lines;
    return true;
  };

  // commands: the first line always; a second either shows the rest or says "c shows them all"
  let commands = Math.min(input.commandLines, 2);
  room -= commands;

  // every failing guard, or as many as fit and a line counting the others
  let failingListed = input.failing;
  let failingMore = false;
  if (!take(input.failing)) {
    failingListed = Math.max(0, room - 1);
    failingMore = true;
    room = 0;
  }

  const passingSummary = input.passing > 0 && take(1);
  const check = input.check && take(1);
  const several = input.nodes > 1;
  const nodesSummary = several && take(1);

  // a few lines of output before the long lists grow
  const early = input.outputLines > 0 && take(Math.min(input.outputLines, SOME_OUTPUT) + 1) ? Math.min(input.outputLines, SOME_OUTPUT) + 1 : 0;

  const passingListed = passingSummary && (input.passing === 1 || take(input.passing - 1));
  const nodesListed = nodesSummary && take(input.nodes - 1);

  const moreCommands = Math.max(0, Math.min(Math.min(input.commandLines, MAX_COMMAND_LINES) - commands, room));
  commands += moreCommands;
  room -= moreCommands;

  // what is left (with the early lines back) is the output pane and its rule
  room += early;
  const pane = room >= 2 ? Math.min(room - 1, MAX_PANE) : 0;
  return { commands, failingListed, failingMore, passingListed, passingSummary, check, nodesListed, nodesSummary, pane };
}
