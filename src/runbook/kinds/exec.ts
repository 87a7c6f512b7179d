import type { Transport } from '../../transport/types.js';

/** How a typed step kind runs its commands on a node: output streamed, stopping at the first failure. */
export interface KindIo {
  say: (text: string) => void;
  sayError: (text: string) => void;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface KindResult {
  ok: boolean;
  exitCode?: number | null;
  error?: string;
}

/** One command on the node, its output streamed, echoed first as a shell trace would. */
export async function run(transport: Transport, command: string, io: KindIo): Promise<KindResult> {
  io.say(`+ ${command}\n`);
  const result = await transport.exec(command, { timeoutMs: io.timeoutMs, ...(io.signal ? { signal: io.signal } : {}), onStdout: io.say, onStderr: io.sayError });
  if (result.timedOut) return { ok: false, exitCode: null, error: `timed out after ${io.timeoutMs} ms: ${command}` };
  if (result.exitCode !== 0) return { ok: false, exitCode: result.exitCode, error: `exit code ${result.exitCode ?? result.signal}: ${command}` };
  return { ok: true, exitCode: 0 };
}
