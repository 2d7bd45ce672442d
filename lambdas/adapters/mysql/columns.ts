/**
 * Column definitions as the database gives them (`information_schema.COLUMNS`) and the limits a
 * value can break: what the sync checks a service value against before writing it.
 */
import type { ColumnLimits } from '../../domain/values.js';

/** A column as `information_schema.COLUMNS` describes it (the fields the sync uses). */
export interface ColumnInfo {
  readonly name: string;
  readonly dataType: string;
  readonly columnType: string;
  readonly nullable: boolean;
  readonly autoIncrement: boolean;
  readonly maxChars: number | null;
  readonly maxBytes: number | null;
  readonly charset: string | null;
  readonly precision: number | null;
  readonly scale: number | null;
}

const INTEGER_BITS: Readonly<Record<string, number>> = {
  tinyint: 8,
  smallint: 16,
  mediumint: 24,
  int: 32,
  integer: 32,
  bigint: 64,
};
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext']);
/** Highest code point per character set, where it is below Unicode's (utf8mb3: no 4-byte UTF-8). */
const MAX_CODE_POINT: Readonly<Record<string, number>> = { utf8: 0xffff, utf8mb3: 0xffff, ascii: 0x7f };

/** The limits a value can break, from the column's definition. */
export function limitsOf(table: string, c: ColumnInfo): ColumnLimits {
  const base = { column: `${table}.${c.name}`, type: c.columnType, nullable: c.nullable };
  const unsigned = /\bunsigned\b/i.test(c.columnType);
  const bits = INTEGER_BITS[c.dataType];
  if (bits !== undefined) {
    const min = unsigned ? 0n : -(2n ** BigInt(bits - 1));
    const max = unsigned ? 2n ** BigInt(bits) - 1n : 2n ** BigInt(bits - 1) - 1n;
    return { ...base, integer: { min, max } };
  }
  if (c.dataType === 'decimal' && c.precision !== null && c.scale !== null) {
    return { ...base, decimal: { precision: c.precision, scale: c.scale, unsigned } };
  }
  if (TEXT_TYPES.has(c.dataType) && c.maxChars !== null) {
    return {
      ...base,
      text: {
        maxChars: c.maxChars,
        maxBytes: c.maxBytes ?? Number.MAX_SAFE_INTEGER,
        maxCodePoint: MAX_CODE_POINT[c.charset ?? ''] ?? 0x10ffff,
      },
    };
  }
  return base;
}
