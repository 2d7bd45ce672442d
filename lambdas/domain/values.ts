/**
 * Canonical forms of field values, so that both sides compare equal when they hold the same
 * data: decimals are strings with the field's scale ('19.990000'), integers are numbers,
 * booleans are booleans, timestamps are ISO-8601 UTC with milliseconds.
 */
import type { FieldSpec } from '../../lib/spec/schema.js';
import type { FieldValue } from './events.js';

export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

/** Parses a decimal string/number into a canonical fixed-scale string without float rounding. */
export function toFixedScale(raw: string | number, scale: number): string {
  const s = typeof raw === 'number' ? numberToPlain(raw) : raw.trim();
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new ValueError(`"${s}" is not a decimal number`);
  const sign = m[1] === '-' ? '-' : '';
  let int = (m[2] || '0').replace(/^0+(?=\d)/, '');
  let frac = m[3] ?? '';
  if (frac.length > scale) {
    // Round half away from zero at the field's scale, on the digits (no binary floats).
    const keep = frac.slice(0, scale);
    const roundUp = Number(frac[scale]) >= 5;
    frac = keep;
    if (roundUp) {
      const digits = (int + frac).split('').map(Number);
      let i = digits.length - 1;
      while (i >= 0) {
        if (digits[i]! < 9) {
          digits[i]! += 1;
          break;
        }
        digits[i] = 0;
        i--;
      }
      let joined = digits.join('');
      if (i < 0) joined = '1' + joined;
      int = joined.slice(0, joined.length - scale) || '0';
      frac = joined.slice(joined.length - scale);
    }
  }
  frac = frac.padEnd(scale, '0');
  const body = scale > 0 ? `${int}.${frac}` : int;
  return /^0(\.0*)?$/.test(body) ? body : sign + body;
}

function numberToPlain(n: number): string {
  if (!Number.isFinite(n)) throw new ValueError(`${n} is not a finite number`);
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
}

/** Converts a raw value (from a driver, an API or an event) to the field's canonical form. */
export function normalizeValue(field: FieldSpec, raw: unknown): FieldValue {
  if (raw === null || raw === undefined) {
    if (!field.nullable) throw new ValueError(`${field.name} must not be null`);
    return null;
  }
  switch (field.type) {
    case 'string':
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number' || typeof raw === 'bigint') return String(raw);
      throw new ValueError(`${field.name} must be a string`);
    case 'integer': {
      const n = typeof raw === 'string' && /^[+-]?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n === 'bigint') return Number(n);
      if (typeof n !== 'number' || !Number.isSafeInteger(n))
        throw new ValueError(`${field.name} must be an integer`);
      return n;
    }
    case 'decimal':
      if (typeof raw !== 'string' && typeof raw !== 'number')
        throw new ValueError(`${field.name} must be a decimal`);
      try {
        return toFixedScale(raw, field.scale ?? 0);
      } catch (e) {
        throw new ValueError(`${field.name}: ${(e as Error).message}`);
      }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 1 || raw === '1' || raw === 'true') return true;
      if (raw === 0 || raw === '0' || raw === 'false') return false;
      throw new ValueError(`${field.name} must be a boolean`);
    case 'timestamp': {
      const d =
        raw instanceof Date ? raw : typeof raw === 'string' || typeof raw === 'number' ? new Date(raw) : null;
      if (!d || Number.isNaN(d.getTime())) throw new ValueError(`${field.name} must be a timestamp`);
      return d.toISOString();
    }
    case 'date': {
      if (raw instanceof Date) return raw.toISOString().slice(0, 10);
      if (typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}/.test(raw)) return raw.slice(0, 10);
      throw new ValueError(`${field.name} must be a date (YYYY-MM-DD)`);
    }
  }
}

/** Equality of canonical values. */
export function sameValue(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  return (a ?? null) === (b ?? null);
}
