/**
 * Settling the conflicts the `admin` policy parks: list and read them, and resolve one by keeping
 * the legacy value, the service value, or a value a person gives. This is what the operator CLI
 * calls; it needs no AWS SDK or driver (ports only).
 *
 * A resolution goes through the sync engine, not around it: no second write path. The sync state
 * learns the decision the way the engine records any lost conflict — each side's parked value is
 * marked as lost there (`FieldSyncState.lost`), so the side counts as unchanged and the winner
 * overwrites it — and then the chosen value is applied to each side as a change from the other
 * side (`applyToLegacy`, then `applyToService`): read, decide, compare-and-set write, sync state
 * stored with compare-and-set, retried on a lost race. A side that already holds the chosen value
 * is left alone.
 *
 * Steps, each safe to repeat: claim the conflict (`open` -> `resolving`, with who, when and what;
 * a second resolver with another choice is refused), check that neither side moved since the
 * conflict was parked, apply to the legacy side, then to the service side, check both hold the
 * value, close (`resolved`, `resolvedAt`). A resolve that crashed half-way is finished by
 * resolving again with the same choice; resolving a resolved conflict changes nothing.
 */

import { entityByName } from '../../lib/spec/lookup.js';
import type { EntitySpec, FieldSpec } from '../../lib/spec/schema.js';
import { EXISTS_FIELD, type FieldSyncState } from './conflict.js';
import type { ChangeEvent, FieldValue, Origin } from './events.js';
import type {
  ConflictChoice,
  ConflictPage,
  ConflictResolution,
  ConflictStore,
  StoredConflict,
} from './ports.js';
import { referencesToService } from './references.js';
import { SEQ_ALL, type Stamp } from './stamp.js';
import {
  applyToLegacy,
  applyToService,
  legacyKeyOfRecord,
  SyncContentionError,
  type SyncDeps,
} from './sync.js';
import { normalizeValue, sameValue, ValueError } from './values.js';

/** No parked conflict has this id. */
export class ConflictNotFoundError extends Error {
  constructor(conflictId: string) {
    super(`no parked conflict ${conflictId}`);
    this.name = 'ConflictNotFoundError';
  }
}

/** The resolution cannot be applied as asked; nothing was written. The message says why. */
export class ConflictResolutionError extends Error {
  constructor(conflictId: string, reason: string) {
    super(`conflict ${conflictId}: ${reason}`);
    this.name = 'ConflictResolutionError';
  }
}

export interface ResolveConflictRequest {
  readonly conflictId: string;
  /** `legacy` / `service`: the value that side held when the conflict was parked; `value`: `value`. */
  readonly choice: ConflictChoice;
  /** For `value`: the value both sides get, in the field's type (validated as the sync validates events). */
  readonly value?: FieldValue;
  /** Who resolves it (recorded with the resolution). */
  readonly by: string;
}

export interface ResolveConflictResult {
  /** `already-resolved`: the conflict was closed before; nothing changed. */
  readonly outcome: 'resolved' | 'already-resolved';
  /** The conflict as stored now, with its resolution. */
  readonly conflict: StoredConflict;
}

/** Conflicts still waiting for a person (`open`, or `resolving` after a resolve that did not finish). */
export function listOpenConflicts(
  deps: { readonly conflicts: ConflictStore },
  options?: { readonly entity?: string; readonly limit?: number; readonly cursor?: string },
): Promise<ConflictPage> {
  return deps.conflicts.listOpen(options);
}

/** One parked conflict, whatever its status. @throws ConflictNotFoundError */
export async function getConflict(
  deps: { readonly conflicts: ConflictStore },
  conflictId: string,
): Promise<StoredConflict> {
  const found = await deps.conflicts.get(conflictId);
  if (!found) throw new ConflictNotFoundError(conflictId);
  return found;
}

/**
 * Resolves a parked conflict on both sides and closes it. Idempotent.
 * @throws ConflictNotFoundError for an unknown id
 * @throws ConflictResolutionError when the request is invalid (a bad value, no `by`), another
 *   resolution is under way, a side changed since the conflict was parked, or the conflict is
 *   about a deletion (settled by hand)
 * @throws SyncContentionError when a compare-and-set keeps losing (resolve again)
 */
