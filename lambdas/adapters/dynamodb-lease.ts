/**
 * The poller's lease (lambdas/domain/ports.ts `PollerLease`) as one item of the sync table,
 * `lease#<name>` (`owner`, `leaseUntil` ms, and a pending `handoverBy`/`handoverAt`), changed
 * only by conditional updates: taking it succeeds only when it is free, has run out or is already
 * the caller's, so two invocations never hold it at once. (Not `expiresAt`: that is the sync
 * table's TTL attribute, in seconds; the lease item is kept.)
 *
 * What a holder published ahead of its watermarks (the poller's young rows) is left for the next
 * holder in a second item, `lease#<name>#handoff` (`published`: a JSON string), written once per
 * invocation, so the lease item that every tick renews stays small.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LeaseState, PollerHandoff, PollerLease } from '../domain/ports.js';

const isConditionFailure = (e: unknown) =>
  (e as { name?: string }).name === 'ConditionalCheckFailedException';

export class DynamoPollerLease implements PollerLease {
  private readonly key: { pk: string };
  private readonly handoffKey: { pk: string };

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly table: string,
    /** e.g. `poller#customer` (one lease per service's poller). */
    name: string,
  ) {
    this.key = { pk: `lease#${name}` };
    this.handoffKey = { pk: `lease#${name}#handoff` };
  }

  async acquire(owner: string, now: number, ttlMs: number): Promise<LeaseState> {
    try {
      const res = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.key,
          UpdateExpression: 'SET #owner = :me, leaseUntil = :exp',
          ConditionExpression: 'attribute_not_exists(pk) OR #owner = :me OR leaseUntil < :now',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':me': owner, ':exp': now + ttlMs, ':now': now },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const item = res.Attributes ?? {};
      const by = item['handoverBy'];
      const at = Number(item['handoverAt'] ?? 0);
      return {
        held: true,
        expiresAt: now + ttlMs,
        // A request by this owner (made while it waited) or an old one (its candidate gave up) is no request.
        handoverRequested: typeof by === 'string' && by !== owner && now - at < ttlMs,
      };
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      const cur = await this.client.send(
        new GetCommand({ TableName: this.table, Key: this.key, ConsistentRead: true }),
      );
      return {
        held: false,
        ...(cur.Item?.['owner'] ? { holder: String(cur.Item['owner']) } : {}),
        ...(cur.Item?.['leaseUntil'] !== undefined ? { expiresAt: Number(cur.Item['leaseUntil']) } : {}),
        handoverRequested: false,
      };
    }
  }

  async requestHandover(owner: string, now: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.key,
          UpdateExpression: 'SET handoverBy = :me, handoverAt = :now',
          // Only a live holder is asked: a request left on a released lease would later stop
          // whoever takes it next.
          ConditionExpression: 'attribute_exists(pk) AND #owner <> :me AND leaseUntil >= :now',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':me': owner, ':now': now },
        }),
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e; // the lease is gone or already ours: nothing to ask
    }
  }

  async release(owner: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.key,
          // The request it answered goes with it (its candidate takes the lease now).
          UpdateExpression: 'SET leaseUntil = :zero REMOVE handoverBy, handoverAt',
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':me': owner, ':zero': 0 },
        }),
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e; // someone else holds it now: not ours to release
    }
  }

  async saveHandoff(handoff: PollerHandoff): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...this.handoffKey, published: JSON.stringify(handoff) },
      }),
    );
  }

  async loadHandoff(): Promise<PollerHandoff> {
    const res = await this.client.send(
      new GetCommand({ TableName: this.table, Key: this.handoffKey, ConsistentRead: true }),
    );
    const raw = res.Item?.['published'];
    if (typeof raw !== 'string') return {};
    try {
      return JSON.parse(raw) as PollerHandoff;
    } catch {
      return {}; // unreadable: the next holder may publish a young row twice (the sync skips it)
    }
  }
}
