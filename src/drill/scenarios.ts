import { RUNBOOK_FOR } from '../cluster/verdict.js';
import { EXPECTED_VERDICT, FAULTS, type Fault } from '../lab/faults.js';

/**
 * The scenarios a drill rehearses, as the picker shows them: what is done to
 * the lab, the verdict it produces and the runbook that verdict calls for.
 */
export interface Scenario {
  fault: Fault;
  title: string;
  /** one line: the verdict and the runbook */
  detail: string;
}

const TITLES: Record<Fault, string> = {
  minority: 'a member dies (killed): the cluster keeps quorum',
  quorum: 'a majority dies (killed): quorum is lost, writes stop',
  frozen: 'a member hangs (SIGSTOP): open sockets, no answers',
  'split-brain': 'split brain: every member its own single-member cluster',
  nospace: 'database space exceeded (NOSPACE): every write refused',
  corrupt: "a member's data disagrees (CORRUPT alarm): writes refused",
  'expired-certs': "a member's certificate expired: no client can reach it",
  none: 'no fault: a healthy cluster, take a verified backup',
};

/** Most useful first: the failure met most often in the field. */
const ORDER: Fault[] = ['minority', 'quorum', 'frozen', 'split-brain', 'nospace', 'expired-certs', 'corrupt', 'none'];

/** An alarm's runbook depends on which alarm, a lost member's on why it is lost: the fault says which. */
const RUNBOOK_OF_FAULT: Partial<Record<Fault, string>> = { nospace: 'reclaim-space', corrupt: 'replace-member', 'expired-certs': 'renew-certificates' };

export function scenarios(): Scenario[] {
  return ORDER.filter((f) => FAULTS.includes(f)).map((fault) => {
    const verdict = EXPECTED_VERDICT[fault];
    const runbook = RUNBOOK_OF_FAULT[fault] ?? RUNBOOK_FOR[verdict].recommended ?? 'none';
    return { fault, title: TITLES[fault], detail: `verdict ${verdict} → runbook ${runbook}` };
  });
}

/** Without --fault and without a terminal to ask on, the drill rehearses this one (and says so). */
export const DEFAULT_FAULT: Fault = 'minority';
