/**
 * The batched sync path (for `eventual` entities and bulk catch-up): the same decisions as
 * sync.ts, made for many records at once with set-based compare-and-set.
 *
 * - forward (-> DynamoDB): BatchGetItem of the items and their sync states, decide each, then
 *   TransactWriteItems of item + state for many records per transaction (conditional on each
 *   version and revision read).
 * - reverse (-> MySQL): BatchGetItem of key map and states, then one transaction that locks the
 *   rows (`SELECT … FOR UPDATE`), decides on exactly the locked values and writes every patch
 *   with one multi-row statement per table; then the states in conditional transactions.
 *
 * Only plain updates of existing records go this way. Anything else — creates, deletes, counter
 * deltas, push-backs, parked conflicts, a key seen twice in the batch, a record whose
 * transaction lost a race, or an entity with references (translated per record) — falls back to
 * the single-record path, so the guarantees are those of sync.ts.
 */

import { hasReferences } from '../../lib/spec/lookup.js';
import type { EntitySpec } from '../../lib/spec/schema.js';
import { type Decision, decide, provenanceOf } from './conflict.js';
import type { ChangeEvent } from './events.js';
import type { LegacyBatchWriter, Row, ServiceWrite, StoredRecord, StoredSyncState } from './ports.js';
import {
  type ApplyResult,
  applyToLegacy,
  applyToService,
  canonicalEvent,
  clockOf,
  forwardProvenance,
  type ServiceSyncDeps,
  type SyncDeps,
  unchangedState,
  undoLegacyWrite,
  unstorableFields,
} from './sync.js';

export interface BatchItemResult {
  readonly eventId: string;
  /** The result, or the error that made this event fail (the others are unaffected). */
  readonly result?: ApplyResult;
  readonly error?: unknown;
  /** Whether the event went through the batched path (else the single-record fallback). */
  readonly batched: boolean;
}

/**
 * What the reverse sync's batched path needs: the sync's ports and the legacy store's set-based
 * compare-and-set. The composition root gives it only with a legacy store that has one (MySQL);
 * with another (a REST API) it applies the events one by one ({@link applyEach}).
 */
export interface BatchSyncDeps extends SyncDeps {
  readonly legacyBatch: LegacyBatchWriter;
}

const EMPTY: StoredSyncState = { state: { fields: {} }, revision: 0 };

function plain(decision: Decision): boolean {
  return (
    !decision.create &&
    !decision.delete &&
    Object.keys(decision.deltas).length === 0 &&
    decision.pushBack === undefined &&
    decision.parked.length === 0
  );
}

/** Splits a batch into the first event of each key (batchable) and the rest (in order). */
function firstPerKey(events: readonly ChangeEvent[]): { first: ChangeEvent[]; rest: ChangeEvent[] } {
  const seen = new Set<string>();
  const first: ChangeEvent[] = [];
  const rest: ChangeEvent[] = [];
  for (const e of events) {
    if (seen.has(e.key) || Object.keys(e.deltas ?? {}).length || e.op === 'delete') rest.push(e);
    else {
      seen.add(e.key);
      first.push(e);
    }
  }
  return { first, rest };
}

/**
 * The events one after the other on the single-record path, each with its own result or error:
 * what the batched paths fall back to, and how a composition root without set-based writes
 * applies a batch.
 */
export async function applyEach<D extends ServiceSyncDeps>(
  deps: D,
  entity: EntitySpec,
  events: readonly ChangeEvent[],
  apply: (deps: D, entity: EntitySpec, event: ChangeEvent) => Promise<ApplyResult>,
): Promise<BatchItemResult[]> {
  const out: BatchItemResult[] = [];
  for (const e of events) {
    try {
      out.push({ eventId: e.eventId, result: await apply(deps, entity, e), batched: false });
    } catch (error) {
      out.push({ eventId: e.eventId, error, batched: false });
    }
  }
  return out;
}

