/**
 * The sync use cases: apply one contract event to the other side.
 *
 * read (target record, sync state, applied-delta marker) -> decide (conflict engine) -> side
 * effects (park, push back) -> write with compare-and-set -> retry on a lost race by re-reading
 * and re-deciding. Nothing is written outside a compare-and-set, so two deliveries of the same
 * change, or two changes of the same record, racing in parallel never overwrite each other.
 *
 * Side effects (parked conflicts, push-back events) are made before the decision is committed:
 * at least once, with deterministic ids (`conflictId`, `pushback:<eventId>`), so a crash between
 * them and the commit repeats them harmlessly instead of losing them.
 */

import { keyMapEntity } from '../../lib/spec/lookup.js';
import type { EntitySpec, MigrationSpec } from '../../lib/spec/schema.js';
import { backoffMs } from './backoff.js';
import { type Decision, decide, provenanceOf, type SyncState, type Unstorable } from './conflict.js';
import { type ChangeEvent, ContractError, type FieldValue, type Origin, toBusEntry } from './events.js';
import type {
  Ambient,
  BusEvent,
  ConflictStore,
  EventPublisher,
  LegacyStore,
  ServiceStore,
  StoredRecord,
  SyncStateStore,
} from './ports.js';
import {
  assertLegacyCreate,
  type LegacyKeyResolver,
  ReferenceNotReadyError,
  referencesToLegacy,
  referencesToService,
} from './references.js';
import { type ColumnLimits, normalizeValue, sameValue, unstorableReason, ValueError } from './values.js';

/**
 * The sync's dependencies; its {@link Ambient} is the receiving clock (changes dated too far
 * ahead of it are rejected) and the jitter between compare-and-set attempts.
 */
export interface SyncDeps extends Ambient {
  readonly spec: MigrationSpec;
  readonly legacy: LegacyStore;
  readonly service: ServiceStore;
  readonly state: SyncStateStore;
  readonly conflicts: ConflictStore;
  readonly publisher: EventPublisher;
  /** Compare-and-set attempts before giving up (the message is then redelivered). @default 10 */
  readonly maxAttempts?: number;
  /**
   * Told when the batched path's transaction failed as a whole (sync-batch.ts): its events take
   * the single-record path, so nothing is lost, but the failure must not go unseen (the handler
   * logs it, masked, and counts it). @default - nothing
   */
  readonly onBatchFailed?: (entity: EntitySpec, error: unknown, events: number) => void;
}

/** What the forward sync needs: everything but the legacy store (it never reads the legacy side). */
export type ServiceSyncDeps = Omit<SyncDeps, 'legacy'>;

export interface ApplyResult {
  readonly decision: Decision;
  /** Compare-and-set attempts used. */
  readonly attempts: number;
  /** The key written on the target side. */
  readonly targetKey: string;
  /** The record was created on the target. */
  readonly created: boolean;
}

/** A compare-and-set kept losing; the message should be retried later. */
export class SyncContentionError extends Error {
  constructor(entity: string, attempts: number) {
    super(`${entity}: compare-and-set lost ${attempts} times in a row`);
    this.name = 'SyncContentionError';
  }
}

/** `cutover.conflict.parked`: no values (they may be personal data), only where to look. */
export const CONFLICT_PARKED_DETAIL_TYPE = 'cutover.conflict.parked';
/** Source of the sync's own operational events. */
export const SYNC_EVENT_SOURCE = 'cutover.sync';

function precisionOf(spec: MigrationSpec): number {
  return spec.legacy.timestampPrecisionMs;
}

/** The receiving clock and the skew allowed ahead of it, as `decide` takes them. */
export function clockOf(deps: Pick<SyncDeps, 'now' | 'spec'>): { now: number; maxClockSkewMs: number } {
  return { now: deps.now(), maxClockSkewMs: deps.spec.sync.maxClockSkewSeconds * 1000 };
}

/**
 * A legacy row cannot be brought over under its own key: the service item under that key was
 * born in the service (its legacy row, if any, is another one, found through the key map).
 */
