/**
 * Magento rows as records: the SQL shape of each entity (its table, key, columns and EAV value
 * tables at store 0, derived from the spec once), the database's catalogue it needs (EAV
 * attribute ids, column definitions; read once and kept), and the reads that map a row to a
 * record (canonical values and the compare-and-set token of the raw values read).
 */
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { fieldPolicy } from '../../../lib/spec/lookup.js';
import type { EntitySpec, FieldSpec, MysqlEntityLegacy } from '../../../lib/spec/schema.js';
import type { CapturedRow, Row, StoredRecord } from '../../domain/ports.js';
import { type ColumnLimits, normalizeValue } from '../../domain/values.js';
import { type ColumnInfo, limitsOf } from './columns.js';
import type { LegacyPool } from './connection.js';

/** Quotes an identifier taken from the spec (already validated there; checked again). */
export function ident(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) throw new Error(`not a plain SQL identifier: ${name}`);
  return `\`${name}\``;
}

/** A field held in a column of the entity's own table (`counter`: summed, policy `sum`). */
export interface ColumnField {
  readonly field: FieldSpec;
  readonly column: string;
  readonly counter: boolean;
}
/** A field held in an EAV value table (`alias`: its join's alias in a SELECT). */
export interface EavField {
  readonly field: FieldSpec;
  readonly code: string;
  readonly table: string;
  readonly alias: string;
}

/** The SQL shape of one entity, derived from the spec once. */
export class EntityMapping {
  readonly table: string;
  readonly key: string;
  readonly updatedAt?: string;
  readonly where: [string, string | number][];
  readonly columns: ColumnField[] = [];
  readonly eav: EavField[] = [];
  readonly fieldOrder: FieldSpec[];

  constructor(
    readonly entity: EntitySpec,
    prefix: string,
  ) {
    const legacy = entity.legacy as MysqlEntityLegacy;
    if (!('table' in legacy)) throw new Error(`${entity.name} has no mysql legacy mapping`);
    this.table = ident(`${prefix}${legacy.table}`);
    this.key = ident(legacy.key);
    if (legacy.updatedAt) this.updatedAt = ident(legacy.updatedAt);
    this.where = Object.entries(legacy.where ?? {}).map(([c, v]) => [ident(c), v]);
    entity.fields.forEach((f, i) => {
      if (f.column)
        this.columns.push({ field: f, column: ident(f.column), counter: fieldPolicy(entity, f) === 'sum' });
      else if (f.eav)
        this.eav.push({
          field: f,
          code: f.eav.attributeCode,
          table: ident(`${prefix}${legacy.table}_${f.eav.backendType}`),
          alias: `v${i}`,
        });
    });
    this.fieldOrder = entity.fields;
  }
}

/** A Magento row's raw column values as read: the compare-and-set token of a one-statement update. */
export interface RawToken {
  readonly columns: Readonly<Record<string, unknown>>;
  readonly updatedAt?: unknown;
}

/** The compare-and-set token of a row read by {@link MagentoRows.selectFrom}'s SELECT. */
export function rawToken(m: EntityMapping, r: RowDataPacket): RawToken {
  const columns: Record<string, unknown> = {};
  for (const c of m.columns) columns[c.field.name] = r[`f_${c.field.name}`];
  return { columns, ...(m.updatedAt ? { updatedAt: r['u'] } : {}) };
}

/** A key as a bound parameter: a number for integer keys (so an index on an integer column is used). */
export function keyParam(key: string): string | number {
  return /^\d{1,15}$/.test(key) ? Number(key) : key;
}

/** The entity's fixed row filter (its spec `where`, such as stock's `website_id = 0`) as SQL and parameters. */
export function whereClause(m: EntityMapping): { sql: string; params: (string | number)[] } {
  if (!m.where.length) return { sql: '', params: [] };
  return { sql: m.where.map(([c]) => ` AND e.${c} = ?`).join(''), params: m.where.map(([, v]) => v) };
}

