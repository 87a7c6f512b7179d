import type { render } from 'ink-testing-library';

/**
 * The component-test harness (after Shopify cli-kit's): wait until the app
 * listens for input before typing, and poll until the frame says what is
 * expected — never a fixed sleep.
 */
type Rendered = ReturnType<typeof render>;

export async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The frame, once it matches (text or predicate). */
export async function frameMatching(app: Rendered, expected: string | RegExp | ((frame: string) => boolean), timeoutMs = 3000): Promise<string> {
  const test = typeof expected === 'function' ? expected : (f: string) => (typeof expected === 'string' ? f.includes(expected) : expected.test(f));
  try {
    return await until(() => {
      const frame = app.lastFrame() ?? '';
      return test(frame) ? frame : undefined;
    }, `a frame matching ${String(expected)}`, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last frame:\n${app.lastFrame() ?? ''}`);
  }
}

/** Ink reads stdin once a useInput hook's effect has run: wait for that, then type. */
export async function type(app: Rendered, ...keys: string[]): Promise<void> {
  const stdin = app.stdin as unknown as NodeJS.EventEmitter;
  await until(() => stdin.listenerCount('readable') > 0, 'the app to listen for input');
  for (const key of keys) {
    // one keypress per write, paced like typing: React commits the state a
    // key changed and re-subscribes input handlers in passive effects, which
    // run a turn or two later (results are still awaited with frameMatching)
    await new Promise((r) => setTimeout(r, 15));
    app.stdin.write(key);
  }
}

export const KEY = { enter: '\r', escape: '\u001b', up: '\u001b[A', down: '\u001b[B', ctrlC: '\u0003', backspace: '\u007f' } as const;
