/**
 * Reads {@link DatabaseFacts} over one mysql2 connection: information_schema, SHOW GLOBAL
 * VARIABLES, SHOW GRANTS and EXPLAIN. Read-only: it runs no statement that writes.
 */
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import type {
  ColumnFact,
  DatabaseFacts,
  EavAttributeFact,
  ExplainRow,
  FactsReader,
  FactsRequest,
  TableFact,
} from './facts.js';

/** The server variables the checks read. */
export const PREFLIGHT_VARIABLES = [
  'binlog_format',
  'binlog_row_image',
  'log_bin',
  'binlog_expire_logs_seconds',
  'expire_logs_days',
  'gtid_mode',
  'gtid_strict_mode',
  'time_zone',
  'system_time_zone',
  'max_connections',
] as const;

export class MysqlFactsReader implements FactsReader {
  private constructor(
    private readonly conn: Connection,
    private readonly database: string,
  ) {}

  /** Connects with a `mysql://user:pass@host:port/database` URL. */
  static async connect(url: string): Promise<MysqlFactsReader> {
    const database = decodeURIComponent(new URL(url).pathname.slice(1));
    if (!database)
      throw new Error('the database URL names no database (mysql://user:pass@host:port/<database>)');
    const conn = await mysql.createConnection({ uri: url, dateStrings: true });
    return new MysqlFactsReader(conn, database);
  }

  async close(): Promise<void> {
    await this.conn.end();
  }

  private async rows(sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
    return (await this.conn.query<RowDataPacket[]>(sql, params))[0];
  }

  async read(request: FactsRequest): Promise<DatabaseFacts> {
    const version = String((await this.rows('SELECT VERSION() AS v'))[0]!['v']);
    const variables: Record<string, string> = {};
    for (const r of await this.rows('SHOW GLOBAL VARIABLES WHERE Variable_name IN (?)', [
      [...PREFLIGHT_VARIABLES],
    ])) {
      variables[String(r['Variable_name']).toLowerCase()] = String(r['Value']);
    }
    const grants = (await this.rows('SHOW GRANTS FOR CURRENT_USER()')).map((r) =>
      String(Object.values(r)[0]),
    );
    const tables: Record<string, TableFact> = {};
    for (const name of new Set(request.tables)) {
      const t = await this.table(name);
      if (t) tables[name] = t;
    }
    const eavAttributes: EavAttributeFact[] = [];
    if (tables['eav_attribute'] && tables['eav_entity_type']) {
      for (const a of request.eavAttributes) {
        const [row] = await this.rows(
          `SELECT a.attribute_id, a.backend_type FROM eav_attribute a
             JOIN eav_entity_type t ON t.entity_type_id = a.entity_type_id
            WHERE t.entity_type_code = ? AND a.attribute_code = ?`,
          [a.entityTypeCode, a.attributeCode],
        );
        if (!row) continue;
        const valueTable = await this.table(a.valueTable);
        const store0 = valueTable?.columns.some((c) => c.name === 'store_id')
          ? Number(
              (
                await this.rows('SELECT COUNT(*) AS n FROM ?? WHERE attribute_id = ? AND store_id = 0', [
                  a.valueTable,
                  row['attribute_id'],
                ])
              )[0]!['n'],
            )
          : 0;
        eavAttributes.push({
          entityTypeCode: a.entityTypeCode,
          attributeCode: a.attributeCode,
          backendType: String(row['backend_type']),
          store0Rows: store0,
        });
      }
    }
    const pollerExplain: Record<string, ExplainRow[]> = {};
    for (const scan of request.pollerScans) {
      const t = tables[scan.table];
      const names = new Set(t?.columns.map((c) => c.name));
      if (!names.has(scan.updatedAt) || !names.has(scan.key)) {
        continue;
      }
      // The poller's keyset scan (lambdas/adapters/mysql-legacy.ts scanChanged), from a cursor.
      const rows = await this.rows(
        `EXPLAIN SELECT ?? FROM ?? WHERE ?? < NOW() AND (?? > ? OR (?? = ? AND ?? > ?)) ORDER BY ??, ?? LIMIT 500`,
        [
          scan.key,
          scan.table,
          scan.updatedAt,
          scan.updatedAt,
          '2000-01-01 00:00:00',
          scan.updatedAt,
          '2000-01-01 00:00:00',
          scan.key,
          0,
          scan.updatedAt,
          scan.key,
        ],
      );
      pollerExplain[scan.table] = rows.map((r) => ({
        table: (r['table'] as string | null) ?? null,
        type: (r['type'] as string | null) ?? null,
        key: (r['key'] as string | null) ?? null,
        rows: r['rows'] === null || r['rows'] === undefined ? null : Number(r['rows']),
        extra: (r['Extra'] as string | null) ?? null,
      }));
    }
    return { database: this.database, version, variables, grants, tables, eavAttributes, pollerExplain };
  }

  private async table(name: string): Promise<TableFact | undefined> {
    const [t] = await this.rows(
      'SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [this.database, name],
    );
    if (!t) return undefined;
    const columns: ColumnFact[] = (
      await this.rows(
        `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, CHARACTER_MAXIMUM_LENGTH,
                NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME
           FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
        [this.database, name],
      )
    ).map((c) => ({
      name: String(c['COLUMN_NAME']),
      dataType: String(c['DATA_TYPE']).toLowerCase(),
      columnType: String(c['COLUMN_TYPE']).toLowerCase(),
      nullable: c['IS_NULLABLE'] === 'YES',
      default: c['COLUMN_DEFAULT'] === null ? null : String(c['COLUMN_DEFAULT']),
      extra: String(c['EXTRA'] ?? '').toLowerCase(),
      charMaxLength: numberOrNull(c['CHARACTER_MAXIMUM_LENGTH']),
      numericPrecision: numberOrNull(c['NUMERIC_PRECISION']),
      numericScale: numberOrNull(c['NUMERIC_SCALE']),
      datetimePrecision: numberOrNull(c['DATETIME_PRECISION']),
      charset: c['CHARACTER_SET_NAME'] === null ? null : String(c['CHARACTER_SET_NAME']),
    }));
    const byIndex = new Map<string, { unique: boolean; columns: string[] }>();
    for (const s of await this.rows(
      `SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS
        WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
      [this.database, name],
    )) {
      const idx = byIndex.get(String(s['INDEX_NAME'])) ?? {
        unique: Number(s['NON_UNIQUE']) === 0,
        columns: [],
      };
      idx.columns.push(String(s['COLUMN_NAME']));
      byIndex.set(String(s['INDEX_NAME']), idx);
    }
    const foreignKeys = (
      await this.rows(
        `SELECT CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
           FROM information_schema.KEY_COLUMN_USAGE
          WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND REFERENCED_TABLE_NAME IS NOT NULL`,
        [this.database, name],
      )
    ).map((k) => ({
      name: String(k['CONSTRAINT_NAME']),
      column: String(k['COLUMN_NAME']),
      referencedTable: String(k['REFERENCED_TABLE_NAME']),
      referencedColumn: String(k['REFERENCED_COLUMN_NAME']),
    }));
    return {
      name,
      columns,
      indexes: [...byIndex].map(([n, i]) => ({ name: n, ...i })),
      foreignKeys,
      rowEstimate: Number(t['TABLE_ROWS'] ?? 0),
    };
  }
}

function numberOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
