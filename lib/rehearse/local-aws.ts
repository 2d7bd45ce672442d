/**
 * The parts of AWS the rehearsal runs in-process, each driven only by the assembly model:
 *
 * - {@link LocalBus}: EventBridge PutEvents onto a bus; every enabled rule of that bus whose
 *   pattern matches (lib/rehearse/event-pattern.ts) delivers the event envelope to its targets.
 * - {@link LocalQueue}: SQS with visibility timeout, redelivery, `ApproximateReceiveCount`, and
 *   the move to the dead-letter queue when a receive would exceed `maxReceiveCount`.
 * - {@link EventSourceMapping}: Lambda's SQS poller: batches up to `BatchSize`, waits up to the
 *   batching window, at most `MaximumConcurrency` invocations, deletes what the function did not
 *   report in `batchItemFailures` (or nothing when the invocation failed).
 *
 * Durations of the templates (visibility timeout, batching window) are divided by `timeScale`
 * so that a rehearsal of minutes shows what hours would.
 */
import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { AssemblyModel, MappingModel, QueueModel, ResourceId } from './assembly.js';
import { matchesEventPattern } from './event-pattern.js';

/** An entry of PutEvents (the shape lambdas/domain/ports.ts `BusEvent` has). */
export interface PutEventsEntry {
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
}

/** The envelope EventBridge delivers to a target. */
export interface BusEnvelope {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
}

export const LOCAL_ACCOUNT = '123456789012';
export const LOCAL_REGION = 'us-east-1';

export interface QueueMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  receiveCount: number;
  visibleAt: number;
  firstReceivedAt?: number;
  receivedAt?: number;
}

export class LocalQueue {
  private readonly messages = new Map<string, QueueMessage>();
  /** Messages moved to this queue's DLQ. */
  movedToDlq = 0;

  constructor(
    readonly model: QueueModel,
    private readonly timeScale: number,
    private readonly dlq?: LocalQueue,
    private readonly now: () => number = Date.now,
  ) {}

  get depth(): number {
    return this.messages.size;
  }

  send(body: string): string {
    const messageId = randomUUID();
    const t = this.now();
    this.messages.set(messageId, { messageId, body, sentAt: t, receiveCount: 0, visibleAt: t });
    return messageId;
  }

  /** Receives up to `max` visible messages, hiding them for the visibility timeout. */
  receive(max: number): QueueMessage[] {
    const t = this.now();
    const out: QueueMessage[] = [];
    for (const m of this.messages.values()) {
      if (out.length >= max) break;
      if (m.visibleAt > t) continue;
      const redrive = this.model.redrive;
      if (redrive && m.receiveCount >= redrive.maxReceiveCount) {
        // SQS moves a message whose receive count would pass maxReceiveCount to the DLQ.
        this.messages.delete(m.messageId);
        this.movedToDlq++;
        this.dlq?.send(m.body);
        continue;
      }
      m.receiveCount++;
      m.firstReceivedAt ??= t;
      m.receivedAt = t;
      // Hidden while its invocation runs: the templates keep the visibility timeout at 6x the
      // function timeout, so on AWS a message never reappears mid-invocation; scaled down, the
      // timeout alone could be shorter than a local invocation. See release().
      m.visibleAt = Number.POSITIVE_INFINITY;
      out.push(m);
    }
    return out;
  }

  /** Visible messages (without receiving them). */
  visibleCount(): number {
    const t = this.now();
    let n = 0;
    for (const m of this.messages.values()) if (m.visibleAt <= t) n++;
    return n;
  }

  /** A received message that was not deleted: visible again when its visibility timeout ends. */
  release(messageId: string): void {
    const m = this.messages.get(messageId);
    if (!m) return;
    m.visibleAt = Math.max(
      this.now(),
      (m.receivedAt ?? this.now()) + (this.model.visibilityTimeoutSeconds * 1000) / this.timeScale,
    );
  }

  delete(messageId: string): void {
    this.messages.delete(messageId);
  }

  /** Every message body in the queue (a DLQ's content for the report). */
  bodies(): string[] {
    return [...this.messages.values()].map((m) => m.body);
  }
}

export type Invoke = (event: unknown) => Promise<unknown>;

