/**
 * The sync table (lib/spec/tables.ts SYNC_TABLE) and the conflicts table on DynamoDB.
 *
 * Items of the sync table, all under the partition key `pk`:
 * - `state#<entity>#<serviceKey>`: `{ state: <SyncState JSON>, revision }`, compare-and-set on
 *   `revision`;
 * - `key#<entity>#s#<serviceKey>` -> `legacyKey`, `key#<entity>#l#<legacyKey>` -> `serviceKey`;
 * - `applied#<eventId>`: counter deltas applied to the service table (expires via `expiresAt`);
 * - `watermark#<entity>`: the poller's keyset cursor `{ at, key, revision }`;
 * - `lease#poller#<service>`: which poller invocation may poll, and `lease#poller#<service>#handoff`:
 *   the young rows its last holder published (dynamodb-lease.ts);
 * - `snapshot#<entity>` (chunk list) and `snapshot#<entity>#<chunk>`: the poller's last-seen
 *   checksums of tables without `updated_at` (see docs/sync.md).
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { EntitySpec } from '../../lib/spec/schema.js';
import { EMPTY_SYNC_STATE, type SyncState } from '../domain/conflict.js';
import type { PersonalDataSealer } from '../domain/personal-data.js';
import type {
  ChunkSnapshot,
  ConflictPage,
  ConflictResolution,
  ConflictStore,
  ParkedConflictRecord,
  ScanCursor,
  StateWrite,
  StoredConflict,
  StoredSyncState,
  SyncStateStore,
  Watermark,
} from '../domain/ports.js';
import { batchGet, pointReads } from './dynamodb-reads.js';

export const stateKey = (entity: EntitySpec, serviceKey: string) => `state#${entity.name}#${serviceKey}`;
const serviceMapKey = (entity: EntitySpec, serviceKey: string) => `key#${entity.name}#s#${serviceKey}`;
export const legacyMapKey = (entity: EntitySpec, legacyKey: string) => `key#${entity.name}#l#${legacyKey}`;

/** A stored sync state item (or none) as the use cases see it. */
export function storedStateOf(item: Record<string, unknown> | undefined): StoredSyncState {
  if (!item) return { state: EMPTY_SYNC_STATE, revision: 0 };
  return { state: JSON.parse(String(item['state'])) as SyncState, revision: Number(item['revision']) };
}

/**
 * A stored state as the engine reads it: personal values opened (`PersonalDataSealer`); as it is
 * without a sealer (a spec without personal fields).
 */
export async function openStoredState(
  sealer: PersonalDataSealer | undefined,
  entity: EntitySpec,
  serviceKey: string,
  stored: StoredSyncState,
): Promise<StoredSyncState> {
  if (!sealer || stored.revision === 0) return stored;
  return { ...stored, state: await sealer.openState(entity.name, serviceKey, stored.state) };
}

/** A state write as stored: personal values sealed. */
export async function sealStateWrite(
  sealer: PersonalDataSealer | undefined,
  entity: EntitySpec,
  serviceKey: string,
  w: StateWrite,
): Promise<StateWrite> {
  if (!sealer) return w;
  return { ...w, next: await sealer.sealState(entity.name, serviceKey, w.next) };
}

/** The conditional Put of a sync state (also used inside the service write's transaction). */
export function stateItem(table: string, pk: string, w: StateWrite): NonNullable<PutCommandInput> {
  return {
    TableName: table,
    Item: { pk, state: JSON.stringify(w.next), revision: w.expectedRevision + 1 },
    ...(w.expectedRevision === 0
      ? { ConditionExpression: 'attribute_not_exists(pk)' }
      : {
          ConditionExpression: 'revision = :rev',
          ExpressionAttributeValues: { ':rev': w.expectedRevision },
        }),
  };
}

export class KeyMapConflictError extends Error {
  constructor(entity: string, serviceKey: string, legacyKey: string) {
    super(`${entity}: service key ${serviceKey} or legacy key ${legacyKey} is already mapped to another key`);
    this.name = 'KeyMapConflictError';
  }
}

const isConditionFailure = (e: unknown) => {
  const name = (e as { name?: string }).name;
  return name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException';
};

