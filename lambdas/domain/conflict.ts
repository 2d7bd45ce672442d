/**
 * The conflict engine: pure, no I/O. Given the record on the side being written (the target),
 * the record's sync state and an incoming change from the other side, it decides what to do,
 * field by field, under the spec's policies.
 *
 * Three-way detection. The sync state keeps, per field, the value both sides last agreed on
 * (`value`) and, per origin, the newest change already accounted for (`seen`). For an incoming
 * field value `v`, the target's current value `c` and the agreed value `b`:
 *
 * - `v = b`: the source did not change this field since the last sync (a duplicate, an echo of a
 *   sync write, or a field carried along unchanged): nothing to do.
 * - the change is not newer than `seen[origin]`: stale (out of order, or a change that already
 *   lost a conflict): nothing to do.
 * - `c = b`: only the source changed it: apply.
 * - `c = v`: both changed it the same way: agree.
 * - otherwise both sides changed it since the last sync: a true conflict, resolved by the policy.
 *
 * When the target keeps its value the engine returns a push-back: an event carrying the winner
 * back to the source side, so both sides converge even when the target's own change event was
 * already consumed. Counters (`sum`) move by deltas, applied once per eventId; absolute values
 * never overwrite them. A delete is the pseudo-field `$exists` = false and conflicts with any
 * unsynced change on the target.
 *
 * Clocks. A change dated more than `maxClockSkewMs` ahead of the receiving clock (`now`) is
 * rejected (`ClockSkewError`): accepted, it would become that side's newest change and every
 * later real edit of its fields would look stale. For the same reason a target record whose own
 * change time is that far ahead has no usable time (it loses every timestamp comparison), and a
 * stamp that far ahead already in the stored state (recorded before this check existed) is
 * forgotten.
 *
 * Values the target cannot store (`unstorable`: an emoji for a utf8mb3 column, a string longer
 * than the column…) are never written: each is parked for a person with both values and the
 * reason, like a true conflict under `admin`.
 */
import type { ConflictPolicy, EntitySpec, FieldSpec } from '../../lib/spec/schema.js';
import { type ChangeEvent, ContractError, type FieldValue, type Origin } from './events.js';
import { compareStamps, maxStamp, SEQ_ALL, type Stamp, type StampOrder, stampOf } from './stamp.js';
import { sameValue } from './values.js';

/** Per-field sync state. */
export interface FieldSyncState {
  /** The value both sides last agreed on. */
  readonly value: FieldValue;
  /** Per origin, the newest change already accounted for on this field. */
  readonly seen: Readonly<Partial<Record<Origin, Stamp>>>;
  /**
   * Per origin, a value of that side that lost a conflict and is still to be replaced there.
   * While a side holds it, the side counts as unchanged: the winner overwrites it.
   */
  readonly lost?: Readonly<Partial<Record<Origin, FieldValue>>>;
}

/** The sync state of one record (shared by both directions). */
export interface SyncState {
  readonly fields: Readonly<Record<string, FieldSyncState>>;
  /**
   * Where the record was born, as the sync first met it: `legacy` when the forward sync brought
   * a legacy row over under its own key, `service` when it was created in the service (its
   * legacy key then comes only from the key map). Never inferred from the shape of a key.
   * @default - unknown: a state written before provenance was recorded (see `provenanceOf`)
   */
  readonly bornOn?: Origin;
}

export const EMPTY_SYNC_STATE: SyncState = { fields: {} };

/** The record as it is on the side being written. */
export interface TargetRecord {
  readonly exists: boolean;
  readonly data: Readonly<Record<string, FieldValue>>;
  /**
   * The time of the record's last change on this side (service `updatedAt`, Magento
   * `updated_at`). Compared with the incoming change under the `timestamp` policy.
   */
  readonly changedAt?: number;
  /**
   * The newest sequence already reflected in the record on this side, on the scale of this
   * side's event `sequence`: the service item version; for the legacy side, the read time in ms
   * (the poller's observation clock, Debezium's `ts_ms`). Changes of this side observed before
   * a sync write carry older sequences, so they cannot undo the write when they arrive later.
   * @default - every change of the record's `changedAt` tick counts as reflected
   */
  readonly version?: number;
}