export async function resolveConflict(
  deps: SyncDeps,
  request: ResolveConflictRequest,
): Promise<ResolveConflictResult> {
  const { conflictId } = request;
  if (!request.by.trim()) throw new ConflictResolutionError(conflictId, 'by: name who resolves it');
  const parked = await getConflict(deps, conflictId);
  if (parked.status === 'resolved') return { outcome: 'already-resolved', conflict: parked };
  const { entity } = entityByName(deps.spec, parked.entity);
  const field = entity.fields.find((f) => f.name === parked.field);
  if (!field) {
    throw new ConflictResolutionError(
      conflictId,
      parked.field === EXISTS_FIELD
        ? 'a conflict over deleting the record is settled by hand (recreate or delete it on one side)'
        : `${entity.name} has no field ${parked.field}`,
    );
  }
  const value = chosenValue(parked, field, request);
  const sides = await currentSides(deps, entity, field, parked, value);
  const now = deps.now;
  const claimed = await deps.conflicts.claim(conflictId, {
    choice: request.choice,
    value,
    by: request.by,
    at: new Date(now()).toISOString(),
  });
  if (!claimed) throw new ConflictNotFoundError(conflictId);
  if (claimed.status === 'resolved') return { outcome: 'already-resolved', conflict: claimed };
  const resolution = claimed.resolution as ConflictResolution;
  if (resolution.choice !== request.choice || !sameValue(resolution.value, value)) {
    throw new ConflictResolutionError(
      conflictId,
      `already being resolved by ${resolution.by} (${resolution.choice}); resolve with that choice to finish it`,
    );
  }
  await applyBoth(deps, entity, field, claimed, resolution.value, sides);
  const closed = await deps.conflicts.close(conflictId, new Date(now()).toISOString());
  return { outcome: 'resolved', conflict: closed ?? claimed };
}

function chosenValue(parked: StoredConflict, field: FieldSpec, request: ResolveConflictRequest): FieldValue {
  if (request.choice === 'legacy') return parked.legacy.value;
  if (request.choice === 'service') return parked.service.value;
  if (request.choice !== 'value') {
    throw new ConflictResolutionError(parked.conflictId, `choice must be legacy, service or value`);
  }
  if (request.value === undefined) {
    throw new ConflictResolutionError(parked.conflictId, `value: the choice "value" needs the value to set`);
  }
  try {
    return normalizeValue(field, request.value);
  } catch (e) {
    throw new ConflictResolutionError(parked.conflictId, `value: ${e instanceof ValueError ? e.message : e}`);
  }
}

/** The field's value on each side now, as the engine compares it (references as service keys). */
async function sideValues(
  deps: SyncDeps,
  entity: EntitySpec,
  field: string,
  keys: { readonly legacy: string; readonly service: string },
): Promise<Record<Origin, FieldValue | undefined>> {
  const [legacy, service] = await Promise.all([
    deps.legacy.read(entity, keys.legacy),
    deps.service.read(entity, keys.service),
  ]);
  const legacyData = legacy.exists
    ? await referencesToService(deps.spec, entity, legacy.data, (ref, k) => deps.state.serviceKeyOf(ref, k))
    : undefined;
  return {
    legacy: legacyData ? (legacyData[field] ?? null) : undefined,
    service: service.exists ? (service.data[field] ?? null) : undefined,
  };
}

interface Sides {
  readonly keys: { readonly legacy: string; readonly service: string };
  readonly before: Record<Origin, FieldValue | undefined>;
}

/**
 * Both sides' keys and current values, checked: each side still holds its parked value (or
 * already the chosen one).
 * @throws ConflictResolutionError otherwise
 */
