/**
 * Row hashes and chunk checksums: what the consistency check and the poller's snapshots compare.
 * Two sides compute them, JS (the service scan, an HTTP legacy API's listing, the poller's rows)
 * and SQL (the MySQL legacy store, in one `GROUP BY`), and the two must agree bit for bit, so
 * both are defined here side by side: the JS functions and the SQL expressions that mirror them.
 *
 * - **Row text**: `key|v1|v2…`, the row's key, then the canonical text of each field in spec order
 *   (`canonicalText`: decimals at their scale, booleans `true`/`false`, timestamps in ISO 8601 UTC
 *   with milliseconds, dates `YYYY-MM-DD`, NULL as `\N`), each after a `|`.
 * - **Row hash** (`RowHash`): the first 52 bits of SHA-256 of the row text's UTF-8 bytes, as an
 *   unsigned integer (the first 13 hex digits of the digest). SQL:
 *   `CAST(CONV(LEFT(SHA2(text, 256), 13), 16, 10) AS UNSIGNED)`.
 * - **Chunk checksum**: the sum of the chunk's row hashes modulo 2^52. SQL sums exactly (`SUM` over
 *   `BIGINT UNSIGNED` is a `DECIMAL`) and takes the remainder; JS adds numbers (52 bits + 52 bits
 *   < 2^53: every step exact, no BigInt).
 *
 * Why it cannot cancel out. The XOR of per-row CRC32s it replaces (version 1) is linear: for texts
 * of equal length CRC32(a ⊕ b) = CRC32(a) ⊕ CRC32(b) ⊕ CRC32(0…0), so the same byte change at the
 * same distance from the end of two rows changes both CRCs by the same value, and the two changes
 * XOR to zero. Two coupons used once each (`…|4` → `…|5`, `…|6` → `…|7`: both the byte change
 * 0x01 at the end) or two products disabled by one UPDATE (`…|1` → `…|2`) left the chunk's
 * checksum as it was: the poller published nothing and the consistency check reported the
 * diverged rows as consistent. SHA-256 has no such structure: a row's new hash is unrelated to
 * its old hash and to the edit, so each edited row moves the sum by an independent, uniformly
 * distributed amount, and a set of edits leaves the sum unchanged only when those amounts add up
 * to 0 mod 2^52 — probability 2^-52 (about 2 × 10^-16) per changed chunk, whatever the edits are
 * (the same delta on many rows, values swapped between rows, a value changed and restored
 * alongside another change). Addition rather than XOR: a row hash counted twice adds twice
 * instead of vanishing. 52 bits rather than 64: the JS side stays in exact doubles, which made
 * the check's hashing about twice as fast as with BigInt sums of 64-bit hashes (docs/sync.md).
 *
 * `CHECKSUM_VERSION` is stored with every poller snapshot, so that snapshots taken by an earlier
 * version are recognised rather than compared with hashes of another kind (poller.ts).
 */
import * as crypto from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { EntitySpec, FieldSpec } from '../../lib/spec/schema.js';
import type { FieldValue } from './events.js';

/** The format of row hashes and chunk checksums defined here. 1 was CRC32 per row, XOR per chunk. */
export const CHECKSUM_VERSION = 2;

/** Hashes of another checksum version met where they cannot be translated. */
export class ChecksumVersionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChecksumVersionError';
  }
}

/** Stands for NULL in row texts (CONCAT_WS would silently skip a NULL). */
export const NULL_MARK = '\\N';

/** Separates the key and the values in a row text. */
export const FIELD_SEPARATOR = '|';

/** A row hash: the first 52 bits of SHA-256 of the row text, an unsigned integer below 2^52. */
export type RowHash = number;

/** Row hashes and chunk checksums are below this (2^52). */
export const HASH_RANGE = 2 ** 52;

/** The checksum of a chunk with no rows. */
export const EMPTY_CHECKSUM = 0;

/** The canonical text of a value in row texts (`canonicalValueSql` builds the same text in SQL). */
export function canonicalText(v: FieldValue | undefined): string {
  if (v === null || v === undefined) return NULL_MARK;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

/** The row text `key|v1|v2…`. */
export function rowText(key: string, values: readonly (FieldValue | undefined)[]): string {
  let text = key;
  for (const v of values) text += `${FIELD_SEPARATOR}${canonicalText(v)}`;
  return text;
}

/** The row text of a record over the entity's fields (or `fields`) in spec order. */
export function recordText(
  entity: EntitySpec,
  key: string,
  data: Readonly<Record<string, FieldValue>>,
  fields?: readonly string[],
): string {
  const names = entity.fields.map((f) => f.name).filter((n) => !fields || fields.includes(n));
  return rowText(
    key,
    names.map((n) => data[n] ?? null),
  );
}

// `crypto.hash` (Node ≥ 20.12) hashes a short string in one call, several times faster than
// `createHash().update().digest()`; the consistency check hashes every row it scans. The digest
// as 'binary' (latin1: one char per byte) is read without building its hex text.
const sha256Bytes: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'binary')
    : (text) => crypto.createHash('sha256').update(text).digest('binary');

