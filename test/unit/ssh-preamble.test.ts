import { describe, expect, it } from 'vitest';
import { PreambleFilter, preambleScript, preambleToken } from '../../src/transport/sshPreamble.js';

const token = preambleToken('0123456789abcdef');
const text = (buffers: Buffer[]): string => Buffer.concat(buffers).toString();

describe('PreambleFilter', () => {
  it('drops what the login shell printed before the command’s token line', () => {
    const filter = new PreambleFilter(token);
    expect(text([filter.take(Buffer.from(`welcome\n${token}\nout\n`)), filter.rest()])).toBe('out\n');
  });

  it('finds the token split across chunks, byte by byte', () => {
    const filter = new PreambleFilter(token);
    const whole = Buffer.from(`motd line\n${token}\npayload`);
    const taken = [...whole].map((byte) => filter.take(Buffer.from([byte])));
    expect(text([...taken, filter.rest()])).toBe('payload');
  });

  it('passes chunks through untouched once the token has passed', () => {
    const filter = new PreambleFilter(token);
    filter.take(Buffer.from(`${token}\n`));
    const chunk = Buffer.from([0, 1, 2, 255]);
    expect(filter.take(chunk)).toBe(chunk);
  });

  it('keeps a token-like line that comes after the first one', () => {
    const filter = new PreambleFilter(token);
    expect(text([filter.take(Buffer.from(`${token}\n${token}\n`))])).toBe(`${token}\n`);
  });

  it('releases everything when the command never started (sudo refused)', () => {
    const filter = new PreambleFilter(token);
    expect(filter.take(Buffer.from('sudo: a password is required\n')).length).toBe(0);
    expect(filter.rest().toString()).toBe('sudo: a password is required\n');
    expect(filter.rest().length).toBe(0);
  });

  it('is printed by the shell snippet on both streams', () => {
    expect(preambleScript(token)).toBe(`printf '%s\\n' ${token}; printf '%s\\n' ${token} >&2; `);
  });
});