export class DynamoSyncStateStore implements SyncStateStore {
  /** `sealer`: seals the personal fields of every state written, opens them on read. */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly sealer?: PersonalDataSealer,
  ) {}

  /** A consistent read, in one request with the other point reads of this turn (dynamodb-reads.ts). */
  private getItem(pk: string): Promise<Record<string, unknown> | undefined> {
    return pointReads(this.client).get(this.table, { pk });
  }

  async get(entity: EntitySpec, serviceKey: string): Promise<StoredSyncState> {
    const stored = storedStateOf(await this.getItem(stateKey(entity, serviceKey)));
    return openStoredState(this.sealer, entity, serviceKey, stored);
  }

  async put(entity: EntitySpec, serviceKey: string, write: StateWrite): Promise<boolean> {
    const sealed = await sealStateWrite(this.sealer, entity, serviceKey, write);
    try {
      await this.client.send(new PutCommand(stateItem(this.table, stateKey(entity, serviceKey), sealed)));
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async getMany(entity: EntitySpec, serviceKeys: readonly string[]): Promise<Map<string, StoredSyncState>> {
    const prefix = stateKey(entity, '');
    const items = await batchGet(
      this.client,
      this.table,
      serviceKeys.map((k) => ({ pk: stateKey(entity, k) })),
    );
    return new Map(
      await Promise.all(
        items.map(async (it): Promise<[string, StoredSyncState]> => {
          const key = String(it['pk']).slice(prefix.length);
          return [key, await openStoredState(this.sealer, entity, key, storedStateOf(it))];
        }),
      ),
    );
  }

  async putMany(
    entity: EntitySpec,
    writes: readonly { key: string; write: StateWrite }[],
  ): Promise<Set<string>> {
    const stored = new Set<string>();
    const chunks: (typeof writes)[number][][] = [];
    for (let i = 0; i < writes.length; i += 100) chunks.push(writes.slice(i, i + 100));
    await Promise.all(
      chunks.map(async (chunk) => {
        const sealed = await Promise.all(
          chunk.map((w) => sealStateWrite(this.sealer, entity, w.key, w.write)),
        );
        try {
          await this.client.send(
            new TransactWriteCommand({
              TransactItems: chunk.map((w, i) => ({
                Put: stateItem(this.table, stateKey(entity, w.key), sealed[i]!),
              })),
            }),
          );
          for (const w of chunk) stored.add(w.key);
        } catch (e) {
          if (!isConditionFailure(e) && (e as { name?: string }).name !== 'TransactionConflictException')
            throw e;
          // One lost race cancels the transaction: store the others one by one.
          for (const w of chunk) if (await this.put(entity, w.key, w.write)) stored.add(w.key);
        }
      }),
    );
    return stored;
  }

  async legacyKeysOf(entity: EntitySpec, serviceKeys: readonly string[]): Promise<Map<string, string>> {
    const items = await batchGet(
      this.client,
      this.table,
      serviceKeys.map((k) => ({ pk: serviceMapKey(entity, k) })),
    );
    return new Map(items.map((it) => [String(it['serviceKey']), String(it['legacyKey'])]));
  }

  async serviceKeysOf(entity: EntitySpec, legacyKeys: readonly string[]): Promise<Map<string, string>> {
    const items = await batchGet(
      this.client,
      this.table,
      legacyKeys.map((k) => ({ pk: legacyMapKey(entity, k) })),
    );
    return new Map(items.map((it) => [String(it['legacyKey']), String(it['serviceKey'])]));
  }

  async reset(entity: EntitySpec, serviceKey: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({ TableName: this.table, Key: { pk: stateKey(entity, serviceKey) } }),
    );
  }

  /** The state item and the key-map item, in one consistent BatchGetItem (with the batch's other reads). */
  async getWithLegacyKey(
    entity: EntitySpec,
    serviceKey: string,
  ): Promise<{ stored: StoredSyncState; legacyKey: string | undefined }> {
    const [state, map] = await Promise.all([
      this.getItem(stateKey(entity, serviceKey)),
      this.getItem(serviceMapKey(entity, serviceKey)),
    ]);
    return {
      stored: await openStoredState(this.sealer, entity, serviceKey, storedStateOf(state)),
      legacyKey: map ? String(map['legacyKey']) : undefined,
    };
  }

  async legacyKeyOf(entity: EntitySpec, serviceKey: string): Promise<string | undefined> {
    const item = await this.getItem(serviceMapKey(entity, serviceKey));
    return item ? String(item['legacyKey']) : undefined;
  }

  async serviceKeyOf(entity: EntitySpec, legacyKey: string): Promise<string | undefined> {
    const item = await this.getItem(legacyMapKey(entity, legacyKey));
    return item ? String(item['serviceKey']) : undefined;
  }

  async mapKeys(entity: EntitySpec, serviceKey: string, legacyKey: string): Promise<void> {
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { pk: serviceMapKey(entity, serviceKey), legacyKey, entity: entity.name, serviceKey },
                ConditionExpression: 'attribute_not_exists(pk) OR legacyKey = :lk',
                ExpressionAttributeValues: { ':lk': legacyKey },
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { pk: legacyMapKey(entity, legacyKey), serviceKey, entity: entity.name, legacyKey },
                ConditionExpression: 'attribute_not_exists(pk) OR serviceKey = :sk',
                ExpressionAttributeValues: { ':sk': serviceKey },
              },
            },
          ],
        }),
      );
    } catch (e) {
      if (isConditionFailure(e)) {
        // A concurrent identical mapping is fine; a different one is corruption waiting to happen.
        const [l, s] = await Promise.all([
          this.legacyKeyOf(entity, serviceKey),
          this.serviceKeyOf(entity, legacyKey),
        ]);
        if (l === legacyKey && s === serviceKey) return;
        throw new KeyMapConflictError(entity.name, serviceKey, legacyKey);
      }
      throw e;
    }
  }

  /** Parallel scan of the sync table for the entity's `key#<entity>#s#…` items (keys only). */
  async getWatermark(entity: EntitySpec): Promise<Watermark | undefined> {
    const item = await this.getItem(`watermark#${entity.name}`);
    if (!item) return undefined;
    return { at: Number(item['at']), key: String(item['key']), revision: Number(item['revision']) };
  }

  async putWatermark(entity: EntitySpec, cursor: ScanCursor, expectedRevision: number): Promise<boolean> {
    return this.put0(`watermark#${entity.name}`, { at: cursor.at, key: cursor.key }, expectedRevision);
  }

  private async put0(pk: string, attrs: Record<string, unknown>, expectedRevision: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk, ...attrs, revision: expectedRevision + 1 },
          ...(expectedRevision === 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: 'revision = :rev',
                ExpressionAttributeValues: { ':rev': expectedRevision },
              }),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async getSnapshots(entity: EntitySpec): Promise<Map<number, ChunkSnapshot>> {
    const out = new Map<number, ChunkSnapshot>();
    const manifest = await this.getItem(`snapshot#${entity.name}`);
    const chunks = [...((manifest?.['chunks'] as Set<number> | undefined) ?? [])];
    const items = await batchGet(
      this.client,
      this.table,
      chunks.map((c) => ({ pk: `snapshot#${entity.name}#${c}` })),
    );
    for (const it of items) out.set(Number(it['chunk']), JSON.parse(String(it['snapshot'])) as ChunkSnapshot);
    return out;
  }

  async putSnapshot(entity: EntitySpec, chunk: number, snapshot: ChunkSnapshot): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: `snapshot#${entity.name}#${chunk}`, chunk, snapshot: JSON.stringify(snapshot) },
      }),
    );
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `snapshot#${entity.name}` },
        UpdateExpression: 'ADD chunks :c',
        ExpressionAttributeValues: { ':c': new Set([chunk]) },
      }),
    );
  }
}

