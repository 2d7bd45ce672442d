/**
 * The service side on DynamoDB: one table per entity (lib/spec/tables.ts), items keyed by
 * `target.key`, with a version attribute for optimistic locking and an `updatedAt` attribute
 * that only the service's own changes move.
 *
 * Every sync write is one TransactWriteItems: the item (conditional on the version read; it
 * sets `_writer = 'cutover-sync'` and `_syncedVersion = <new version>` so change capture
 * recognises it), the record's sync state (conditional on its revision) and, for counter deltas,
 * the `applied#<eventId>` marker (attribute_not_exists: exactly once).
 *
 * Decimals are stored as canonical strings ('19.990000'): a DynamoDB number read back into a JS
 * number would lose digits of a decimal(20,6). Counters (`sum` fields) are numbers, so ADD works.
 */
import { type AttributeValue, DynamoDBClient, ScanCommand as RawScanCommand } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { fieldPolicy } from '../../lib/spec/lookup.js';
import type { EntitySpec, FieldSpec } from '../../lib/spec/schema.js';
import { SYNC_WRITER_ATTRIBUTE, SYNC_WRITER_VALUE, SYNCED_VERSION_ATTRIBUTE } from '../../lib/spec/tables.js';
import { canonicalText, FIELD_SEPARATOR, NULL_MARK } from '../domain/checksum.js';
import type { FieldValue } from '../domain/events.js';
import type { PersonalDataSealer } from '../domain/personal-data.js';
import type {
  ForwardSyncRead,
  Row,
  ScannedRow,
  ServiceStore,
  ServiceWrite,
  StoredRecord,
  WriteOutcome,
} from '../domain/ports.js';
import { normalizeValue } from '../domain/values.js';
import { batchGet, pointReads } from './dynamodb-reads.js';
import {
  legacyMapKey,
  openStoredState,
  sealStateWrite,
  stateItem,
  stateKey,
  storedStateOf,
} from './dynamodb-sync-state.js';
import { type AttributeValueJson, numberOf, UNMARSHALL_OPTIONS, unmarshallItem } from './dynamodb-values.js';

/** Applied-delta markers expire after this many days (redeliveries stop long before). */
export const APPLIED_TTL_DAYS = 7;

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type Item = Record<string, unknown>;

/** A document client; `endpoint` for DynamoDB Local (then fixed local credentials). */
export function documentClient(options: { endpoint?: string; region?: string } = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint
      ? {
          endpoint: options.endpoint,
          region: options.region ?? 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }
      : {}),
    maxAttempts: 4,
  });
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    // Numbers as the stream and the scan read them: exact, or their decimal string.
    unmarshallOptions: UNMARSHALL_OPTIONS,
  });
}

export interface DynamoServiceStoreOptions {
  readonly client: DynamoDBDocumentClient;
  /** entity name -> physical table name */
  readonly tables: Readonly<Record<string, string>>;
  readonly syncTable: string;
  readonly now?: () => number;
  /** Seals the personal fields of the sync state written with each item, opens them on read. */
  readonly sealer?: PersonalDataSealer;
}

const readable = new WeakMap<EntitySpec, readonly FieldSpec[]>();
/** The entity's fields as read back (any may be null), built once per entity (scans read many items). */
function readableFields(entity: EntitySpec): readonly FieldSpec[] {
  let fields = readable.get(entity);
  if (!fields) {
    fields = entity.fields.map((f) => ({ ...f, nullable: true }));
    readable.set(entity, fields);
  }
  return fields;
}

/** Attribute value -> canonical value (tolerant: a value the service wrote in another form). */
export function fromItem(entity: EntitySpec, item: Item | undefined, key: string): StoredRecord {
  if (!item) return { key, exists: false, data: {} };
  const data: Row = {};
  for (const f of readableFields(entity)) {
    if (!(f.name in item)) continue;
    try {
      data[f.name] = normalizeValue(f, item[f.name]);
    } catch {
      data[f.name] = item[f.name] as FieldValue;
    }
  }
  const at = item[entity.target.updatedAtAttribute];
  const version = item[entity.target.versionAttribute];
  return {
    key,
    exists: true,
    data,
    ...(typeof at === 'string' && !Number.isNaN(Date.parse(at)) ? { changedAt: Date.parse(at) } : {}),
    ...(typeof version === 'number' ? { version } : {}),
  };
}

