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
  const fieldsByName = checkEventFits(input);
  const r = startResolution(input, fieldsByName);
  if (input.event.op === 'delete') {
    resolveField(r, EXISTS_FIELD, false, policyOf(input.entity, undefined));
  } else {
    resolveField(r, EXISTS_FIELD, true, policyOf(input.entity, undefined));
    resolveData(r);
    resolveDeltas(r);
  }
  return finish(r);
}

/**
 * Step 1: the change belongs here (its side, its entity, only the entity's fields, deltas only
 * for counters). Returns the entity's fields by name.
 * @throws ContractError naming what does not fit
 */
function checkEventFits({ entity, target, event }: DecideInput): ReadonlyMap<string, FieldSpec> {
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
  return fieldsByName;
}

/** What the steps of one decision share: the inputs, the stamps, and the decision so far. */
interface Resolution {
  readonly input: DecideInput;
  readonly fieldsByName: ReadonlyMap<string, FieldSpec>;
  readonly order: StampOrder;
  readonly recordKey: string;
  readonly source: Origin;
  /** The change's stamp. */
  readonly sE: Stamp;
  /** The target's own last change, when its time is known and plausible. */
  readonly sY: Stamp | undefined;
  readonly state: Record<string, FieldSyncState>;
  readonly patch: Record<string, FieldValue>;
  readonly deltas: Record<string, number>;
  readonly pushBack: Record<string, FieldValue>;
  readonly parked: ParkedConflict[];
  readonly conflicts: { field: string; policy: ConflictPolicy; winner: Winner }[];
  readonly fields: Record<string, FieldOutcome>;
}

/**
 * Step 2: the stamps of both sides (a change dated beyond the clock-skew horizon is rejected;
 * a stored stamp beyond it is forgotten) and an empty decision.
 * @throws ClockSkewError
 */
function startResolution(input: DecideInput, fieldsByName: ReadonlyMap<string, FieldSpec>): Resolution {
  const { entity, target, record, event } = input;
  const sE = stampOf(event);
  const horizon = input.now + input.maxClockSkewMs;
  if (sE.at > horizon) throw new ClockSkewError(event.changedAt, sE.at - input.now, input.maxClockSkewMs);
  return {
    input,
    fieldsByName,
    order: { precisionMs: input.precisionMs, tieBreak: entity.tieBreak },
    recordKey: input.key ?? event.key,
    source: event.origin,
    sE,
    // The target's own last change. Legacy rows carry no sequence: every change of that tick
    // counts. A time beyond the horizon comes from a wrong clock: unknown, so it wins no comparison.
    sY:
      record.changedAt === undefined || record.changedAt > horizon
        ? undefined
        : {
            at: record.changedAt,
            origin: target,
            seq: record.version ?? (target === 'legacy' ? SEQ_ALL : 0),
          },
    state: withinHorizon(input.state.fields, horizon),
    patch: {},
    deltas: {},
    pushBack: {},
    parked: [],
    conflicts: [],
    fields: {},
  };
}

/** The target's current value of a field (`EXISTS_FIELD`: whether the record exists). */
function currentValue({ input: { record } }: Resolution, name: string): FieldValue {
  return name === EXISTS_FIELD ? record.exists : record.exists ? (record.data[name] ?? null) : null;
}

/** Whether the target changed the field since it was last agreed. */
function targetChanged(r: Resolution, name: string, agreed: FieldSyncState | undefined): boolean {
  const { record, entity } = r.input;
  if (name === EXISTS_FIELD) {
    if (agreed === undefined) return false;
    if (!sameValue(record.exists, agreed.value)) return true;
    // A delete conflicts with any unsynced change of the record on the target.
    return (
      record.exists &&
      entity.fields.some((f) => {
        const s = r.state[f.name];
        return (
          s !== undefined && policyOf(entity, f) !== 'sum' && !sameValue(currentValue(r, f.name), s.value)
        );
      })
    );
  }
  if (agreed === undefined) return record.exists && currentValue(r, name) !== null;
  return !sameValue(currentValue(r, name), agreed.value);
}

/** The field's `seen` stamps with `origin`'s moved up to `stamp`. */
function seenWith(r: Resolution, s: FieldSyncState | undefined, origin: Origin, stamp: Stamp | undefined) {
  return { ...(s?.seen ?? {}), [origin]: maxStamp(s?.seen[origin], stamp, r.order) };
}

