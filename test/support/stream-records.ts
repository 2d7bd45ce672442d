/**
 * DynamoDB stream records as an EventBridge Pipe hands them to its enrichment (the
 * service-capture handler): read from DynamoDB Local's stream with the DynamoDB Streams API and
 * put in the shape of the recorded payloads under test/contracts/dynamodb-streams/, and the
 * shape itself, to check a stand-in against those recordings.
 */

import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { dynamoClient } from './databases.js';

const ATTRIBUTE_TYPES = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL']);

/**
 * The structure of one stream record: each field of the record and of its `dynamodb` part with
 * its JSON type; an image or key map is `attributes` when every value is DynamoDB JSON (one type
 * tag). Field values are not compared: the recordings are of other tables.
 */
export function streamRecordShape(record: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const typeOf = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
  for (const [k, v] of Object.entries(record as Record<string, unknown>)) {
    if (k !== 'dynamodb') {
      out[k] = typeOf(v);
      continue;
    }
    for (const [dk, dv] of Object.entries(v as Record<string, unknown>)) {
      const isMap =
        typeOf(dv) === 'object' &&
        Object.values(dv as Record<string, unknown>).every(
          (av) =>
            typeOf(av) === 'object' &&
            Object.keys(av as object).length === 1 &&
            ATTRIBUTE_TYPES.has(Object.keys(av as object)[0]!),
        );
      out[`dynamodb.${dk}`] = isMap ? 'attributes' : typeOf(dv);
    }
  }
  return out;
}

/** A record of the DynamoDB Streams API as the pipe delivers it (JSON, epoch seconds, the stream ARN). */
export function asPipeRecord(record: _Record, streamArn: string): Record<string, unknown> {
  const d = record.dynamodb ?? {};
  return JSON.parse(
    JSON.stringify({
      eventID: record.eventID,
      eventName: record.eventName,
      eventVersion: record.eventVersion,
      eventSource: record.eventSource,
      awsRegion: record.awsRegion,
      dynamodb: {
        ...(d.ApproximateCreationDateTime
          ? { ApproximateCreationDateTime: Math.floor(d.ApproximateCreationDateTime.getTime() / 1000) }
          : {}),
        Keys: d.Keys,
        ...(d.NewImage ? { NewImage: d.NewImage } : {}),
        ...(d.OldImage ? { OldImage: d.OldImage } : {}),
        SequenceNumber: d.SequenceNumber,
        SizeBytes: d.SizeBytes,
        StreamViewType: d.StreamViewType,
      },
      eventSourceARN: streamArn,
    }),
  ) as Record<string, unknown>;
}

/** Reads a table's stream on DynamoDB Local from the position after the records already read. */
export class StreamReader {
  private readonly streams: DynamoDBStreamsClient;
  private iterators = new Map<string, string | undefined>();
  private streamArn?: string;

  constructor(
    private readonly endpoint: string,
    private readonly table: string,
  ) {
    this.streams = new DynamoDBStreamsClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  }

  /** Every record written since the last call (since the stream began, on the first), as the pipe delivers them. */
  async read(): Promise<Record<string, unknown>[]> {
    if (!this.streamArn) {
      const ddb = dynamoClient(this.endpoint);
      try {
        const t = await ddb.send(new DescribeTableCommand({ TableName: this.table }));
        this.streamArn = t.Table?.LatestStreamArn;
      } finally {
        ddb.destroy();
      }
      if (!this.streamArn) throw new Error(`table ${this.table} has no stream`);
    }
    const desc = await this.streams.send(new DescribeStreamCommand({ StreamArn: this.streamArn }));
    const out: Record<string, unknown>[] = [];
    for (const shard of desc.StreamDescription?.Shards ?? []) {
      const id = shard.ShardId!;
      let iterator = this.iterators.get(id);
      if (!this.iterators.has(id)) {
        iterator = (
          await this.streams.send(
            new GetShardIteratorCommand({
              StreamArn: this.streamArn,
              ShardId: id,
              ShardIteratorType: 'TRIM_HORIZON',
            }),
          )
        ).ShardIterator;
      }
      while (iterator) {
        const res = await this.streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
        out.push(...(res.Records ?? []).map((r) => asPipeRecord(r, this.streamArn!)));
        this.iterators.set(id, res.NextShardIterator);
        if (!res.Records?.length) break;
        iterator = res.NextShardIterator;
      }
    }
    return out;
  }

  close(): void {
    this.streams.destroy();
  }
}
