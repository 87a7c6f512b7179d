import { join } from 'node:path';
import { execa } from 'execa';

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Run the compiled CLI as an operator would, with a clean ETCDCTL_* environment. */
export async function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000, cwd?: string): Promise<CliResult> {
  const clean: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) if (key.startsWith('ETCDCTL_')) clean[key] = undefined;
  const started = Date.now();
  const result = await execa(process.execPath, [CLI, ...args], {
    env: { ...clean, NO_COLOR: '1', ...env },
    reject: false,
    timeout: timeoutMs,
    stdin: 'ignore',
    ...(cwd ? { cwd } : {}),
  });
  return {
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
    durationMs: Date.now() - started,
  };
}
