/**
 * Debezium MySQL change events as Debezium Server's SQS sink delivers them: the SQS body is the
 * change event value as the JSON converter writes it, `{ schema, payload }` (schemas on, the
 * default) or the bare payload; a tombstone is the empty body. Columns are encoded the way the
 * MySQL connector encodes them: DECIMAL by `decimal.handling.mode` (precise: base64 of the
 * unscaled value's big-endian two's complement, scale in the schema), the temporal types by
 * `time.precision.mode` (adaptive_time_microseconds: DATE days, DATETIME(0–3) milliseconds,
 * DATETIME(4–6) microseconds, TIME microseconds, TIMESTAMP an ISO-8601 UTC string).
 *
 * The shape (envelope fields, `source` block, column schemas) follows the recorded events in
 * test/contracts/debezium/ (test/unit/debezium-contracts.test.ts holds the two side by side).
 * Tables come from lib/local/magento-fixture.sql, the DDL the integration databases use, or
 * from column lists. No test framework imports here.
 */
import { readFileSync } from 'node:fs';
import type { MigrationSpec } from '../../lib/spec/schema.js';

/** A column as DDL declares it: `decimal(20,6)`, `int unsigned`, `datetime(6)`, … */
export interface MysqlColumn {
  name: string;
  type: string;
  nullable: boolean;
}

export interface MysqlTable {
  db: string;
  table: string;
  columns: readonly MysqlColumn[];
}

/** What Debezium Server's SQS sink sends for a tombstone (a null value): `SqsChangeConsumer`. */
export const DEBEZIUM_TOMBSTONE_BODY = '';

/** The connector version whose event shape test/contracts/debezium/mysql-all-types.json records. */
export const DEBEZIUM_VERSION = '1.9.7.Final';

type Row = Record<string, unknown>;

export interface DebeziumChange {
  op: 'c' | 'u' | 'd' | 'r';
  before?: Row | null;
  after?: Row | null;
  /** Envelope `ts_ms` (when Debezium processed the change). @default Date.now() */
  tsMs?: number;
  /** `source.ts_ms` (when the change was made in the database). @default tsMs - 200 */
  sourceTsMs?: number;
  file?: string;
  pos?: number;
  row?: number;
  gtid?: string | null;
}

export interface DebeziumOptions {
  /** JSON converter `schemas.enable`. @default true (Kafka's and Debezium Server's default) */
  schemas?: boolean;
  /** @default 'precise' (Debezium's default) */
  decimalHandling?: 'precise' | 'string' | 'double';
  /** @default 'adaptive_time_microseconds' (the MySQL connector's default) */
  timePrecision?: 'adaptive_time_microseconds' | 'connect';
  /** `topic.prefix`, the first part of the schema names. @default 'magento' */
  serverName?: string;
}

let fixture: string | undefined;

/** A table of the Magento fixture (lib/local/magento-fixture.sql), its columns as declared. */
export function magentoTable(table: string, db = 'magento'): MysqlTable {
  fixture ??= readFileSync(new URL('../../lib/local/magento-fixture.sql', import.meta.url), 'utf8');
  const block = new RegExp(`CREATE TABLE ${table} \\(\\n([\\s\\S]*?)\\n\\) ENGINE`).exec(fixture);
  if (!block) throw new Error(`magento-fixture.sql has no table ${table}`);
  const columns = block[1]!
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => !/^(PRIMARY|UNIQUE|KEY|CONSTRAINT)\b/.test(l))
    .map((l) => {
      const m = /^(\w+) (\w+(?:\(\d+(?:,\d+)?\))?(?: unsigned)?)(.*)$/.exec(l);
      if (!m) throw new Error(`cannot read the column definition "${l}" of ${table}`);
      return { name: m[1]!, type: m[2]!, nullable: !/NOT NULL/.test(m[3]!) };
    });
  return { db, table, columns };
}

