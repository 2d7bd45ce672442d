/**
 * An EventBridge Pipe as the template configures it, on DynamoDB Local's Streams: it reads the
 * source table's stream from its latest position, batches up to the source `BatchSize`, drops
 * records no filter pattern matches (when the pipe has filters), calls the enrichment function
 * with the batch (records in the shape a Lambda/Pipe receives them), and puts one bus entry per
 * enrichment result, mapping `DetailType`, `Source` and the `InputTemplate` from it.
 */
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type _Record as StreamApiRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { PipeModel } from './assembly.js';
import { matchesEventPattern } from './event-pattern.js';
import { type Invoke, LOCAL_REGION, type PutEventsEntry, sleep } from './local-aws.js';

export interface PipeStats {
  records: number;
  filteredOut: number;
  enrichmentCalls: number;
  enrichmentErrors: number;
  published: number;
}

/** A stream record as Lambda and Pipes deliver it (DynamoDB JSON images, times in seconds). */
export function toDeliveredRecord(r: StreamApiRecord, streamArn: string): Record<string, unknown> {
  const d = r.dynamodb ?? {};
  const at = d.ApproximateCreationDateTime;
  return {
    eventID: r.eventID,
    eventName: r.eventName,
    eventVersion: r.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: LOCAL_REGION,
    dynamodb: {
      ...(at ? { ApproximateCreationDateTime: Math.floor(new Date(at).getTime() / 1000) } : {}),
      ...(d.Keys ? { Keys: d.Keys } : {}),
      ...(d.NewImage ? { NewImage: d.NewImage } : {}),
      ...(d.OldImage ? { OldImage: d.OldImage } : {}),
      SequenceNumber: d.SequenceNumber,
      SizeBytes: d.SizeBytes,
      StreamViewType: d.StreamViewType,
    },
    eventSourceARN: streamArn,
  };
}

/** `$.a.b` of a JSON value (the pipe target's paths). */
function jsonPath(value: unknown, path: string): unknown {
  if (!path.startsWith('$')) return path;
  let v: unknown = value;
  for (const part of path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)) {
    v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  }
  return v;
}

/** Applies an input template: `<$.path>` placeholders, the whole template being one of them. */
function render(template: string | undefined, item: unknown): string {
  if (!template) return JSON.stringify(item);
  const whole = /^<(\$[^>]*)>$/.exec(template.trim());
  if (whole) return JSON.stringify(jsonPath(item, whole[1]!));
  return template.replace(/<(\$[^>]*)>/g, (_m, p: string) => JSON.stringify(jsonPath(item, p)));
}

export class LocalPipe {
  readonly stats: PipeStats = {
    records: 0,
    filteredOut: 0,
    enrichmentCalls: 0,
    enrichmentErrors: 0,
    published: 0,
  };
  private stopped = false;
  private loop?: Promise<void>;
  private readonly client: DynamoDBStreamsClient;
  private pending = 0;

  constructor(
    readonly model: PipeModel,
    private readonly streamArn: string,
    endpoint: string,
    private readonly enrich: Invoke | undefined,
    private readonly put: (entries: PutEventsEntry[]) => void,
  ) {
    this.client = new DynamoDBStreamsClient({
      endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  }

  /**
   * Starts reading. The rehearsal creates the table just before, so its stream's start is the
   * template's StartingPosition LATEST (DynamoDB Local's LATEST iterators on a fresh shard
   * answer TrimmedDataAccessException; TRIM_HORIZON on an empty stream reads the same records).
   */
  async start(): Promise<void> {
    const iterators = new Map<string, string>();
    for (const shard of await this.shards()) {
      const it = await this.iterator(shard);
      if (it) iterators.set(shard, it);
    }
    this.loop = this.run(iterators, new Set(iterators.keys()));
  }

  /** Errors the reading loop met and recovered from (re-positioned iterators). */
  readonly errors: string[] = [];
  private readonly lastSequence = new Map<string, string>();

  private async iterator(shard: string): Promise<string | undefined> {
    const after = this.lastSequence.get(shard);
    const it = await this.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shard,
        ...(after
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    return it.ShardIterator;
  }

  get idle(): boolean {
    return this.pending === 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.client.destroy();
  }

  private async shards(): Promise<string[]> {
    const out: string[] = [];
    let start: string | undefined;
    do {
      const d = await this.client.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: start }),
      );
      for (const s of d.StreamDescription?.Shards ?? []) if (s.ShardId) out.push(s.ShardId);
      start = d.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return out;
  }

  private async run(iterators: Map<string, string>, known: Set<string>): Promise<void> {
    let lastDescribe = Date.now();
    while (!this.stopped) {
      let got = 0;
      for (const [shard, iterator] of [...iterators]) {
        let res: GetRecordsCommandOutput;
        try {
          res = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
        } catch (e) {
          // Expired or trimmed iterator: re-position after the last record delivered.
          if (this.errors.length < 20) this.errors.push(`${shard}: ${(e as Error).name}`);
          await sleep(100);
          const again = await this.iterator(shard).catch(() => undefined);
          if (again) iterators.set(shard, again);
          continue;
        }
        const records = res.Records ?? [];
        const last = records.at(-1)?.dynamodb?.SequenceNumber;
        if (last) this.lastSequence.set(shard, last);
        if (res.NextShardIterator) iterators.set(shard, res.NextShardIterator);
        else iterators.delete(shard);
        got += records.length;
        for (let i = 0; i < records.length; i += this.model.batchSize) {
          await this.deliver(records.slice(i, i + this.model.batchSize));
        }
      }
      if (Date.now() - lastDescribe > 1000 && !this.stopped) {
        // New shards (DynamoDB rolls them over): read them from their start.
        lastDescribe = Date.now();
        for (const shard of await this.shards().catch(() => [] as string[])) {
          if (known.has(shard)) continue;
          known.add(shard);
          const it = await this.iterator(shard).catch(() => undefined);
          if (it) iterators.set(shard, it);
        }
      }
      if (got === 0) await sleep(20);
    }
  }

  private async deliver(batch: StreamApiRecord[]): Promise<void> {
    this.pending++;
    try {
      this.stats.records += batch.length;
      let records = batch.map((r) => toDeliveredRecord(r, this.streamArn));
      if (this.model.filters.length) {
        const kept = records.filter((r) => this.model.filters.some((f) => matchesEventPattern(f, r)));
        this.stats.filteredOut += records.length - kept.length;
        records = kept;
      }
      if (!records.length) return;
      let items: unknown[] = records;
      if (this.enrich) {
        this.stats.enrichmentCalls++;
        // A failing enrichment is retried (the pipe's retry policy), as AWS does per batch.
        for (let attempt = 0; ; attempt++) {
          try {
            const out = await this.enrich(records);
            items = Array.isArray(out) ? out : out === undefined || out === null ? [] : [out];
            break;
          } catch (e) {
            this.stats.enrichmentErrors++;
            if (attempt >= 10) throw e;
            await sleep(50 * 2 ** Math.min(attempt, 5));
          }
        }
      }
      const entries = items.map((item) => ({
        DetailType: String(jsonPath(item, this.model.detailTypePath ?? 'Event from aws:dynamodb')),
        Source: String(jsonPath(item, this.model.sourcePath ?? `Pipe ${this.model.name ?? this.model.id}`)),
        Detail: render(this.model.inputTemplate, item),
      }));
      this.stats.published += entries.length;
      this.put(entries);
    } finally {
      this.pending--;
    }
  }
}
