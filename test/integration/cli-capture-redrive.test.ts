/**
 * `cutover dlq redrive` of a capture DLQ on DynamoDB Local: the DLQ message is the pipe's
 * pointer to a stream batch (test/contracts/pipes/dlq-dynamodb-stream.json, its
 * DDBStreamBatchInfo set to a range of the real stream), and the redrive re-reads that range,
 * reads each key's current item from the table and publishes it through the capture's
 * translation; a batch whose stream range cannot be read is left, with the reconciliation to run.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { documentClient } from '../../lambdas/adapters/dynamodb-service.js';
import { captureServiceChange } from '../../lambdas/domain/capture.js';
import type { ChangeEvent } from '../../lambdas/domain/events.js';
import { batchPositionOf, DynamoCaptureSource } from '../../lib/cli/capture-redrive.js';
import type { QueueMessage, QueuesPort } from '../../lib/cli/control-plane.js';
import { redriveDlq } from '../../lib/cli/dlq-ops.js';
import { createServiceTables, dynamoClient } from '../../lib/local/databases.js';
import { entityByName } from '../../lib/spec/schema.js';
import { SYNC_WRITER_ATTRIBUTE, SYNC_WRITER_VALUE } from '../../lib/spec/tables.js';
import magento from '../../migrations/magento.js';
import { contract } from '../support/contracts.js';
import { InMemoryPublisher } from '../support/in-memory-publisher.js';

interface DlqContract {
  lambdaInvocationRecord: { DDBStreamBatchInfo: Record<string, unknown> } & Record<string, unknown>;
  pipesMessage: { DDBStreamBatchInfo: Record<string, unknown> } & Record<string, unknown>;
}

/** A queue holding `bodies`, with SQS's visibility: a received message is hidden until deleted. */
class MemoryQueue implements QueuesPort {
  readonly messages = new Map<string, string>();
  constructor(bodies: string[]) {
    for (const [i, b] of bodies.entries()) this.messages.set(`m${i}`, b);
  }
  private hidden = new Set<string>();
  async depth() {
    return { visible: this.messages.size - this.hidden.size, inFlight: this.hidden.size };
  }
  async receive(_url: string, max: number): Promise<QueueMessage[]> {
    const out: QueueMessage[] = [];
    for (const [id, body] of this.messages) {
      if (out.length >= max || this.hidden.has(id)) continue;
      this.hidden.add(id);
      out.push({ messageId: id, receiptHandle: id, body, attributes: {}, messageAttributes: {} });
    }
    return out;
  }
  async delete(_url: string, handle: string) {
    this.messages.delete(handle);
    this.hidden.delete(handle);
  }
  /** After a run: what was not deleted is visible again (its visibility timeout ran out). */
  expireVisibility() {
    this.hidden.clear();
  }
  async startMoveTask(): Promise<string> {
    throw new Error('not a source DLQ');
  }
  async moveTasks() {
    return [];
  }
}