export class KeyCollisionError extends Error {
  constructor(entity: string, key: string) {
    super(
      `${entity}: legacy key ${key} cannot be synced to service item ${key}: that item was created in the service (a different record)`,
    );
    this.name = 'KeyCollisionError';
  }
}

/**
 * The provenance the forward sync records for the service item a legacy change lands on: a
 * mapped key is a record born in the service; an unmapped one is the legacy row brought over
 * under its own key, unless the item under that key was itself born in the service. An entity
 * keyed by another's key (stock by product) has no provenance of its own: its key is that record's.
 * @throws KeyCollisionError in that last case
 */
export function forwardProvenance(
  spec: MigrationSpec,
  entity: EntitySpec,
  legacyKey: string,
  mapped: boolean,
  state: SyncState,
): SyncState {
  if (keyMapEntity(spec, entity) !== entity) {
    // Keyed by another's key: brought over under that key when the other's map had no entry.
    return mapped || state.bornOn === 'legacy' ? state : { ...state, bornOn: 'legacy' };
  }
  const born = provenanceOf(state);
  if (!mapped && born === 'service') throw new KeyCollisionError(entity.name, legacyKey);
  const bornOn = born ?? (mapped ? 'service' : 'legacy');
  return state.bornOn === bornOn ? state : { ...state, bornOn };
}

/**
 * The fields of an event whose raw value the legacy column cannot hold (`limits` from the legacy
 * store: the database's own column definitions), with the reason. Checked on the value as the
 * service sent it, before canonical rounding, so that digits beyond the column's scale count.
 * References are left out: the column gets the referenced record's legacy key, not this value.
 */
export function unstorableFields(
  entity: EntitySpec,
  limits: ReadonlyMap<string, ColumnLimits> | undefined,
  event: ChangeEvent,
): Record<string, Unstorable> | undefined {
  if (!limits) return undefined;
  const out: Record<string, Unstorable> = {};
  for (const [name, raw] of Object.entries(event.data)) {
    const limit = limits.get(name);
    if (!limit || entity.fields.find((f) => f.name === name)?.references) continue;
    const reason = unstorableReason(limit, raw);
    if (reason !== undefined) out[name] = { reason: `${entity.name}.${name}: ${reason}`, value: raw };
  }
  return Object.keys(out).length ? out : undefined;
}

/** The wait between compare-and-set attempts: up to 5 ms doubling per attempt, at most 200 ms. */
const jitter = (deps: Ambient, attempt: number) =>
  deps.sleep(backoffMs(attempt, { baseMs: 5, maxMs: 200 }, deps.random));

async function sideEffects(
  deps: ServiceSyncDeps,
  entity: EntitySpec,
  event: ChangeEvent,
  decision: Decision,
  targetKey: string,
) {
  const now = new Date(deps.now()).toISOString();
  const bus: BusEvent[] = [];
  // One announcement per conflict, though both directions (and redeliveries) park it: the
  // conflicts table says who announces it.
  const announced: string[] = [];
  for (const p of decision.parked) {
    if (!(await deps.conflicts.park({ ...p, parkedAt: now }))) continue;
    announced.push(p.conflictId);
    bus.push({
      Source: SYNC_EVENT_SOURCE,
      DetailType: CONFLICT_PARKED_DETAIL_TYPE,
      Detail: JSON.stringify({ conflictId: p.conflictId, entity: p.entity, key: p.key, field: p.field }),
    });
  }
  if (decision.pushBack) {
    const pb = decision.pushBack;
    const back: ChangeEvent = {
      schemaVersion: 1,
      eventId: `pushback:${event.eventId}`,
      entity: entity.name,
      // Events of an origin carry that origin's key.
      key: targetKey,
      op: pb.op,
      changedAt: new Date(pb.changedAt).toISOString(),
      origin: pb.origin,
      data: { ...pb.data },
      causedBy: event.eventId,
    };
    bus.push(toBusEntry(back));
  }
  if (!bus.length) return;
  try {
    await deps.publisher.publish(bus);
  } catch (e) {
    // The redelivery announces them instead.
    await Promise.all(announced.map((id) => deps.conflicts.unannounce(id)));
    throw e;
  }
}

