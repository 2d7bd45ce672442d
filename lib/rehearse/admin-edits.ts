/**
 * The rehearsal's data and edits, derived from the migration spec: a generated Magento-shaped
 * dataset in the fixture's tables (lib/local/magento-fixture.sql, which follows Magento's
 * db_schema.xml: flat columns, EAV values in `<table>_<backendType>` at store 0, stock keyed by
 * its product), Magento edits as its admin makes them (SQL: a flat column or an EAV value at
 * store 0 set, a second edit of the same row in the same second, a counter moved on two rows in
 * one statement, an order moved to another customer) and the service's writes (the item read, one
 * field changed, its version moved under a condition). The entities of earlier services that
 * these reference (an order's customers) are stood in for: their Magento rows and key maps.
 *
 * Each set value is a token unique in the run (a string, or a decimal at the field's scale), so
 * that its arrival on the other side can be recognised in the event that carried it; a counter's
 * increment carries no token (its value is not unique) and is measured only by the end state.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ScanCommand as DocScanCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { SyncStateStore } from '../../lambdas/domain/ports.js';
import { toFixedScale } from '../../lambdas/domain/values.js';
import { entityByName, fieldPolicy } from '../spec/lookup.js';
import type { EntitySpec, FieldSpec, MigrationSpec, MysqlEntityLegacy } from '../spec/schema.js';

/** An entity the rehearsal cannot generate traffic for, and why. */
export class TrafficEntityError extends Error {
  constructor(
    readonly entity: string,
    readonly reason: string,
  ) {
    super(`${entity}: ${reason}`);
    this.name = 'TrafficEntityError';
  }
}

const ident = (s: string) => {
  if (!/^[A-Za-z0-9_]+$/.test(s)) throw new TrafficEntityError(s, 'not a plain SQL identifier');
  return `\`${s}\``;
};

/**
 * What an edit does to one field: sets it to a token, moves a counter by one, or points a
 * reference at another record of the referenced entity (an order moved to another customer: the
 * side's own key of it, which the sync translates for the other side).
 */
export type EditKind = 'set' | 'increment' | 'reference';

/** One kind of edit a side makes: the entity, the field, how. */
export interface EditSpec {
  readonly entity: EntitySpec;
  readonly field: FieldSpec;
  readonly kind: EditKind;
  /** `<entity>.<field>`, the key of the report's per-edit counts. */
  readonly label: string;
}

/** The edits each side makes to the service's entities, and the entities left out with why. */
export interface TrafficPlan {
  /** The entities with traffic, referenced ones first (a stock row needs its product). */
  readonly entities: readonly EntitySpec[];
  readonly legacy: readonly EditSpec[];
  readonly service: readonly EditSpec[];
  /**
   * Entities of services before this one that the traffic's entities reference (an order's
   * customer): taken as already rolled out, their rows and key maps are stood in for
   * ({@link standInReferenced}), and they get no traffic.
   */
  readonly referenced: readonly EntitySpec[];
  readonly skipped: readonly { entity: string; reason: string }[];
}

/** Unique-looking string fields: an admin does not rewrite them in bulk (a login, a SKU). */
const isIdentifying = (f: FieldSpec) => /email|sku/i.test(f.name);

/**
 * Which edits the rehearsal makes for a service's entities. Magento's admin sets string and
 * decimal fields (flat columns and EAV values) and moves counters (`sum`); the service does the
 * same except for fields under `admin` (a concurrent change would wait for a person, which a
 * rehearsal has not got) and `legacy-wins` (Magento's own data, such as a coupon's rule).
 * An entity whose rows point at an entity of a service before this one in the spec (an order's
 * customer) is rehearsed: that service is taken as rolled out (as lib/rehearse/local-rollout.ts
 * takes its flags), so its rows and key map are stood in for (`referenced`), and each side
 * points its reference fields at other records of it by its own keys (`reference`: the order
 * moved to another customer; the sync translates the key). An entity referencing
 * a later service's entity is left out: nothing would have migrated it yet.
 */
