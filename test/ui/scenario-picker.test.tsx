import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { scenarios } from '../../src/drill/scenarios.js';
import { ScenarioPicker } from '../../src/ui/scenario-picker/scenario-picker.js';
import { frameMatching, KEY, type, until } from './harness.js';

afterEach(() => cleanup());

function picker() {
  const onPick = vi.fn();
  const onCancel = vi.fn();
  const app = render(<ScenarioPicker scenarios={scenarios()} members={3} onPick={onPick} onCancel={onCancel} columns={80} />);
  return { app, onPick, onCancel };
}

describe('drill scenario picker', () => {
  it('↓ and Enter read together pick the second scenario, and the last frame says so (it stays in the scrollback)', async () => {
    const { app, onPick } = picker();
    await frameMatching(app, /❯ minority — /);
    await type(app, `${KEY.down}${KEY.enter}`);
    await until(() => onPick.mock.calls.length > 0, 'a pick');
    expect(onPick).toHaveBeenCalledWith('quorum');
    const frame = await frameMatching(app, 'rehearsing quorum — a majority dies');
    expect(frame).not.toContain('minority');
    // the choice is made once: the picker stops reading keys, and more keys pick nothing else
    expect((app.stdin as unknown as NodeJS.EventEmitter).listenerCount('readable')).toBe(0);
    app.stdin.write(`${KEY.down}${KEY.enter}q`);
    await new Promise((r) => setTimeout(r, 50));
    expect(onPick).toHaveBeenCalledTimes(1);
  });

  it('digits pick nothing; q cancels', async () => {
    const { app, onPick, onCancel } = picker();
    await frameMatching(app, /❯ minority — /);
    await type(app, '2', '5');
    await type(app, 'q');
    expect(onCancel).toHaveBeenCalled();
    expect(onPick).not.toHaveBeenCalled();
  });
});
