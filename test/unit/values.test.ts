import { describe, expect, it } from 'vitest';
import { normalizeValue, toFixedScale } from '../../lambdas/domain/values.js';
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