export class DynamoServiceStore implements ServiceStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly now: () => number;

  constructor(private readonly options: DynamoServiceStoreOptions) {
    this.client = options.client;
    this.now = options.now ?? Date.now;
  }

  tableOf(entity: EntitySpec): string {
    const t = this.options.tables[entity.name];
    if (!t) throw new Error(`no service table configured for entity ${entity.name}`);
    return t;
  }

  private keyValue(entity: EntitySpec, key: string): string | number {
    return entity.target.keyType === 'number' ? Number(key) : key;
  }

  async read(entity: EntitySpec, key: string): Promise<StoredRecord> {
    const item = await pointReads(this.client).get(this.tableOf(entity), {
      [entity.target.key]: this.keyValue(entity, key),
    });
    return fromItem(entity, item, key);
  }

  async deltasApplied(_entity: EntitySpec, eventId: string): Promise<boolean> {
    return (
      (await pointReads(this.client).get(this.options.syncTable, { pk: `applied#${eventId}` })) !== undefined
    );
  }

  /** The item, its sync state, key map and applied marker: consistent reads in one BatchGetItem. */
  async readForSync(
    entity: EntitySpec,
    key: string,
    options: { legacyKey: string; eventId?: string },
  ): Promise<ForwardSyncRead> {
    const table = this.tableOf(entity);
    const sync = this.options.syncTable;
    const statePk = stateKey(entity, key);
    const mapPk = legacyMapKey(entity, options.legacyKey);
    const appliedPk = options.eventId === undefined ? undefined : `applied#${options.eventId}`;
    const keyName = entity.target.key;
    // Point reads: one BatchGetItem with the other records' reads of this turn (dynamodb-reads.ts).
    const reads = pointReads(this.client);
    const [item, state, map, applied] = await Promise.all([
      reads.get(table, { [keyName]: this.keyValue(entity, key) }),
      reads.get(sync, { pk: statePk }),
      reads.get(sync, { pk: mapPk }),
      appliedPk === undefined ? undefined : reads.get(sync, { pk: appliedPk }),
    ]);
    return {
      record: fromItem(entity, item, key),
      stored: await openStoredState(this.options.sealer, entity, key, storedStateOf(state)),
      mappedServiceKey: map ? String(map['serviceKey']) : undefined,
      applied: applied !== undefined,
    };
  }

  /** The TransactWriteItems entries of one sync write (exposed for the batched path). */
  async transactItems(entity: EntitySpec, key: string, w: ServiceWrite): Promise<TransactItem[]> {
    const table = this.tableOf(entity);
    const t = entity.target;
    const items: TransactItem[] = [];
    const keyAttr = { [t.key]: this.keyValue(entity, key) };
    const counters = new Set(
      entity.fields.filter((f) => fieldPolicy(entity, f) === 'sum').map((f) => f.name),
    );
    if (w.create) {
      const newVersion = 1;
      const item: Item = { ...keyAttr };
      for (const [name, v] of Object.entries(w.patch)) item[name] = v;
      for (const [name, d] of Object.entries(w.deltas)) {
        const base = typeof item[name] === 'number' ? (item[name] as number) : 0;
        item[name] = base + d;
      }
      for (const c of counters) if (item[c] === undefined || item[c] === null) item[c] = 0;
      item[t.versionAttribute] = newVersion;
      item[t.updatedAtAttribute] = w.changedAt;
      item[SYNC_WRITER_ATTRIBUTE] = SYNC_WRITER_VALUE;
      item[SYNCED_VERSION_ATTRIBUTE] = newVersion;
      items.push({
        Put: {
          TableName: table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#k)',
          ExpressionAttributeNames: { '#k': t.key },
        },
      });
    } else if (w.delete) {
      items.push({
        Delete: {
          TableName: table,
          Key: keyAttr,
          ...versionCondition(t.versionAttribute, w.expected.version),
        },
      });
    } else {
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = {};
      const sets: string[] = [];
      const adds: string[] = [];
      let i = 0;
      for (const [name, v] of Object.entries(w.patch)) {
        names[`#f${i}`] = name;
        values[`:f${i}`] = v;
        sets.push(`#f${i} = :f${i}`);
        i++;
      }
      for (const [name, d] of Object.entries(w.deltas)) {
        names[`#f${i}`] = name;
        values[`:f${i}`] = d;
        adds.push(`#f${i} :f${i}`);
        i++;
      }
      const newVersion = (w.expected.version ?? 0) + 1;
      names['#ver'] = t.versionAttribute;
      names['#w'] = SYNC_WRITER_ATTRIBUTE;
      names['#sv'] = SYNCED_VERSION_ATTRIBUTE;
      values[':nv'] = newVersion;
      values[':w'] = SYNC_WRITER_VALUE;
      sets.push('#ver = :nv', '#w = :w', '#sv = :nv');
      const cond = versionCondition(t.versionAttribute, w.expected.version);
      items.push({
        Update: {
          TableName: table,
          Key: keyAttr,
          UpdateExpression: `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
          ConditionExpression: cond.ConditionExpression,
          ExpressionAttributeNames: { ...names, ...cond.ExpressionAttributeNames },
          ExpressionAttributeValues: { ...values, ...(cond.ExpressionAttributeValues ?? {}) },
        },
      });
    }
    const state = await sealStateWrite(this.options.sealer, entity, key, w.state);
    items.push({ Put: stateItem(this.options.syncTable, stateKey(entity, key), state) });
    if (Object.keys(w.deltas).length > 0) {
      items.push({
        Put: {
          TableName: this.options.syncTable,
          Item: {
            pk: `applied#${w.eventId}`,
            entity: entity.name,
            key,
            expiresAt: Math.floor(this.now() / 1000) + APPLIED_TTL_DAYS * 86400,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
    }
    return items;
  }

  async write(entity: EntitySpec, key: string, w: ServiceWrite): Promise<WriteOutcome> {
    const items = await this.transactItems(entity, key, w);
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
      return 'written';
    } catch (e) {
      return classifyTransactionError(e, Object.keys(w.deltas).length > 0 ? items.length - 1 : -1);
    }
  }

  async readMany(entity: EntitySpec, keys: readonly string[]): Promise<Map<string, StoredRecord>> {
    const table = this.tableOf(entity);
    const items = await batchGet(
      this.client,
      table,
      keys.map((k) => ({ [entity.target.key]: this.keyValue(entity, k) })),
    );
    const out = new Map<string, StoredRecord>();
    for (const it of items) {
      const key = String(it[entity.target.key]);
      out.set(key, fromItem(entity, it, key));
    }
    return out;
  }

  async writeMany(
    entity: EntitySpec,
    writes: readonly { key: string; write: ServiceWrite }[],
  ): Promise<Map<string, WriteOutcome>> {
    const out = new Map<string, WriteOutcome>();
    // Item + state per record: 50 records fill one transaction's 100 items.
    const chunks: (typeof writes)[number][][] = [];
    for (let i = 0; i < writes.length; i += 50) chunks.push(writes.slice(i, i + 50));
    await Promise.all(
      chunks.map(async (chunk) => {
        const items = (
          await Promise.all(chunk.map((w) => this.transactItems(entity, w.key, w.write)))
        ).flat();
        let outcome: WriteOutcome;
        try {
          await this.client.send(new TransactWriteCommand({ TransactItems: items }));
          outcome = 'written';
        } catch (e) {
          outcome = classifyTransactionError(e, -1);
        }
        for (const w of chunk) out.set(w.key, outcome);
      }),
    );
    return out;
  }

  /**
   * Parallel scan for the consistency check: each segment pages on its own (a slow segment does
   * not hold the others back) and pages are yielded as they arrive, at most `2 × segments` pages
   * buffered ahead of the consumer. Only the key and the entity's fields are read (projection),
   * and each raw item goes straight to its key and canonical text (`scanText`): no converted item
   * or record per row. Memory: the SDK's parse of at most `segments` pages in flight (1 MB of
   * data each) plus the buffered pages of `{ key, text }` rows.
   */
  async *scan(
    entity: EntitySpec,
    options: {
      segments?: number;
      part?: { readonly index: number; readonly of: number };
      pageSize?: number;
    } = {},
  ): AsyncIterable<ScannedRow[]> {
    const segments = Math.max(1, Math.floor(options.segments ?? 16));
    // A worker's share: its `segments` of `segments × of` (DynamoDB allows up to 1,000,000).
    const of = Math.max(1, Math.floor(options.part?.of ?? 1));
    const index = Math.floor(options.part?.index ?? 0);
    if (index < 0 || index >= of) throw new RangeError(`scan part ${index} is not one of ${of}`);
    const table = this.tableOf(entity);
    const keyName = entity.target.key;
    const projection = projectionOf([keyName, ...entity.fields.map((f) => f.name)]);
    const toRow = scanText(entity);
    const highWater = 2 * segments;
    const ready: ScannedRow[][] = [];
    let failure: { error: unknown } | undefined;
    let running = segments;
    let stopped = false;
    // Wakes the consumer (a page, an error or the end) / the producers (room in the buffer).
    let wakeConsumer: (() => void) | undefined;
    const wakeProducers: (() => void)[] = [];
    const signalConsumer = () => {
      const w = wakeConsumer;
      wakeConsumer = undefined;
      w?.();
    };
    const worker = async (segment: number) => {
      try {
        let start: Record<string, AttributeValue> | undefined;
        do {
          while (ready.length >= highWater && !stopped) await new Promise<void>((r) => wakeProducers.push(r));
          if (stopped) return;
          // The low-level command: items converted here, without the document client's generic
          // walk over every attribute of every item.
          const res = await this.client.send(
            new RawScanCommand({
              TableName: table,
              Segment: index * segments + segment,
              TotalSegments: segments * of,
              ...(options.pageSize ? { Limit: Math.max(1, Math.floor(options.pageSize)) } : {}),
              ...projection,
              ...(start ? { ExclusiveStartKey: start } : {}),
            }),
          );
          start = res.LastEvaluatedKey;
          const items = res.Items ?? [];
          if (items.length) {
            const page = new Array<ScannedRow>(items.length);
            for (let i = 0; i < items.length; i++) page[i] = toRow(items[i]!);
            ready.push(page);
            signalConsumer();
          }
        } while (start && !stopped);
      } catch (e) {
        failure ??= { error: e };
      } finally {
        running--;
        signalConsumer();
      }
    };
    const workers = Array.from({ length: segments }, (_, segment) => worker(segment));
    try {
      for (;;) {
        if (failure) throw failure.error;
        const page = ready.shift();
        if (page) {
          wakeProducers.splice(0).forEach((w) => {
            w();
          });
          yield page;
          continue;
        }
        if (running === 0) break;
        await new Promise<void>((r) => {
          wakeConsumer = r;
        });
      }
    } finally {
      // The consumer stopped early (or failed): let the segments finish their current page.
      stopped = true;
      wakeProducers.splice(0).forEach((w) => {
        w();
      });
      await Promise.allSettled(workers);
    }
  }
}

type ToText = (av: AttributeValue | undefined) => string;

/**
 * Raw item -> `{ key, text }` of `scan`, built once per entity: exactly `String(key)` and
 * `canonicalText` of the value `fromItem(entity, nativeItem(raw))` would hold per field, without
 * building either. Fast paths for the common attribute types; anything else goes the general way.
 */
const scanTexts = new WeakMap<EntitySpec, (raw: Record<string, AttributeValue>) => ScannedRow>();
export function scanText(entity: EntitySpec): (raw: Record<string, AttributeValue>) => ScannedRow {
  let fn = scanTexts.get(entity);
  if (fn) return fn;
  const keyName = entity.target.key;
  const fields = readableFields(entity);
  const names = fields.map((f) => f.name);
  const texts = fields.map(fieldText);
  const keyText: ToText = (av) => {
    if (av?.S !== undefined) return av.S;
    return String(av === undefined ? undefined : nativeItem({ k: av })['k']);
  };
  fn = (raw) => {
    let text = '';
    for (let i = 0; i < names.length; i++) text += `${FIELD_SEPARATOR}${texts[i]!(raw[names[i]!])}`;
    return { key: keyText(raw[keyName]), text };
  };
  scanTexts.set(entity, fn);
  return fn;
}

/** `canonicalText` of a field's value as `fromItem` reads it from one raw attribute value. */
function fieldText(f: FieldSpec): ToText {
  const general = (av: AttributeValue): string => {
    const native = nativeItem({ v: av })['v'];
    let value: FieldValue;
    try {
      value = normalizeValue(f, native);
    } catch {
      value = native as FieldValue;
    }
    return canonicalText(value);
  };
  // A number read as a number (numberOf) is, as an integer or a string field, `String(n)`
  // (normalizeValue, or its fallback for a fraction, keeps that number); one kept as its
  // decimal string goes the general way.
  const safeNumber = (av: AttributeValue & { N: string }): string => {
    const n = numberOf(av.N);
    return typeof n === 'number' ? String(n) : general(av);
  };
  switch (f.type) {
    case 'string':
      return (av) =>
        av === undefined || av.NULL !== undefined
          ? NULL_MARK
          : av.S !== undefined
            ? av.S
            : av.N !== undefined
              ? safeNumber(av)
              : general(av);
    case 'integer':
      return (av) =>
        av === undefined || av.NULL !== undefined
          ? NULL_MARK
          : av.N !== undefined
            ? safeNumber(av)
            : general(av);
    case 'boolean':
      return (av) =>
        av === undefined || av.NULL !== undefined
          ? NULL_MARK
          : av.BOOL !== undefined
            ? canonicalText(av.BOOL)
            : general(av);
    default:
      return (av) => (av === undefined || av.NULL !== undefined ? NULL_MARK : general(av));
  }
}

/**
 * An item's attribute values as the document client returns them (both by the one unmarshaller,
 * dynamodb-values.ts): what the consistency scan reads its raw items with.
 */
export function nativeItem(item: Record<string, AttributeValue>): Item {
  return unmarshallItem(item as unknown as Record<string, AttributeValueJson>);
}

/** ProjectionExpression of top-level attributes (names aliased: some are reserved words). */
function projectionOf(names: readonly string[]): {
  ProjectionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
} {
  const unique = [...new Set(names)];
  return {
    ProjectionExpression: unique.map((_, i) => `#p${i}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(unique.map((n, i) => [`#p${i}`, n])),
  };
}

function versionCondition(
  attribute: string,
  expected: number | undefined,
): {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
} {
  if (expected === undefined) {
    return {
      ConditionExpression: 'attribute_not_exists(#cver)',
      ExpressionAttributeNames: { '#cver': attribute },
    };
  }
  return {
    ConditionExpression: '#cver = :cver',
    ExpressionAttributeNames: { '#cver': attribute },
    ExpressionAttributeValues: { ':cver': expected },
  };
}

/**
 * Maps a cancelled transaction to `conflict` (a condition on the item or the state failed, or a
 * concurrent transaction) or `duplicate` (the applied-event marker exists). Other errors rethrow.
 */
export function classifyTransactionError(e: unknown, appliedIndex: number): WriteOutcome {
  const err = e as { name?: string; CancellationReasons?: { Code?: string }[] };
  if (err.name === 'TransactionCanceledException') {
    const reasons = err.CancellationReasons ?? [];
    if (appliedIndex >= 0 && reasons[appliedIndex]?.Code === 'ConditionalCheckFailed') return 'duplicate';
    if (reasons.some((r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict'))
      return 'conflict';
  }
  if (err.name === 'TransactionConflictException' || err.name === 'ConditionalCheckFailedException')
    return 'conflict';
  throw e;
}
