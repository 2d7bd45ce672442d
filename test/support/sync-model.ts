/**
 * An in-memory model of two-way sync between a legacy side and a service side, driving the real
 * conflict engine (`decide`). Used by the property tests: it generates concurrent edits on both
 * sides and delivers the resulting events with duplicates, reordering and redelivery.
 *
 * The model follows the adapters' rules: a sync write does not move the target's change time;
 * legacy times have one-second precision; the legacy side emits whole rows (as the watermark
 * poller does), the service side emits only changed fields (as the stream capture does), and
 * counters travel as deltas applied once per eventId.
 *
 * Clocks: an edit may be made on a host whose clock is off (`skewMs`): its time, on the record
 * and in its event, is the skewed one. Events are decided against the model's true clock; one
 * dated more than `MAX_CLOCK_SKEW_MS` ahead is rejected (the DLQ) and kept in `rejected`.
 */

import {
  ClockSkewError,
  type Decision,
  decide,
  EMPTY_SYNC_STATE,
  type SyncState,
} from '../../lambdas/domain/conflict.js';
import type { ChangeEvent, FieldValue, Origin } from '../../lambdas/domain/events.js';
import type { EntitySpec } from '../../lib/spec/schema.js';

export const PRECISION_MS = 1000;
/** The receiving sync's allowance for clocks ahead of its own (the spec's default, 300 s). */
export const MAX_CLOCK_SKEW_MS = 300_000;

export interface Side {
  exists: boolean;
  data: Record<string, FieldValue>;
  /** Last local change (ms); legacy values are whole seconds. */
  changedAt?: number;
  /** Service item version (service only). */
  version?: number;
  /** Event ids whose deltas were applied here. */
  applied: Set<string>;
}

/** One local edit, for computing the expected winner. */
export interface Edit {
  origin: Origin;
  at: number;
  seq: number;
  values: Record<string, FieldValue>;
  deltas: Record<string, number>;
  /** How far the editing host's clock was off (ms; 0: a good clock). */
  skewMs: number;
  /** The event that carried the edit (none when it changed nothing). */
  eventId?: string;
}

export class SyncModel {
  readonly sides: Record<Origin, Side>;
  state: SyncState = EMPTY_SYNC_STATE;
  clock = 1_700_000_000_000;
  private obs = 0;
  private ids = 0;
  readonly pending: ChangeEvent[] = [];
  readonly delivered: ChangeEvent[] = [];
  /** Events the sync rejected (to the DLQ), with the reason and the receiving clock then. */
  readonly rejected: { event: ChangeEvent; reason: string; clock: number }[] = [];
  readonly edits: Edit[] = [];
  readonly decisions: Decision[] = [];
  readonly parked = new Map<string, { field: string; legacy: FieldValue; service: FieldValue }>();

  constructor(
    readonly entity: EntitySpec,
    initial: Record<string, FieldValue>,
  ) {
    // Both sides start in sync (after a backfill): same data, agreed sync state.
    const fields: Record<string, { value: FieldValue; seen: Record<string, never> }> = {
      $exists: { value: true, seen: {} },
    };
    for (const [k, v] of Object.entries(initial)) fields[k] = { value: v, seen: {} };
    this.state = { fields };
    this.sides = {
      legacy: { exists: true, data: { ...initial }, changedAt: this.floor(this.clock), applied: new Set() },
      service: { exists: true, data: { ...initial }, changedAt: this.clock, version: 1, applied: new Set() },
    };
  }

  private floor(ms: number): number {
    return Math.floor(ms / PRECISION_MS) * PRECISION_MS;
  }

  tick(ms: number): void {
    this.clock += ms;
  }

  private counterFields(): string[] {
    return this.entity.fields.filter((f) => (f.policy ?? this.entity.policy) === 'sum').map((f) => f.name);
  }

  /**
   * A local write on one side; it is captured as an event for the other side. `skewMs`: how far
   * the clock of the host making it is off (its time is recorded on the record and the event).
   */
  edit(
    origin: Origin,
    values: Record<string, FieldValue>,
    deltas: Record<string, number> = {},
    skewMs = 0,
  ): void {
    const side = this.sides[origin];
    const before = { ...side.data };
    Object.assign(side.data, values);
    for (const [k, d] of Object.entries(deltas)) side.data[k] = Number(side.data[k] ?? 0) + d;
    const at = origin === 'legacy' ? this.floor(this.clock + skewMs) : this.clock + skewMs;
    side.changedAt = at;
    let seq: number;
    if (origin === 'service') {
      side.version = (side.version ?? 0) + 1;
      seq = side.version;
    } else {
      seq = ++this.obs;
    }
    const edit: Edit = { origin, at, seq, values: { ...values }, deltas: { ...deltas }, skewMs };
    this.edits.push(edit);
    const counters = new Set(this.counterFields());
    const data: Record<string, FieldValue> = {};
    for (const f of this.entity.fields) {
      if (counters.has(f.name)) continue;
      // Legacy: the poller emits the whole row. Service: the stream capture emits the diff.
      if (origin === 'legacy' || before[f.name] !== side.data[f.name])
        data[f.name] = side.data[f.name] ?? null;
    }
    if (Object.keys(data).length === 0 && Object.keys(deltas).length === 0) return;
    const event = this.event(origin, at, seq, data, deltas);
    edit.eventId = event.eventId;
    this.pending.push(event);
  }