describe('cutover dlq redrive: a capture DLQ (DynamoDB Local)', () => {
  const endpoint = inject('dynamoEndpoint');
  const { entity } = entityByName(magento, 'customer');
  const streams = new DynamoDBStreamsClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const dynamo = dynamoClient(endpoint);
  const doc = documentClient({ endpoint });
  let table: string;

  beforeAll(async () => {
    table = (await createServiceTables(endpoint, magento, 't-capture-redrive')).serviceTables['customer']!;
  });
  afterAll(() => {
    streams.destroy();
    dynamo.destroy();
    doc.destroy();
  });

  const item = (key: string, version: number, firstName: string, extra: Record<string, unknown> = {}) => ({
    customerId: key,
    email: `${key}@example.com`,
    firstName,
    lastName: 'Redrive',
    websiteId: 1,
    groupId: 1,
    isActive: 1,
    version,
    updatedAt: new Date(Date.UTC(2026, 10, 30, 12, 0, version)).toISOString(),
    [SYNC_WRITER_ATTRIBUTE]: 'service',
    ...extra,
  });

  /** Every record of the table's stream so far: shard and sequence number with the key. */
  async function streamPositions(): Promise<
    { streamArn: string; shardId: string; seq: string; key: string }[]
  > {
    const t = await dynamo.send(new DescribeTableCommand({ TableName: table }));
    const streamArn = t.Table!.LatestStreamArn!;
    const d = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const out: { streamArn: string; shardId: string; seq: string; key: string }[] = [];
    for (const shard of d.StreamDescription?.Shards ?? []) {
      let it = (
        await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shard.ShardId!,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      while (it) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: it }));
        for (const r of page.Records ?? [])
          out.push({
            streamArn,
            shardId: shard.ShardId!,
            seq: r.dynamodb!.SequenceNumber!,
            key: r.dynamodb!.Keys!['customerId']!.S!,
          });
        if (!page.Records?.length) break;
        it = page.NextShardIterator;
      }
    }
    return out;
  }

  it('re-reads the keys of the failed batch and publishes their current items; an unreadable range is left with the reconciliation to run', async () => {
    const c = contract<DlqContract>('pipes/dlq-dynamodb-stream.json');
    // The failed batch: k1 written twice, k2 written then deleted, k3 last written by the sync.
    await doc.send(new PutCommand({ TableName: table, Item: item('k1', 1, 'First') }));
    await doc.send(new PutCommand({ TableName: table, Item: item('k2', 1, 'Gone') }));
    await doc.send(new PutCommand({ TableName: table, Item: item('k1', 2, 'Second') }));
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: item('k3', 4, 'Synced', { [SYNC_WRITER_ATTRIBUTE]: SYNC_WRITER_VALUE, _syncedVersion: 4 }),
      }),
    );
    await doc.send(new DeleteCommand({ TableName: table, Key: { customerId: 'k2' } }));
    const positions = (await streamPositions()).filter((p) => ['k1', 'k2', 'k3'].includes(p.key));
    expect(positions.length).toBe(5);
    // After the batch, k1 changes again: the redrive sends the item as it is now.
    await doc.send(new PutCommand({ TableName: table, Item: item('k1', 3, 'Third') }));

    const first = positions[0]!;
    const last = positions.at(-1)!;
    const pointer = (info: Record<string, unknown>) => ({
      ...info,
      streamArn: first.streamArn,
      shardId: first.shardId,
      startSequenceNumber: first.seq,
      endSequenceNumber: last.seq,
      batchSize: positions.length,
    });
    const fromPipe = { ...c.pipesMessage, DDBStreamBatchInfo: pointer(c.pipesMessage.DDBStreamBatchInfo) };
    // A batch of a shard the stream no longer has (as 24 hours after it closed).
    const expired = {
      ...c.pipesMessage,
      DDBStreamBatchInfo: {
        ...pointer(c.pipesMessage.DDBStreamBatchInfo),
        shardId: 'shardId-00000001573689847184-864758bb',
      },
    };
    const queue = new MemoryQueue([JSON.stringify(fromPipe), JSON.stringify(expired)]);
    const bus = new InMemoryPublisher();
    const progress: string[] = [];
    const r = await redriveDlq(
      {
        queues: queue,
        bus,
        now: Date.now,
        sleep: async () => {},
        capture: {
          source: new DynamoCaptureSource(streams, dynamo),
          spec: magento,
        },
        onProgress: (t) => progress.push(t),
      },
      {
        name: 'cutover-t-magento-customer-capture-customer-dlq',
        url: 'memory://capture-dlq',
        arn: 'arn:aws:sqs:eu-west-1:123456789012:capture-dlq',
        kind: 'capture-dlq',
        entity: 'customer',
        service: 'customer',
        migration: 'magento',
      },
      { waitMs: 0, pollMs: 0 },
    );

    const details = bus.published.map((e) => JSON.parse(e.Detail) as ChangeEvent);
    // k1: the current item (version 3), exactly as the capture translates it; k2: a delete; k3: nothing.
    const k1 = captureServiceChange(entity, {
      eventName: 'INSERT',
      tableName: table,
      keys: { customerId: 'k1' },
      newImage: item('k1', 3, 'Third'),
      approximateAt: 0,
    })!;
    expect(details.map((d) => [d.key, d.op, d.sequence])).toEqual([
      ['k1', 'upsert', 3],
      ['k2', 'delete', 2],
    ]);
    expect(details[0]).toEqual({ ...k1, changedAt: details[0]!.changedAt });
    expect(details[0]!.data).toMatchObject({ firstName: 'Third' });
    expect(bus.published.map((e) => [e.Source, e.DetailType])).toEqual([
      ['cutover.service', 'customer.updated'],
      ['cutover.service', 'customer.updated'],
    ]);
    expect(r).toMatchObject({ method: 'recapture', before: 2, redriven: 1, left: 1 });
    expect(r.notes.join('\n')).toContain(
      "1 × batch(es) with a key whose current item is the sync's own write",
    );
    expect(r.notes.join('\n')).toMatch(
      /can no longer be read \(stream records are kept 24 hours\); their keys are unknown: run the reconciliation with repair for customer/,
    );
    // The redriven message is gone; the expired one stays (nothing lost).
    queue.expireVisibility();
    expect([...queue.messages.values()]).toEqual([JSON.stringify(expired)]);
    expect(progress.at(-1)).toBe(
      'cutover-t-magento-customer-capture-customer-dlq: 2/2 read, 1 redriven, 1 left',
    );
  });

  it('redrives a record the enrichment kept itself: its key re-read, the item as it is now published; still untranslatable, it stays', async () => {
    // The enrichment could not translate k9's change (a websiteId that is no integer) and kept
    // the stream record, as the pipe delivered it, in the capture DLQ (service-capture.ts).
    await doc.send(new PutCommand({ TableName: table, Item: item('k9', 1, 'Bad', { websiteId: 'x' }) }));
    const { streamArn } = (await streamPositions()).find((p) => p.key === 'k9')!;
    const kept = (key: string) =>
      JSON.stringify({
        eventID: `id-${key}`,
        eventName: 'INSERT',
        eventSource: 'aws:dynamodb',
        eventSourceARN: streamArn,
        dynamodb: {
          Keys: { customerId: { S: key } },
          SequenceNumber: '1',
          StreamViewType: 'NEW_AND_OLD_IMAGES',
        },
      });
    const run = async (bodies: string[]) => {
      const queue = new MemoryQueue(bodies);
      const bus = new InMemoryPublisher();
      const r = await redriveDlq(
        {
          queues: queue,
          bus,
          now: Date.now,
          sleep: async () => {},
          capture: { source: new DynamoCaptureSource(streams, dynamo), spec: magento },
        },
        {
          name: 'cutover-t-magento-customer-capture-customer-dlq',
          url: 'memory://capture-dlq',
          arn: 'arn:aws:sqs:eu-west-1:123456789012:capture-dlq',
          kind: 'capture-dlq',
          entity: 'customer',
          service: 'customer',
          migration: 'magento',
        },
        { waitMs: 0, pollMs: 0 },
      );
      queue.expireVisibility();
      return { r, bus, left: [...queue.messages.values()] };
    };

    // Not fixed yet: the item still cannot be translated, the message stays with the reason.
    const before = await run([kept('k9')]);
    expect(before.bus.published).toEqual([]);
    expect(before.left).toEqual([kept('k9')]);
    expect(before.r.notes.join('\n')).toContain('websiteId');

    // The service fixed the item: the redrive publishes it as it is now, and the message goes.
    await doc.send(new PutCommand({ TableName: table, Item: item('k9', 2, 'Fixed') }));
    const after = await run([kept('k9')]);
    const details = after.bus.published.map((e) => JSON.parse(e.Detail) as ChangeEvent);
    expect(details.map((d) => [d.key, d.op, d.sequence, d.data['firstName']])).toEqual([
      ['k9', 'upsert', 2, 'Fixed'],
    ]);
    expect(after.left).toEqual([]);
  });

  it('reads the batch pointer of both documented forms and names a missing field', () => {
    const c = contract<DlqContract>('pipes/dlq-dynamodb-stream.json');
    const expected = {
      streamArn: 'arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388',
      shardId: 'shardId-00000001573689847184-864758bb',
      startSequenceNumber: '800000000003126276362',
      endSequenceNumber: '800000000003126276362',
    };
    expect(batchPositionOf(JSON.stringify(c.lambdaInvocationRecord))).toEqual(expected);
    expect(batchPositionOf(JSON.stringify(c.pipesMessage))).toEqual(expected);
    const { shardId: _, ...noShard } = c.pipesMessage.DDBStreamBatchInfo;
    expect(() => batchPositionOf(JSON.stringify({ ...c.pipesMessage, DDBStreamBatchInfo: noShard }))).toThrow(
      'DDBStreamBatchInfo.shardId missing',
    );
  });
});
