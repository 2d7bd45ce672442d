/**
 * Debezium change events → contract events.
 *
 * Accepts the change event value as Debezium's JSON converter writes it: with the schema
 * (`{ schema, payload }`, `schemas.enable=true`, the default) or without it (the bare payload
 * `{ before, after, op: c|u|d|r, ts_ms, source: { table, … } }`). With the schema every column is
 * decoded by its Kafka Connect type (`debezium-values.ts`): precise decimals (the default
 * `decimal.handling.mode`), every temporal type of every `time.precision.mode`; an unknown
 * logical type is rejected with a reason. Without the schema a value that could mean two things
 * (a precise decimal's base64 that looks like a number, a temporal number whose unit only the
 * schema says) is rejected naming the setting to change, never guessed.
 * Changes to Magento EAV value tables (`catalog_product_entity_decimal`, …) become a change of
 * the owning entity carrying only the changed attribute.
 */

import { fieldPolicy } from '../../lib/spec/lookup.js';
import type { EntitySpec, FieldSpec, MigrationSpec, MysqlEntityLegacy } from '../../lib/spec/schema.js';
import { type ConnectSchema, DebeziumValueError, decodeConnectValue } from './debezium-values.js';
import {
  type ChangeEvent,
  ContractChecker,
  ContractError,
  type FieldValue,
  parseChangeEvent,
} from './events.js';
import { normalizeValue, ValueError } from './values.js';

type Row = Record<string, unknown>;

/** A Debezium MySQL change event's value (the envelope; `source` keeps every field it has). */
export interface DebeziumEnvelope {
  readonly before?: Row | null;
  readonly after?: Row | null;
  readonly op: 'c' | 'u' | 'd' | 'r';
  readonly ts_ms: number;
  readonly source: {
    readonly table: string;
    readonly db?: string;
    readonly ts_ms?: number;
    readonly file?: string;
    readonly pos?: number;
    readonly row?: number;
    readonly gtid?: string | null;
    readonly [more: string]: unknown;
  };
}

/** The envelope's fields checked, or the reasons it is not one (`envelope.<path> …`). */
function checkEnvelope(payload: unknown): DebeziumEnvelope {
  const c = new ContractChecker('envelope.');
  const o = c.object('', payload) ?? {};
  const image = (name: 'before' | 'after') => {
    const v = o[name];
    return v === null || v === undefined ? v : c.object(name, v);
  };
  const before = image('before');
  const after = image('after');
  const op = c.oneOf('op', o.op, ['c', 'u', 'd', 'r'] as const);
  const ts = c.number('ts_ms', o.ts_ms, { integer: true, nonnegative: true });
  const source = c.object('source', o.source);
  if (source) {
    c.string('source.table', source.table, { min: 1 });
    c.string('source.db', source.db, { optional: true });
    c.string('source.file', source.file, { optional: true });
    for (const n of ['ts_ms', 'pos', 'row'] as const) c.number(`source.${n}`, source[n], { optional: true });
    if (source.gtid !== null) c.string('source.gtid', source.gtid, { optional: true });
  }
  if (c.reasons.length) throw new ContractError(c.reasons);
  return {
    ...(before !== undefined ? { before } : {}),
    ...(after !== undefined ? { after } : {}),
    op: op!,
    ts_ms: ts!,
    source: source as DebeziumEnvelope['source'],
  };
}

/** Resolves EAV attribute ids to attribute codes (from `eav_attribute`, cached by the adapter). */
export type EavAttributeLookup = (attributeId: number) => string | undefined;

interface TableMapping {
  entity: EntitySpec;
  legacy: MysqlEntityLegacy;
  /** column → field */
  columns: Map<string, FieldSpec>;
}

/** Per-table mapping derived once from the spec. */
export class DebeziumMapping {
  private readonly tables = new Map<string, TableMapping>();
  private readonly eavTables = new Map<
    string,
    { entity: EntitySpec; legacy: MysqlEntityLegacy; byCode: Map<string, FieldSpec> }
  >();