export interface DecideInput {
  readonly entity: EntitySpec;
  /** The side being written: `service` for forward sync, `legacy` for reverse sync. */
  readonly target: Origin;
  /** Legacy timestamp precision (ms). */
  readonly precisionMs: number;
  readonly record: TargetRecord;
  readonly state: SyncState;
  readonly event: ChangeEvent;
  /**
   * The record's service key (the key of its sync state): names parked conflicts, so that one
   * conflict seen from either side has one id even when the two sides key the record differently.
   * @default - the event's key
   */
  readonly key?: string;
  /** Whether this eventId's counter deltas were already applied on the target. */
  readonly deltasApplied?: boolean;
  /** The receiving side's clock (ms since the epoch). */
  readonly now: number;
  /** How far a change may be dated ahead of `now` (ms): `sync.maxClockSkewSeconds`. */
  readonly maxClockSkewMs: number;
  /**
   * Fields of the event whose value the target cannot store, with the reason and the value as
   * the source holds it (before canonical rounding): parked, never written.
   */
  readonly unstorable?: Readonly<Record<string, Unstorable>>;
}

/** A value the target side cannot store, and why. */
export interface Unstorable {
  /** Why, naming the column and its limit (no value: it may be personal data). */
  readonly reason: string;
  /** The value as the source holds it. */
  readonly value: FieldValue;
}

/** A change dated further ahead of the receiving clock than the spec allows: a bad record. */
export class ClockSkewError extends ContractError {
  constructor(changedAt: string, aheadMs: number, maxClockSkewMs: number) {
    super([
      `detail.changedAt ${changedAt} is ${Math.round(aheadMs / 1000)} s ahead of the receiving clock (at most ${maxClockSkewMs / 1000} s is accepted: sync.maxClockSkewSeconds)`,
    ]);
    this.name = 'ClockSkewError';
  }
}

export type FieldOutcome =
  | 'unchanged'
  | 'stale'
  | 'apply'
  | 'agree'
  | 'keep-target'
  | 'park'
  | 'delta'
  | 'delta-duplicate'
  | 'counter-init'
  | 'counter-absolute-ignored';

export type Winner = Origin | 'admin';

export interface ParkedConflict {
  /** Deterministic: the same conflict seen from either side parks once. */
  readonly conflictId: string;
  readonly entity: string;
  readonly key: string;
  readonly field: string;
  readonly legacy: { readonly value: FieldValue; readonly at?: number };
  readonly service: { readonly value: FieldValue; readonly at?: number };
  readonly eventId: string;
  /**
   * Why a person must decide, when it is not a true conflict under `admin`: the value the target
   * cannot store and the column's limit.
   */
  readonly reason?: string;
}

export type Outcome =
  | 'apply'
  | 'apply-delta'
  | 'delete'
  | 'push-back'
  | 'park'
  | 'skip-duplicate'
  | 'skip-stale';

export interface Decision {
  /** The headline of the decision (what a log line or a metric says). */
  readonly outcome: Outcome;
  /** Field values to write on the target. */
  readonly patch: Readonly<Record<string, FieldValue>>;
  /** Counter increments to apply on the target, exactly once for `event.eventId`. */
  readonly deltas: Readonly<Record<string, number>>;
  /** Create the record (it does not exist on the target) with `patch`. */
  readonly create: boolean;
  /** Delete the record on the target. */
  readonly delete: boolean;
  /** The new sync state to store (compare-and-set against the one read). */
  readonly state: SyncState;
  /** Values the target keeps, to send back to the source side. */
  readonly pushBack?: {
    readonly origin: Origin;
    /** `delete` when the target kept its deletion of the record. */
    readonly op: 'upsert' | 'delete';
    readonly data: Readonly<Record<string, FieldValue>>;
    readonly changedAt: number;
  };
  readonly parked: readonly ParkedConflict[];
  /** True conflicts resolved, for `conflict_resolution_total{winner}`. */
  readonly conflicts: readonly {
    readonly field: string;
    readonly policy: ConflictPolicy;
    readonly winner: Winner;
  }[];
  readonly fields: Readonly<Record<string, FieldOutcome>>;
}

export const EXISTS_FIELD = '$exists';

const other = (o: Origin): Origin => (o === 'legacy' ? 'service' : 'legacy');