  private event(
    origin: Origin,
    at: number,
    seq: number,
    data: Record<string, FieldValue>,
    deltas: Record<string, number>,
    op: 'upsert' | 'delete' = 'upsert',
    causedBy?: string,
  ): ChangeEvent {
    return {
      schemaVersion: 1,
      eventId: `${origin}-${++this.ids}`,
      entity: this.entity.name,
      key: 'k1',
      op,
      changedAt: new Date(at).toISOString(),
      origin,
      data,
      ...(Object.keys(deltas).length ? { deltas } : {}),
      sequence: seq,
      ...(causedBy ? { causedBy } : {}),
    };
  }

  /** Runs the engine for one event against the side it targets, and applies the decision. */
  /** The legacy observation clock (the poller's read time): orders legacy observations. */
  observe(): number {
    return ++this.obs;
  }

  /** What the engine decides for an event against the current state (nothing is applied). */
  decideFor(event: ChangeEvent): Decision {
    const target: Origin = event.origin === 'legacy' ? 'service' : 'legacy';
    const side = this.sides[target];
    return decide({
      entity: this.entity,
      target,
      precisionMs: PRECISION_MS,
      record: {
        exists: side.exists,
        data: side.data,
        ...(side.changedAt !== undefined ? { changedAt: side.changedAt } : {}),
        // The service's item version; for legacy, the read time on the poller's clock.
        version: target === 'service' ? side.version! : this.observe(),
      },
      state: this.state,
      event,
      deltasApplied: side.applied.has(event.eventId),
      now: this.clock,
      maxClockSkewMs: MAX_CLOCK_SKEW_MS,
    });
  }

  /** Delivers one event; undefined when the sync rejected it (it is in `rejected`). */
  deliver(event: ChangeEvent): Decision | undefined {
    const target: Origin = event.origin === 'legacy' ? 'service' : 'legacy';
    const side = this.sides[target];
    let decision: Decision;
    try {
      decision = this.decideFor(event);
    } catch (e) {
      if (!(e instanceof ClockSkewError)) throw e;
      this.rejected.push({ event, reason: e.message, clock: this.clock });
      return undefined;
    }
    this.decisions.push(decision);
    this.delivered.push(event);
    if (decision.delete) {
      side.exists = false;
    } else {
      if (decision.create) side.exists = true;
      Object.assign(side.data, decision.patch);
      for (const [k, d] of Object.entries(decision.deltas)) side.data[k] = Number(side.data[k] ?? 0) + d;
    }
    if (Object.keys(decision.deltas).length) side.applied.add(event.eventId);
    // A sync write moves the item version but is no local change: changedAt stays.
    if (
      (Object.keys(decision.patch).length || Object.keys(decision.deltas).length) &&
      side.version !== undefined
    ) {
      side.version += 1;
    }
    this.state = decision.state;
    for (const p of decision.parked) {
      this.parked.set(p.conflictId, { field: p.field, legacy: p.legacy.value, service: p.service.value });
    }
    if (decision.pushBack) {
      const pb = decision.pushBack;
      const seq = target === 'service' ? (side.version ?? 0) : this.observe();
      this.pending.push({
        ...this.event(target, pb.changedAt, seq, { ...pb.data }, {}, pb.op, event.eventId),
        eventId: `pushback:${event.eventId}`,
      });
    }
    return decision;
  }

  /** Delivers the pending event at index i (removing it). */
  deliverAt(i: number): Decision | undefined {
    const [event] = this.pending.splice(i, 1);
    return this.deliver(event!);
  }

  /** Queues a copy of an already delivered event (at-least-once redelivery). */
  redeliver(i: number): void {
    const e = this.delivered[i % this.delivered.length];
    if (e) this.pending.push(e);
  }

  /** Delivers everything, in an order picked by `pick`, until nothing is pending. */
  drain(pick: (n: number) => number, limit = 10_000): void {
    let steps = 0;
    while (this.pending.length) {
      if (++steps > limit) throw new Error('sync did not quiesce (push-back loop?)');
      this.deliverAt(pick(this.pending.length));
    }
  }
}
