/**
 * Writes to the Magento database, each a compare-and-set in a transaction (or one conditional
 * UPDATE): the row (and its EAV values) is read `FOR UPDATE` and compared with the values the
 * decision was made on; on a difference the transaction rolls back and the caller re-reads and
 * re-decides. A sync write sets `updated_at = updated_at` so `ON UPDATE CURRENT_TIMESTAMP` does
 * not fire. Counter deltas and creates are recorded in Cutover's inbox table in the same
 * transaction: a delta is applied once per event, and a retried create finds its row.
 */
import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { fieldPolicy } from '../../../lib/spec/lookup.js';
import type { EntitySpec, FieldSpec, MysqlEntityLegacy } from '../../../lib/spec/schema.js';
import type { LegacyWrite, LegacyWriteResult, Row, StoredRecord } from '../../domain/ports.js';
import { sameValue } from '../../domain/values.js';
import { type EntityMapping, ident, keyParam, type MagentoRows, type RawToken, whereClause } from './rows.js';

/** Cutover's only table in the Magento database (a DBA creates it; see docs/sync.md). */
export const INBOX_TABLE = 'cutover_applied_event';
export const INBOX_TABLE_DDL = `CREATE TABLE IF NOT EXISTS ${INBOX_TABLE} (
  event_id varchar(191) NOT NULL COMMENT 'contract eventId, or create:<entity>:<serviceKey>',
  field_name varchar(64) NOT NULL COMMENT 'counter field, or $create',
  entity varchar(64) NOT NULL,
  entity_key varchar(191) NOT NULL COMMENT 'legacy key of the row',
  delta decimal(20,6) NOT NULL DEFAULT 0,
  applied_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (event_id, field_name),
  KEY CUTOVER_APPLIED_EVENT_ENTITY_KEY (entity, entity_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;

/** The inbox's field name of a create's idempotency token. */
export const CREATE_FIELD = '$create';

/** Magento rejected a created row (a unique key other than the primary key). */
export class LegacyConstraintError extends Error {
  constructor(entity: string, cause: unknown) {
    super(`${entity}: Magento rejected the new row: ${(cause as Error).message}`, { cause });
    this.name = 'LegacyConstraintError';
  }
}

/**
 * Magento refused a row that names a record it does not have (a foreign key: a coupon's
 * `rule_id`, an order's `customer_id`). Retrying does not help; the message names the table,
 * column and value (ids only), not the driver's text.
 */
export class LegacyReferenceError extends Error {
  constructor(entity: string, detail: string, cause: unknown) {
    super(`${entity}: Magento has no ${detail}`, { cause });
    this.name = 'LegacyReferenceError';
  }
}

const isForeignKeyFailure = (e: unknown) => {
  const code = (e as { code?: string }).code;
  return code === 'ER_NO_REFERENCED_ROW_2' || code === 'ER_NO_REFERENCED_ROW';
};

/** A write `updateInOneStatement` can make: an update of flat-table columns only. */
function isPlainUpdate(m: EntityMapping, w: LegacyWrite): boolean {
  return (
    !w.create &&
    !w.delete &&
    w.expected.exists &&
    w.expected.casToken !== undefined &&
    m.eav.length === 0 &&
    Object.keys(w.deltas).length === 0 &&
    Object.keys(w.patch).length > 0 &&
    m.columns.every((c) => !c.counter || !(c.field.name in w.patch)) &&
    // A FLOAT/DOUBLE column reads back as an approximation that `col = ?` may not match.
    Object.values((w.expected.casToken as RawToken).columns).every(
      (v) => typeof v !== 'number' || Number.isInteger(v),
    )
  );
}

/**
 * `column = ?` exactly, for the raw value read from it: text byte for byte (not by the column's
 * case-insensitive collation), DECIMAL values (read as strings) as decimals, not as doubles.
 */
function casCompare(column: string, f: FieldSpec, raw: unknown): string {
  if (f.type === 'string') return `BINARY ${column} = BINARY ?`;
  if (typeof raw === 'string') return `${column} = CAST(? AS DECIMAL(65, 30))`;
  return `${column} = ?`;
}

/** The `LegacyReferenceError` for a foreign-key failure of write `w` (MySQL's message names the key). */
function referenceError(m: EntityMapping, w: LegacyWrite, e: unknown): LegacyReferenceError {
  const fk = /FOREIGN KEY \(`([^`]+)`\) REFERENCES `([^`]+)` \(`([^`]+)`\)/.exec((e as Error).message ?? '');
  if (!fk) return new LegacyReferenceError(m.entity.name, 'row a value of the write refers to', e);
  const [, column, table, refColumn] = fk as unknown as [string, string, string, string];
  const field = m.columns.find((c) => c.column === ident(column))?.field.name;
  const legacy = m.entity.legacy as MysqlEntityLegacy;
  const value =
    field !== undefined && field in w.patch
      ? w.patch[field]
      : (legacy.where?.[column] ?? legacy.insertDefaults?.[column] ?? '(the value written)');
  return new LegacyReferenceError(m.entity.name, `${table} row with ${refColumn} = ${value}`, e);
}

