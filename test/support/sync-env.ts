/**
 * Per-test-file environment of the sync integration tests: its own Magento database and its own
 * DynamoDB tables (so files run in parallel), the handlers' env vars, an in-memory publisher, and
 * helpers that deliver events to the handlers the way SQS and the EventBridge Pipe would.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import mysql, { type Pool } from 'mysql2/promise';
import { inject } from 'vitest';
import { documentClient } from '../../lambdas/adapters/dynamodb-service.js';
import { EnvelopeCipher, LocalDataKeys } from '../../lambdas/adapters/field-cipher.js';
import { createMysqlPool, MysqlLegacyStore } from '../../lambdas/adapters/mysql-legacy.js';
import type { ChangeEvent } from '../../lambdas/domain/events.js';
import { legacyDetailType, toBusEntry } from '../../lambdas/domain/events.js';
import type { BusEvent, FieldCipher } from '../../lambdas/domain/ports.js';
import { closeRuntime, configureRuntime } from '../../lambdas/handlers/runtime.js';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import magento from '../../migrations/magento.js';
import menu from '../../migrations/menu.js';
import { createMagentoDatabase, createServiceTables, type ServiceTableNames } from './databases.js';
import { InMemoryPublisher } from './in-memory-publisher.js';

import { fakeContext, invokeSqs, sqsEvent } from './sqs.js';

export { busEnvelope, fakeContext, invokeSqs, sqsEvent } from './sqs.js';

export interface SyncEnv {
  readonly spec: MigrationSpec;
  readonly mysqlUrl: string;
  /** A pool on this file's Magento database, for the test's own reads and "direct" writes. */
  readonly db: Pool;
  readonly dynamo: DynamoDBDocumentClient;
  readonly tables: ServiceTableNames;
  readonly publisher: InMemoryPublisher;
  /** The legacy store adapter on this file's database (to read rows as the poller does). */
  readonly legacy: MysqlLegacyStore;
  close(): Promise<void>;
}

/**
 * The field cipher of the sync tests: envelope encryption (lambdas/adapters/field-cipher.ts)
 * under a key held in memory. One per process, so a test that reconfigures the runtime
 * (`configureRuntime({ ..., cipher: TEST_CIPHER })`) still opens what was sealed before.
 */
export const TEST_CIPHER = new EnvelopeCipher(new LocalDataKeys());

/**
 * Sets the handlers' environment for a test file: its migration, stage, tables and DynamoDB
 * endpoint (the bus is never reached: events go to an in-memory publisher), plus `extra`
 * (the legacy side's variables).
 */
export function setServiceRuntimeEnv(
  migration: string,
  stage: string,
  tables: ServiceTableNames,
  dynamoEndpoint: string,
  extra: Readonly<Record<string, string>>,
): void {
  Object.assign(process.env, {
    [RUNTIME_ENV.migration]: migration,
    [RUNTIME_ENV.stage]: stage,
    [RUNTIME_ENV.syncTable]: tables.syncTable,
    [RUNTIME_ENV.conflictsTable]: tables.conflictsTable,
    [RUNTIME_ENV.serviceTables]: JSON.stringify(tables.serviceTables),
    [RUNTIME_ENV.dynamoEndpoint]: dynamoEndpoint,
    [RUNTIME_ENV.busName]: 'unused-in-tests',
    ...extra,
  });
}

/**
 * The menu migration's handlers wired as on AWS against a loopback legacy API (`legacyBaseUrl`,
 * with its `token`; no secret): its service tables created on DynamoDB Local for `stage`.
 */
export async function setupMenuEnv(
  stage: string,
  legacyBaseUrl: string,
  token: string,
): Promise<ServiceTableNames> {
  const endpoint = inject('dynamoEndpoint');
  const tables = await createServiceTables(endpoint, menu, stage);
  setServiceRuntimeEnv('menu', stage, tables, endpoint, {
    [RUNTIME_ENV.legacyEndpoint]: legacyBaseUrl,
    [RUNTIME_ENV.legacyToken]: token,
  });
  delete process.env[RUNTIME_ENV.legacySecretArn];
  return tables;
}