  constructor(
    spec: MigrationSpec,
    private readonly eavLookup: EavAttributeLookup = () => undefined,
  ) {
    if (spec.legacy.kind !== 'mysql') throw new Error('Debezium capture needs a mysql legacy side');
    const prefix = spec.legacy.tablePrefix;
    for (const service of spec.services) {
      for (const entity of service.entities) {
        const legacy = entity.legacy as MysqlEntityLegacy;
        const columns = new Map<string, FieldSpec>();
        for (const f of entity.fields) {
          if (f.column) columns.set(f.column, f);
          if (f.eav) {
            const table = `${prefix}${legacy.table}_${f.eav.backendType}`;
            const t = this.eavTables.get(table) ?? { entity, legacy, byCode: new Map() };
            t.byCode.set(f.eav.attributeCode, f);
            this.eavTables.set(table, t);
          }
        }
        this.tables.set(`${prefix}${legacy.table}`, { entity, legacy, columns });
      }
    }
  }

  table(name: string): TableMapping | undefined {
    return this.tables.get(name);
  }

  eavTable(name: string) {
    return this.eavTables.get(name);
  }

  attributeCode(id: number): string | undefined {
    return this.eavLookup(id);
  }
}

/**
 * What Debezium Server put in an SQS body: a change event value, or a tombstone.
 *
 * With `tombstones.on.delete=true` (Debezium's default) every delete event is followed by a
 * tombstone: the same key with a null value, for Kafka's log compaction. Debezium Server's SQS
 * sink sends a null value as the empty string (`SqsChangeConsumer.recordSent`); the JSON
 * converter writes nothing for it, with or without schemas. It carries no row and no table: the
 * delete event before it already said everything, so it is skipped, not applied and not failed.
 */
export type DebeziumBody = { tombstone: true } | { tombstone: false; value: unknown };

/**
 * Reads an SQS body from Debezium Server.
 * @throws ContractError when the body is neither empty nor JSON
 */
export function readDebeziumBody(body: string): DebeziumBody {
  if (body.trim() === '') return { tombstone: true };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new ContractError(['body is not JSON']);
  }
  const wrapped = value as { schema?: unknown; payload?: unknown } | null;
  if (
    value === null ||
    (isObject(value) && 'payload' in value && wrapped!.payload === null && !wrapped!.schema)
  )
    return { tombstone: true };
  return { tombstone: false, value };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStruct(s: unknown): s is ConnectSchema & { fields: ConnectSchema[] } {
  return (
    isObject(s) &&
    s['type'] === 'struct' &&
    Array.isArray(s['fields']) &&
    s['fields'].every((f) => isObject(f) && typeof f['field'] === 'string' && typeof f['type'] === 'string')
  );
}

const SCHEMAS_SETTING =
  "keep the JSON converter's schemas on (value.converter.schemas.enable=true; Debezium Server: debezium.format.value.schemas.enable=true, the default)";

/** Splits `{ schema, payload }` (schemas on) from a bare payload (schemas off). */
function unwrap(input: unknown): { payload: unknown; columns?: Record<Image, Map<string, ConnectSchema>> } {
  if (!isObject(input) || !('payload' in input) || !('schema' in input)) return { payload: input };
  if (input['schema'] === null) return { payload: input['payload'] };
  const schema = input['schema'];
  if (!isStruct(schema))
    throw new ContractError(['envelope schema must be a Kafka Connect struct with its fields']);
  const columns = {} as Record<Image, Map<string, ConnectSchema>>;
  for (const image of ['before', 'after'] as const) {
    const s = schema.fields.find((f) => f.field === image);
    if (!isStruct(s)) throw new ContractError([`envelope schema has no struct for "${image}"`]);
    columns[image] = new Map(s.fields.map((f) => [f.field!, f]));
  }
  return { payload: input['payload'], columns };
}

