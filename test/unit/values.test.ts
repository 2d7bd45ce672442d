import { describe, expect, it } from 'vitest';
import {
  type ColumnLimits,
  normalizeValue,
  toFixedScale,
  unstorableReason,
} from '../../lambdas/domain/values.js';
import { FieldSchema } from '../../lib/spec/schema.js';

const field = (over: object) => FieldSchema.parse({ name: 'f', type: 'string', column: 'f', ...over });

describe('Function: toFixedScale', () => {
  it.each([
    ['19.99', 6, '19.990000'],
    ['19.990000', 4, '19.9900'],
    [19.99, 6, '19.990000'],
    ['5.0000', 0, '5'],
    ['0.125', 2, '0.13'],
    ['-0.125', 2, '-0.13'],
    ['9.995', 2, '10.00'],
    ['-0.001', 2, '0.00'],
    ['007.5', 1, '7.5'],
    [1e-7, 8, '0.00000010'],
  ])('%s at scale %d is %s', (raw, scale, expected) => {
    expect(toFixedScale(raw as string | number, scale)).toBe(expected);
  });

  it('rejects what is not a decimal', () => {
    expect(() => toFixedScale('12a', 2)).toThrowError(/not a decimal/);
    expect(() => toFixedScale('.', 2)).toThrowError(/not a decimal/);
    expect(() => toFixedScale(Number.NaN, 2)).toThrowError(/finite/);
  });
});

describe('Function: normalizeValue', () => {
  it('gives both sides one canonical form', () => {
    expect(normalizeValue(field({ type: 'decimal', scale: 6 }), '19.990000')).toBe(
      normalizeValue(field({ type: 'decimal', scale: 6 }), 19.99),
    );
    expect(normalizeValue(field({ type: 'integer' }), '42')).toBe(42);
    expect(normalizeValue(field({ type: 'boolean' }), 1)).toBe(true);
    expect(normalizeValue(field({ type: 'timestamp' }), new Date('2026-11-22T10:00:00Z'))).toBe(
      '2026-11-22T10:00:00.000Z',
    );
    expect(normalizeValue(field({ type: 'date' }), '1990-01-02T00:00:00Z')).toBe('1990-01-02');
    expect(normalizeValue(field({}), null)).toBeNull();
  });

  it('rejects bad values with the field name', () => {
    expect(() => normalizeValue(field({ type: 'integer' }), '4.5')).toThrowError(/f must be an integer/);
    expect(() => normalizeValue(field({ nullable: false }), null)).toThrowError(/f must not be null/);
    expect(() => normalizeValue(field({ type: 'boolean' }), 'maybe')).toThrowError(/boolean/);
  });
});

describe('Function: unstorableReason (a column’s real limits)', () => {
  const text = (maxChars: number, maxBytes: number, maxCodePoint: number, nullable = true): ColumnLimits => ({
    column: 't.c',
    type: 'varchar',
    nullable,
    text: { maxChars, maxBytes, maxCodePoint },
  });
  const int = (min: bigint, max: bigint): ColumnLimits => ({
    column: 't.n',
    type: 'int',
    nullable: true,
    integer: { min, max },
  });
  const dec = (precision: number, scale: number, unsigned = false): ColumnLimits => ({
    column: 't.d',
    type: `decimal(${precision},${scale})`,
    nullable: true,
    decimal: { precision, scale, unsigned },
  });

  it.each<[string, ColumnLimits, unknown, RegExp | undefined]>([
    ['an emoji in utf8mb3', text(255, 765, 0xffff), 'ok 🚀', /4-byte characters such as emoji/],
    ['an emoji in utf8mb4', text(255, 1020, 0x10ffff), 'ok 🚀', undefined],
    ['a BMP character in utf8mb3', text(255, 765, 0xffff), 'Zoë €', undefined],
    ['a non-ASCII character in ascii', text(10, 10, 0x7f), 'é', /above U\+007F/],
    ['one character too many', text(3, 9, 0xffff), 'abcd', /at most 3 characters \(the value has 4\)/],
    ['an emoji counted as one character', text(3, 12, 0x10ffff), 'ab🚀', undefined],
    [
      'too many bytes for a TEXT column',
      text(65535, 4, 0x10ffff),
      'ééé',
      /at most 4 bytes \(the value has 6\)/,
    ],
    ['NULL into NOT NULL', text(3, 9, 0xffff, false), null, /does not take NULL/],
    ['-1 into unsigned', int(0n, 65535n), -1, /is at least 0/],
    ['65536 into smallint unsigned', int(0n, 65535n), 65536, /is at most 65535/],
    ['a bigint unsigned value past 2^53', int(0n, 2n ** 64n - 1n), '18446744073709551615', undefined],
    ['one digit beyond the scale', dec(12, 4), '1.23456', /keeps 4 decimal places \(the value has 5\)/],
    ['trailing zeros beyond the scale', dec(12, 4), '1.234500', undefined],
    [
      'beyond the precision',
      dec(12, 4),
      '123456789',
      /at most 8 digits before the point \(the value has 9\)/,
    ],
    ['a negative decimal into unsigned', dec(12, 4, true), '-0.5', /does not take negative numbers/],
    ['negative zero into unsigned', dec(12, 4, true), '-0.0', undefined],
    ['a number beyond the scale', dec(20, 6), 19.9999999, /keeps 6 decimal places/],
  ])('%s', (_what, limits, value, reason) => {
    const got = unstorableReason(limits, value as string | number | null);
    if (reason) expect(got).toMatch(reason);
    else expect(got).toBeUndefined();
  });
});
