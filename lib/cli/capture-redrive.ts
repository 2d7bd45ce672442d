/**
 * Redrive of a change capture's dead-letter queue (`capture-dlq`). The capture is an EventBridge
 * Pipe (a service table's DynamoDB stream → the service-capture enrichment → the bus); when it
 * gives up on a batch, its DLQ receives a pointer to the batch, not the records:
 * `DDBStreamBatchInfo` with the stream ARN, the shard and the first and last sequence numbers
 * (test/contracts/pipes/dlq-dynamodb-stream.json). So the redrive
 *
 * 1. re-reads that range of the shard (DynamoDB Streams) for the keys it touched,
 * 2. reads each key's current item from the table (a consistent read), and
 * 3. publishes the current state through the capture's own translation
 *    (lambdas/domain/capture.ts `captureServiceChange`), as an upsert of the item, or a delete
 *    when it is gone. The sync applies an event at most once and by version, so re-publishing a
 *    state it already has changes nothing.
 *
 * Stream records live 24 hours: when the range can no longer be read (trimmed, or the shard or
 * stream is gone) the keys are unknown and the message says exactly that; it stays in the queue
 * and the fix is a reconciliation run with repair.
 *
 * The enrichment puts a second kind of message there: a stream record it could not translate,
 * as the record itself with the reason in the message attributes
 * (lambdas/handlers/service-capture.ts). Its key is in it: steps 2 and 3 run on that key (an
 * item still untranslatable leaves the message, with the reason).
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamApiRecord,
} from '@aws-sdk/client-dynamodb-streams';
import {
  type RawStreamRecord,
  tableNameOf,
  toServiceStreamRecord,
  unmarshallImage,
} from '../../lambdas/adapters/dynamodb-stream.js';
import {
  captureServiceChange,
  type ServiceStreamRecord,
  serviceDetailTypeOf,
} from '../../lambdas/domain/capture.js';
import { toBusEntry } from '../../lambdas/domain/events.js';
import { describeError } from '../../lambdas/domain/masking.js';
import type { EventPublisher } from '../../lambdas/domain/ports.js';
import type { EntitySpec } from '../spec/schema.js';

type AttributeValue = Record<string, unknown>;

/** The batch a capture DLQ message points at (`DDBStreamBatchInfo`). */
export interface StreamBatchPosition {
  readonly streamArn: string;
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
}

/** A DLQ message that does not point at a stream batch. */
export class CaptureDlqMessageError extends Error {
  override readonly name = 'CaptureDlqMessageError';
}

/** The stream range can no longer be read (records older than 24 hours, or a deleted shard or stream). */
export class StreamPositionGoneError extends Error {
  override readonly name = 'StreamPositionGoneError';
}

/** Reads `DDBStreamBatchInfo` from a capture DLQ message body. @throws CaptureDlqMessageError naming the field */
export function batchPositionOf(body: string): StreamBatchPosition {
  let message: { DDBStreamBatchInfo?: Record<string, unknown> };
  try {
    message = JSON.parse(body) as typeof message;
  } catch {
    throw new CaptureDlqMessageError('not JSON');
  }
  const info = message?.DDBStreamBatchInfo;
  if (!info || typeof info !== 'object') throw new CaptureDlqMessageError('no DDBStreamBatchInfo');
  for (const field of ['streamArn', 'shardId', 'startSequenceNumber', 'endSequenceNumber'] as const) {
    if (typeof info[field] !== 'string' || !info[field])
      throw new CaptureDlqMessageError(`DDBStreamBatchInfo.${field} missing`);
  }
  return {
    streamArn: info['streamArn'] as string,
    shardId: info['shardId'] as string,
    startSequenceNumber: info['startSequenceNumber'] as string,
    endSequenceNumber: info['endSequenceNumber'] as string,
  };
}

/**
 * The other kind of capture DLQ message: a stream record the service-capture enrichment could
 * not translate, kept as its JSON (the table in `eventSourceARN`); undefined for anything else.
 */
export function keptStreamRecordOf(body: string): (RawStreamRecord & { eventSourceARN: string }) | undefined {
  try {
    const r = JSON.parse(body) as RawStreamRecord;
    return r &&
      typeof r.eventSourceARN === 'string' &&
      r.eventSourceARN.includes(':table/') &&
      r.dynamodb?.Keys
      ? (r as RawStreamRecord & { eventSourceARN: string })
      : undefined;
  } catch {
    return undefined;
  }
}

/** Where a capture redrive reads: the service table's stream and the table itself. */
export interface CaptureSourcePort {
  /**
   * The records of one shard from the first to the last sequence number (inclusive), as a pipe
   * delivers them. @throws StreamPositionGoneError when the range can no longer be read
   */
  records(position: StreamBatchPosition): Promise<RawStreamRecord[]>;
  /** The item's current state (plain values), or undefined when it no longer exists. */
  currentItem(
    table: string,
    key: Readonly<Record<string, AttributeValue>>,
  ): Promise<Record<string, unknown> | undefined>;
}

/** Errors of the Streams API that mean the position is gone for good. */
const GONE = new Set(['TrimmedDataAccessException', 'ResourceNotFoundException', 'ExpiredIteratorException']);

/** The real adapter: DynamoDB Streams and DynamoDB (the SDK's default chain, or given clients). */
export class DynamoCaptureSource implements CaptureSourcePort {
  constructor(
    private readonly streams: DynamoDBStreamsClient = new DynamoDBStreamsClient({}),
    private readonly dynamo: DynamoDBClient = new DynamoDBClient({}),
    /** GetRecords pages without records before giving up on an open shard. */
    private readonly maxEmptyPages = 10,
  ) {}