/** Whether a decision leaves the sync state as it was (nothing to store). */
export function unchangedState(before: SyncState, after: SyncState): boolean {
  return JSON.stringify(before) === JSON.stringify(after);
}

/**
 * Forward sync: a legacy change applied to the service table.
 * @throws ContractError for an event the entity cannot take (a bad record: not retried)
 * @throws SyncContentionError when the compare-and-set keeps losing (retried by redelivery)
 */
export async function applyToService(
  deps: ServiceSyncDeps,
  entity: EntitySpec,
  input: ChangeEvent,
): Promise<ApplyResult> {
  assertRoute(input, entity, 'legacy');
  const canonical = canonicalEvent(entity, input);
  // References travel as legacy keys from Magento; the engine and the service see service keys.
  const event: ChangeEvent = {
    ...canonical,
    data: await referencesToService(deps.spec, entity, canonical.data, (ref, key) =>
      deps.state.serviceKeyOf(ref, key),
    ),
  };
  const hasDeltas = Object.keys(event.deltas ?? {}).length > 0;
  const readAll = (key: string) =>
    Promise.all([
      deps.service.read(entity, key),
      deps.state.get(entity, key),
      hasDeltas ? deps.service.deltasApplied(entity, event.eventId) : Promise.resolve(false),
    ] as const);
  const keyMap = keyMapEntity(deps.spec, entity);
  // Most records keep their legacy key on the service side: read under it while the key map is
  // looked up (one request where the store can read all of it), and read again only when the map
  // says otherwise. An entity keyed by another's key (stock by product) has no map of its own:
  // its service key is the one the referenced entity's map gives.
  const first =
    keyMap !== entity
      ? undefined
      : await deps.service.readForSync(entity, event.key, {
          legacyKey: event.key,
          ...(hasDeltas ? { eventId: event.eventId } : {}),
        });
  const serviceKey = first
    ? (first.mappedServiceKey ?? event.key)
    : ((await deps.state.serviceKeyOf(keyMap, event.key)) ?? event.key);
  const mapped = serviceKey !== event.key || first?.mappedServiceKey !== undefined;
  let prefetched: Awaited<ReturnType<typeof readAll>> | undefined =
    first && serviceKey === event.key ? [first.record, first.stored, first.applied] : undefined;
  const max = deps.maxAttempts ?? 10;
  for (let attempt = 1; attempt <= max; attempt++) {
    const [record, stored, applied] = prefetched ?? (await readAll(serviceKey));
    prefetched = undefined;
    const decision = decide({
      entity,
      target: 'service',
      precisionMs: precisionOf(deps.spec),
      ...clockOf(deps),
      record,
      state: forwardProvenance(deps.spec, entity, event.key, mapped, stored.state),
      event,
      key: serviceKey,
      deltasApplied: applied,
    });
    await sideEffects(deps, entity, event, decision, serviceKey);
    const writes =
      Object.keys(decision.patch).length > 0 ||
      Object.keys(decision.deltas).length > 0 ||
      decision.create ||
      decision.delete;
    let outcome: 'written' | 'conflict' | 'duplicate';
    if (writes) {
      outcome = await deps.service.write(entity, serviceKey, {
        expected: record,
        patch: decision.patch,
        deltas: decision.deltas,
        create: decision.create,
        delete: decision.delete,
        eventId: event.eventId,
        changedAt: event.changedAt,
        state: { next: decision.state, expectedRevision: stored.revision },
      });
    } else if (!unchangedState(stored.state, decision.state)) {
      const ok = await deps.state.put(entity, serviceKey, {
        next: decision.state,
        expectedRevision: stored.revision,
      });
      outcome = ok ? 'written' : 'conflict';
    } else {
      outcome = 'written';
    }
    if (outcome === 'written') {
      return { decision, attempts: attempt, targetKey: serviceKey, created: decision.create };
    }
    // conflict: another writer moved the item or the state; duplicate: the deltas landed
    // meanwhile. Either way re-read and re-decide.
    await jitter(deps, attempt);
  }
  throw new SyncContentionError(entity.name, max);
}