export function trafficPlan(spec: MigrationSpec, service: string): TrafficPlan {
  const svc = spec.services.find((s) => s.name === service);
  if (!svc) throw new TrafficEntityError(service, `migration ${spec.name} has no such service`);
  const skipped: { entity: string; reason: string }[] = [];
  const own = new Set(svc.entities.map((e) => e.name));
  const position = spec.services.indexOf(svc);
  const entities: EntitySpec[] = [];
  const referenced: EntitySpec[] = [];
  for (const e of svc.entities) {
    if (spec.legacy.kind !== 'mysql' || !('table' in e.legacy)) {
      skipped.push({ entity: e.name, reason: 'not a MySQL table' });
      continue;
    }
    const foreign = e.fields.filter((f) => f.references && !own.has(f.references.entity));
    const later = foreign.find(
      (f) => spec.services.indexOf(entityByName(spec, f.references!.entity).service) > position,
    );
    if (later) {
      skipped.push({
        entity: e.name,
        reason: `field ${later.name} references ${later.references!.entity}, an entity of a service rolled out after ${service}`,
      });
      continue;
    }
    const foreignLegacy = foreign.find(
      (f) => !('table' in entityByName(spec, f.references!.entity).entity.legacy),
    );
    if (foreignLegacy) {
      skipped.push({
        entity: e.name,
        reason: `field ${foreignLegacy.name} references ${foreignLegacy.references!.entity}, not a MySQL table`,
      });
      continue;
    }
    for (const f of foreign) {
      const ref = entityByName(spec, f.references!.entity).entity;
      if (!referenced.includes(ref)) referenced.push(ref);
    }
    const keyRef = (e.legacy as MysqlEntityLegacy).keyReferences;
    if (keyRef && !own.has(keyRef)) {
      skipped.push({ entity: e.name, reason: `its key references ${keyRef}, an entity of another service` });
      continue;
    }
    entities.push(e);
  }
  // Referenced entities first: their rows give the referencing ones their keys.
  entities.sort(
    (a, b) =>
      Number((a.legacy as MysqlEntityLegacy).keyReferences !== undefined) -
      Number((b.legacy as MysqlEntityLegacy).keyReferences !== undefined),
  );
  const legacy: EditSpec[] = [];
  const serviceEdits: EditSpec[] = [];
  for (const e of entities) {
    for (const f of e.fields) {
      if (!f.column && !f.eav) continue;
      const policy = fieldPolicy(e, f);
      const kind: EditKind | undefined = f.references
        ? referenced.some((r) => r.name === f.references!.entity)
          ? 'reference'
          : undefined
        : policy === 'sum' && f.type === 'integer'
          ? 'increment'
          : (f.type === 'string' && !isIdentifying(f) && f.nullable !== false) || f.type === 'decimal'
            ? 'set'
            : undefined;
      if (!kind) continue;
      const edit = { entity: e, field: f, kind, label: `${e.name}.${f.name}` };
      legacy.push(edit);
      if (policy !== 'admin' && policy !== 'legacy-wins') serviceEdits.push(edit);
    }
  }
  return { entities, legacy, service: serviceEdits, referenced, skipped };
}

/**
 * A token for edit number `n` of `side` (L, S, G): unique in the run, in the field's type;
 * `second` for the second edit of a same-second pair.
 */
export function editToken(field: FieldSpec, side: string, runId: string, n: number, second = false): string {
  if (field.type === 'decimal') {
    // 100,000 + n: above the generated values (below 1,000), within decimal(12,4).
    return toFixedScale(`${100_000 + n}.${second ? '75' : '5'}`, field.scale ?? 0);
  }
  return `${side}${runId}x${n}${second ? 'b' : ''}`;
}