/** The state without the value `origin` lost with (it has been overwritten). */
function withoutLost(s: FieldSyncState, origin: Origin): FieldSyncState {
  if (!s.lost || s.lost[origin] === undefined) return s;
  const { [origin]: _gone, ...rest } = s.lost;
  return Object.keys(rest).length ? { ...s, lost: rest } : { value: s.value, seen: s.seen };
}

/** Nothing is decided until a person resolves it; a redelivery of this change is stale. */
function park(r: Resolution, name: string, sourceValue: FieldValue, reason?: string): void {
  const { entity, event } = r.input;
  const agreed = r.state[name];
  const c = currentValue(r, name);
  r.state[name] = { ...(agreed ?? { value: null }), seen: seenWith(r, agreed, r.source, r.sE) };
  r.fields[name] = 'park';
  const legacyValue = r.source === 'legacy' ? sourceValue : c;
  const serviceValue = r.source === 'service' ? sourceValue : c;
  r.parked.push({
    conflictId: conflictIdOf(entity.name, r.recordKey, name, legacyValue, serviceValue),
    entity: entity.name,
    key: r.recordKey,
    field: name,
    legacy: { value: legacyValue, at: r.source === 'legacy' ? r.sE.at : r.sY?.at },
    service: { value: serviceValue, at: r.source === 'service' ? r.sE.at : r.sY?.at },
    eventId: event.eventId,
    ...(reason === undefined ? {} : { reason }),
  });
}

/** Both sides now hold `v`: it is agreed, and whatever either side reported before is older. */
function settle(r: Resolution, name: string, v: FieldValue, outcome: 'apply' | 'agree'): void {
  const agreed = r.state[name];
  r.fields[name] = outcome;
  if (outcome === 'apply') r.patch[name] = v;
  r.state[name] = {
    value: v,
    seen: seenWith(r, { value: v, seen: seenWith(r, agreed, r.source, r.sE) }, r.input.target, r.sY),
  };
}

/** Who wins a true conflict under `policy` (`timestamp`: the later change; the target on a tie). */
function conflictWinner(r: Resolution, policy: ConflictPolicy): Winner {
  if (policy === 'admin') return 'admin';
  if (policy === 'service-wins') return 'service';
  if (policy === 'legacy-wins') return 'legacy';
  return r.sY === undefined || compareStamps(r.sE, r.sY, r.order) > 0 ? r.source : r.input.target;
}

/** Step 3: one field (or the record's existence) of the change against the target's. */
function resolveField(r: Resolution, name: string, v: FieldValue, policy: ConflictPolicy): void {
  const { target } = r.input;
  const agreed = r.state[name];
  const c = currentValue(r, name);
  const unstorable = r.input.unstorable?.[name];
  if (unstorable) {
    // Never written. A change already accounted for is stale; a new one waits for a person.
    const seen = agreed?.seen[r.source];
    if (seen && compareStamps(r.sE, seen, r.order) <= 0) r.fields[name] = 'stale';
    else park(r, name, unstorable.value, unstorable.reason);
    return;
  }
  // The target still holds a value that already lost a conflict: it gives way to the winner.
  const holdsLoser = agreed?.lost?.[target] !== undefined && sameValue(c, agreed.lost[target]);
  if (agreed && sameValue(v, agreed.value)) {
    // Nothing new from the source, but it asserted this value at sE: an older change of the
    // source arriving later must not undo it.
    const next = { ...agreed, seen: seenWith(r, agreed, r.source, r.sE) };
    if (holdsLoser && !sameValue(c, v)) {
      r.fields[name] = 'apply';
      r.patch[name] = v;
      // As with any write: whatever the target reported before it is older than it.
      r.state[name] = withoutLost({ ...next, seen: seenWith(r, next, target, r.sY) }, target);
      return;
    }
    r.fields[name] = 'unchanged';
    r.state[name] = next;
    return;
  }
  const seenSrc = agreed?.seen[r.source];
  if (seenSrc && compareStamps(r.sE, seenSrc, r.order) <= 0) {
    r.fields[name] = 'stale';
    return;
  }
  if (holdsLoser || !targetChanged(r, name, agreed)) {
    settle(r, name, v, 'apply');
    return;
  }
  if (sameValue(c, v)) {
    settle(r, name, v, 'agree');
    return;
  }
  // A true conflict: both sides changed the field since the last sync.
  const winner = conflictWinner(r, policy);
  r.conflicts.push({ field: name, policy, winner });
  // The target's own change lost: its event, when it arrives on the other side, is stale.
  if (winner === r.source) {
    settle(r, name, v, 'apply');
    return;
  }
  if (winner === 'admin') {
    park(r, name, v);
    return;
  }
  // The target's value won. The agreed value stays as it was, so the target's change still
  // counts as a change (a later concurrent change of the source conflicts with it again); the
  // source's value is marked as lost there, to give way to whatever the target sends next.
  r.fields[name] = 'keep-target';
  r.pushBack[name] = c;
  r.state[name] = {
    value: agreed?.value ?? null,
    seen: seenWith(r, agreed, r.source, r.sE),
    lost: { ...(agreed?.lost ?? {}), [r.source]: v },
  };
}