/**
 * Reverse sync: a service change applied to the legacy store. A record created on the service
 * side gets a legacy key on its first sync; the mapping is stored both ways, and the create is
 * idempotent (`createToken`), so a retry never creates a second row.
 */
export async function applyToLegacy(
  deps: SyncDeps,
  entity: EntitySpec,
  input: ChangeEvent,
): Promise<ApplyResult> {
  assertRoute(input, entity, 'service');
  const event = canonicalEvent(entity, input);
  const serviceKey = event.key;
  const resolve = referenceResolver(deps, entity, serviceKey);
  const keyMap = keyMapEntity(deps.spec, entity);
  // An entity keyed by another's key (stock by product) is written under that record's legacy
  // key, once it has one: the one its map holds, or its own when that record, or this one, is a
  // legacy row the forward sync brought over under its key.
  const keyedBy =
    keyMap !== entity
      ? ((await legacyKeyOfRecord(deps, keyMap, serviceKey)) ??
        (provenanceOf((await deps.state.get(entity, serviceKey)).state) === 'legacy'
          ? serviceKey
          : await resolve(keyMap, serviceKey, 'key')))
      : undefined;
  const hasDeltas = Object.keys(event.deltas ?? {}).length > 0;
  const readRecord = (key: string | undefined) =>
    key === undefined
      ? Promise.resolve<StoredRecord>({ key: serviceKey, exists: false, data: {} })
      : deps.legacy.read(entity, key);
  const readApplied = () =>
    hasDeltas ? deps.legacy.deltasApplied(entity, event.eventId) : Promise.resolve(false);
  const readAll = (key: string | undefined) =>
    Promise.all([readRecord(key), deps.state.get(entity, serviceKey), readApplied()] as const);
  // First round, all at once: the key map and the sync state (one request where the store can
  // read both), the legacy row under the same key (used only if the record turns out to be a
  // legacy row brought over under its own key), the applied marker and the column limits. The
  // state is keyed by the service key, so only the row is read again when the map names another
  // legacy key.
  const sameKey = keyedBy ?? (couldBeLegacyKey(deps.spec, serviceKey) ? serviceKey : undefined);
  const [first, speculative, applied0, limits] = await Promise.all([
    keyedBy !== undefined
      ? deps.state.get(entity, serviceKey).then((stored) => ({ legacyKey: keyedBy, stored }))
      : deps.state.getWithLegacyKey(entity, serviceKey),
    readRecord(sameKey),
    readApplied(),
    deps.legacy.columnLimits(entity),
  ] as const);
  const unstorable = unstorableFields(entity, limits, input);
  // Provenance, never the key's shape: a record is its legacy row under the same key only when
  // the forward sync brought it over so; a record born in the service reaches the legacy side
  // only through the key map (unmapped: not there yet, so it is created and the store gives it
  // its key). An entity keyed by another's key is under that record's legacy key (`keyedBy`).
  const born = keyedBy !== undefined ? undefined : provenanceOf(first.stored.state);
  let legacyKey = first.legacyKey ?? (born === 'legacy' ? serviceKey : undefined);
  const bornOn = keyedBy !== undefined ? undefined : (born ?? 'service');
  const withProvenance = (state: SyncState): SyncState =>
    bornOn === undefined || state.bornOn === bornOn ? state : { ...state, bornOn };
  let prefetched: Awaited<ReturnType<typeof readAll>> | undefined = [
    legacyKey === undefined
      ? await readRecord(undefined)
      : legacyKey === sameKey
        ? speculative
        : await readRecord(legacyKey),
    first.stored,
    applied0,
  ];
  const max = deps.maxAttempts ?? 10;
  for (let attempt = 1; attempt <= max; attempt++) {
    const [record, stored, applied] = prefetched ?? (await readAll(legacyKey));
    prefetched = undefined;
    // The engine compares references as service keys; the row holds legacy keys.
    const view = record.exists
      ? {
          ...record,
          data: await referencesToService(deps.spec, entity, record.data, (ref, key) =>
            deps.state.serviceKeyOf(ref, key),
          ),
        }
      : record;
    const clock = clockOf(deps);
    const decision = decide({
      entity,
      target: 'legacy',
      precisionMs: precisionOf(deps.spec),
      ...clock,
      // Magento rows carry no version; their position is the read time on the wall clock, the
      // scale of the poller's observation times and Debezium's ts_ms: a legacy change observed
      // before this write is older than it, a later one (even within the same second) is not.
      record: { ...view, version: clock.now },
      state: withProvenance(stored.state),
      event,
      key: serviceKey,
      deltasApplied: applied,
      ...(unstorable ? { unstorable } : {}),
    });
    if (decision.create) assertLegacyCreate(entity, serviceKey, decision.patch);
    // Waits (throws) while a referenced record has no legacy key yet: nothing is written.
    const patch = await referencesToLegacy(deps.spec, entity, decision.patch, resolve);
    await sideEffects(
      deps,
      entity,
      event,
      withLegacyPushBack(decision, view, record),
      legacyKey ?? serviceKey,
    );
    const writes =
      Object.keys(decision.patch).length > 0 ||
      Object.keys(decision.deltas).length > 0 ||
      decision.create ||
      decision.delete;
    if (writes) {
      const res = await deps.legacy.write(entity, {
        expected: record,
        patch,
        deltas: decision.deltas,
        create: decision.create,
        delete: decision.delete,
        eventId: event.eventId,
        changedAt: event.changedAt,
        ...(decision.create
          ? {
              createToken: `create:${entity.name}:${serviceKey}`,
              // Used only where the database does not generate the key (LegacyWrite.desiredKey).
              desiredKey: keyedBy ?? serviceKey,
            }
          : {}),
      });
      if (res.key !== undefined && res.key !== legacyKey) {
        await deps.state.mapKeys(entity, serviceKey, res.key);
        legacyKey = res.key;
      }
      if (res.outcome !== 'written') {
        // conflict / duplicate / exists (an earlier attempt created it): re-read, re-decide.
        await jitter(deps, attempt);
        continue;
      }
    }
    if (!writes && unchangedState(stored.state, decision.state)) {
      return { decision, attempts: attempt, targetKey: legacyKey ?? serviceKey, created: false };
    }
    // The legacy write is committed; now the state. Losing this race means the decision was
    // made on a state another writer has since moved on: it is undone before deciding again.
    const ok = await deps.state.put(entity, serviceKey, {
      next: decision.state,
      expectedRevision: stored.revision,
    });
    if (ok)
      return { decision, attempts: attempt, targetKey: legacyKey ?? serviceKey, created: decision.create };
    if (writes && !decision.create && !decision.delete && legacyKey !== undefined)
      await undoLegacyWrite(deps, entity, event, record, patch);
    await jitter(deps, attempt);
  }
  throw new SyncContentionError(entity.name, max);
}