export async function setupSyncEnv(
  name: string,
  options: { mysqlUrl?: string; now?: () => number; spec?: MigrationSpec; cipher?: FieldCipher } = {},
): Promise<SyncEnv> {
  const spec = options.spec ?? magento;
  const server = options.mysqlUrl ?? inject('mysqlUrl');
  const endpoint = inject('dynamoEndpoint');
  const mysqlUrl = await createMagentoDatabase(server, `cutover_${name.replace(/-/g, '_')}`);
  const tables = await createServiceTables(endpoint, spec, `t-${name}`);
  setServiceRuntimeEnv(spec.name, `t-${name}`, tables, endpoint, { [RUNTIME_ENV.mysqlUrl]: mysqlUrl });
  const publisher = new InMemoryPublisher();
  await configureRuntime({
    publisher,
    // KMS is not reachable here: the same envelope encryption under a key held in memory.
    cipher: options.cipher ?? TEST_CIPHER,
    ...(options.now ? { now: options.now } : {}),
    ...(options.spec ? { spec } : {}),
  });
  const db = mysql.createPool({ uri: mysqlUrl, timezone: 'Z', connectionLimit: 4, decimalNumbers: false });
  db.pool.on('connection', (c) => {
    c.query("SET time_zone = '+00:00'");
  });
  const dynamo = documentClient({ endpoint });
  const legacy = new MysqlLegacyStore({ pool: createMysqlPool({ uri: mysqlUrl, connectionLimit: 4 }) });
  return {
    spec,
    mysqlUrl,
    db,
    dynamo,
    tables,
    publisher,
    legacy,
    async close() {
      await closeRuntime();
      await legacy.end();
      await db.end();
      dynamo.destroy();
    },
  };
}

/** A contract event with defaults. */
export function changeEvent(
  e: Partial<ChangeEvent> & Pick<ChangeEvent, 'entity' | 'key' | 'origin'>,
): ChangeEvent {
  return {
    schemaVersion: 1,
    eventId: `${e.origin}:${e.entity}:${e.key}:${randomUUID()}`,
    op: 'upsert',
    changedAt: new Date().toISOString(),
    data: {},
    ...e,
  };
}

export function legacyEntry(e: ChangeEvent): BusEvent {
  return toBusEntry(e, legacyDetailType(e.entity));
}

export async function getItem(
  env: SyncEnv,
  entity: string,
  key: string,
): Promise<Record<string, unknown> | undefined> {
  const def = env.spec.services.flatMap((s) => s.entities).find((x) => x.name === entity)!;
  const res = await env.dynamo.send(
    new GetCommand({
      TableName: env.tables.serviceTables[entity]!,
      Key: { [def.target.key]: key },
      ConsistentRead: true,
    }),
  );
  return res.Item;
}

/** Writes an item as the service itself would (its own change: version + 1, updatedAt now). */
export async function serviceWrite(
  env: SyncEnv,
  entity: string,
  key: string,
  data: Record<string, unknown>,
  at = new Date(),
): Promise<{ before?: Record<string, unknown>; after: Record<string, unknown> }> {
  const def = env.spec.services.flatMap((s) => s.entities).find((x) => x.name === entity)!;
  const before = await getItem(env, entity, key);
  const after: Record<string, unknown> = {
    ...(before ?? {}),
    ...data,
    [def.target.key]: key,
    version: Number(before?.['version'] ?? 0) + 1,
    updatedAt: at.toISOString(),
    _writer: 'service',
  };
  await env.dynamo.send(new PutCommand({ TableName: env.tables.serviceTables[entity]!, Item: after }));
  return { ...(before ? { before } : {}), after };
}

/** Marshals a plain item to DynamoDB JSON (as a stream record carries it). */
export function marshall(item: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const av = (v: unknown): Record<string, unknown> => {
    if (v === null || v === undefined) return { NULL: true };
    if (typeof v === 'string') return { S: v };
    if (typeof v === 'number') return { N: String(v) };
    if (typeof v === 'boolean') return { BOOL: v };
    if (Array.isArray(v)) return { L: v.map(av) };
    if (typeof v === 'object') return { M: marshall(v as Record<string, unknown>) };
    throw new Error(`cannot marshall ${typeof v}`);
  };
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, av(v)]));
}

let streamSequence = 100_000_000_000_000_000_000n;

/**
 * The stream record DynamoDB emits for a write (NEW_AND_OLD_IMAGES), in the shape an EventBridge
 * Pipe hands its enrichment (test/contracts/dynamodb-streams/, checked by
 * test/unit/contracts-dynamodb-streams.test.ts).
 */