/** The hash of a row text (its UTF-8 bytes): the digest's first 52 bits. */
export function hashRowText(text: string): RowHash {
  const d = sha256Bytes(text);
  const high32 =
    ((d.charCodeAt(0) << 24) | (d.charCodeAt(1) << 16) | (d.charCodeAt(2) << 8) | d.charCodeAt(3)) >>> 0;
  const low20 = (d.charCodeAt(4) << 12) | (d.charCodeAt(5) << 4) | (d.charCodeAt(6) >>> 4);
  return high32 * 2 ** 20 + low20;
}

/** A row hash as the 13 hex digits of the digest it was taken from (event ids). */
export function rowHashHex(hash: RowHash): string {
  return hash.toString(16).padStart(13, '0');
}

/** The hash of `key|v1|v2…`. */
export function rowHash(key: string, values: readonly (FieldValue | undefined)[]): RowHash {
  return hashRowText(rowText(key, values));
}

/** Row hash of a record over the entity's fields (or `fields`) in spec order. */
export function recordHash(
  entity: EntitySpec,
  key: string,
  data: Readonly<Record<string, FieldValue>>,
  fields?: readonly string[],
): RowHash {
  return hashRowText(recordText(entity, key, data, fields));
}

/** A chunk's running checksum plus one row hash (mod 2^52; exact: both are below 2^52). */
export function addRowHash(sum: number, hash: RowHash): number {
  const s = sum + hash;
  return s >= HASH_RANGE ? s - HASH_RANGE : s;
}

/** A chunk's running checksum minus one row hash it holds (mod 2^52): the row moved away. */
export function removeRowHash(sum: number, hash: RowHash): number {
  const s = sum - hash;
  return s < 0 ? s + HASH_RANGE : s;
}

/** The checksum of rows given by their hashes. */
export function checksumOf(hashes: Iterable<RowHash>): number {
  let sum = EMPTY_CHECKSUM;
  for (const h of hashes) sum = addRowHash(sum, h);
  return sum;
}

/**
 * Version 1's row hash (CRC32 of the row text, unsigned 32-bit): only to compare rows with a
 * poller snapshot stored before `CHECKSUM_VERSION` 2, once, while it is replaced.
 */
export function rowHashV1(text: string): number {
  return crc32(text) >>> 0;
}

// --- the same in SQL (MariaDB / MySQL) -----------------------------------------------------------

/** `s` as an SQL string literal (backslashes and quotes escaped). */
const sqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * SQL of the canonical text of a field's value, `column` being the SQL of the stored value: the
 * text `canonicalText` makes of the value the store reads (`normalizeValue`), or NULL.
 */
export function canonicalValueSql(field: FieldSpec, column: string): string {
  switch (field.type) {
    case 'decimal':
      return `CAST(${column} AS DECIMAL(65, ${Number(field.scale ?? 0)}))`;
    case 'integer':
      return `CAST(${column} AS SIGNED)`;
    case 'boolean':
      // (Not IF(column, …): IF(NULL, …) takes the else branch.)
      return `CASE WHEN ${column} THEN 'true' WHEN NOT ${column} THEN 'false' END`;
    case 'timestamp':
      // Date#toISOString: milliseconds, `Z` (the store's sessions run in UTC).
      return `CONCAT(DATE_FORMAT(${column}, '%Y-%m-%dT%H:%i:%s.'), LPAD(FLOOR(MICROSECOND(${column}) / 1000), 3, '0'), 'Z')`;
    case 'date':
      return `DATE_FORMAT(${column}, '%Y-%m-%d')`;
    default:
      return column;
  }
}

/** SQL of the row text, from the SQL of the key and of each value's canonical text (or NULL). */
export function rowTextSql(key: string, values: readonly string[]): string {
  const nullMark = sqlString(NULL_MARK);
  return `CONCAT_WS(${sqlString(FIELD_SEPARATOR)}, ${[key, ...values.map((v) => `COALESCE(${v}, ${nullMark})`)].join(', ')})`;
}

/** SQL of a row's hash as a `BIGINT UNSIGNED`, from the SQL of its row text. */
export function rowHashSql(text: string): string {
  return `CAST(CONV(LEFT(SHA2(${text}, 256), 13), 16, 10) AS UNSIGNED)`;
}

/**
 * SQL aggregate: the chunk's checksum, the exact sum of its rows' hashes (a `DECIMAL`) modulo
 * 2^52 (read it with `Number`: exact below 2^53). SHA2 rather than MD5: faster on MariaDB
 * (measured in docs/sync.md).
 */
export function chunkChecksumSql(text: string): string {
  return `(SUM(${rowHashSql(text)}) MOD ${HASH_RANGE})`;
}