async function currentSides(
  deps: SyncDeps,
  entity: EntitySpec,
  field: FieldSpec,
  parked: StoredConflict,
  value: FieldValue,
): Promise<Sides> {
  const id = parked.conflictId;
  const serviceKey = parked.key;
  const legacyKey = await legacyKeyOfRecord(deps, entity, serviceKey);
  if (legacyKey === undefined) throw new ConflictResolutionError(id, 'the record is not on the legacy side');
  const keys = { legacy: legacyKey, service: serviceKey };
  const before = await sideValues(deps, entity, field.name, keys);
  for (const side of ['legacy', 'service'] as const) {
    const now = before[side];
    if (now === undefined)
      throw new ConflictResolutionError(id, `the record was deleted on the ${side} side`);
    // A side that moved on since the conflict was parked has a newer change in flight: deciding
    // over it would overwrite a change nobody has seen. It is parked again if it still conflicts.
    if (!sameValue(now, parked[side].value) && !sameValue(now, value)) {
      throw new ConflictResolutionError(
        id,
        `the ${side} value changed since the conflict was parked; look at the conflict parked for it`,
      );
    }
  }
  return { keys, before };
}

async function applyBoth(
  deps: SyncDeps,
  entity: EntitySpec,
  field: FieldSpec,
  parked: StoredConflict,
  value: FieldValue,
  { keys, before }: Sides,
): Promise<void> {
  const id = parked.conflictId;
  const serviceKey = keys.service;
  const legacyKey = keys.legacy;
  // Legacy first, then the service, each as a change from the other side.
  for (const [side, from] of [
    ['legacy', 'service'],
    ['service', 'legacy'],
  ] as const) {
    const seen = await markLost(deps, entity, serviceKey, field.name, side, before[side] ?? null, value);
    const event: ChangeEvent = {
      schemaVersion: 1,
      eventId: `resolve:${id}:${side}`,
      entity: entity.name,
      // Events of an origin carry that origin's key.
      key: from === 'service' ? serviceKey : legacyKey,
      op: 'upsert',
      origin: from,
      data: { [field.name]: value },
      ...stampAfter(seen, from, deps.now(), deps.spec.legacy.timestampPrecisionMs),
      causedBy: id,
    };
    if (side === 'legacy') await applyToLegacy(deps, entity, event);
    else await applyToService(deps, entity, event);
  }
  const after = await sideValues(deps, entity, field.name, keys);
  if (!sameValue(after.legacy, value) || !sameValue(after.service, value)) {
    throw new ConflictResolutionError(id, 'a side changed while the resolution was applied; resolve again');
  }
}

/**
 * Records in the sync state that `side`'s current value lost (unless it is already the chosen
 * value): the engine then lets the chosen value overwrite it. Returns the field's newest change
 * seen from the other side, which the resolution's change must follow.
 */
async function markLost(
  deps: SyncDeps,
  entity: EntitySpec,
  serviceKey: string,
  field: string,
  side: Origin,
  current: FieldValue,
  chosen: FieldValue,
): Promise<Stamp | undefined> {
  const from: Origin = side === 'legacy' ? 'service' : 'legacy';
  const max = deps.maxAttempts ?? 10;
  for (let attempt = 1; attempt <= max; attempt++) {
    const stored = await deps.state.get(entity, serviceKey);
    const f: FieldSyncState = stored.state.fields[field] ?? { value: null, seen: {} };
    if (sameValue(current, chosen) || sameValue(f.lost?.[side], current)) return f.seen[from];
    const next = {
      fields: { ...stored.state.fields, [field]: { ...f, lost: { ...(f.lost ?? {}), [side]: current } } },
    };
    if (await deps.state.put(entity, serviceKey, { next, expectedRevision: stored.revision })) {
      return f.seen[from];
    }
  }
  throw new SyncContentionError(entity.name, max);
}

/**
 * `changedAt` and `sequence` of the resolution's change from `origin`: now, and after every change
 * of that origin already seen, so the engine does not take it for a stale one. A legacy change
 * carries the legacy precision's tick and the observation time as its sequence, as the poller's
 * do: a real Magento edit made after the resolution, in the same second, still comes after it.
 */
function stampAfter(
  seen: Stamp | undefined,
  origin: Origin,
  now: number,
  precisionMs: number,
): { changedAt: string; sequence: number } {
  let at = origin === 'legacy' ? Math.floor(now / precisionMs) * precisionMs : now;
  let sequence = origin === 'legacy' ? now : 0;
  if (seen && seen.at >= at) {
    at = seen.at;
    if (seen.seq >= SEQ_ALL - 1) {
      at += 1;
      sequence = 0;
    } else sequence = Math.max(sequence, seen.seq + 1);
  }
  return { changedAt: new Date(at).toISOString(), sequence };
}
