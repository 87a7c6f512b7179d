import * as pty from 'node-pty';
import xterm from '@xterm/headless';
import { CLI } from './cli.js';

/**
 * The real CLI in a real pseudo-terminal, read back as a person sees it:
 * node-pty runs `node dist/src/cli/main.js`, @xterm/headless interprets its
 * output into a screen, and tests wait until the screen shows what they
 * expect before typing — never a fixed sleep.
 */
export interface PtyOptions {
  cols?: number;
  rows?: number;
  env?: Record<string, string>;
}

export class PtyCli {
  readonly term: InstanceType<typeof xterm.Terminal>;
  private readonly proc: pty.IPty;
  /** everything the program wrote, escapes included */
  raw = '';
  private pending = Promise.resolve();
  readonly exited: Promise<{ exitCode: number; signal?: number }>;

  constructor(args: string[], options: PtyOptions = {}) {
    const cols = options.cols ?? 80;
    const rows = options.rows ?? 24;
    this.term = new xterm.Terminal({ cols, rows, allowProposedApi: true, scrollback: 1000 });
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      // Ink renders only the last frame under CI; ETCDCTL_* would change the target
      if (value !== undefined && !key.startsWith('ETCDCTL_') && key !== 'CI' && !key.startsWith('VITEST') && key !== 'NO_COLOR' && key !== 'FORCE_COLOR') env[key] = value;
    }
    this.proc = pty.spawn(process.execPath, [CLI, ...args], { name: 'xterm-256color', cols, rows, cwd: process.cwd(), env: { ...env, TERM: 'xterm-256color', ...options.env } });
    this.proc.onData((data) => {
      this.raw += data;
      this.pending = this.pending.then(() => new Promise<void>((resolve) => this.term.write(data, resolve)));
    });
    this.exited = new Promise((resolve) => this.proc.onExit(resolve));
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** The visible screen, one line per row, trailing spaces trimmed. */
  screen(): string {
    const buffer = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < this.term.rows; i++) lines.push(buffer.getLine(buffer.viewportY + i)?.translateToString(true) ?? '');
    return lines.join('\n').replace(/\n+$/, '');
  }

  /** The screen once it matches; on timeout, the error shows the screen. */
  async waitFor(expected: string | RegExp | ((screen: string) => boolean), timeoutMs = 20_000): Promise<string> {
    const test = typeof expected === 'function' ? expected : (s: string) => (typeof expected === 'string' ? s.includes(expected) : expected.test(s));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.pending;
      const screen = this.screen();
      if (test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(expected)}; screen:\n${screen}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Type keys, paced like a person (Ink re-subscribes its input handlers between renders). */
  async type(...keys: string[]): Promise<void> {
    for (const key of keys) {
      await new Promise((r) => setTimeout(r, 40));
      this.proc.write(key);
    }
  }

  /** Type a word then Enter. */
  async line(text: string): Promise<void> {
    await this.type(...text.split(''), '\r');
  }

  async exit(timeoutMs = 20_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the CLI did not exit within ${timeoutMs} ms; screen:\n${this.screen()}`)), timeoutMs);
    });
    try {
      return (await Promise.race([this.exited, timeout])).exitCode;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    try {
      this.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

export const KEYS = { enter: '\r', escape: '\u001b', up: '\u001b[A', down: '\u001b[B', ctrlC: '\u0003' } as const;

/**
 * Press y at every step until the summary is up, typing the names a
 * destructive step asks for (as an operator reads them off the screen).
 * Returns the names typed.
 */
export async function confirmThrough(cli: PtyCli, timeoutMs = 60_000): Promise<string[]> {
  const seen = new Map<string, number>();
  const typed: string[] = [];
  for (;;) {
    const screen = await cli.waitFor((s) => s.includes('transcript:') || (/Step (\d+) of/.test(s) && /y run|DESTRUCTIVE: type/.test(s)), timeoutMs);
    if (screen.includes('transcript:')) return typed;
    if (/FAILED|BLOCKED/.test(screen)) throw new Error(`a step did not go through:\n${screen}`);
    const step = /Step (\d+) of (\d+)/.exec(screen);
    const names = /DESTRUCTIVE: type (\S+) to run it:/.exec(screen)?.[1];
    const key = `${step?.[1]}:${names ? 'names' : 'keys'}`;
    const since = seen.get(key);
    if (since !== undefined) {
      // the same step still asks after the key was typed: say where it stuck, not a bare test timeout
      if (Date.now() - since > timeoutMs) throw new Error(`step ${step?.[1]} still asks ${timeoutMs} ms after its key was typed:\n${screen}`);
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    seen.set(key, Date.now());
    if (names) {
      typed.push(names);
      await cli.line(names);
    } else await cli.type('y');
  }
}
