/**
 * Reads of many Magento rows: the poller's keyset scan by `updated_at`, key-range chunks with
 * their checksums summed in SQL (checksum.ts), the key bounds and the count.
 */
import type { RowDataPacket } from 'mysql2/promise';
import type { EntitySpec, FieldSpec } from '../../../lib/spec/schema.js';
import { canonicalValueSql, chunkChecksumSql, rowTextSql } from '../../domain/checksum.js';
import type { CapturedRow, ChunkChecksum, ScanCursor } from '../../domain/ports.js';
import { type EntityMapping, ident, keyParam, type MagentoRows, whereClause } from './rows.js';
import { CREATE_FIELD, INBOX_TABLE } from './writes.js';

/** The scans and checksums of one Magento database ({@link MagentoRows}). */
export class MysqlScans {
  constructor(private readonly rows: MagentoRows) {}

  /** The poller's keyset scan by `(updated_at, key)` (LegacyStore.scanChanged). */
  async scanChanged(
    entity: EntitySpec,
    cursor: ScanCursor | undefined,
    options: { limit: number; before: number },
  ): Promise<CapturedRow[]> {
    const m = this.rows.mapping(entity);
    if (!m.updatedAt) throw new Error(`${entity.name} has no updatedAt column to scan by`);
    const { select, from } = await this.rows.selectFrom(m);
    const wh = whereClause(m);
    const params: unknown[] = [];
    let keyset = '';
    if (cursor) {
      keyset = ` AND (e.${m.updatedAt} > ? OR (e.${m.updatedAt} = ? AND e.${m.key} > ?))`;
      params.push(new Date(cursor.at), new Date(cursor.at), keyParam(cursor.key));
    }
    const [rows] = await this.rows.pool.query<RowDataPacket[]>(
      `SELECT ${select} FROM ${from} WHERE e.${m.updatedAt} < ?${keyset}${wh.sql}
        ORDER BY e.${m.updatedAt}, e.${m.key} LIMIT ?`,
      [new Date(options.before), ...params, ...wh.params, options.limit],
    );
    return rows.map((r) => this.rows.toRecord(m, r));
  }

  /** SQL of the canonical text of a field (checksum.ts `canonicalValueSql`), NULL for NULL. */
  private canonicalSql(m: EntityMapping, f: FieldSpec): string {
    const col = f.column
      ? `e.${ident(f.column)}`
      : `${m.eav.find((v) => v.field.name === f.name)!.alias}.value`;
    return canonicalValueSql(f, col);
  }

  /** Per chunk: the count and the checksum of checksum.ts, summed in SQL in one `GROUP BY`. */
  async chunkChecksums(
    entity: EntitySpec,
    options: {
      chunkSize: number;
      fields?: readonly string[];
      chunks?: { readonly from: number; readonly to: number };
    },
  ): Promise<ChunkChecksum[]> {
    const m = this.rows.mapping(entity);
    const { from } = await this.rows.selectFrom(m);
    const fields = m.fieldOrder.filter((f) => !options.fields || options.fields.includes(f.name));
    const text = rowTextSql(
      `e.${m.key}`,
      fields.map((f) => this.canonicalSql(m, f)),
    );
    const size = Math.floor(options.chunkSize);
    const wh = whereClause(m);
    // One worker's key range: a range scan of the primary key, not the whole table.
    const range = options.chunks
      ? {
          sql: ` AND e.${m.key} >= ? AND e.${m.key} < ?`,
          params: [options.chunks.from * size, options.chunks.to * size],
        }
      : { sql: '', params: [] };
    const [rows] = await this.rows.pool.query<RowDataPacket[]>(
      `SELECT FLOOR(e.${m.key} / ${size}) AS chunk, COUNT(*) AS n, ${chunkChecksumSql(text)} AS s
         FROM ${from} WHERE 1 = 1${range.sql}${wh.sql} GROUP BY chunk ORDER BY chunk`,
      [...range.params, ...wh.params],
    );
    // The pool reads DECIMAL as exact text (decimalNumbers: false); below 2^52, Number is exact.
    return rows.map((r) => ({ chunk: Number(r['chunk']), count: Number(r['n']), checksum: Number(r['s']) }));
  }

  /** A key-range chunk's rows, with the inbox's deltas when asked, in one consistent snapshot. */
  async readChunk(
    entity: EntitySpec,
    chunk: number,
    options: { chunkSize: number; withSyncedDeltas?: boolean },
  ): Promise<CapturedRow[]> {
    const m = this.rows.mapping(entity);
    const { select, from } = await this.rows.selectFrom(m);
    const wh = whereClause(m);
    const conn = await this.rows.pool.getConnection();
    try {
      // One consistent snapshot: the counters and the inbox rows that explain part of them.
      await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      const [rows] = await conn.query<RowDataPacket[]>(
        `SELECT ${select} FROM ${from} WHERE e.${m.key} >= ? AND e.${m.key} < ?${wh.sql} ORDER BY e.${m.key}`,
        [chunk * options.chunkSize, (chunk + 1) * options.chunkSize, ...wh.params],
      );
      const out = rows.map((r) => this.rows.toRecord(m, r));
      if (options.withSyncedDeltas && out.length && m.columns.some((c) => c.counter)) {
        const [sums] = await conn.query<RowDataPacket[]>(
          `SELECT entity_key, field_name, SUM(delta) AS total FROM ${INBOX_TABLE}
            WHERE entity = ? AND entity_key IN (?) AND field_name <> ? GROUP BY entity_key, field_name`,
          [entity.name, out.map((r) => r.key), CREATE_FIELD],
        );
        const byKey = new Map<string, Record<string, number>>();
        for (const s of sums) {
          const k = String(s['entity_key']);
          const rec = byKey.get(k) ?? {};
          rec[String(s['field_name'])] = Number(s['total']);
          byKey.set(k, rec);
        }
        await conn.commit();
        return out.map((r) => ({ ...r, syncedDeltas: byKey.get(r.key) ?? {} }));
      }
      await conn.commit();
      return out;
    } finally {
      conn.release();
    }
  }

  /** Row count and lowest/highest key of the entity's table (an index read). */
  async keyBounds(entity: EntitySpec): Promise<{ count: number; min?: number; max?: number }> {
    const m = this.rows.mapping(entity);
    const wh = whereClause(m);
    const [rows] = await this.rows.pool.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n, MIN(e.${m.key}) AS lo, MAX(e.${m.key}) AS hi FROM ${m.table} e WHERE 1 = 1${wh.sql}`,
      wh.params,
    );
    const r = rows[0]!;
    const n = Number(r['n']);
    return n === 0 ? { count: 0 } : { count: n, min: Number(r['lo']), max: Number(r['hi']) };
  }

  /** Rows of the entity's table. */
  async count(entity: EntitySpec): Promise<number> {
    const m = this.rows.mapping(entity);
    const wh = whereClause(m);
    const [rows] = await this.rows.pool.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM ${m.table} e WHERE 1 = 1${wh.sql}`,
      wh.params,
    );
    return Number(rows[0]!['n']);
  }
}
