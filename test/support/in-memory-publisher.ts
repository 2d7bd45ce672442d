/**
 * An in-memory EventPublisher: what the sync publishes to EventBridge is captured here (no AWS
 * is reachable in tests). `failNext(n)` makes the next n publish calls throw, as a throttled or
 * unreachable bus would.
 */
import type { ChangeEvent } from '../../lambdas/domain/events.js';
import type { BusEvent, EventPublisher } from '../../lambdas/domain/ports.js';

export class InMemoryPublisher implements EventPublisher {
  readonly published: BusEvent[] = [];
  /** Every entry published, with when (ms), in order; `take` leaves it alone. */
  readonly log: { readonly at: number; readonly entry: BusEvent }[] = [];
  private failures = 0;

  async publish(events: readonly BusEvent[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('PutEvents failed (injected)');
    }
    this.published.push(...events);
    const at = Date.now();
    for (const entry of events) this.log.push({ at, entry });
  }

  failNext(n = 1): void {
    this.failures = n;
  }

  /** Removes and returns everything published so far. */
  take(): BusEvent[] {
    return this.published.splice(0, this.published.length);
  }

  /** The contract events among `entries` (or everything published), parsed. */
  changeEvents(entries: readonly BusEvent[] = this.published): { detailType: string; event: ChangeEvent }[] {
    return entries
      .filter((e) => e.Source === 'cutover.legacy' || e.Source === 'cutover.service')
      .map((e) => ({ detailType: e.DetailType, event: JSON.parse(e.Detail) as ChangeEvent }));
  }
}