/**
 * `spec` with temporal fields on Magento's customer (the first entity of the first service):
 * `rpTokenCreatedAt` (`rp_token_created_at`, DATETIME; DATETIME(6) where a test alters it),
 * `firstFailure` (`first_failure`, TIMESTAMP) and `dob` (`dob`, DATE). Magento's own spec maps no
 * temporal column; these exercise each encoding the connector uses for one.
 */
export function withCustomerTemporalFields(spec: MigrationSpec): MigrationSpec {
  const copy = structuredClone(spec);
  copy.services[0]!.entities[0]!.fields.push(
    {
      name: 'rpTokenCreatedAt',
      type: 'timestamp',
      column: 'rp_token_created_at',
      nullable: true,
      pii: false,
    },
    { name: 'firstFailure', type: 'timestamp', column: 'first_failure', nullable: true, pii: false },
    { name: 'dob', type: 'date', column: 'dob', nullable: true, pii: false },
  );
  return copy;
}

/** The change event value (what the SQS body holds, parsed). */
export function debeziumValue(
  table: MysqlTable,
  change: DebeziumChange,
  options: DebeziumOptions = {},
): object {
  const o = {
    schemas: true,
    decimalHandling: 'precise',
    timePrecision: 'adaptive_time_microseconds',
    serverName: 'magento',
    ...options,
  } as Required<DebeziumOptions>;
  const tsMs = change.tsMs ?? Date.now();
  const encodeRow = (row: Row | null | undefined) =>
    row ? Object.fromEntries(table.columns.map((c) => [c.name, encodeColumn(c, row[c.name], o)])) : null;
  const payload = {
    before: encodeRow(change.before),
    after: encodeRow(change.after),
    source: {
      version: DEBEZIUM_VERSION,
      connector: 'mysql',
      name: o.serverName,
      ts_ms: change.sourceTsMs ?? tsMs - 200,
      snapshot: change.op === 'r' ? 'true' : 'false',
      db: table.db,
      sequence: null,
      table: table.table,
      server_id: 223344,
      gtid: change.gtid ?? null,
      file: change.file ?? 'mysql-bin.000003',
      pos: change.pos ?? 154,
      row: change.row ?? 0,
      thread: change.op === 'r' ? null : 7,
      query: null,
    },
    op: change.op,
    ts_ms: tsMs,
    transaction: null,
  };
  if (!o.schemas) return payload;
  const valueSchema = (field: 'before' | 'after') => ({
    type: 'struct',
    fields: table.columns.map((c) => columnSchema(c, o)),
    optional: true,
    name: `${o.serverName}.${table.db}.${table.table}.Value`,
    field,
  });
  return {
    schema: {
      type: 'struct',
      fields: [
        valueSchema('before'),
        valueSchema('after'),
        SOURCE_SCHEMA,
        { type: 'string', optional: false, field: 'op' },
        { type: 'int64', optional: true, field: 'ts_ms' },
        TRANSACTION_SCHEMA,
      ],
      optional: false,
      name: `${o.serverName}.${table.db}.${table.table}.Envelope`,
    },
    payload,
  };
}

/** The SQS body Debezium Server sends for this change. */
export function debeziumBody(table: MysqlTable, change: DebeziumChange, options?: DebeziumOptions): string {
  return JSON.stringify(debeziumValue(table, change, options));
}

const str = (field: string, optional: boolean) => ({ type: 'string', optional, field });
const SOURCE_SCHEMA = {
  type: 'struct',
  fields: [
    str('version', false),
    str('connector', false),
    str('name', false),
    { type: 'int64', optional: false, field: 'ts_ms' },
    {
      type: 'string',
      optional: true,
      name: 'io.debezium.data.Enum',
      version: 1,
      parameters: { allowed: 'true,last,false,incremental' },
      default: 'false',
      field: 'snapshot',
    },
    str('db', false),
    str('sequence', true),
    str('table', true),
    { type: 'int64', optional: false, field: 'server_id' },
    str('gtid', true),
    str('file', false),
    { type: 'int64', optional: false, field: 'pos' },
    { type: 'int32', optional: false, field: 'row' },
    { type: 'int64', optional: true, field: 'thread' },
    str('query', true),
  ],
  optional: false,
  name: 'io.debezium.connector.mysql.Source',
  field: 'source',
};
const TRANSACTION_SCHEMA = {
  type: 'struct',
  fields: [
    str('id', false),
    { type: 'int64', optional: false, field: 'total_order' },
    { type: 'int64', optional: false, field: 'data_collection_order' },
  ],
  optional: true,
  field: 'transaction',
};