/** The event a schedule rule without `Input` delivers to its target (EventBridge's Scheduled Event). */
export function scheduledEvent(ruleName: string, at: Date = new Date()): BusEnvelope {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT,
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${ruleName}`],
    detail: {},
  };
}

/** What a rule did with the events offered to the bus. */
export interface BusStats {
  put: number;
  /** Events no rule of the bus matched: AWS drops them silently. */
  unmatched: number;
  /** rule id -> events it delivered. */
  readonly delivered: Record<ResourceId, number>;
}

export class LocalBus {
  readonly stats: BusStats = { put: 0, unmatched: 0, delivered: {} };
  /** Sample of unmatched events (detail-type and source), for the report. */
  readonly unmatchedSamples: { source: string; detailType: string }[] = [];

  constructor(
    private readonly model: AssemblyModel,
    private readonly queues: ReadonlyMap<ResourceId, LocalQueue>,
    private readonly invokeFunction: (fn: ResourceId, event: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** The bus a name (`CUTOVER_BUS_NAME`) or id refers to. */
  busId(nameOrId: string): ResourceId {
    if (this.model.buses[nameOrId]) return nameOrId;
    const found = Object.entries(this.model.buses).find(([, name]) => name === nameOrId);
    if (!found) throw new Error(`no event bus named ${nameOrId} in the assembly`);
    return found[0];
  }

  putEvents(bus: ResourceId, entries: readonly PutEventsEntry[]): void {
    for (const e of entries) {
      const envelope: BusEnvelope = {
        version: '0',
        id: randomUUID(),
        'detail-type': e.DetailType,
        source: e.Source,
        account: LOCAL_ACCOUNT,
        time: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: LOCAL_REGION,
        resources: [],
        detail: JSON.parse(e.Detail),
      };
      this.stats.put++;
      let matched = false;
      for (const rule of this.model.rules) {
        if (!rule.enabled || rule.bus !== bus || !rule.eventPattern) continue;
        if (!matchesEventPattern(rule.eventPattern, envelope)) continue;
        matched = true;
        this.stats.delivered[rule.id] = (this.stats.delivered[rule.id] ?? 0) + 1;
        for (const t of rule.targets) {
          if (t.kind === 'queue') {
            const q = this.queues.get(t.resource);
            if (!q) throw new Error(`rule ${rule.id}: target queue ${t.resource} is not running`);
            q.send(JSON.stringify(envelope));
          } else if (t.kind === 'function') {
            this.invokeFunction(t.resource, envelope);
          }
        }
      }
      if (!matched) {
        this.stats.unmatched++;
        if (this.unmatchedSamples.length < 10)
          this.unmatchedSamples.push({ source: e.Source, detailType: e.DetailType });
      }
    }
  }
}

/** What one mapping did. */
export interface MappingStats {
  invocations: number;
  recordsDelivered: number;
  recordsFailed: number;
  recordsDeleted: number;
  invocationErrors: number;
}

/**
 * Lambda's SQS event source mapping. `onAck` is told about each record the function acknowledged
 * (deleted from the queue), `onFail` about each failed one.
 */
export class EventSourceMapping {
  readonly stats: MappingStats = {
    invocations: 0,
    recordsDelivered: 0,
    recordsFailed: 0,
    recordsDeleted: 0,
    invocationErrors: 0,
  };
  private inFlight = 0;
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    readonly model: MappingModel,
    private readonly queue: LocalQueue,
    private readonly invoke: Invoke,
    private readonly options: {
      readonly timeScale: number;
      /** Concurrency when the mapping sets none: Lambda's SQS poller starts with 5 batches. @default 5 */
      readonly defaultConcurrency?: number;
      readonly reservedConcurrency?: number;
      readonly onAck?: (m: QueueMessage, at: number) => void;
      readonly onFail?: (m: QueueMessage, reason: string) => void;
      readonly pollMs?: number;
    },
  ) {}

  get concurrency(): number {
    const caps = [
      this.model.maximumConcurrency,
      this.options.reservedConcurrency,
      this.options.defaultConcurrency ?? 5,
    ].filter((x): x is number => x !== undefined && x > 0);
    return Math.min(...caps);
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Resolves when the queue holds no visible message and no invocation runs. */
  get idle(): boolean {
    return this.inFlight === 0 && this.queue.visibleCount() === 0;
  }

  private async run(): Promise<void> {
    const poll = this.options.pollMs ?? 5;
    const windowMs = (this.model.maximumBatchingWindowSeconds * 1000) / this.options.timeScale;
    const running = new Set<Promise<void>>();
    while (!this.stopped) {
      if (this.inFlight >= this.concurrency || this.queue.visibleCount() === 0) {
        await sleep(poll);
        continue;
      }
      if (windowMs > 0 && this.queue.visibleCount() < this.model.batchSize) {
        // The batching window: wait for a full batch or the window, whichever comes first.
        const until = Date.now() + windowMs;
        while (!this.stopped && Date.now() < until && this.queue.visibleCount() < this.model.batchSize)
          await sleep(poll);
      }
      const batch = this.queue.receive(this.model.batchSize);
      if (batch.length === 0) continue;
      const p = this.deliver(batch).finally(() => running.delete(p));
      running.add(p);
    }
    await Promise.allSettled(running);
  }

  private async deliver(batch: QueueMessage[]): Promise<void> {
    this.inFlight++;
    this.stats.invocations++;
    this.stats.recordsDelivered += batch.length;
    const event: SQSEvent = {
      Records: batch.map((m) => ({
        messageId: m.messageId,
        receiptHandle: m.messageId,
        body: m.body,
        attributes: {
          ApproximateReceiveCount: String(m.receiveCount),
          SentTimestamp: String(m.sentAt),
          SenderId: 'AIDAIENQZJOLO23YVJ4VO',
          ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt ?? m.sentAt),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${this.queue.model.name}`,
        awsRegion: LOCAL_REGION,
      })),
    };
    try {
      const res = (await this.invoke(event)) as SQSBatchResponse | undefined;
      const failed = new Set(
        this.model.reportBatchItemFailures ? (res?.batchItemFailures ?? []).map((f) => f.itemIdentifier) : [],
      );
      // Without ReportBatchItemFailures a returned batchItemFailures list means nothing to Lambda.
      const at = Date.now();
      for (const m of batch) {
        if (failed.has(m.messageId)) {
          this.queue.release(m.messageId);
          this.stats.recordsFailed++;
          this.options.onFail?.(m, 'reported in batchItemFailures');
        } else {
          this.queue.delete(m.messageId);
          this.stats.recordsDeleted++;
          this.options.onAck?.(m, at);
        }
      }
    } catch (e) {
      // A failed invocation: every record becomes visible again after the visibility timeout.
      this.stats.invocationErrors++;
      this.stats.recordsFailed += batch.length;
      for (const m of batch) {
        this.queue.release(m.messageId);
        this.options.onFail?.(m, (e as Error).message);
      }
    } finally {
      this.inFlight--;
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
