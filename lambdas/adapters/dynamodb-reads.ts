/**
 * Consistent point reads on DynamoDB, as few requests as possible.
 *
 * - `batchGetTables`: BatchGetItem over several tables, at most 100 keys a request, retrying
 *   only the keys DynamoDB left unprocessed (with jittered backoff).
 * - `pointReads(client)`: reads asked for in the same turn of the event loop wait for one
 *   BatchGetItem (a lone read is a GetItem). The sync handlers apply the records of an SQS batch
 *   in parallel, so the sync state, key map and item reads of the whole batch become one request
 *   instead of one or two per record. Every read is still strongly consistent and is made after
 *   it was asked for; the compare-and-set writes that follow are what guard against races, as
 *   with separate reads.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BatchGetCommand, GetCommand } from '@aws-sdk/lib-dynamodb';

type Item = Record<string, unknown>;

/** BatchGetItem's limit of keys per request (over all tables). */
const MAX_KEYS = 100;

/** Consistent BatchGetItem of `keys` per table; the items found, per table. */
export async function batchGetTables(
  client: DynamoDBDocumentClient,
  keys: ReadonlyMap<string, readonly Item[]>,
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
        if (attempt > 0)
          await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt) * Math.random()));
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

interface QueuedRead {
  readonly table: string;
  readonly key: Item;
  readonly id: string;
  readonly keyNames: readonly string[];
  readonly resolve: (item: Item | undefined) => void;
  readonly reject: (error: unknown) => void;
}

/** Point reads coalesced per turn of the event loop (one instance per client: `pointReads`). */
export class PointReads {
  private queued: QueuedRead[] = [];

  constructor(private readonly client: DynamoDBDocumentClient) {}

  /** The item under `key` in `table` (consistent), or undefined. */
  get(table: string, key: Item): Promise<Item | undefined> {
    const keyNames = Object.keys(key).sort();
    return new Promise((resolve, reject) => {
      if (!this.queued.length) setImmediate(() => void this.flush());
      this.queued.push({ table, key, keyNames, id: identity(table, keyNames, key), resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const reads = this.queued;
    this.queued = [];
    try {
      if (reads.length === 1) {
        const only = reads[0]!;
        const res = await this.client.send(
          new GetCommand({ TableName: only.table, Key: only.key, ConsistentRead: true }),
        );
        only.resolve(res.Item);
        return;
      }
      const keys = new Map<string, Item[]>();
      const keyNamesOf = new Map<string, readonly string[]>();
      const seen = new Set<string>();
      for (const r of reads) {
        keyNamesOf.set(r.table, r.keyNames);
        if (seen.has(r.id)) continue; // BatchGetItem refuses a key twice
        seen.add(r.id);
        const list = keys.get(r.table) ?? [];
        list.push(r.key);
        keys.set(r.table, list);
      }
      const found = await batchGetTables(this.client, keys);
      const byId = new Map<string, Item>();
      for (const [table, items] of found)
        for (const it of items) byId.set(identity(table, keyNamesOf.get(table)!, it), it);
      for (const r of reads) r.resolve(byId.get(r.id));
    } catch (e) {
      for (const r of reads) r.reject(e);
    }
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