/** Step 4: the upsert's data, field by field; counters (`sum`) take absolute values only to start. */
function resolveData(r: Resolution): void {
  for (const [name, raw] of Object.entries(r.input.event.data)) {
    const policy = policyOf(r.input.entity, r.fieldsByName.get(name));
    if (policy !== 'sum') {
      resolveField(r, name, raw, policy);
      continue;
    }
    // Absolute counter values only initialise a counter the target does not have yet.
    if (currentValue(r, name) === null && r.state[name] === undefined && r.patch[name] === undefined) {
      r.fields[name] = 'counter-init';
      r.patch[name] = raw;
    } else {
      r.fields[name] = 'counter-absolute-ignored';
    }
  }
}

/** Step 5: the counter deltas, once per event. */
function resolveDeltas(r: Resolution): void {
  for (const [name, delta] of Object.entries(r.input.event.deltas ?? {})) {
    if (r.input.deltasApplied) {
      r.fields[name] = 'delta-duplicate';
    } else if (delta !== 0) {
      r.fields[name] = 'delta';
      r.deltas[name] = delta;
    }
  }
}

/** Step 6: the record-level outcome (create, delete, push-back of the whole record) and the decision. */
function finish(r: Resolution): Decision {
  const { input, patch, pushBack, fields } = r;
  const { entity, target, record, event } = input;
  const existsOutcome = fields[EXISTS_FIELD];
  const isDelete = event.op === 'delete' && existsOutcome === 'apply';
  const create =
    event.op === 'upsert' && !record.exists && (existsOutcome === 'apply' || existsOutcome === undefined);
  if (create) {
    // Recreate from the agreed values, overlaid with the change.
    for (const f of entity.fields) {
      if (patch[f.name] === undefined && r.state[f.name] !== undefined)
        patch[f.name] = r.state[f.name]!.value;
    }
  }
  delete patch[EXISTS_FIELD];
  if (pushBack[EXISTS_FIELD] !== undefined) {
    // The target kept the record: push the whole record back, not just its existence.
    delete pushBack[EXISTS_FIELD];
    if (record.exists) for (const f of entity.fields) pushBack[f.name] ??= currentValue(r, f.name);
  }
  const hasPatch = Object.keys(patch).length > 0;
  const hasDeltas = Object.keys(r.deltas).length > 0;
  const hasPushBack =
    Object.keys(pushBack).length > 0 || (fields[EXISTS_FIELD] === 'keep-target' && !record.exists);
  return {
    outcome: outcomeOf({ isDelete, hasPatch, hasDeltas, hasPushBack, parked: r.parked.length > 0, fields }),
    patch: isDelete ? {} : patch,
    deltas: r.deltas,
    create: create && (hasPatch || hasDeltas),
    delete: isDelete,
    state: { ...input.state, fields: r.state },
    ...(hasPushBack
      ? {
          pushBack: {
            origin: target,
            op: record.exists ? ('upsert' as const) : ('delete' as const),
            data: pushBack,
            changedAt: r.sY?.at ?? r.sE.at,
          },
        }
      : {}),
    parked: r.parked,
    conflicts: r.conflicts,
    fields,
  };
}

/** The decision's outcome, by precedence: delete, write, deltas, push-back, park, stale, duplicate. */
function outcomeOf(d: {
  isDelete: boolean;
  hasPatch: boolean;
  hasDeltas: boolean;
  hasPushBack: boolean;
  parked: boolean;
  fields: Readonly<Record<string, FieldOutcome>>;
}): Outcome {
  if (d.isDelete) return 'delete';
  if (d.hasPatch) return 'apply';
  if (d.hasDeltas) return 'apply-delta';
  if (d.hasPushBack) return 'push-back';
  if (d.parked) return 'park';
  if (Object.values(d.fields).some((f) => f === 'stale')) return 'skip-stale';
  return 'skip-duplicate';
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