/**
 * The entities of one Magento database as rows: their mappings and the catalogue they need, kept
 * for the life of the store (a container).
 */
export class MagentoRows {
  private readonly mappings = new Map<string, EntityMapping>();
  private readonly attributeIds = new Map<string, Promise<Map<string, number>>>();
  private readonly tableColumns = new Map<string, Promise<Map<string, ColumnInfo>>>();

  constructor(
    readonly pool: LegacyPool,
    private readonly prefix: string,
  ) {}

  /** The entity's mapping (derived once). */
  mapping(entity: EntitySpec): EntityMapping {
    let m = this.mappings.get(entity.name);
    if (!m) {
      m = new EntityMapping(entity, this.prefix);
      this.mappings.set(entity.name, m);
    }
    return m;
  }

  /** attribute code -> attribute_id for the entity's EAV entity type (cached). */
  async attributes(entity: EntitySpec): Promise<Map<string, number>> {
    const type = (entity.legacy as MysqlEntityLegacy).eavEntityType;
    if (!type) return new Map();
    let p = this.attributeIds.get(type);
    if (!p) {
      p = (async () => {
        const [rows] = await this.pool.query<RowDataPacket[]>(
          `SELECT a.attribute_id, a.attribute_code FROM ${ident(`${this.prefix}eav_attribute`)} a
             JOIN ${ident(`${this.prefix}eav_entity_type`)} t ON t.entity_type_id = a.entity_type_id
            WHERE t.entity_type_code = ?`,
          [type],
        );
        return new Map(rows.map((r) => [String(r['attribute_code']), Number(r['attribute_id'])]));
      })();
      p.catch(() => this.attributeIds.delete(type));
      this.attributeIds.set(type, p);
    }
    return p;
  }

