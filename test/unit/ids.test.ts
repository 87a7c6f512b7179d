import { describe, expect, it } from 'vitest';
import { fromHexId, toHexId } from '../../src/cluster/ids.js';

describe('toHexId', () => {
  it.each([
    ['10276657743932975437', '8e9e05c52164694d'],
    ['18446744073709551615', 'ffffffffffffffff'],
    ['9223372036854775808', '8000000000000000'],
    ['9007199254740993', '20000000000001'],
    ['1', '1'],
    ['255', 'ff'],
  ])('prints the decimal ID %s as etcdctl does: %s', (decimal, hex) => {
    expect(toHexId(decimal)).toBe(hex);
  });

  it('keeps uint64 precision above 2^53, where a JS number would round', () => {
    expect(toHexId('9007199254740993')).toBe('20000000000001');
    expect(toHexId(9007199254740993)).not.toBe('20000000000001');
    expect(toHexId('18446744073709551614')).toBe('fffffffffffffffe');
  });

  it('prints an ID with leading zero nibbles without padding (etcdctl %x)', () => {
    expect(toHexId('1084941150434015493')).toBe('f0e7c3a61d2b905');
    expect(toHexId('4096')).toBe('1000');
  });

  it('accepts numbers and bigints as well as decimal strings', () => {
    expect(toHexId(12345)).toBe('3039');
    expect(toHexId(18446744073709551615n)).toBe('ffffffffffffffff');
  });

  it.each<[string, string | number | bigint | undefined]>([
    ['undefined', undefined],
    ["''", ''],
    ["'0'", '0'],
    ['0', 0],
    ['0n', 0n],
  ])(
    'treats %s (no leader, no member) as no ID',
    (_label, value) => {
      expect(toHexId(value)).toBeUndefined();
    },
  );
});

describe('fromHexId', () => {
  it.each([
    ['8e9e05c52164694d', '10276657743932975437'],
    ['ffffffffffffffff', '18446744073709551615'],
    ['FFFFFFFFFFFFFFFF', '18446744073709551615'],
    ['f0e7c3a61d2b905', '1084941150434015493'],
    ['0f0e7c3a61d2b905', '1084941150434015493'],
    ['1', '1'],
  ])('turns %s into the decimal %s the API wants', (hex, decimal) => {
    expect(fromHexId(hex)).toBe(decimal);
  });

  it.each(['8e9e05c52164694d', 'ffffffffffffffff', '1', 'a8266ecf031671f3', '20000000000001', 'f0e7c3a61d2b905'])(
    'round-trips %s through toHexId',
    (hex) => {
      expect(toHexId(fromHexId(hex))).toBe(hex);
    },
  );

  it('round-trips uppercase and zero-padded input to the canonical form', () => {
    expect(toHexId(fromHexId('8E9E05C52164694D'))).toBe('8e9e05c52164694d');
    expect(toHexId(fromHexId('0f0e7c3a61d2b905'))).toBe('f0e7c3a61d2b905');
  });

  it.each([
    ['empty', ''],
    ['not hex', 'master-1'],
    ['a g', '8e9e05c52164694g'],
    ['a 0x prefix', '0x8e9e05c52164694d'],
    ['a sign', '-1'],
    ['17 digits (more than uint64)', '1ffffffffffffffff'],
    ['leading space', ' 8e9e05c52164694d'],
    ['trailing space', '8e9e05c52164694d '],
    ['trailing newline', '8e9e05c52164694d\n'],
    ['a decimal point', '1.5'],
  ])('rejects %s input', (_what, bad) => {
    expect(() => fromHexId(bad)).toThrow(/is not a member ID \(1–16 hex digits/);
  });

  it('quotes the rejected input in the message', () => {
    expect(() => fromHexId('master-1')).toThrow('"master-1" is not a member ID');
  });
});
