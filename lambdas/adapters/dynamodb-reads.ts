/**
 * Consistent point reads on DynamoDB, as few requests as possible.
 *
 * - `batchGetTables`: BatchGetItem over several tables, at most 100 keys a request, retrying
 *   only the keys DynamoDB left unprocessed (with jittered backoff, a bounded number of times).
 * - `pointReads(client)`: reads asked for in the same turn of the event loop wait for one
 *   BatchGetItem (a lone read is a GetItem). The sync handlers apply the records of an SQS batch
 *   in parallel, so the sync state, key map and item reads of the whole batch become one request
 *   instead of one or two per record. Every read is still strongly consistent and is made after
 *   it was asked for; the compare-and-set writes that follow are what guard against races, as
 *   with separate reads.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BatchGetCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { type Outcome, perTurn } from './per-turn.js';
import { backoff } from './system-clock.js';

type Item = Record<string, unknown>;

/** BatchGetItem's limit of keys per request (over all tables). */
const MAX_KEYS = 100;

/** BatchGetItem requests per 100 keys, the first included, before giving up on unprocessed keys. */
export const BATCH_GET_MAX_ATTEMPTS = 8;

/**
 * DynamoDB left keys unprocessed (throttling) at every one of the attempts: the read fails (the
 * SQS record is redelivered later) instead of retrying for ever within the invocation.
 */
export class UnprocessedKeysError extends Error {
  constructor(tables: readonly string[], keys: number, attempts: number) {
    super(`BatchGetItem left ${keys} key(s) of ${tables.join(', ')} unprocessed after ${attempts} attempts`);
    this.name = 'UnprocessedKeysError';
  }
}

/**
 * Consistent BatchGetItem of `keys` per table; the items found, per table. Unprocessed keys are
 * retried with backoff, at most `maxAttempts` requests per 100 keys.
 * @throws UnprocessedKeysError when keys are still unprocessed after them
 */
export async function batchGetTables(
  client: DynamoDBDocumentClient,
  keys: ReadonlyMap<string, readonly Item[]>,
  maxAttempts = BATCH_GET_MAX_ATTEMPTS,
): Promise<Map<string, Item[]>> {
  const found = new Map<string, Item[]>([...keys.keys()].map((t) => [t, []]));
  const all = [...keys].flatMap(([table, ks]) => ks.map((key) => ({ table, key })));
  const requests: (typeof all)[] = [];
  for (let i = 0; i < all.length; i += MAX_KEYS) requests.push(all.slice(i, i + MAX_KEYS));
  await Promise.all(
    requests.map(async (request) => {
      let pending: Record<string, Item[]> = {};
      for (const { table, key } of request) {
        const list = pending[table] ?? [];
        list.push(key);
        pending[table] = list;
      }
      for (let attempt = 0; Object.keys(pending).length; attempt++) {
        if (attempt >= maxAttempts) {
          const left = Object.values(pending).reduce((n, ks) => n + ks.length, 0);
          throw new UnprocessedKeysError(Object.keys(pending), left, attempt);
        }
        if (attempt > 0) await backoff(attempt - 1, { baseMs: 40, maxMs: 1000 });
        const res = await client.send(
          new BatchGetCommand({
            RequestItems: Object.fromEntries(
              Object.entries(pending).map(([t, Keys]) => [t, { Keys, ConsistentRead: true }]),
            ),
          }),
        );
        for (const [t, items] of Object.entries(res.Responses ?? {}))
          found.get(t)?.push(...(items as Item[]));
        pending = Object.fromEntries(
          Object.entries(res.UnprocessedKeys ?? {})
            .map(([t, v]) => [t, (v.Keys ?? []) as Item[]] as const)
            .filter(([, ks]) => ks.length > 0),
        );
      }
    }),
  );
  return found;
}

/** The identity of a key (or of an item, by its key attributes). */
const identity = (table: string, keyNames: readonly string[], item: Item) =>
  `${table}\u0000${keyNames.map((n) => String(item[n])).join('\u0000')}`;

/** Point reads coalesced per turn of the event loop (one instance per client: `pointReads`). */
export class PointReads {
  private readonly read: (r: { table: string; key: Item }) => Promise<Item | undefined>;

  constructor(private readonly client: DynamoDBDocumentClient) {
    this.read = perTurn((reads) => this.readAll(reads));
  }

  /** The item under `key` in `table` (consistent), or undefined. */
  get(table: string, key: Item): Promise<Item | undefined> {
    return this.read({ table, key });
  }

  private async readAll(
    reads: readonly { table: string; key: Item }[],
  ): Promise<Outcome<Item | undefined>[]> {
    if (reads.length === 1) {
      const only = reads[0]!;
      const res = await this.client.send(
        new GetCommand({ TableName: only.table, Key: only.key, ConsistentRead: true }),
      );
      return [{ value: res.Item }];
    }
    const keyNamesOf = new Map<string, readonly string[]>();
    const ids = reads.map((r) => {
      const names = Object.keys(r.key).sort();
      keyNamesOf.set(r.table, names);
      return identity(r.table, names, r.key);
    });
    const keys = new Map<string, Item[]>();
    const seen = new Set<string>();
    reads.forEach((r, i) => {
      if (seen.has(ids[i]!)) return; // BatchGetItem refuses a key twice
      seen.add(ids[i]!);
      const list = keys.get(r.table) ?? [];
      list.push(r.key);
      keys.set(r.table, list);
    });
    const byId = new Map<string, Item>();
    for (const [table, items] of await batchGetTables(this.client, keys))
      for (const it of items) byId.set(identity(table, keyNamesOf.get(table)!, it), it);
    return ids.map((id) => ({ value: byId.get(id) }));
  }
}

const perClient = new WeakMap<DynamoDBDocumentClient, PointReads>();

/** The point-read coalescer of `client` (shared by the stores using it). */
export function pointReads(client: DynamoDBDocumentClient): PointReads {
  let reads = perClient.get(client);
  if (!reads) {
    reads = new PointReads(client);
    perClient.set(client, reads);
  }
  return reads;
}

/** BatchGetItem over any number of keys (100 per request, unprocessed keys retried). */
export async function batchGet(
  client: DynamoDBDocumentClient,
  table: string,
  keys: readonly Record<string, unknown>[],
): Promise<Record<string, unknown>[]> {
  if (!keys.length) return [];
  return (await batchGetTables(client, new Map([[table, keys]]))).get(table) ?? [];
}