interface ParsedType {
  base: string;
  args: number[];
  unsigned: boolean;
}

function parseType(type: string): ParsedType {
  const m = /^(\w+)(?:\((\d+)(?:,(\d+))?\))?( unsigned)?/i.exec(type.trim());
  if (!m) throw new Error(`unknown column type "${type}"`);
  return {
    base: m[1]!.toLowerCase(),
    args: [m[2], m[3]].filter((a) => a !== undefined).map(Number),
    unsigned: !!m[4],
  };
}

/** `decimal(p,s)` → [p, s]; MySQL's defaults are (10, 0). */
function decimalArgs(t: ParsedType): [number, number] {
  return [t.args[0] ?? 10, t.args[1] ?? 0];
}

/** The literal and semantic type per mysql.adoc's "Data type mappings". */
function columnSchema(c: MysqlColumn, o: Required<DebeziumOptions>): object {
  const t = parseType(c.type);
  const plain = (type: string) => ({ type, optional: c.nullable, field: c.name });
  const named = (type: string, name: string, parameters?: Record<string, string>) => ({
    type,
    optional: c.nullable,
    name,
    version: 1,
    ...(parameters ? { parameters } : {}),
    field: c.name,
  });
  const connect = o.timePrecision === 'connect';
  switch (t.base) {
    case 'tinyint':
      return plain('int16');
    case 'smallint':
      return plain(t.unsigned ? 'int32' : 'int16');
    case 'mediumint':
      return plain('int32');
    case 'int':
    case 'integer':
      return plain(t.unsigned ? 'int64' : 'int32');
    case 'bigint':
      return plain('int64'); // bigint.unsigned.handling.mode=long, the default
    case 'float':
    case 'double':
    case 'real':
      return plain('double');
    case 'char':
    case 'varchar':
    case 'text':
    case 'tinytext':
    case 'mediumtext':
    case 'longtext':
      return plain('string');
    case 'decimal':
    case 'numeric': {
      if (o.decimalHandling === 'string') return plain('string');
      if (o.decimalHandling === 'double') return plain('double');
      const [precision, scale] = decimalArgs(t);
      return named('bytes', 'org.apache.kafka.connect.data.Decimal', {
        scale: String(scale),
        'connect.decimal.precision': String(precision),
      });
    }
    case 'date':
      return named('int32', connect ? 'org.apache.kafka.connect.data.Date' : 'io.debezium.time.Date');
    case 'time':
      return connect
        ? named('int32', 'org.apache.kafka.connect.data.Time')
        : named('int64', 'io.debezium.time.MicroTime');
    case 'datetime':
      if (connect) return named('int64', 'org.apache.kafka.connect.data.Timestamp');
      return named(
        'int64',
        (t.args[0] ?? 0) > 3 ? 'io.debezium.time.MicroTimestamp' : 'io.debezium.time.Timestamp',
      );
    case 'timestamp':
      return named('string', 'io.debezium.time.ZonedTimestamp');
    case 'year':
      return named('int32', 'io.debezium.time.Year');
    default:
      throw new Error(`the Debezium builder does not encode ${c.type} (${c.name})`);
  }
}