/** The events in canonical form; a malformed one fails alone, as a result of its own. */
function canonicalEvents(
  entity: EntitySpec,
  events: readonly ChangeEvent[],
): { valid: ChangeEvent[]; results: BatchItemResult[] } {
  const results: BatchItemResult[] = [];
  const valid: ChangeEvent[] = [];
  for (const e of events) {
    try {
      valid.push(canonicalEvent(entity, e));
    } catch (error) {
      results.push({ eventId: e.eventId, error, batched: false });
    }
  }
  return { valid, results };
}

/** Forward sync of many legacy changes of one entity. */
export async function applyBatchToService(
  deps: ServiceSyncDeps,
  entity: EntitySpec,
  events: readonly ChangeEvent[],
): Promise<BatchItemResult[]> {
  const { service, state } = deps;
  // References are translated record by record (references.ts): the single-record path.
  if (hasReferences(entity)) {
    return applyEach(deps, entity, events, applyToService);
  }
  const { valid, results } = canonicalEvents(entity, events);
  const { first, rest } = firstPerKey(valid);
  const mapped = await state.serviceKeysOf(
    entity,
    first.map((e) => e.key),
  );
  const keyOf = (e: ChangeEvent) => mapped.get(e.key) ?? e.key;
  const keys = first.map(keyOf);
  const [records, states] = await Promise.all([service.readMany(entity, keys), state.getMany(entity, keys)]);
  const writes: { key: string; write: ServiceWrite }[] = [];
  const pending = new Map<string, { event: ChangeEvent; decision: Decision }>();
  const slow: ChangeEvent[] = [...rest];
  for (const e of first) {
    const key = keyOf(e);
    const record: StoredRecord = records.get(key) ?? { key, exists: false, data: {} };
    const stored = states.get(key) ?? EMPTY;
    let decision: Decision;
    try {
      decision = decide({
        entity,
        target: 'service',
        precisionMs: deps.spec.legacy.timestampPrecisionMs,
        ...clockOf(deps),
        record,
        state: forwardProvenance(deps.spec, entity, e.key, mapped.has(e.key), stored.state),
        event: e,
      });
    } catch (error) {
      results.push({ eventId: e.eventId, error, batched: false });
      continue;
    }
    if (!plain(decision) || !record.exists) {
      slow.push(e);
      continue;
    }
    if (!Object.keys(decision.patch).length) {
      // Nothing to write to the item (an echo of the sync's own write, a value already there):
      // as on the single path, the item is left alone (its version does not move); a state
      // that changed is stored there.
      if (unchangedState(stored.state, decision.state))
        results.push({
          eventId: e.eventId,
          result: { decision, attempts: 1, targetKey: key, created: false },
          batched: true,
        });
      else slow.push(e);
      continue;
    }
    pending.set(key, { event: e, decision });
    writes.push({
      key,
      write: {
        expected: record,
        patch: decision.patch,
        deltas: {},
        create: false,
        delete: false,
        eventId: e.eventId,
        changedAt: e.changedAt,
        state: { next: decision.state, expectedRevision: stored.revision },
      },
    });
  }
  const outcomes = writes.length ? await service.writeMany(entity, writes) : new Map();
  for (const [key, { event, decision }] of pending) {
    if (outcomes.get(key) === 'written') {
      results.push({
        eventId: event.eventId,
        result: { decision, attempts: 1, targetKey: key, created: false },
        batched: true,
      });
    } else slow.push(event);
  }
  results.push(...(await applyEach(deps, entity, slow, applyToService)));
  return results;
}