function policyOf(entity: EntitySpec, field: FieldSpec | undefined): ConflictPolicy {
  const p = field?.policy ?? entity.policy;
  // A delete is not a counter: records of a `sum` entity are deleted by timestamp.
  return field === undefined && p === 'sum' ? 'timestamp' : p;
}

/** Deterministic id of a parked conflict: same entity, key, field and pair of values. */
export function conflictIdOf(
  entity: string,
  key: string,
  field: string,
  legacy: FieldValue,
  service: FieldValue,
): string {
  const s = JSON.stringify([entity, key, field, legacy, service]);
  // FNV-1a 64-bit over the UTF-16 code units, hex: short, stable, no crypto dependency.
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `${entity}#${key}#${field}#${h.toString(16).padStart(16, '0')}`;
}

/**
 * Decides how to apply one change to the target side.
 * @throws ContractError when the event names a field the entity does not have, is routed to the
 *   wrong side, or carries a delta for a non-counter field
 */
export function decide(input: DecideInput): Decision {
  const { entity, target, record, event } = input;
  if (event.origin === target) {
    throw new ContractError([`a ${event.origin} change cannot be applied to the ${target} side (misrouted)`]);
  }
  if (event.entity !== entity.name) {
    throw new ContractError([`event entity "${event.entity}" is not "${entity.name}"`]);
  }
  const fieldsByName = new Map(entity.fields.map((f) => [f.name, f]));
  const unknown = [...Object.keys(event.data), ...Object.keys(event.deltas ?? {})].filter(
    (n) => !fieldsByName.has(n),
  );
  if (unknown.length)
    throw new ContractError(unknown.map((n) => `detail.data.${n} is not a field of ${entity.name}`));
  for (const name of Object.keys(event.deltas ?? {})) {
    if (policyOf(entity, fieldsByName.get(name)) !== 'sum') {
      throw new ContractError([`detail.deltas.${name} is not a counter (its policy is not sum)`]);
    }
  }

  const order: StampOrder = { precisionMs: input.precisionMs, tieBreak: entity.tieBreak };
  const recordKey = input.key ?? event.key;
  const source = event.origin;
  const sE = stampOf(event);
  const horizon = input.now + input.maxClockSkewMs;
  if (sE.at > horizon) throw new ClockSkewError(event.changedAt, sE.at - input.now, input.maxClockSkewMs);
  // The target's own last change. Legacy rows carry no sequence: every change of that tick counts.
  // A time beyond the horizon comes from a wrong clock: unknown, so it wins no comparison.
  const sY: Stamp | undefined =
    record.changedAt === undefined || record.changedAt > horizon
      ? undefined
      : { at: record.changedAt, origin: target, seq: record.version ?? (target === 'legacy' ? SEQ_ALL : 0) };

  const state: Record<string, FieldSyncState> = withinHorizon(input.state.fields, horizon);
  const patch: Record<string, FieldValue> = {};
  const deltas: Record<string, number> = {};
  const pushBack: Record<string, FieldValue> = {};
  const parked: ParkedConflict[] = [];
  const conflicts: { field: string; policy: ConflictPolicy; winner: Winner }[] = [];
  const fields: Record<string, FieldOutcome> = {};

  const current = (name: string): FieldValue =>
    name === EXISTS_FIELD ? record.exists : record.exists ? (record.data[name] ?? null) : null;
  const targetChanged = (name: string, agreed: FieldSyncState | undefined): boolean => {
    if (name === EXISTS_FIELD) {
      if (agreed === undefined) return false;
      if (!sameValue(record.exists, agreed.value)) return true;
      // A delete conflicts with any unsynced change of the record on the target.
      return (
        record.exists &&
        entity.fields.some((f) => {
          const s = state[f.name];
          return s !== undefined && policyOf(entity, f) !== 'sum' && !sameValue(current(f.name), s.value);
        })
      );
    }
    if (agreed === undefined) return record.exists && current(name) !== null;
    return !sameValue(current(name), agreed.value);
  };
  const seenWith = (s: FieldSyncState | undefined, origin: Origin, stamp: Stamp | undefined) => ({
    ...(s?.seen ?? {}),
    [origin]: maxStamp(s?.seen[origin], stamp, order),
  });

  const withoutLost = (s: FieldSyncState, origin: Origin): FieldSyncState => {
    if (!s.lost || s.lost[origin] === undefined) return s;
    const { [origin]: _gone, ...rest } = s.lost;
    return Object.keys(rest).length ? { ...s, lost: rest } : { value: s.value, seen: s.seen };
  };

  // Nothing is decided until a person resolves it; a redelivery of this change is stale.
  const park = (name: string, sourceValue: FieldValue, reason?: string) => {
    const agreed = state[name];
    const c = current(name);
    state[name] = { ...(agreed ?? { value: null }), seen: seenWith(agreed, source, sE) };
    fields[name] = 'park';
    const legacyValue = source === 'legacy' ? sourceValue : c;
    const serviceValue = source === 'service' ? sourceValue : c;
    parked.push({
      conflictId: conflictIdOf(entity.name, recordKey, name, legacyValue, serviceValue),
      entity: entity.name,
      key: recordKey,
      field: name,
      legacy: { value: legacyValue, at: source === 'legacy' ? sE.at : sY?.at },
      service: { value: serviceValue, at: source === 'service' ? sE.at : sY?.at },
      eventId: event.eventId,
      ...(reason === undefined ? {} : { reason }),
    });
  };

  const resolveField = (name: string, v: FieldValue, policy: ConflictPolicy) => {
    const agreed = state[name];
    const c = current(name);
    const unstorable = input.unstorable?.[name];
    if (unstorable) {
      // Never written. A change already accounted for is stale; a new one waits for a person.
      const seen = agreed?.seen[source];
      if (seen && compareStamps(sE, seen, order) <= 0) fields[name] = 'stale';
      else park(name, unstorable.value, unstorable.reason);
      return;
    }
    // The target still holds a value that already lost a conflict: it gives way to the winner.
    const holdsLoser = agreed?.lost?.[target] !== undefined && sameValue(c, agreed.lost[target]);
    if (agreed && sameValue(v, agreed.value)) {
      // Nothing new from the source, but it asserted this value at sE: an older change of the
      // source arriving later must not undo it.
      const next = { ...agreed, seen: seenWith(agreed, source, sE) };
      if (holdsLoser && !sameValue(c, v)) {
        fields[name] = 'apply';
        patch[name] = v;
        // As with any write: whatever the target reported before it is older than it.
        state[name] = withoutLost({ ...next, seen: seenWith(next, target, sY) }, target);
        return;
      }
      fields[name] = 'unchanged';
      state[name] = next;
      return;
    }
    const seenSrc = agreed?.seen[source];
    if (seenSrc && compareStamps(sE, seenSrc, order) <= 0) {
      fields[name] = 'stale';
      return;
    }
    // Both sides now hold `v`: it is agreed, and whatever either side reported before is older.
    const settle = (outcome: 'apply' | 'agree') => {
      fields[name] = outcome;
      if (outcome === 'apply') patch[name] = v;
      state[name] = {
        value: v,
        seen: seenWith({ value: v, seen: seenWith(agreed, source, sE) }, target, sY),
      };
    };
    if (holdsLoser || !targetChanged(name, agreed)) return settle('apply');
    if (sameValue(c, v)) return settle('agree');
    // A true conflict: both sides changed the field since the last sync.
    let winner: Winner;
    if (policy === 'admin') winner = 'admin';
    else if (policy === 'service-wins') winner = 'service';
    else if (policy === 'legacy-wins') winner = 'legacy';
    else winner = sY === undefined || compareStamps(sE, sY, order) > 0 ? source : target;
    conflicts.push({ field: name, policy, winner });
    // The target's own change lost: its event, when it arrives on the other side, is stale.
    if (winner === source) return settle('apply');
    if (winner === 'admin') return park(name, v);
    // The target's value won. The agreed value stays as it was, so the target's change still
    // counts as a change (a later concurrent change of the source conflicts with it again); the
    // source's value is marked as lost there, to give way to whatever the target sends next.
    fields[name] = 'keep-target';
    pushBack[name] = c;
    state[name] = {
      value: agreed?.value ?? null,
      seen: seenWith(agreed, source, sE),
      lost: { ...(agreed?.lost ?? {}), [source]: v },
    };
  };

  if (event.op === 'delete') {
    resolveField(EXISTS_FIELD, false, policyOf(entity, undefined));
  } else {
    resolveField(EXISTS_FIELD, true, policyOf(entity, undefined));
    for (const [name, raw] of Object.entries(event.data)) {
      const field = fieldsByName.get(name)!;
      const policy = policyOf(entity, field);
      if (policy === 'sum') {
        // Absolute counter values only initialise a counter the target does not have yet.
        if (current(name) === null && state[name] === undefined && patch[name] === undefined) {
          fields[name] = 'counter-init';
          patch[name] = raw;
        } else {
          fields[name] = 'counter-absolute-ignored';
        }
        continue;
      }
      resolveField(name, raw, policy);
    }
    for (const [name, delta] of Object.entries(event.deltas ?? {})) {
      if (input.deltasApplied) {
        fields[name] = 'delta-duplicate';
      } else if (delta !== 0) {
        fields[name] = 'delta';
        deltas[name] = delta;
      }
    }
  }

  const existsOutcome = fields[EXISTS_FIELD];
  const isDelete = event.op === 'delete' && existsOutcome === 'apply';
  const create =
    event.op === 'upsert' && !record.exists && (existsOutcome === 'apply' || existsOutcome === undefined);
  if (create) {
    // Recreate from the agreed values, overlaid with the change.
    for (const f of entity.fields) {
      if (patch[f.name] === undefined && state[f.name] !== undefined) patch[f.name] = state[f.name]!.value;
    }
  }
  delete patch[EXISTS_FIELD];
  if (pushBack[EXISTS_FIELD] !== undefined) {
    // The target kept the record: push the whole record back, not just its existence.
    delete pushBack[EXISTS_FIELD];
    if (record.exists) for (const f of entity.fields) pushBack[f.name] ??= current(f.name);
  }

  const hasPatch = Object.keys(patch).length > 0;
  const hasDeltas = Object.keys(deltas).length > 0;
  const hasPushBack =
    Object.keys(pushBack).length > 0 || (fields[EXISTS_FIELD] === 'keep-target' && !record.exists);
  let outcome: Outcome;
  if (isDelete) outcome = 'delete';
  else if (hasPatch) outcome = 'apply';
  else if (hasDeltas) outcome = 'apply-delta';
  else if (hasPushBack) outcome = 'push-back';
  else if (parked.length) outcome = 'park';
  else if (Object.values(fields).some((f) => f === 'stale')) outcome = 'skip-stale';
  else outcome = 'skip-duplicate';

  return {
    outcome,
    patch: isDelete ? {} : patch,
    deltas,
    create: create && (hasPatch || hasDeltas),
    delete: isDelete,
    state: { ...input.state, fields: state },
    ...(hasPushBack
      ? {
          pushBack: {
            origin: target,
            op: record.exists ? ('upsert' as const) : ('delete' as const),
            data: pushBack,
            changedAt: sY?.at ?? sE.at,
          },
        }
      : {}),
    parked,
    conflicts,
    fields,
  };
}