function encodeColumn(c: MysqlColumn, value: unknown, o: Required<DebeziumOptions>): unknown {
  if (value === null || value === undefined) return null;
  const t = parseType(c.type);
  const connect = o.timePrecision === 'connect';
  switch (t.base) {
    case 'tinyint':
    case 'smallint':
    case 'mediumint':
    case 'int':
    case 'integer':
    case 'bigint':
    case 'year':
      return Number(value);
    case 'float':
    case 'double':
    case 'real':
      return Number(value);
    case 'decimal':
    case 'numeric': {
      const [, scale] = decimalArgs(t);
      const unscaled = unscaledOf(String(value), scale);
      if (o.decimalHandling === 'double') return Number(String(value));
      if (o.decimalHandling === 'string') return plainText(unscaled, scale);
      return twosComplementBase64(unscaled);
    }
    case 'date':
      return Math.floor(Date.parse(`${isoDate(value)}T00:00:00Z`) / 86_400_000);
    case 'time': {
      const micros = timeMicros(String(value));
      return connect ? Math.floor(micros / 1000) : micros;
    }
    case 'datetime': {
      const { ms, micros } = wallClockUtc(value);
      if (connect || (t.args[0] ?? 0) <= 3) return ms;
      return micros;
    }
    case 'timestamp': {
      // ZonedTimestamp in UTC; TIMESTAMP(n>0) with exactly n fraction digits (ZonedTimestamp's
      // fractionalWidth), TIMESTAMP(0) with none.
      const { ms, micros } = wallClockUtc(value);
      const base = new Date(ms).toISOString().slice(0, 19);
      const width = t.args[0] ?? 0;
      if (width === 0) return `${base}Z`;
      const fraction = String(micros - Math.floor(ms / 1000) * 1_000_000).padStart(6, '0');
      return `${base}.${fraction.slice(0, width)}Z`;
    }
    default:
      return String(value);
  }
}

/** Exact unscaled integer of decimal text at `scale` (more digits than the scale is an error). */
function unscaledOf(text: string, scale: number): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a decimal`);
  const fraction = (m[3] ?? '').replace(/0+$/, '');
  if (fraction.length > scale) throw new Error(`"${text}" has more than ${scale} decimal places`);
  const digits = BigInt(m[2]! + fraction.padEnd(scale, '0'));
  return m[1] ? -digits : digits;
}

/** `BigDecimal.toPlainString()` at the column's scale (decimal.handling.mode=string). */
function plainText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const body = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return (negative ? '-' : '') + body;
}

/** `BigInteger.toByteArray()` (minimal big-endian two's complement), base64. */
export function twosComplementBase64(n: bigint): string {
  let bytes = 1;
  while (n < -(1n << BigInt(bytes * 8 - 1)) || n >= 1n << BigInt(bytes * 8 - 1)) bytes++;
  const encoded = n < 0n ? (1n << BigInt(bytes * 8)) + n : n;
  return Buffer.from(encoded.toString(16).padStart(bytes * 2, '0'), 'hex').toString('base64');
}

function isoDate(value: unknown): string {
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  const s = String(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s)) throw new Error(`"${s}" is not a date`);
  return s.slice(0, 10);
}

function timeMicros(text: string): number {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a time of day`);
  return (
    ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1_000_000 + Number((m[4] ?? '').padEnd(6, '0'))
  );
}

/**
 * A DATETIME's wall clock read as UTC (what the connector does), or a TIMESTAMP's instant: a Date
 * (mysql2 with `timezone: 'Z'`), or text `YYYY-MM-DD[ T]HH:MM:SS[.ffffff][Z]` keeping the µs.
 */
function wallClockUtc(value: unknown): { ms: number; micros: number } {
  if (value instanceof Date) return { ms: value.getTime(), micros: value.getTime() * 1000 };
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?Z?$/.exec(String(value));
  if (!m) throw new Error(`"${String(value)}" is not a date and time`);
  const seconds = Date.parse(`${m[1]}T${m[2]}Z`) / 1000;
  const fraction = Number((m[3] ?? '').padEnd(6, '0'));
  return { ms: seconds * 1000 + Math.floor(fraction / 1000), micros: seconds * 1_000_000 + fraction };
}