/** Reverse sync of many service changes of one entity. */
export async function applyBatchToLegacy(
  deps: BatchSyncDeps,
  entity: EntitySpec,
  events: readonly ChangeEvent[],
): Promise<BatchItemResult[]> {
  const { legacy, legacyBatch, state } = deps;
  if (hasReferences(entity)) {
    return applyEach(deps, entity, events, applyToLegacy);
  }
  const { valid, results } = canonicalEvents(entity, events);
  const { first: candidates, rest } = firstPerKey(valid);
  // The states first: a record the forward sync brought over from the legacy side is its legacy
  // row under the same key (its provenance says so), so the key map is read only for the others.
  // A record born in the service and not mapped yet is created on the single path.
  const [states, limits] = await Promise.all([
    state.getMany(
      entity,
      candidates.map((e) => e.key),
    ),
    legacy.columnLimits(entity),
  ]);
  const fromLegacy = (key: string) => provenanceOf((states.get(key) ?? EMPTY).state) === 'legacy';
  const lookup = candidates.map((e) => e.key).filter((k) => !fromLegacy(k));
  const mapped = lookup.length ? await state.legacyKeysOf(entity, lookup) : new Map<string, string>();
  const slow: ChangeEvent[] = [...rest];
  const first = candidates.filter((e) => {
    const known = fromLegacy(e.key) || mapped.has(e.key);
    if (!known) slow.push(e);
    return known;
  });
  const legacyKeyOf = (e: ChangeEvent) => mapped.get(e.key) ?? e.key;
  // Column limits are checked on the values as sent (before canonical rounding): the single path
  // gets the events as sent too.
  const rawById = new Map(events.map((e) => [e.eventId, e]));
  const asSent = (e: ChangeEvent) => rawById.get(e.eventId) ?? e;
  const decisions = new Map<string, { event: ChangeEvent; decision: Decision; record: StoredRecord }>();
  const errors: BatchItemResult[] = [];
  // Decided inside the store's transaction, on the locked rows.
  try {
    await legacyBatch.applyBatch(entity, first.map(legacyKeyOf), (locked) => {
      const patches = new Map<string, Row>();
      for (const e of first) {
        const lk = legacyKeyOf(e);
        const record = locked.get(lk);
        if (!record?.exists) {
          slow.push(e);
          continue;
        }
        let decision: Decision;
        try {
          const clock = clockOf(deps);
          const unstorable = unstorableFields(entity, limits, asSent(e));
          decision = decide({
            entity,
            target: 'legacy',
            precisionMs: deps.spec.legacy.timestampPrecisionMs,
            ...clock,
            // The rows are locked: now is after every legacy change this write can see.
            record: { ...record, version: clock.now },
            state: (states.get(e.key) ?? EMPTY).state,
            event: e,
            ...(unstorable ? { unstorable } : {}),
          });
        } catch (error) {
          errors.push({ eventId: e.eventId, error, batched: false });
          continue;
        }
        if (!plain(decision)) {
          slow.push(e);
          continue;
        }
        decisions.set(e.key, { event: e, decision, record });
        if (Object.keys(decision.patch).length) patches.set(lk, decision.patch);
      }
      return patches;
    });
  } catch (error) {
    // The batch transaction failed as a whole (rolled back): each event takes the single path,
    // and the caller hears of it (a failing batch path would otherwise only show as slowness).
    deps.onBatchFailed?.(entity, error, first.length);
    decisions.clear();
    errors.length = 0;
    slow.length = 0;
    slow.push(...valid);
  }
  results.push(...errors);
  const stateWrites = [...decisions].map(([key, { decision }]) => ({
    key,
    write: { next: decision.state, expectedRevision: (states.get(key) ?? EMPTY).revision },
  }));
  const stored = stateWrites.length ? await state.putMany(entity, stateWrites) : new Set<string>();
  for (const [key, { event, decision, record }] of decisions) {
    if (stored.has(key)) {
      results.push({
        eventId: event.eventId,
        result: { decision, attempts: 1, targetKey: legacyKeyOf(event), created: false },
        batched: true,
      });
    } else {
      // The legacy write is committed but its state lost the race: it was decided on a state
      // another writer has moved on (read before the rows were locked), so it is undone and the
      // single path decides again (sync.ts `undoLegacyWrite`).
      await undoLegacyWrite(deps, entity, event, record, decision.patch);
      slow.push(event);
    }
  }
  results.push(...(await applyEach(deps, entity, slow.map(asSent), applyToLegacy)));
  return results;
}
