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
import { type EntitySpec, keyMapEntity, type MigrationSpec } from '../../lib/spec/schema.js';
import { type Decision, decide, type SyncState } from './conflict.js';
import { type ChangeEvent, ContractError, type FieldValue, type Origin, toBusEntry } from './events.js';
import type {
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
import { normalizeValue, ValueError } from './values.js';

export interface SyncDeps {
  readonly spec: MigrationSpec;
  readonly legacy: LegacyStore;
  readonly service: ServiceStore;
  readonly state: SyncStateStore;
  readonly conflicts: ConflictStore;
  readonly publisher: EventPublisher;
  /** @default Date.now */
  readonly now?: () => number;
  /** Compare-and-set attempts before giving up (the message is then redelivered). @default 10 */
  readonly maxAttempts?: number;
}

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

const jitter = (attempt: number) =>
  new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** attempt) * Math.random()));

async function sideEffects(
  deps: SyncDeps,
  entity: EntitySpec,
  event: ChangeEvent,
  decision: Decision,
  targetKey: string,
) {
  const now = new Date((deps.now ?? Date.now)()).toISOString();
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
  deps: SyncDeps,
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
      : deps.service.readForSync
        ? await deps.service.readForSync(entity, event.key, {
            legacyKey: event.key,
            ...(hasDeltas ? { eventId: event.eventId } : {}),
          })
        : await Promise.all([deps.state.serviceKeyOf(entity, event.key), readAll(event.key)]).then(
            ([mappedServiceKey, [record, stored, applied]]) => ({
              mappedServiceKey,
              record,
              stored,
              applied,
            }),
          );
  const serviceKey = first
    ? (first.mappedServiceKey ?? event.key)
    : ((await deps.state.serviceKeyOf(keyMap, event.key)) ?? event.key);
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
      record,
      state: stored.state,
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
    await jitter(attempt);
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
  // key, once it has one.
  const keyedBy = keyMap !== entity ? await resolve(keyMap, serviceKey, 'key') : undefined;
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
  // read both), the legacy row under the same key, and the applied marker. The state is keyed by
  // the service key, so only the row is read again when the map names another legacy key.
  const sameKey = keyedBy ?? (isLegacyKeyShaped(deps.spec, serviceKey) ? serviceKey : undefined);
  const [first, speculative, applied0] = await Promise.all([
    keyedBy !== undefined
      ? deps.state.get(entity, serviceKey).then((stored) => ({ legacyKey: keyedBy, stored }))
      : deps.state.getWithLegacyKey
        ? deps.state.getWithLegacyKey(entity, serviceKey)
        : Promise.all([deps.state.legacyKeyOf(entity, serviceKey), deps.state.get(entity, serviceKey)]).then(
            ([legacyKey, stored]) => ({ legacyKey, stored }),
          ),
    readRecord(sameKey),
    readApplied(),
  ] as const);
  const mapped = first.legacyKey;
  // No mapping: the same key if that legacy row exists, else a service-born record (create).
  let legacyKey = mapped ?? (speculative.exists ? sameKey : undefined);
  let prefetched: Awaited<ReturnType<typeof readAll>> | undefined =
    legacyKey === sameKey || legacyKey === undefined
      ? [speculative, first.stored, applied0]
      : [await readRecord(legacyKey), first.stored, applied0];
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
    const decision = decide({
      entity,
      target: 'legacy',
      precisionMs: precisionOf(deps.spec),
      // Magento rows carry no version; their position is the read time on the wall clock, the
      // scale of the poller's observation times and Debezium's ts_ms: a legacy change observed
      // before this write is older than it, a later one (even within the same second) is not.
      record: { ...view, version: Date.now() },
      state: stored.state,
      event,
      key: serviceKey,
      deltasApplied: applied,
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
              ...(keyedBy !== undefined
                ? { desiredKey: keyedBy }
                : isLegacyKeyShaped(deps.spec, serviceKey)
                  ? { desiredKey: serviceKey }
                  : {}),
            }
          : {}),
      });
      if (res.key !== undefined && res.key !== legacyKey) {
        await deps.state.mapKeys(entity, serviceKey, res.key);
        legacyKey = res.key;
      }
      if (res.outcome !== 'written') {
        // conflict / duplicate / exists (an earlier attempt created it): re-read, re-decide.
        // A create that lost the race for its key finds the row under that key next time.
        if (legacyKey === undefined && sameKey !== undefined) legacyKey = sameKey;
        await jitter(attempt);
        continue;
      }
    }
    if (!writes && unchangedState(stored.state, decision.state)) {
      return { decision, attempts: attempt, targetKey: legacyKey ?? serviceKey, created: false };
    }
    // The legacy write is committed; now the state. Losing this race is safe: the next attempt
    // reads our write back, the engine sees both sides agree and only the state is stored.
    const ok = await deps.state.put(entity, serviceKey, {
      next: decision.state,
      expectedRevision: stored.revision,
    });
    if (ok)
      return { decision, attempts: attempt, targetKey: legacyKey ?? serviceKey, created: decision.create };
    await jitter(attempt);
  }
  throw new SyncContentionError(entity.name, max);
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
 * legacy side has a row under it; undefined while the record has not reached the legacy side.
 */
export async function legacyKeyOfRecord(
  deps: Pick<SyncDeps, 'spec' | 'state' | 'legacy'>,
  entity: EntitySpec,
  serviceKey: string,
): Promise<string | undefined> {
  const mapped = await deps.state.legacyKeyOf(keyMapEntity(deps.spec, entity), serviceKey);
  if (mapped !== undefined) return mapped;
  if (isLegacyKeyShaped(deps.spec, serviceKey) && (await deps.legacy.read(entity, serviceKey)).exists) {
    return serviceKey;
  }
  return undefined;
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

/** Magento keys are unsigned integers; a service key of another shape is a service-born record. */
function isLegacyKeyShaped(spec: MigrationSpec, key: string): boolean {
  return spec.legacy.kind === 'http' || MAGENTO_KEY.test(key);
}
const MAGENTO_KEY = /^[1-9]\d{0,18}$/;

/**
 * Whether a service key is its own legacy key, without a look at the key map: on Magento, a
 * service key shaped like a Magento key names the same row (`applyToLegacy` creates a missing
 * row under that very key), so only service-born keys of other shapes are mapped. A legacy API
 * may give a created record its own id, so there every key is looked up.
 */
export function isOwnLegacyKey(spec: MigrationSpec, serviceKey: string): boolean {
  return spec.legacy.kind === 'mysql' && MAGENTO_KEY.test(serviceKey);
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