/** "Rows matched: 1  Changed: 0  Warnings: 0" -> 1. */
function matchedRows(res: ResultSetHeader): number {
  const m = /Rows matched:\s*(\d+)/.exec(res.info ?? '');
  if (!m) throw new Error(`UPDATE result without a matched-rows count: "${res.info}"`);
  return Number(m[1]);
}

/** The compare-and-set writes of one Magento database ({@link MagentoRows}). */
export class MysqlWrites {
  constructor(private readonly rows: MagentoRows) {}

  /** Whether the inbox holds `eventId` (its deltas were applied). */
  async deltasApplied(_entity: EntitySpec, eventId: string): Promise<boolean> {
    const [rows] = await this.rows.pool.query<RowDataPacket[]>(
      `SELECT 1 FROM ${INBOX_TABLE} WHERE event_id = ? LIMIT 1`,
      [eventId],
    );
    return rows.length > 0;
  }

  /** One decision's write, compare-and-set on `w.expected` (LegacyStore.write). */
  async write(entity: EntitySpec, w: LegacyWrite): Promise<LegacyWriteResult> {
    const m = this.rows.mapping(entity);
    if (isPlainUpdate(m, w)) return this.updateInOneStatement(m, w);
    // Read before a connection is held (the first time it queries the schema on the pool).
    const keyGenerated = w.create && (await this.rows.keyGenerated(entity));
    const conn = await this.rows.pool.getConnection();
    try {
      await conn.beginTransaction();
      const result = w.create ? await this.create(conn, m, w, keyGenerated) : await this.update(conn, m, w);
      if (result.outcome === 'written') await conn.commit();
      else await conn.rollback();
      return result;
    } catch (e) {
      await conn.rollback().catch(() => {});
      const code = (e as { code?: string }).code;
      if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') return { outcome: 'conflict' };
      if (isForeignKeyFailure(e)) throw referenceError(m, w, e);
      if (code === 'ER_DUP_ENTRY' && w.create) {
        // The key was taken meanwhile: re-read and re-decide. Any other unique key (e.g.
        // customer email + website) is a record Magento refuses: retrying will not help.
        if (/for key '(?:[^']*\.)?PRIMARY'/.test((e as Error).message)) return { outcome: 'conflict' };
        throw new LegacyConstraintError(m.entity.name, e);
      }
      throw e;
    } finally {
      conn.release();
    }
  }

  /** Records the deltas in the inbox; false when this event's deltas were applied before. */
  private async recordDeltas(
    conn: PoolConnection,
    m: EntityMapping,
    key: string,
    w: LegacyWrite,
  ): Promise<boolean> {
    const entries = Object.entries(w.deltas);
    if (!entries.length) return true;
    try {
      await conn.query(
        `INSERT INTO ${INBOX_TABLE} (event_id, field_name, entity, entity_key, delta) VALUES ?`,
        [entries.map(([f, d]) => [w.eventId, f, m.entity.name, key, d])],
      );
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'ER_DUP_ENTRY') return false;
      throw e;
    }
  }

  private async create(
    conn: PoolConnection,
    m: EntityMapping,
    w: LegacyWrite,
    keyGenerated: boolean,
  ): Promise<LegacyWriteResult> {
    if (w.createToken) {
      const [found] = await conn.query<RowDataPacket[]>(
        `SELECT entity_key FROM ${INBOX_TABLE} WHERE event_id = ? AND field_name = ?`,
        [w.createToken, CREATE_FIELD],
      );
      if (found[0]) return { outcome: 'exists', key: String(found[0]['entity_key']) };
    }
    const legacy = m.entity.legacy as MysqlEntityLegacy;
    const values = new Map<string, unknown>();
    for (const [c, v] of Object.entries(legacy.insertDefaults ?? {})) values.set(ident(c), v);
    for (const [c, v] of m.where) values.set(c, v);
    for (const c of m.columns) {
      const v = w.patch[c.field.name];
      const d = w.deltas[c.field.name] ?? 0;
      if (c.counter) values.set(c.column, Number(v ?? 0) + d);
      else if (v !== undefined) values.set(c.column, v);
    }
    // A generated key is always Magento's own (AUTO_INCREMENT): an explicit one would move the
    // counter to it, and a numeric service key near the top of `int unsigned` would leave
    // Magento unable to insert its next row.
    const explicitKey = keyGenerated ? undefined : w.desiredKey;
    if (explicitKey !== undefined) values.set(m.key, keyParam(explicitKey));
    if (m.updatedAt && w.changedAt) {
      // The row's own change time is the change that created it (second precision).
      const at = new Date(Math.floor(Date.parse(w.changedAt) / 1000) * 1000);
      values.set(m.updatedAt, at);
    }
    const cols = [...values.keys()];
    const [res] = await conn.query<ResultSetHeader>(
      `INSERT INTO ${m.table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
      [...values.values()],
    );
    const key = explicitKey ?? String(res.insertId);
    for (const v of m.eav) {
      const value = w.patch[v.field.name];
      if (value === undefined) continue;
      await conn.query(
        `INSERT INTO ${v.table} (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, ?)`,
        [await this.rows.attributeId(m.entity, v.code), keyParam(key), value],
      );
    }
    if (w.createToken) {
      await conn.query(
        `INSERT INTO ${INBOX_TABLE} (event_id, field_name, entity, entity_key, delta) VALUES (?, ?, ?, ?, 0)`,
        [w.createToken, CREATE_FIELD, m.entity.name, key],
      );
    }
    if (!(await this.recordDeltas(conn, m, key, w))) return { outcome: 'duplicate', key };
    return { outcome: 'written', key };
  }

  /**
   * The common case (new values for some columns of one flat-table row: no counters, no EAV, no
   * create or delete) as a single conditional UPDATE: the compare-and-set is in its WHERE clause,
   * every compared column against the raw value read (strings byte for byte, decimals as
   * decimals), so the statement changes the row only if nothing the decision was made on moved.
   * One round trip instead of a transaction's five; the same outcome as `update` below.
   */
  private async updateInOneStatement(m: EntityMapping, w: LegacyWrite): Promise<LegacyWriteResult> {
    const key = w.expected.key;
    const raw = w.expected.casToken as RawToken;
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const c of m.columns) {
      if (c.field.name in w.patch) {
        sets.push(`e.${c.column} = ?`);
        params.push(w.patch[c.field.name]);
      }
    }
    // A sync write is not a local change: keep updated_at (ON UPDATE would move it).
    if (m.updatedAt) sets.push(`e.${m.updatedAt} = e.${m.updatedAt}`);
    const wh = whereClause(m);
    const cas: string[] = [];
    const casParams: unknown[] = [];
    for (const c of m.columns) {
      if (c.counter) continue; // counters move by deltas: a concurrent increment is no conflict
      const v = raw.columns[c.field.name];
      if (v === null || v === undefined) {
        cas.push(`e.${c.column} IS NULL`);
        continue;
      }
      cas.push(casCompare(`e.${c.column}`, c.field, v));
      casParams.push(v);
    }
    if (m.updatedAt) {
      if (raw.updatedAt === null || raw.updatedAt === undefined) cas.push(`e.${m.updatedAt} IS NULL`);
      else {
        cas.push(`e.${m.updatedAt} = ?`);
        casParams.push(raw.updatedAt);
      }
    }
    try {
      const [res] = await this.rows.pool.query<ResultSetHeader>(
        `UPDATE ${m.table} e SET ${sets.join(', ')} WHERE e.${m.key} = ?${wh.sql}${cas.map((c) => ` AND ${c}`).join('')}`,
        [...params, keyParam(key), ...wh.params, ...casParams],
      );
      // The client does not ask for found rows, so affectedRows counts changed rows only; the
      // compare-and-set held if the row matched, whether or not its values changed.
      return { outcome: matchedRows(res) === 1 ? 'written' : 'conflict', key };
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') return { outcome: 'conflict', key };
      if (isForeignKeyFailure(e)) throw referenceError(m, w, e);
      throw e;
    }
  }

  private async update(conn: PoolConnection, m: EntityMapping, w: LegacyWrite): Promise<LegacyWriteResult> {
    const key = w.expected.key;
    const current = await this.rows.readWith(conn, m, key, true);
    if (!current.exists || !w.expected.exists) return { outcome: 'conflict', key };
    // Compare-and-set on everything the decision was made on (counters excepted: they move by
    // deltas, so a concurrent increment is no conflict), and on updated_at.
    for (const f of m.fieldOrder) {
      if (fieldPolicy(m.entity, f) === 'sum') continue;
      if (!sameValue(current.data[f.name], w.expected.data[f.name])) return { outcome: 'conflict', key };
    }
    if (m.updatedAt && current.changedAt !== w.expected.changedAt) return { outcome: 'conflict', key };
    const wh = whereClause(m);
    if (w.delete) {
      await conn.query(`DELETE e FROM ${m.table} e WHERE e.${m.key} = ?${wh.sql}`, [
        keyParam(key),
        ...wh.params,
      ]);
      return { outcome: 'written', key };
    }
    if (!(await this.recordDeltas(conn, m, key, w))) return { outcome: 'duplicate', key };
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const c of m.columns) {
      if (c.field.name in w.patch && !c.counter) {
        sets.push(`e.${c.column} = ?`);
        params.push(w.patch[c.field.name]);
      }
      const d = w.deltas[c.field.name];
      if (d !== undefined && c.counter) {
        sets.push(`e.${c.column} = e.${c.column} + ?`);
        params.push(d);
      }
    }
    if (sets.length) {
      // A sync write is not a local change: keep updated_at (ON UPDATE would move it).
      if (m.updatedAt) sets.push(`e.${m.updatedAt} = e.${m.updatedAt}`);
      await conn.query(`UPDATE ${m.table} e SET ${sets.join(', ')} WHERE e.${m.key} = ?${wh.sql}`, [
        ...params,
        keyParam(key),
        ...wh.params,
      ]);
    }
    for (const v of m.eav) {
      if (!(v.field.name in w.patch)) continue;
      await conn.query(
        `INSERT INTO ${v.table} (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, ?)
           ON DUPLICATE KEY UPDATE value = VALUES(value)`,
        [await this.rows.attributeId(m.entity, v.code), keyParam(key), w.patch[v.field.name]],
      );
    }
    return { outcome: 'written', key };
  }

  /** Set-based compare-and-set of many existing rows (LegacyBatchWriter.applyBatch). */
  async applyBatch(
    entity: EntitySpec,
    keys: readonly string[],
    plan: (records: ReadonlyMap<string, StoredRecord>) => ReadonlyMap<string, Row>,
  ): Promise<ReadonlyMap<string, StoredRecord>> {
    const m = this.rows.mapping(entity);
    const records = new Map<string, StoredRecord>();
    if (!keys.length) return records;
    const { select, from } = await this.rows.selectFrom(m);
    const wh = whereClause(m);
    const eavIds = new Map<string, number>();
    for (const v of m.eav) eavIds.set(v.field.name, await this.rows.attributeId(m.entity, v.code));
    const conn = await this.rows.pool.getConnection();
    try {
      await conn.beginTransaction();
      const [rows] = await conn.query<RowDataPacket[]>(
        `SELECT ${select} FROM ${from} WHERE e.${m.key} IN (?)${wh.sql} FOR UPDATE`,
        [keys.map((k) => keyParam(k)), ...wh.params],
      );
      for (const r of rows) {
        const rec = this.rows.toRecord(m, r);
        records.set(rec.key, rec);
      }
      const patches = plan(records);
      // Entity-table columns: one UPDATE with a CASE per column, only for the rows that change it.
      const sets: string[] = [];
      const params: unknown[] = [];
      const touched = new Set<string>();
      for (const c of m.columns) {
        if (c.counter) continue;
        const rowsWith = [...patches].filter(([, p]) => c.field.name in p);
        if (!rowsWith.length) continue;
        sets.push(
          `e.${c.column} = CASE e.${m.key} ${rowsWith.map(() => 'WHEN ? THEN ?').join(' ')} ELSE e.${c.column} END`,
        );
        for (const [k, p] of rowsWith) {
          params.push(keyParam(k), p[c.field.name]);
          touched.add(k);
        }
      }
      if (sets.length) {
        if (m.updatedAt) sets.push(`e.${m.updatedAt} = e.${m.updatedAt}`);
        await conn.query(`UPDATE ${m.table} e SET ${sets.join(', ')} WHERE e.${m.key} IN (?)${wh.sql}`, [
          ...params,
          [...touched].map((k) => keyParam(k)),
          ...wh.params,
        ]);
      }
      // EAV values: one multi-row upsert per value table.
      for (const v of m.eav) {
        const values = [...patches]
          .filter(([, p]) => v.field.name in p)
          .map(([k, p]) => [eavIds.get(v.field.name), 0, keyParam(k), p[v.field.name]]);
        if (!values.length) continue;
        await conn.query(
          `INSERT INTO ${v.table} (attribute_id, store_id, entity_id, value) VALUES ? ON DUPLICATE KEY UPDATE value = VALUES(value)`,
          [values],
        );
      }
      await conn.commit();
      return records;
    } catch (e) {
      await conn.rollback().catch(() => {});
      throw e;
    } finally {
      conn.release();
    }
  }
}
