/**
 * Debezium change envelopes → contract events.
 *
 * Accepts the envelope as Debezium's JSON converter writes it, with or without the
 * `{ schema, payload }` wrapper: `{ before, after, op: c|u|d|r, ts_ms, source: { table, … } }`.
 * Decimals must be emitted as strings or numbers (`decimal.handling.mode=string`), not bytes.
 * Changes to Magento EAV value tables (`catalog_product_entity_decimal`, …) become a change of
 * the owning entity carrying only the changed attribute.
 */
import { z } from 'zod';
import {
  type EntitySpec,
  type FieldSpec,
  fieldPolicy,
  type MigrationSpec,
  type MysqlEntityLegacy,
} from '../../lib/spec/schema.js';
import { type ChangeEvent, ContractError, parseChangeEvent } from './events.js';
import { normalizeValue, ValueError } from './values.js';

const RowSchema = z.record(z.string(), z.unknown());

export const DebeziumEnvelopeSchema = z.object({
  before: RowSchema.nullable().optional(),
  after: RowSchema.nullable().optional(),
  op: z.enum(['c', 'u', 'd', 'r'], { message: 'must be one of c, u, d, r' }),
  ts_ms: z.number().int().nonnegative(),
  source: z
    .object({
      table: z.string().min(1),
      db: z.string().optional(),
      ts_ms: z.number().optional(),
      file: z.string().optional(),
      pos: z.number().optional(),
      row: z.number().optional(),
      gtid: z.string().nullable().optional(),
    })
    .passthrough(),
});
export type DebeziumEnvelope = z.infer<typeof DebeziumEnvelopeSchema>;

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

function unwrap(input: unknown): unknown {
  if (input && typeof input === 'object' && 'payload' in input && 'schema' in input) {
    return (input as { payload: unknown }).payload;
  }
  return input;
}

function matchesWhere(row: Record<string, unknown>, where: MysqlEntityLegacy['where']): boolean {
  if (!where) return true;
  return Object.entries(where).every(([col, v]) => String(row[col]) === String(v));
}

/**
 * Translates one envelope. Returns `null` for a change this migration does not map (another
 * table, another stock, an unmapped attribute): ignoring it is correct, not an error.
 * @throws ContractError with the reason when the envelope is malformed
 */
export function translateDebezium(input: unknown, mapping: DebeziumMapping): ChangeEvent | null {
  const parsed = DebeziumEnvelopeSchema.safeParse(unwrap(input));
  if (!parsed.success) {
    throw new ContractError(
      parsed.error.issues.map((i) => `envelope.${i.path.map(String).join('.') || '(root)'} ${i.message}`),
    );
  }
  const env = parsed.data;
  const row = env.op === 'd' ? env.before : env.after;
  if (!row) {
    throw new ContractError([
      env.op === 'd'
        ? 'envelope.before is required for a delete'
        : `envelope.after is required for op "${env.op}"`,
    ]);
  }
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
    const keyRaw = row[direct.legacy.key];
    if (keyRaw === undefined || keyRaw === null) {
      throw new ContractError([
        `envelope.${env.op === 'd' ? 'before' : 'after'}.${direct.legacy.key} (the key) is missing`,
      ]);
    }
    const data: Record<string, unknown> = {};
    const deltas: Record<string, number> = {};
    if (env.op !== 'd') {
      for (const [column, field] of direct.columns) {
        if (!(column in row)) continue;
        if (env.op === 'u' && fieldPolicy(direct.entity, field) === 'sum') {
          // Counters travel as deltas: an absolute value would overwrite the other side's increments.
          const delta = Number(row[column]) - Number(env.before?.[column]);
          if (!Number.isFinite(delta))
            throw new ContractError([`envelope.before.${column} is needed to compute the counter delta`]);
          if (delta !== 0) deltas[field.name] = delta;
          continue;
        }
        // Only what changed: an unchanged column is no assertion about the value.
        if (env.op === 'u' && env.before && column in env.before && env.before[column] === row[column])
          continue;
        data[field.name] = normalize(field, row[column], column);
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
    const attributeId = Number(row['attribute_id']);
    const storeId = Number(row['store_id'] ?? 0);
    if (storeId !== 0) return null; // store-view overrides are not synced; store 0 is the default scope
    const code = mapping.attributeCode(attributeId);
    const field = code ? eav.byCode.get(code) : undefined;
    if (!field) return null;
    const keyRaw = row['entity_id'];
    if (keyRaw === undefined || keyRaw === null)
      throw new ContractError(['envelope.after.entity_id is missing']);
    const value = env.op === 'd' ? null : normalize(field, row['value'], 'value');
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

function normalize(field: FieldSpec, raw: unknown, column: string) {
  try {
    return normalizeValue(field, raw);
  } catch (e) {
    if (e instanceof ValueError) throw new ContractError([`envelope.after.${column}: ${e.message}`]);
    throw e;
  }
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