/**
 * Undoes a reverse-sync write to Magento whose sync state lost its compare-and-set. Magento's row
 * and the sync state are two stores, not one transaction: between another delivery's write of
 * the row and its write of the state, this one read the row and a state that did not account
 * for it yet, and wrote on that view (an older service change over a newer one already there).
 * Kept, the row would hold a value the stored state does not know: the next decision judges the
 * change stale and the two sides stay different for good, silently. So the row gets back the
 * values it held before (`before`, the row this write compared against), as the service side's
 * transaction would have rolled back, and the caller decides again on what is there now. Only
 * while the row still holds this write (same values, same `updated_at`): anything written since
 * stands, and the next decision sees it.
 */
export async function undoLegacyWrite(
  deps: Pick<SyncDeps, 'legacy'>,
  entity: EntitySpec,
  event: ChangeEvent,
  before: StoredRecord,
  patch: Readonly<Record<string, FieldValue>>,
): Promise<void> {
  const names = Object.keys(patch);
  if (!names.length) return;
  const now = await deps.legacy.read(entity, before.key);
  const ours =
    now.exists &&
    now.changedAt === before.changedAt &&
    names.every((n) => sameValue(now.data[n] ?? null, patch[n] ?? null));
  if (!ours) return;
  await deps.legacy.write(entity, {
    expected: now,
    patch: Object.fromEntries(names.map((n) => [n, before.data[n] ?? null])),
    deltas: {},
    create: false,
    delete: false,
    eventId: `undo:${event.eventId}`,
    changedAt: event.changedAt,
  });
}

