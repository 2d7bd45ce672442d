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

/**
 * What one legacy column can hold, as the database defines it (MySQL/MariaDB: read from
 * `information_schema.COLUMNS`). Only the limits a value can break are kept.
 */
export interface ColumnLimits {
  /** `table.column`, for the reason given. */
  readonly column: string;
  /** The column's type as the database reports it, e.g. `smallint(5) unsigned`, for the reason. */
  readonly type: string;
  readonly nullable: boolean;
  /** Text columns: characters (`maxChars`), bytes of the encoding (`maxBytes`) and its range. */
  readonly text?: {
    readonly maxChars: number;
    readonly maxBytes: number;
    /** Highest code point the character set stores: 0xFFFF for utf8mb3, 0x7F for ascii. */
    readonly maxCodePoint: number;
  };
  /** Integer columns: the range (bigint: `bigint unsigned` reaches 2^64 - 1). */
  readonly integer?: { readonly min: bigint; readonly max: bigint };
  /** DECIMAL(precision, scale) columns. */
  readonly decimal?: { readonly precision: number; readonly scale: number; readonly unsigned: boolean };
}

/**
 * Why a column cannot hold a value (undefined when it can). `raw` is the value as the source
 * sent it: a decimal's digits beyond the column's scale would be rounded away by MySQL (and by
 * canonical rounding), so they count. The reason names the column and its limit, never the value
 * (it may be personal data).
 */
export function unstorableReason(limits: ColumnLimits, raw: FieldValue): string | undefined {
  const where = `${limits.column} (${limits.type})`;
  if (raw === null) return limits.nullable ? undefined : `${where} does not take NULL`;
  if (limits.text && typeof raw === 'string') {
    const t = limits.text;
    let chars = 0;
    for (const ch of raw) {
      chars++;
      if (ch.codePointAt(0)! > t.maxCodePoint) {
        return t.maxCodePoint === 0xffff
          ? `${where} cannot store 4-byte characters such as emoji (its character set is utf8mb3)`
          : `${where} cannot store characters above U+${t.maxCodePoint.toString(16).toUpperCase().padStart(4, '0')}`;
      }
    }
    if (chars > t.maxChars) return `${where} holds at most ${t.maxChars} characters (the value has ${chars})`;
    const bytes = Buffer.byteLength(raw, 'utf8');
    if (bytes > t.maxBytes) return `${where} holds at most ${t.maxBytes} bytes (the value has ${bytes})`;
    return undefined;
  }
  if (limits.integer && (typeof raw === 'number' || typeof raw === 'string' || typeof raw === 'boolean')) {
    const text =
      typeof raw === 'boolean' ? (raw ? '1' : '0') : typeof raw === 'number' ? numberToPlain(raw) : raw;
    if (!/^[+-]?\d+$/.test(text.trim())) return undefined; // not an integer: the contract says so
    const n = BigInt(text.trim());
    if (n < limits.integer.min) return `${where} is at least ${limits.integer.min}`;
    if (n > limits.integer.max) return `${where} is at most ${limits.integer.max}`;
    return undefined;
  }
  if (limits.decimal && (typeof raw === 'number' || typeof raw === 'string')) {
    const d = limits.decimal;
    const m = /^([+-]?)0*(\d*)(?:\.(\d*))?$/.exec(typeof raw === 'number' ? numberToPlain(raw) : raw.trim());
    if (!m) return undefined; // not a decimal: the contract says so
    const intDigits = m[2]!.length;
    const fracDigits = (m[3] ?? '').replace(/0+$/, '').length;
    const negative = m[1] === '-' && /[1-9]/.test(`${m[2]}${m[3] ?? ''}`);
    if (negative && d.unsigned) return `${where} does not take negative numbers`;
    if (fracDigits > d.scale) return `${where} keeps ${d.scale} decimal places (the value has ${fracDigits})`;
    if (intDigits > d.precision - d.scale)
      return `${where} holds at most ${d.precision - d.scale} digits before the point (the value has ${intDigits})`;
    return undefined;
  }
  return undefined;
}