/**
 * The stored field states without the stamps dated beyond `horizon`: such a stamp was recorded
 * from a wrong clock before changes that far ahead were rejected, and kept, it would make every
 * later real change of its side look stale for good.
 */
function withinHorizon(
  fields: Readonly<Record<string, FieldSyncState>>,
  horizon: number,
): Record<string, FieldSyncState> {
  const out: Record<string, FieldSyncState> = { ...fields };
  for (const [name, s] of Object.entries(fields)) {
    const ahead = (Object.keys(s.seen) as Origin[]).filter((o) => (s.seen[o]?.at ?? 0) > horizon);
    if (!ahead.length) continue;
    const seen = { ...s.seen };
    for (const o of ahead) delete seen[o];
    out[name] = { ...s, seen };
  }
  return out;
}

/**
 * Where a record was born (see `SyncState.bornOn`). A state written before provenance was
 * recorded knows it only from what it saw: legacy changes seen on a record without a key-map
 * entry mean the forward sync brought a legacy row over under its own key (a record born in the
 * service reaches the legacy side only through the key map).
 */
export function provenanceOf(state: SyncState): Origin | undefined {
  if (state.bornOn) return state.bornOn;
  return Object.values(state.fields).some((f) => f.seen.legacy !== undefined) ? 'legacy' : undefined;
}

/** The side an event is applied to. */
export function targetOf(event: Pick<ChangeEvent, 'origin'>): Origin {
  return other(event.origin);
}