/**
 * The conflicts table (lib/spec/tables.ts CONFLICTS_TABLE): one item per `conflictId` with the
 * parked conflict, `status` (`open` -> `resolving` -> `resolved`), `announcedAt` (the
 * `cutover.conflict.parked` event was claimed for publishing), and once a person decided,
 * `resolution` `{ choice, value, by, at }` and `resolvedAt`.
 */
export class DynamoConflictStore implements ConflictStore {
  /**
   * `sealer`: the values of personal fields are stored sealed (purpose `conflicts`): parking
   * seals them, reading opens them, which only a role whose key grant covers `conflicts` can.
   */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly sealer?: PersonalDataSealer,
  ) {}

  private async opened(item: Record<string, unknown> | undefined): Promise<StoredConflict | undefined> {
    if (!item) return undefined;
    return this.sealer
      ? this.sealer.openConflict(item as unknown as StoredConflict)
      : (item as unknown as StoredConflict);
  }

  async park(conflict: ParkedConflictRecord): Promise<boolean> {
    const sealed = this.sealer ? await this.sealer.sealConflict(conflict) : conflict;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...sealed, status: 'open', announcedAt: conflict.parkedAt },
          ConditionExpression: 'attribute_not_exists(conflictId)',
        }),
      );
      return true;
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
    // Parked before (from the other side, or by an earlier delivery): announce it only if nobody
    // has claimed the announcement yet (an earlier publish failed and gave it back).
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { conflictId: conflict.conflictId },
          UpdateExpression: 'SET announcedAt = :at',
          ConditionExpression: 'attribute_exists(conflictId) AND attribute_not_exists(announcedAt)',
          ExpressionAttributeValues: { ':at': conflict.parkedAt },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async unannounce(conflictId: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { conflictId },
        UpdateExpression: 'REMOVE announcedAt',
        ConditionExpression: 'attribute_exists(conflictId)',
      }),
    );
  }

  async get(conflictId: string): Promise<StoredConflict | undefined> {
    const res = await this.client.send(
      new GetCommand({ TableName: this.table, Key: { conflictId }, ConsistentRead: true }),
    );
    return this.opened(res.Item);
  }

  async listOpen(
    options: { readonly entity?: string; readonly limit?: number; readonly cursor?: string } = {},
  ): Promise<ConflictPage> {
    const limit = options.limit ?? 100;
    const items: StoredConflict[] = [];
    let start: Record<string, unknown> | undefined = options.cursor
      ? (JSON.parse(Buffer.from(options.cursor, 'base64url').toString('utf8')) as Record<string, unknown>)
      : undefined;
    // A scan with a filter: parked conflicts are few (each waits for a person), so no index.
    do {
      const res = await this.client.send(
        new ScanCommand({
          TableName: this.table,
          ConsistentRead: true,
          Limit: limit - items.length,
          FilterExpression:
            '#s IN (:open, :resolving)' + (options.entity !== undefined ? ' AND #e = :entity' : ''),
          ExpressionAttributeNames: {
            '#s': 'status',
            ...(options.entity !== undefined ? { '#e': 'entity' } : {}),
          },
          ExpressionAttributeValues: {
            ':open': 'open',
            ':resolving': 'resolving',
            ...(options.entity !== undefined ? { ':entity': options.entity } : {}),
          },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const it of res.Items ?? []) items.push((await this.opened(it))!);
      start = res.LastEvaluatedKey;
    } while (start && items.length < limit);
    return {
      items,
      ...(start ? { cursor: Buffer.from(JSON.stringify(start), 'utf8').toString('base64url') } : {}),
    };
  }

  async claim(conflictId: string, resolution: ConflictResolution): Promise<StoredConflict | undefined> {
    if (this.sealer) {
      // The resolution's value is the chosen personal value: sealed like the parked ones.
      const parked = await this.get(conflictId);
      if (!parked) return undefined;
      resolution = await this.sealer.sealResolution(parked, resolution);
    }
    try {
      const res = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { conflictId },
          UpdateExpression: 'SET #s = :resolving, resolution = :r',
          ConditionExpression: '#s = :open',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':open': 'open', ':resolving': 'resolving', ':r': resolution },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.opened(res.Attributes);
    } catch (e) {
      if (isConditionFailure(e)) return this.get(conflictId);
      throw e;
    }
  }

  async close(conflictId: string, resolvedAt: string): Promise<StoredConflict | undefined> {
    try {
      const res = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { conflictId },
          UpdateExpression: 'SET #s = :resolved, resolvedAt = :at',
          ConditionExpression: '#s = :resolving',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':resolving': 'resolving',
            ':resolved': 'resolved',
            ':at': resolvedAt,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.opened(res.Attributes);
    } catch (e) {
      // Closed already (a resolve that finished twice): it keeps its first closing time.
      if (isConditionFailure(e)) return this.get(conflictId);
      throw e;
    }
  }
}