/**
 * The legacy key of a referenced record, for the reverse sync of `entity`'s record `key`: the one
 * its key map holds, or its service key when the legacy side already has a record under it.
 * @throws ReferenceNotReadyError while the referenced record has not reached the legacy side
 */
function referenceResolver(deps: SyncDeps, entity: EntitySpec, key: string): LegacyKeyResolver {
  return async (referenced, serviceKey, via) => {
    const legacyKey = await legacyKeyOfRecord(deps, referenced, serviceKey);
    if (legacyKey !== undefined) return legacyKey;
    throw new ReferenceNotReadyError(entity.name, key, { entity: referenced.name, key: serviceKey }, via);
  };
}

/**
 * The legacy key of a record known by its service key: the one the key map holds (the
 * referenced entity's map for an entity keyed by another's), else the service key itself when the
 * record is a legacy row the forward sync brought over under its own key (its provenance);
 * undefined while the record has not reached the legacy side.
 */
export async function legacyKeyOfRecord(
  deps: Pick<SyncDeps, 'spec' | 'state' | 'legacy'>,
  entity: EntitySpec,
  serviceKey: string,
): Promise<string | undefined> {
  const owner = keyMapEntity(deps.spec, entity);
  const [mapped, stored] = await Promise.all([
    deps.state.legacyKeyOf(owner, serviceKey),
    deps.state.get(owner, serviceKey),
  ]);
  if (mapped !== undefined) return mapped;
  return provenanceOf(stored.state) === 'legacy' ? serviceKey : undefined;
}

/**
 * A push-back from the reverse sync goes to the service side as a legacy change, so its
 * references carry the legacy keys the row holds (the forward sync translates them again).
 */
function withLegacyPushBack(decision: Decision, view: StoredRecord, record: StoredRecord): Decision {
  const pb = decision.pushBack;
  if (!pb || view === record) return decision;
  const data = { ...pb.data };
  for (const name of Object.keys(data)) {
    if (view.data[name] !== record.data[name]) data[name] = record.data[name] ?? null;
  }
  return { ...decision, pushBack: { ...pb, data } };
}

/**
 * Whether reading the legacy row under a service key could find anything: Magento keys are
 * unsigned integers, a legacy API's ids can be anything. Only spares a read that cannot succeed;
 * whether such a row IS the record is the sync state's provenance (`provenanceOf`).
 */
function couldBeLegacyKey(spec: MigrationSpec, key: string): boolean {
  return spec.legacy.kind === 'http' || /^[1-9]\d{0,18}$/.test(key);
}

/**
 * The event with its data in canonical form per field type (decimals at the field's scale,
 * integers as numbers…). A value of the wrong type is a bad record, never written.
 * @throws ContractError
 */
export function canonicalEvent(entity: EntitySpec, event: ChangeEvent): ChangeEvent {
  const byName = new Map(entity.fields.map((f) => [f.name, f]));
  const data: Record<string, FieldValue> = {};
  const reasons: string[] = [];
  for (const [name, raw] of Object.entries(event.data)) {
    const field = byName.get(name);
    if (!field) {
      data[name] = raw; // the engine names unknown fields
      continue;
    }
    try {
      data[name] = normalizeValue(field, raw);
    } catch (e) {
      reasons.push(`detail.data.${name}: ${e instanceof ValueError ? e.message : String(e)}`);
    }
  }
  if (reasons.length) throw new ContractError(reasons);
  return { ...event, data };
}

function assertRoute(event: ChangeEvent, entity: EntitySpec, from: Origin) {
  if (event.origin !== from) {
    throw new ContractError([`a ${event.origin} change cannot be applied by the ${from} -> target sync`]);
  }
  if (event.entity !== entity.name) {
    throw new ContractError([`event entity "${event.entity}" is not "${entity.name}"`]);
  }
}