  /**
   * The columns of a table as the database defines them, read once per table and kept for the
   * life of the store (a container): the sync's truth about what a column can hold and whether
   * the database generates its keys.
   */
  columnsOf(table: string): Promise<Map<string, ColumnInfo>> {
    let p = this.tableColumns.get(table);
    if (!p) {
      p = (async () => {
        const [rows] = await this.pool.query<RowDataPacket[]>(
          `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, EXTRA, CHARACTER_MAXIMUM_LENGTH,
                  CHARACTER_OCTET_LENGTH, CHARACTER_SET_NAME, NUMERIC_PRECISION, NUMERIC_SCALE
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
          [table],
        );
        if (!rows.length) throw new Error(`table ${table} not found in information_schema.COLUMNS`);
        const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
        return new Map(
          rows.map((r) => {
            const name = String(r['COLUMN_NAME']);
            const info: ColumnInfo = {
              name,
              dataType: String(r['DATA_TYPE']).toLowerCase(),
              columnType: String(r['COLUMN_TYPE']),
              nullable: r['IS_NULLABLE'] === 'YES',
              autoIncrement: /auto_increment/i.test(String(r['EXTRA'] ?? '')),
              maxChars: num(r['CHARACTER_MAXIMUM_LENGTH']),
              maxBytes: num(r['CHARACTER_OCTET_LENGTH']),
              charset: r['CHARACTER_SET_NAME'] ? String(r['CHARACTER_SET_NAME']).toLowerCase() : null,
              precision: num(r['NUMERIC_PRECISION']),
              scale: num(r['NUMERIC_SCALE']),
            };
            return [name.toLowerCase(), info];
          }),
        );
      })();
      p.catch(() => this.tableColumns.delete(table));
      this.tableColumns.set(table, p);
    }
    return p;
  }

  /** What each mapped field's column can hold (EAV fields: the value table's `value`). */
  async columnLimits(entity: EntitySpec): Promise<ReadonlyMap<string, ColumnLimits>> {
    const legacy = entity.legacy as MysqlEntityLegacy;
    const out = new Map<string, ColumnLimits>();
    for (const f of entity.fields) {
      const table = f.eav
        ? `${this.prefix}${legacy.table}_${f.eav.backendType}`
        : `${this.prefix}${legacy.table}`;
      const column = f.eav ? 'value' : f.column;
      if (!column) continue;
      const info = (await this.columnsOf(table)).get(column.toLowerCase());
      if (!info) throw new Error(`${entity.name}.${f.name}: column ${table}.${column} not found`);
      out.set(f.name, limitsOf(table, info));
    }
    return out;
  }

  /** Whether the database generates the entity's keys (an AUTO_INCREMENT key column). */
  async keyGenerated(entity: EntitySpec): Promise<boolean> {
    const legacy = entity.legacy as MysqlEntityLegacy;
    const info = (await this.columnsOf(`${this.prefix}${legacy.table}`)).get(legacy.key.toLowerCase());
    return info?.autoIncrement ?? false;
  }

  /** attribute_id -> code, for the Debezium translator's EAV lookups. */
  async attributeCodes(entity: EntitySpec): Promise<Map<number, string>> {
    return new Map([...(await this.attributes(entity))].map(([c, id]) => [id, c]));
  }

  /** The attribute_id of an EAV attribute code. @throws when eav_attribute has none */
  async attributeId(entity: EntitySpec, code: string): Promise<number> {
    const id = (await this.attributes(entity)).get(code);
    if (id === undefined || !Number.isInteger(id))
      throw new Error(`${entity.name}: EAV attribute "${code}" not found in eav_attribute`);
    return id;
  }

  /** SELECT list and FROM clause reading the mapped fields (EAV at store 0). */
  async selectFrom(m: EntityMapping): Promise<{ select: string; from: string }> {
    const cols = [`e.${m.key} AS k`];
    if (m.updatedAt) cols.push(`e.${m.updatedAt} AS u`);
    for (const c of m.columns) cols.push(`e.${c.column} AS ${ident(`f_${c.field.name}`)}`);
    let from = `${m.table} e`;
    for (const v of m.eav) {
      const id = await this.attributeId(m.entity, v.code);
      cols.push(`${v.alias}.value AS ${ident(`f_${v.field.name}`)}`);
      from += ` LEFT JOIN ${v.table} ${v.alias} ON ${v.alias}.entity_id = e.${m.key} AND ${v.alias}.attribute_id = ${id} AND ${v.alias}.store_id = 0`;
    }
    return { select: cols.join(', '), from };
  }

  /** A row of {@link selectFrom}'s SELECT as a record: canonical values, change time, CAS token. */
  toRecord(m: EntityMapping, r: RowDataPacket): CapturedRow {
    const data: Row = {};
    for (const f of m.fieldOrder) data[f.name] = normalizeValue({ ...f, nullable: true }, r[`f_${f.name}`]);
    return {
      key: String(r['k']),
      exists: true,
      data,
      casToken: rawToken(m, r),
      // A table without updated_at cannot say when its row last changed: the value read is
      // treated as current at read time. The conflict engine then records this side's change as
      // seen, so a change it already lost, arriving late from the poller, is recognised as stale.
      changedAt: m.updatedAt ? (r['u'] as Date).getTime() : Date.now(),
    };
  }

  /** One row by key through `q` (the pool, or a transaction's connection `FOR UPDATE`). */
  async readWith(
    q: Pick<PoolConnection, 'query'>,
    m: EntityMapping,
    key: string,
    forUpdate: boolean,
  ): Promise<StoredRecord> {
    const { select, from } = await this.selectFrom(m);
    const w = whereClause(m);
    const [rows] = await q.query<RowDataPacket[]>(
      `SELECT ${select} FROM ${from} WHERE e.${m.key} = ?${w.sql}${forUpdate ? ' FOR UPDATE' : ''}`,
      [keyParam(key), ...w.params],
    );
    return rows[0] ? this.toRecord(m, rows[0]) : { key, exists: false, data: {} };
  }

  /** One row by key, on the pool. */
  async read(entity: EntitySpec, key: string): Promise<StoredRecord> {
    return this.readWith(this.pool, this.mapping(entity), key, false);
  }
}
