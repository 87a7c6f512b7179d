import { describe, expect, it } from 'vitest';
import { eraseLast, promptEdits } from '../../src/ui/text-prompt/prompt-edits.js';

describe('prompt edits: one read of typed input, key by key', () => {
  it('a key that arrived alone is read by the flag ink set for it', () => {
    expect(promptEdits('', { return: true })).toEqual([{ kind: 'submit' }]);
    expect(promptEdits('', { delete: true })).toEqual([{ kind: 'erase' }]);
    expect(promptEdits('', { backspace: true })).toEqual([{ kind: 'erase' }]);
    expect(promptEdits('u', { ctrl: true })).toEqual([{ kind: 'clear' }]);
    expect(promptEdits('w', { ctrl: true })).toEqual([]);
    expect(promptEdits('m', {})).toEqual([{ kind: 'text', text: 'm' }]);
  });

  it('a paste that ends in Enter types the text, then submits', () => {
    expect(promptEdits('m1,m2,m3\r', {})).toEqual([{ kind: 'text', text: 'm1,m2,m3' }, { kind: 'submit' }]);
    expect(promptEdits('m1\n', {})).toEqual([{ kind: 'text', text: 'm1' }, { kind: 'submit' }]);
  });

  it('a held Backspace (DEL or ^H, several in one read) erases once per key, in order with the text', () => {
    expect(promptEdits('\u007f\u007f\u007f', {})).toEqual([{ kind: 'erase' }, { kind: 'erase' }, { kind: 'erase' }]);
    expect(promptEdits('m9\bm1', {})).toEqual([{ kind: 'text', text: 'm9' }, { kind: 'erase' }, { kind: 'text', text: 'm1' }]);
  });

  it('Ctrl-U in a read clears what was typed before it', () => {
    expect(promptEdits('oops\u0015m1', {})).toEqual([{ kind: 'text', text: 'oops' }, { kind: 'clear' }, { kind: 'text', text: 'm1' }]);
  });

  it('nothing after an Enter in the same read is returned: it was typed before the operator saw what the Enter led to', () => {
    expect(promptEdits('m1\ry', {})).toEqual([{ kind: 'text', text: 'm1' }, { kind: 'submit' }]);
    expect(promptEdits('\r\n', {})).toEqual([{ kind: 'submit' }]);
  });

  it('other control characters type nothing; unicode is typed as it is', () => {
    expect(promptEdits('a\u0007b\tc', {})).toEqual([{ kind: 'text', text: 'abc' }]);
    expect(promptEdits('maître-ü-🦊', {})).toEqual([{ kind: 'text', text: 'maître-ü-🦊' }]);
  });

  it('erasing removes one whole character, an astral one too', () => {
    expect(eraseLast('m1🦊')).toBe('m1');
    expect(eraseLast('m1')).toBe('m');
    expect(eraseLast('')).toBe('');
  });
});
