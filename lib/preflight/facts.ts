/**
 * What preflight reads from the legacy database, as plain data. The checks (checks.ts) are pure
 * functions over these facts, so each is tested with the real reader on a real server and, where
 * a server setting cannot safely be changed in a shared test server (binlog_format), with the
 * real facts and one value overridden.
 */

/** A column as information_schema.COLUMNS reports it. */
export interface ColumnFact {
  readonly name: string;
  /** `int`, `varchar`, `decimal`, `timestamp`, … */
  readonly dataType: string;
  /** `int(10) unsigned`, `varchar(255)`, `decimal(20,6)`, `datetime(6)`, … */
  readonly columnType: string;
  readonly nullable: boolean;
  /** COLUMN_DEFAULT as reported (`NULL` string on MariaDB for an explicit NULL default), or null for none. */
  readonly default: string | null;
  /** EXTRA: `auto_increment`, `on update current_timestamp()`, … */
  readonly extra: string;
  readonly charMaxLength: number | null;
  readonly numericPrecision: number | null;
  readonly numericScale: number | null;
  readonly datetimePrecision: number | null;
  readonly charset: string | null;
}

export interface IndexFact {
  readonly name: string;
  readonly unique: boolean;
  /** Columns in index order. */
  readonly columns: readonly string[];
}

export interface ForeignKeyFact {
  readonly name: string;
  readonly column: string;
  readonly referencedTable: string;
  readonly referencedColumn: string;
}

export interface TableFact {
  readonly name: string;
  readonly columns: readonly ColumnFact[];
  readonly indexes: readonly IndexFact[];
  readonly foreignKeys: readonly ForeignKeyFact[];
  /** The server's row estimate (information_schema.TABLES.TABLE_ROWS). */
  readonly rowEstimate: number;
}

/** One EAV attribute of an entity type, with its count of store-0 (default scope) values. */
export interface EavAttributeFact {
  readonly entityTypeCode: string;
  readonly attributeCode: string;
  readonly backendType: string;
  readonly store0Rows: number;
}

/** One row of EXPLAIN. */
export interface ExplainRow {
  readonly table: string | null;
  readonly type: string | null;
  readonly key: string | null;
  readonly rows: number | null;
  readonly extra: string | null;
}

/** Everything the checks need, read once. */
export interface DatabaseFacts {
  readonly database: string;
  /** `SELECT VERSION()`, e.g. `10.11.6-MariaDB-0+deb12u1` or `8.0.36`. */
  readonly version: string;
  /** SHOW GLOBAL VARIABLES subset, lower-case names. */
  readonly variables: Readonly<Record<string, string>>;
  /** SHOW GRANTS FOR CURRENT_USER(), one statement per entry. */
  readonly grants: readonly string[];
  /** The tables the spec names (and the inbox table), by name; a missing table is absent. */
  readonly tables: Readonly<Record<string, TableFact>>;
  /** The EAV attributes asked for that exist (a missing one is absent). */
  readonly eavAttributes: readonly EavAttributeFact[];
  /** EXPLAIN of the poller's keyset scan, by table (tables with `updatedAt` only). */
  readonly pollerExplain: Readonly<Record<string, readonly ExplainRow[]>>;
}

/** Reads the facts for a list of tables and EAV entity types. */
export interface FactsReader {
  read(request: FactsRequest): Promise<DatabaseFacts>;
}

export interface FactsRequest {
  readonly tables: readonly string[];
  /** EAV attributes to look up; store-0 values are counted in `valueTable`. */
  readonly eavAttributes: readonly { entityTypeCode: string; attributeCode: string; valueTable: string }[];
  /** Tables scanned by the poller: table → its updatedAt and key columns. */
  readonly pollerScans: readonly { table: string; updatedAt: string; key: string }[];
}
