/**
 * EventPublisher on EventBridge: PutEvents in batches of at most 10 entries, retrying only the
 * entries that failed (FailedEntryCount), a bounded number of times with jittered backoff.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { BusEvent, EventPublisher } from '../domain/ports.js';
import { backoff } from './system-clock.js';

export class PublishError extends Error {
  readonly failed: readonly { readonly entry: BusEvent; readonly code?: string }[];
  constructor(failed: readonly { entry: BusEvent; code?: string }[]) {
    super(
      `${failed.length} event(s) not accepted by EventBridge: ${[...new Set(failed.map((f) => f.code))].join(', ')}`,
    );
    this.name = 'PublishError';
    this.failed = failed;
  }
}

export interface EventBridgePublisherOptions {
  readonly busName: string;
  readonly client?: EventBridgeClient;
  /** Retries of failed entries. @default 3 */
  readonly maxRetries?: number;
  /** @default 50 */
  readonly baseDelayMs?: number;
}

export const PUT_EVENTS_MAX_ENTRIES = 10;

export class EventBridgePublisher implements EventPublisher {
  private readonly client: EventBridgeClient;

  constructor(private readonly options: EventBridgePublisherOptions) {
    this.client = options.client ?? new EventBridgeClient({});
  }

  async publish(events: readonly BusEvent[]): Promise<void> {
    const batches: BusEvent[][] = [];
    for (let i = 0; i < events.length; i += PUT_EVENTS_MAX_ENTRIES) {
      batches.push(events.slice(i, i + PUT_EVENTS_MAX_ENTRIES));
    }
    await Promise.all(batches.map((b) => this.putBatch(b)));
  }

  private async putBatch(batch: BusEvent[]): Promise<void> {
    let pending = batch;
    const max = this.options.maxRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      const entries: PutEventsRequestEntry[] = pending.map((e) => ({
        ...e,
        EventBusName: this.options.busName,
      }));
      const res = await this.client.send(new PutEventsCommand({ Entries: entries }));
      if (!res.FailedEntryCount) return;
      // Entries in the response are positional: keep only the ones that failed.
      const failed = pending
        .map((entry, i) => ({ entry, code: res.Entries?.[i]?.ErrorCode }))
        .filter((f) => f.code !== undefined);
      if (attempt >= max) throw new PublishError(failed);
      pending = failed.map((f) => f.entry);
      await backoff(attempt, { baseMs: this.options.baseDelayMs ?? 50 });
    }
  }
}