  async records(p: StreamBatchPosition): Promise<RawStreamRecord[]> {
    const end = BigInt(p.endSequenceNumber);
    const out: RawStreamRecord[] = [];
    try {
      let iterator = (
        await this.streams.send(
          new GetShardIteratorCommand({
            StreamArn: p.streamArn,
            ShardId: p.shardId,
            ShardIteratorType: 'AT_SEQUENCE_NUMBER',
            SequenceNumber: p.startSequenceNumber,
          }),
        )
      ).ShardIterator;
      let empty = 0;
      while (iterator && empty < this.maxEmptyPages) {
        const page = await this.streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
        const records = page.Records ?? [];
        empty = records.length ? 0 : empty + 1;
        for (const r of records) {
          if (BigInt(r.dynamodb?.SequenceNumber ?? '0') > end) return out;
          out.push(delivered(r, p.streamArn));
        }
        iterator = page.NextShardIterator;
      }
      return out;
    } catch (e) {
      const name = (e as Error).name;
      if (
        GONE.has(name) ||
        (name === 'ValidationException' && /sequence|shard/i.test((e as Error).message))
      ) {
        throw new StreamPositionGoneError(
          `${name}: shard ${p.shardId} of ${p.streamArn} from ${p.startSequenceNumber} to ${p.endSequenceNumber} can no longer be read (stream records are kept 24 hours)`,
        );
      }
      throw e;
    }
  }

  async currentItem(
    table: string,
    key: Readonly<Record<string, AttributeValue>>,
  ): Promise<Record<string, unknown> | undefined> {
    const res = await this.dynamo.send(
      new GetItemCommand({ TableName: table, Key: key as never, ConsistentRead: true }),
    );
    return unmarshallImage(res.Item as Record<string, AttributeValue> | undefined);
  }
}

/** A Streams API record as the pipe hands it to the enrichment (creation time in seconds). */
function delivered(r: StreamApiRecord, streamArn: string): RawStreamRecord {
  const d = r.dynamodb ?? {};
  const at = d.ApproximateCreationDateTime;
  return {
    ...(r.eventName ? { eventName: r.eventName } : {}),
    eventSourceARN: streamArn,
    dynamodb: {
      // The SDK's attribute values are the same DynamoDB JSON the pipe delivers.
      ...(d.Keys ? { Keys: d.Keys as unknown as Record<string, AttributeValue> } : {}),
      ...(d.NewImage ? { NewImage: d.NewImage as unknown as Record<string, AttributeValue> } : {}),
      ...(d.OldImage ? { OldImage: d.OldImage as unknown as Record<string, AttributeValue> } : {}),
      ...(at ? { ApproximateCreationDateTime: Math.floor(new Date(at).getTime() / 1000) } : {}),
    },
  };
}

/** What one capture DLQ message came to. */
export type RecaptureOutcome =
  | {
      readonly outcome: 'republished';
      readonly keys: number;
      readonly published: number;
      readonly unchanged: number;
    }
  | { readonly outcome: 'expired' | 'unreadable'; readonly reason: string };

/**
 * Re-reads the keys of the batch a capture DLQ message points at and publishes their current
 * state. Nothing is published for a key whose current item is the sync's own write (the other
 * side has it already).
 */
export async function recapture(
  deps: { readonly source: CaptureSourcePort; readonly bus: EventPublisher },
  entity: EntitySpec,
  body: string,
): Promise<RecaptureOutcome> {
  let records: RawStreamRecord[];
  let table: string;
  const kept = keptStreamRecordOf(body);
  if (kept) {
    // The enrichment kept the record itself (it could not translate it): its key is known.
    records = [kept];
    table = tableNameOf(kept.eventSourceARN);
  } else {
    let position: StreamBatchPosition;
    try {
      position = batchPositionOf(body);
    } catch (e) {
      if (e instanceof CaptureDlqMessageError) return { outcome: 'unreadable', reason: e.message };
      throw e;
    }
    try {
      records = await deps.source.records(position);
    } catch (e) {
      if (e instanceof StreamPositionGoneError) return { outcome: 'expired', reason: e.message };
      throw e;
    }
    table = tableNameOf(position.streamArn);
  }
  // The newest record of each key (the range is in stream order).
  const latest = new Map<string, ServiceStreamRecord>();
  const keysOf = new Map<string, Record<string, AttributeValue>>();
  for (const raw of records) {
    const keys = raw.dynamodb?.Keys;
    if (!keys) continue;
    const id = JSON.stringify(keys);
    latest.set(id, toServiceStreamRecord(raw));
    keysOf.set(id, keys);
  }
  let published = 0;
  let unchanged = 0;
  for (const [id, last] of latest) {
    const current = await deps.source.currentItem(table, keysOf.get(id)!);
    const record: ServiceStreamRecord = current
      ? {
          eventName: 'INSERT',
          tableName: table,
          keys: last.keys,
          newImage: current,
          approximateAt: last.approximateAt,
        }
      : {
          eventName: 'REMOVE',
          tableName: table,
          keys: last.keys,
          ...((last.oldImage ?? last.newImage) ? { oldImage: last.oldImage ?? last.newImage } : {}),
          approximateAt: last.approximateAt,
        };
    let event: ReturnType<typeof captureServiceChange>;
    try {
      event = captureServiceChange(entity, record);
    } catch (e) {
      // An item the entity cannot describe fails here as it failed the capture: the message
      // stays, with the reason (masked, no values); the keys before it went out (harmless twice).
      return { outcome: 'unreadable', reason: `${entity.name} item: ${describeError(e)}` };
    }
    if (!event) {
      unchanged++;
      continue;
    }
    await deps.bus.publish([toBusEntry(event, serviceDetailTypeOf(entity))]);
    published++;
  }
  return { outcome: 'republished', keys: latest.size, published, unchanged };
}