type Image = 'before' | 'after';

/** One row image (`before` or `after`), its columns read through their schema. */
class RowImage {
  constructor(
    private readonly image: Image,
    private readonly row: Record<string, unknown>,
    private readonly schema: Map<string, ConnectSchema> | undefined,
  ) {}

  has(column: string): boolean {
    return column in this.row;
  }

  /**
   * The column decoded by its schema; without a schema the raw value, once it is clear that it
   * cannot mean two things for `field`.
   * @throws ContractError naming the column
   */
  get(column: string, field?: FieldSpec): unknown {
    const raw = this.row[column];
    try {
      if (this.schema) {
        const s = this.schema.get(column);
        if (!s) throw new DebeziumValueError('is not described by the envelope schema');
        return decodeConnectValue(s, raw);
      }
      if (field) checkSchemaless(field, raw);
      return raw;
    } catch (e) {
      if (e instanceof DebeziumValueError) throw new ContractError([`${this.path(column)} ${e.message}`]);
      throw e;
    }
  }

  /** The column as `field`'s canonical value. @throws ContractError naming the column */
  value(column: string, field: FieldSpec): FieldValue {
    const decoded = this.get(column, field);
    try {
      return normalizeValue(field, decoded);
    } catch (e) {
      if (e instanceof ValueError) throw new ContractError([`${this.path(column)}: ${e.message}`]);
      throw e;
    }
  }

  path(column: string): string {
    return `envelope.${this.image}.${column}`;
  }
}

/** Plain decimal text as `decimal.handling.mode=string` writes it (`BigDecimal.toPlainString`). */
const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;

/**
 * Without the schema, refuses what only the schema could disambiguate:
 * - a decimal as text that is not a decimal (precise mode's base64), or that is all digits in
 *   whole groups of four (valid base64 too: `"1234"` may be the bytes `d7 6d f8`);
 * - a number for a timestamp or date (milliseconds, microseconds, nanoseconds or days, by the
 *   column type and `time.precision.mode`).
 */
function checkSchemaless(field: FieldSpec, raw: unknown): void {
  if (field.type === 'decimal' && typeof raw === 'string') {
    if (!DECIMAL_TEXT.test(raw))
      throw new DebeziumValueError(
        `is not decimal text ("${raw.length > 40 ? `${raw.slice(0, 40)}…` : raw}"): a precise decimal (decimal.handling.mode=precise, Debezium's default) can only be decoded with its schema; ${SCHEMAS_SETTING}, or set decimal.handling.mode=string`,
      );
    if (/^\d+$/.test(raw) && raw.length % 4 === 0)
      throw new DebeziumValueError(
        `"${raw}" could be a precise decimal's base64 or decimal.handling.mode=string text, which only the schema tells apart; ${SCHEMAS_SETTING}`,
      );
  }
  if ((field.type === 'timestamp' || field.type === 'date') && typeof raw === 'number')
    throw new DebeziumValueError(
      `is a number whose unit (days, milliseconds, microseconds or nanoseconds, by column type and time.precision.mode) only the schema says; ${SCHEMAS_SETTING}`,
    );
}

function matchesWhere(image: RowImage, where: MysqlEntityLegacy['where']): boolean {
  if (!where) return true;
  return Object.entries(where).every(([col, v]) => String(image.get(col)) === String(v));
}

/**
 * Translates one change event value (see {@link readDebeziumBody}: tombstones never get here).
 * Returns `null` for a change this migration does not map (another table, another stock, an
 * unmapped attribute): ignoring it is correct, not an error.
 * @throws ContractError with the reason when the event is malformed or a value cannot be decoded
 */
