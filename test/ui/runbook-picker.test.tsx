import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RunbookPicker } from '../../src/ui/runbook-picker/runbook-picker.js';
import type { RunbookChoice } from '../../src/ui/session.js';
import { frameMatching, KEY, type } from './harness.js';

const choices: RunbookChoice[] = [
  { id: 'replace-member', title: 'Replace a failed member', description: 'Removes the failed member and adds a fresh one.', reason: 'recommended for minority-lost: 1 of 3 members unreachable', recommended: true },
  { id: 'replace-master', title: 'Replace a master host', description: 'A new host with the same address.', reason: 'also fits minority-lost', recommended: false },
  { id: 'backup', title: 'Back up etcd', description: 'Saves a verified snapshot.', reason: 'also fits minority-lost', recommended: false },
];

afterEach(() => cleanup());

describe('runbook picker', () => {
  it('lists the recommended runbook first, with the reason, then the others with a line each', async () => {
    const app = render(<RunbookPicker choices={choices} onPick={() => {}} />);
    const frame = await frameMatching(app, 'backup');
    const at = (text: string) => frame.indexOf(text);
    expect(at('replace-member (recommended)')).toBeGreaterThan(-1);
    expect(at('replace-member')).toBeLessThan(at('replace-master'));
    expect(at('replace-master')).toBeLessThan(at('backup'));
    expect(frame).toContain('recommended for minority-lost: 1 of 3 members unreachable');
    expect(frame).toContain('Saves a verified snapshot.');
  });

  it('Enter picks the highlighted runbook (the recommended one at first)', async () => {
    const onPick = vi.fn();
    const app = render(<RunbookPicker choices={choices} onPick={onPick} />);
    await type(app, KEY.enter);
    expect(onPick).toHaveBeenCalledWith('replace-member');
  });

  it('digit keys select nothing (ink-select-input would pick item N on 1–9)', async () => {
    const onPick = vi.fn();
    const app = render(<RunbookPicker choices={choices} onPick={onPick} />);
    await type(app, '1', '2', '3', '9');
    await frameMatching(app, 'backup');
    expect(onPick).not.toHaveBeenCalled();
    // and the highlight did not move: Enter still picks the first
    await type(app, KEY.enter);
    expect(onPick).toHaveBeenCalledTimes(1);
    expect(onPick).toHaveBeenCalledWith('replace-member');
  });

  it('↓ then Enter picks the next one', async () => {
    const onPick = vi.fn();
    const app = render(<RunbookPicker choices={choices} onPick={onPick} />);
    await type(app, KEY.down);
    await frameMatching(app, /❯ replace-master/);
    await type(app, KEY.down);
    await frameMatching(app, /❯ backup/);
    await type(app, KEY.enter);
    expect(onPick).toHaveBeenCalledWith('backup');
  });

  it('says so when nothing applies, and shows runbooks that failed to load', async () => {
    const app = render(<RunbookPicker choices={[]} problems={['runbooks/x.yaml:3: steps[0].kind: unknown step kind']} onPick={() => {}} />);
    const frame = await frameMatching(app, 'No shipped runbook applies');
    expect(frame).toContain('runbooks/x.yaml:3');
  });
});