export function streamRecord(
  env: Pick<SyncEnv, 'spec' | 'tables'>,
  entity: string,
  change: { before?: Record<string, unknown>; after?: Record<string, unknown> },
) {
  const def = env.spec.services.flatMap((s) => s.entities).find((x) => x.name === entity)!;
  const img = change.after ?? change.before!;
  const images = {
    ...(change.after ? { NewImage: marshall(change.after) } : {}),
    ...(change.before ? { OldImage: marshall(change.before) } : {}),
  };
  streamSequence += 1n;
  return {
    eventID: randomUUID().replace(/-/g, ''),
    eventName: !change.before ? 'INSERT' : !change.after ? 'REMOVE' : 'MODIFY',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: marshall({ [def.target.key]: img[def.target.key] }),
      ...images,
      SequenceNumber: String(streamSequence),
      SizeBytes: JSON.stringify(images).length,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${env.tables.serviceTables[entity]}/stream/2026-01-01T00:00:00.000`,
  };
}

/** The magento spec with the poller reading every closed second (no extra overlap). */
export function magentoForPolling(): MigrationSpec {
  return { ...magento, sync: { ...magento.sync, pollerOverlapSeconds: 0 } };
}

/** Sleeps until just after the next wall-clock second (Magento timestamps are whole seconds). */
export async function nextSecond(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1050 - (Date.now() % 1000)));
}

/** Bus entries of captured service events (what the pipe puts on the bus). */
export function capturedEntries(
  captured: readonly { 'detail-type': string; source: string; detail: unknown }[],
): BusEvent[] {
  return captured.map((c) => ({
    Source: c.source,
    DetailType: c['detail-type'],
    Detail: JSON.stringify(c.detail),
  }));
}

/** Routes published contract events as the bus rules do: legacy -> forward, service -> reverse. */
export function splitByOrigin(entries: readonly BusEvent[]): { forward: BusEvent[]; reverse: BusEvent[] } {
  return {
    forward: entries.filter((e) => e.Source === 'cutover.legacy'),
    reverse: entries.filter((e) => e.Source === 'cutover.service'),
  };
}

export function entitySpec(env: SyncEnv, entity: string) {
  return env.spec.services.flatMap((s) => s.entities).find((x) => x.name === entity)!;
}

/**
 * The legacy change event the poller would publish for a row as it is now (all mapped fields
 * but counters; changedAt = its updated_at, or now for tables without one).
 */
export async function legacyEvent(
  env: SyncEnv,
  entity: string,
  key: string,
  options: { sequence?: number; withCounters?: boolean } = {},
): Promise<BusEvent> {
  const e = entitySpec(env, entity);
  const rec = await env.legacy.read(e, key);
  if (!rec.exists) throw new Error(`no legacy ${entity} ${key}`);
  const data: Record<string, import('../../lambdas/domain/events.js').FieldValue> = {};
  for (const f of e.fields) {
    if (options.withCounters || (f.policy ?? e.policy) !== 'sum') data[f.name] = rec.data[f.name] ?? null;
  }
  return legacyEntry(
    changeEvent({
      entity,
      key,
      origin: 'legacy',
      data,
      changedAt: new Date(rec.changedAt ?? Date.now()).toISOString(),
      sequence: options.sequence ?? Date.now(),
    }),
  );
}

/** A service-side change as the pipe delivers it: write the item, capture the stream record. */
export async function serviceChange(
  env: SyncEnv,
  entity: string,
  key: string,
  data: Record<string, unknown>,
  at = new Date(),
): Promise<BusEvent[]> {
  const change = await serviceWrite(env, entity, key, data, at);
  const { captureBatch } = await import('../../lambdas/handlers/service-capture.js');
  return capturedEntries(await captureBatch([streamRecord(env, entity, change)]));
}

/** Creates the service record from the legacy row through the forward sync (a backfill). */
export async function seedFromLegacy(env: SyncEnv, entity: string, key: string): Promise<void> {
  const { handler } = await import('../../lambdas/handlers/forward-sync.js');
  const res = await invokeSqs(
    handler,
    sqsEvent([await legacyEvent(env, entity, key, { withCounters: true })]),
  );
  if (res.failedIndexes.length) throw new Error(`seeding ${entity} ${key} failed`);
  env.publisher.take();
}

/**
 * A Magento customer (last changed a minute ago, a unique email) brought over to the service by
 * the forward sync, as after the backfill; returns its entity_id.
 */
export async function seededCustomer(env: SyncEnv, firstName: string): Promise<string> {
  const id = await insertLegacyCustomer(env, firstName, 'Initial');
  await seedFromLegacy(env, 'customer', id);
  return id;
}

/** A Magento customer last changed a minute ago, with a unique email; returns its entity_id. */
export async function insertLegacyCustomer(
  env: SyncEnv,
  firstName: string,
  lastName: string,
): Promise<string> {
  const [r] = await env.db.query<import('mysql2').ResultSetHeader>(
    `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, is_active, updated_at)
     VALUES (1, ?, 1, 1, ?, ?, 1, NOW() - INTERVAL 60 SECOND)`,
    [`${firstName.toLowerCase()}.${Math.random().toString(36).slice(2, 8)}@example.com`, firstName, lastName],
  );
  return String(r.insertId);
}

export async function pollNow(entities: string[]): Promise<void> {
  const { handler } = await import('../../lambdas/handlers/legacy-poller.js');
  const res = (await (
    handler as unknown as (
      e: unknown,
      c: unknown,
    ) => Promise<{ entities: Record<string, { error?: string }> }>
  )({ entities }, fakeContext)) as { entities: Record<string, { error?: string }> };
  for (const [name, r] of Object.entries(res.entities))
    if (r.error) throw new Error(`poll ${name}: ${r.error}`);
}