export function translateDebezium(input: unknown, mapping: DebeziumMapping): ChangeEvent | null {
  const { payload, columns } = unwrap(input);
  const env = checkEnvelope(payload);
  const imageName: Image = env.op === 'd' ? 'before' : 'after';
  const rawRow = env[imageName];
  if (!rawRow) {
    throw new ContractError([
      env.op === 'd'
        ? 'envelope.before is required for a delete'
        : `envelope.after is required for op "${env.op}"`,
    ]);
  }
  const row = new RowImage(imageName, rawRow, columns?.[imageName]);
  const before = env.before ? new RowImage('before', env.before, columns?.before) : undefined;
  const changedAtMs = env.source.ts_ms && env.source.ts_ms > 0 ? env.source.ts_ms : env.ts_ms;
  const position = [
    env.source.file ?? '',
    env.source.pos ?? '',
    env.source.row ?? 0,
    env.source.gtid ?? '',
  ].join(':');
  const sequence = env.ts_ms;

  const direct = mapping.table(env.source.table);
  if (direct) {
    if (!matchesWhere(row, direct.legacy.where)) return null;
    const keyRaw = row.get(direct.legacy.key);
    if (keyRaw === undefined || keyRaw === null) {
      throw new ContractError([`${row.path(direct.legacy.key)} (the key) is missing`]);
    }
    const data: Record<string, unknown> = {};
    const deltas: Record<string, number> = {};
    if (env.op !== 'd') {
      for (const [column, field] of direct.columns) {
        if (!row.has(column)) continue;
        if (env.op === 'u' && fieldPolicy(direct.entity, field) === 'sum') {
          // Counters travel as deltas: an absolute value would overwrite the other side's increments.
          const delta = Number(row.get(column, field)) - Number(before?.get(column, field));
          if (!Number.isFinite(delta))
            throw new ContractError([`envelope.before.${column} is needed to compute the counter delta`]);
          if (delta !== 0) deltas[field.name] = delta;
          continue;
        }
        // Only what changed: an unchanged column is no assertion about the value.
        if (env.op === 'u' && before?.has(column) && before.get(column, field) === row.get(column, field))
          continue;
        data[field.name] = row.value(column, field);
      }
      if (env.op === 'u' && Object.keys(data).length === 0 && Object.keys(deltas).length === 0) return null;
    }
    return build(
      direct.entity,
      String(keyRaw),
      env.op,
      changedAtMs,
      sequence,
      data,
      `dbz:${env.source.table}:${keyRaw}:${position}:${env.ts_ms}`,
      Object.keys(deltas).length ? deltas : undefined,
    );
  }

  const eav = mapping.eavTable(env.source.table);
  if (eav) {
    const attributeId = Number(row.get('attribute_id'));
    const storeId = Number(row.get('store_id') ?? 0);
    if (storeId !== 0) return null; // store-view overrides are not synced; store 0 is the default scope
    const code = mapping.attributeCode(attributeId);
    const field = code ? eav.byCode.get(code) : undefined;
    if (!field) return null;
    const keyRaw = row.get('entity_id');
    if (keyRaw === undefined || keyRaw === null)
      throw new ContractError([`${row.path('entity_id')} is missing`]);
    const value = env.op === 'd' ? null : row.value('value', field);
    return build(
      eav.entity,
      String(keyRaw),
      'u',
      changedAtMs,
      sequence,
      { [field.name]: value },
      `dbz:${env.source.table}:${keyRaw}:${attributeId}:${position}:${env.ts_ms}`,
    );
  }
  return null;
}

function build(
  entity: EntitySpec,
  key: string,
  op: DebeziumEnvelope['op'],
  changedAtMs: number,
  sequence: number,
  data: Record<string, unknown>,
  eventId: string,
  deltas?: Record<string, number>,
): ChangeEvent {
  return parseChangeEvent({
    schemaVersion: 1,
    eventId,
    entity: entity.name,
    key,
    op: op === 'd' ? 'delete' : 'upsert',
    changedAt: new Date(changedAtMs).toISOString(),
    origin: 'legacy',
    data,
    ...(deltas ? { deltas } : {}),
    sequence,
  });
}