/** The EAV attribute ids of an entity's type (code -> attribute_id), as the fixture installed them. */
async function attributeIds(db: Pool, entity: EntitySpec): Promise<Map<string, number>> {
  const type = (entity.legacy as MysqlEntityLegacy).eavEntityType;
  if (!type) return new Map();
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT a.attribute_id, a.attribute_code FROM eav_attribute a
       JOIN eav_entity_type t ON t.entity_type_id = a.entity_type_id
      WHERE t.entity_type_code = ?`,
    [type],
  );
  return new Map(rows.map((r) => [String(r['attribute_code']), Number(r['attribute_id'])]));
}

function attributeId(ids: Map<string, number>, entity: EntitySpec, f: FieldSpec): number {
  const id = ids.get(f.eav!.attributeCode);
  if (id === undefined)
    throw new TrafficEntityError(entity.name, `no EAV attribute ${f.eav!.attributeCode} in eav_attribute`);
  return id;
}

/** A generated value of row `j` for a field: strings by name, decimals below 1,000, integers 1, counters 0. */
function generated(entity: EntitySpec, f: FieldSpec, j: number): unknown {
  if (f.type === 'string') return /email/i.test(f.name) ? `${entity.name}${j}@example.com` : `${f.name}-${j}`;
  if (f.type === 'decimal') return toFixedScale(`${(j % 997) + 1}.25`, f.scale ?? 0);
  // Integers: 1 is what the fixture's referenced rows have (website 1, store 1, rule 1) and
  // Magento's enabled status; a counter starts at 0.
  if (f.type === 'integer') return fieldPolicy(entity, f) === 'sum' ? 0 : 1;
  return null;
}

/**
 * Inserts `rows` Magento-shaped rows per entity of the plan: the flat columns (generated, then
 * the entity's insert defaults), `updated_at` an hour back, and each EAV field's value at store
 * 0. An entity whose key references another (stock → product) gets one row per row of it; a
 * field referencing another entity (an order's customer_id) takes that entity's legacy keys in
 * turn (its rows generated first: {@link standInReferenced} for another service's).
 */
export async function generateDataset(
  db: Pool,
  plan: Pick<TrafficPlan, 'entities' | 'referenced'>,
  rows: number,
): Promise<void> {
  for (const entity of plan.entities) {
    const legacy = entity.legacy as MysqlEntityLegacy;
    const defaults = legacy.insertDefaults ?? {};
    const flat = entity.fields.filter((f) => f.column && !(f.column in defaults) && f.column !== legacy.key);
    const eav = entity.fields.filter((f) => f.eav);
    const ref = legacy.keyReferences ? plan.entities.find((e) => e.name === legacy.keyReferences) : undefined;
    const refKeys = ref ? (await legacyKeys(db, ref)).slice(0, rows) : undefined;
    const n = refKeys?.length ?? rows;
    const fieldRefKeys = new Map<string, string[]>();
    for (const f of flat.filter((x) => x.references)) {
      const target = [...plan.entities, ...plan.referenced].find((e) => e.name === f.references!.entity);
      if (!target)
        throw new TrafficEntityError(
          entity.name,
          `field ${f.name} references ${f.references!.entity}, which has no rows here`,
        );
      const keys = await legacyKeys(db, target);
      if (!keys.length)
        throw new TrafficEntityError(entity.name, `field ${f.name}: no ${target.name} rows to reference`);
      fieldRefKeys.set(f.name, keys);
    }
    const cols = [...(refKeys ? [legacy.key] : []), ...flat.map((f) => f.column!), ...Object.keys(defaults)];
    const ts = legacy.updatedAt ? `, ${ident(legacy.updatedAt)}` : '';
    for (let i = 0; i < n; i += 500) {
      const batch: unknown[][] = [];
      for (let j = i; j < Math.min(n, i + 500); j++) {
        batch.push([
          ...(refKeys ? [refKeys[j]] : []),
          ...flat.map((f) => {
            const keys = fieldRefKeys.get(f.name);
            return keys ? keys[j % keys.length] : generated(entity, f, j);
          }),
          ...Object.values(defaults),
        ]);
      }
      await db.query(
        `INSERT INTO ${ident(legacy.table)} (${cols.map(ident).join(', ')}${ts}) VALUES ${batch
          .map(
            (r) => `(${r.map(() => '?').join(', ')}${legacy.updatedAt ? ', NOW() - INTERVAL 1 HOUR' : ''})`,
          )
          .join(', ')}`,
        batch.flat(),
      );
    }
    if (!eav.length) continue;
    const ids = await attributeIds(db, entity);
    const keys = await legacyKeys(db, entity);
    for (const f of eav) {
      const attr = attributeId(ids, entity, f);
      for (let i = 0; i < keys.length; i += 500) {
        const batch = keys
          .slice(i, i + 500)
          .map((k, x) => [attr, 0, k, generated(entity, f, i + x)] as unknown[]);
        await db.query(
          `INSERT INTO ${ident(`${legacy.table}_${f.eav!.backendType}`)} (attribute_id, store_id, entity_id, value) VALUES ${batch
            .map(() => '(?, ?, ?, ?)')
            .join(', ')}`,
          batch.flat(),
        );
      }
    }
  }
}

/**
 * What the migration of the services before this one left behind for the entities the plan
 * references (`plan.referenced`, an order's customer): `rows` Magento rows of each (generated as
 * {@link generateDataset} does) and the key map the sync keeps for them, written through the
 * sync state store's own `mapKeys`. Each record is stood in for as one born in the service and
 * created in Magento by the reverse sync (a service key of its own, Magento's `entity_id` mapped
 * to it), so that a reference means a different key on each side and its translation shows.
 * Returns the service key of each legacy key.
 */
export async function standInReferenced(
  db: Pool,
  state: Pick<SyncStateStore, 'mapKeys'>,
  plan: Pick<TrafficPlan, 'referenced'>,
  rows: number,
): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  for (const entity of plan.referenced) {
    await generateDataset(db, { entities: [entity], referenced: [] }, rows);
    const mapped = new Map<string, string>();
    for (const legacyKey of await legacyKeys(db, entity)) {
      const serviceKey = randomUUID();
      await state.mapKeys(entity, serviceKey, legacyKey);
      mapped.set(legacyKey, serviceKey);
    }
    out.set(entity.name, mapped);
  }
  return out;
}

/** `WHERE` of the entity's rows (its key, and the spec's fixed conditions such as stock_id = 1). */
function rowFilter(legacy: MysqlEntityLegacy): { sql: string; params: unknown[] } {
  const fixed = Object.entries(legacy.where ?? {});
  return {
    sql: fixed.map(([c]) => ` AND ${ident(c)} = ?`).join(''),
    params: fixed.map(([, v]) => v),
  };
}

/** The legacy keys of an entity's rows, in key order. */
export async function legacyKeys(db: Pool, entity: EntitySpec): Promise<string[]> {
  const legacy = entity.legacy as MysqlEntityLegacy;
  const where = rowFilter(legacy);
  const [rows] = await db.query(
    `SELECT ${ident(legacy.key)} AS k FROM ${ident(legacy.table)} WHERE 1 = 1${where.sql} ORDER BY ${ident(legacy.key)}`,
    where.params,
  );
  return (rows as { k: unknown }[]).map((r) => String(r.k));
}

/**
 * A Magento admin's edit in SQL, as the admin's save makes it: a flat column set (`updated_at`
 * moves by its ON UPDATE), an EAV value set at store 0 (`catalog_product_entity_decimal` for a
 * price: the entity's `updated_at` does not move), or a counter moved by one on the rows of
 * `keys` in one statement (`times_used + 1` on two coupons). `twice`: a second edit of the same
 * row in the same second (`tokens` has two values). Returns the token the other side should end
 * with (none for counters, nor for references: the other side holds another key of the record).
 */
export async function legacyEdit(
  db: Pool,
  edit: EditSpec,
  keys: readonly string[],
  tokens: readonly string[],
): Promise<string[]> {
  const legacy = edit.entity.legacy as MysqlEntityLegacy;
  const where = rowFilter(legacy);
  const f = edit.field;
  if (edit.kind === 'increment') {
    await db.query(
      `UPDATE ${ident(legacy.table)} SET ${ident(f.column!)} = ${ident(f.column!)} + 1 WHERE ${ident(legacy.key)} IN (${keys
        .map(() => '?')
        .join(', ')})${where.sql}`,
      [...keys, ...where.params],
    );
    return [];
  }
  const key = keys[0]!;
  let sql: string;
  let params: (value: string) => unknown[];
  if (f.eav) {
    const attr = attributeId(await attributeIds(db, edit.entity), edit.entity, f);
    sql = `UPDATE ${ident(`${legacy.table}_${f.eav.backendType}`)} SET value = ? WHERE entity_id = ? AND attribute_id = ? AND store_id = 0`;
    params = (v) => [v, key, attr];
  } else {
    sql = `UPDATE ${ident(legacy.table)} SET ${ident(f.column!)} = ? WHERE ${ident(legacy.key)} = ?${where.sql}`;
    params = (v) => [v, key, ...where.params];
  }
  for (const token of tokens) await db.query(sql, params(token));
  return edit.kind === 'reference' ? [] : tokens.slice(-1);
}

/** The service keys of an entity's items. */
export async function serviceKeysOf(
  doc: DynamoDBDocumentClient,
  table: string,
  entity: EntitySpec,
): Promise<string[]> {
  const out: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const r = await doc.send(
      new DocScanCommand({
        TableName: table,
        ProjectionExpression: '#k',
        ExpressionAttributeNames: { '#k': entity.target.key },
        ExclusiveStartKey: start,
      }),
    );
    for (const i of r.Items ?? []) out.push(String(i[entity.target.key]));
    start = r.LastEvaluatedKey;
  } while (start);
  return out;
}

/**
 * A write of the new service: the item read, one field set to `token` (or a counter moved by
 * one), its version moved under a condition on the version read. Returns the tokens.
 */
export async function serviceEdit(
  doc: DynamoDBDocumentClient,
  table: string,
  edit: EditSpec,
  key: string,
  token: string,
): Promise<string[]> {
  const { entity, field } = edit;
  const versionAttr = entity.target.versionAttribute;
  const got = await doc.send(
    new GetCommand({ TableName: table, Key: { [entity.target.key]: key }, ConsistentRead: true }),
  );
  const before = got.Item ?? {};
  const version = Number(before[versionAttr] ?? 0);
  const value = edit.kind === 'increment' ? Number(before[field.name] ?? 0) + 1 : token;
  await doc.send(
    new PutCommand({
      TableName: table,
      Item: {
        ...before,
        [entity.target.key]: key,
        [field.name]: value,
        [versionAttr]: version + 1,
        [entity.target.updatedAtAttribute]: new Date().toISOString(),
        _writer: 'service',
      },
      ConditionExpression: got.Item ? '#v = :v' : 'attribute_not_exists(#k)',
      ExpressionAttributeNames: got.Item ? { '#v': versionAttr } : { '#k': entity.target.key },
      ...(got.Item ? { ExpressionAttributeValues: { ':v': version } } : {}),
    }),
  );
  return edit.kind === 'set' ? [token] : [];
}
