/**
 * Personal data (`pii: true` fields of the spec) at rest outside the two record stores: the sync
 * state and the conflicts table hold such values sealed (field-level envelope encryption through
 * the `FieldCipher` port), never in clear. The use cases never see a sealed value: the stores
 * seal on write and open on read with a `PersonalDataSealer`.
 *
 * Why sealed and not hashed in the sync state: the engine compares a field's agreed value for
 * equality, but it also writes it back — a record recreated on a side is rebuilt from the agreed
 * values (`decide`'s create path), and a resolution records the losing side's value
 * (`FieldSyncState.lost`). A hash would write the hash into the record. The conflicts table must
 * let a person see and choose a value, so it is sealed too, for another purpose: the sync
 * functions may seal conflicts (park) but only the resolver may open them.
 *
 * Pure: the cipher is a port.
 */
import type { EntitySpec, MigrationSpec } from '../../lib/spec/schema.js';
import type { FieldSyncState, SyncState } from './conflict.js';
import type { FieldValue, Origin } from './events.js';
import type {
  ConflictResolution,
  FieldCipher,
  ParkedConflictRecord,
  SealContext,
  StoredConflict,
} from './ports.js';

/** A value as a store holds it when its field is personal: the sealed JSON of the value. */
export interface SealedValue {
  readonly $sealed: string;
}

type Stored = FieldValue | SealedValue;

const isSealed = (v: unknown): v is SealedValue =>
  typeof v === 'object' && v !== null && typeof (v as SealedValue).$sealed === 'string';

/** The personal fields of an entity (`pii: true`). */
export function personalFields(entity: EntitySpec): ReadonlySet<string> {
  return new Set(entity.fields.filter((f) => f.pii).map((f) => f.name));
}

/**
 * Seals and opens the personal fields of sync states and parked conflicts. Null stays null (it
 * says nothing about a person, and the engine's "no value yet" must stay cheap to read).
 */
export class PersonalDataSealer {
  private readonly fieldsByEntity = new Map<string, ReadonlySet<string>>();

  constructor(
    spec: MigrationSpec,
    private readonly cipher: FieldCipher,
  ) {
    for (const s of spec.services)
      for (const e of s.entities) this.fieldsByEntity.set(e.name, personalFields(e));
  }

  private isPersonal(entity: string, field: string): boolean {
    return this.fieldsByEntity.get(entity)?.has(field) ?? false;
  }

  private async seal(value: FieldValue, context: SealContext): Promise<Stored> {
    if (value === null || !this.isPersonal(context.entity, context.field)) return value;
    return { $sealed: await this.cipher.seal(JSON.stringify(value), context) };
  }

  private async open(value: Stored, context: SealContext): Promise<FieldValue> {
    if (isSealed(value)) return JSON.parse(await this.cipher.open(value.$sealed, context)) as FieldValue;
    // A state stored before sealing existed holds clear values: read them (the next write seals).
    return value;
  }

  /** The state as stored: the agreed and lost values of personal fields sealed. */
  async sealState(entity: string, key: string, state: SyncState): Promise<SyncState> {
    return this.mapState(entity, key, state, (v, c) => this.seal(v as FieldValue, c));
  }

  /** The state as the engine reads it. */
  async openState(entity: string, key: string, state: SyncState): Promise<SyncState> {
    return this.mapState(entity, key, state, (v, c) => this.open(v, c));
  }

  private async mapState(
    entity: string,
    key: string,
    state: SyncState,
    f: (v: Stored, c: SealContext) => Promise<Stored>,
  ): Promise<SyncState> {
    const fields: Record<string, FieldSyncState> = {};
    for (const [field, s] of Object.entries(state.fields)) {
      if (!this.isPersonal(entity, field)) {
        fields[field] = s;
        continue;
      }
      const context: SealContext = { purpose: 'sync-state', entity, key, field };
      const value = (await f(s.value as Stored, context)) as FieldValue;
      let lost: Partial<Record<Origin, FieldValue>> | undefined;
      if (s.lost) {
        lost = {};
        for (const [origin, v] of Object.entries(s.lost) as [Origin, FieldValue][]) {
          lost[origin] = (await f(v as Stored, context)) as FieldValue;
        }
      }
      fields[field] = { ...s, value, ...(lost ? { lost } : {}) };
    }
    return { ...state, fields };
  }

  /** A parked conflict as stored: both sides' values sealed when the field is personal. */
  async sealConflict(conflict: ParkedConflictRecord): Promise<ParkedConflictRecord> {
    const c = this.conflictContext(conflict);
    return {
      ...conflict,
      legacy: { ...conflict.legacy, value: (await this.seal(conflict.legacy.value, c)) as FieldValue },
      service: { ...conflict.service, value: (await this.seal(conflict.service.value, c)) as FieldValue },
    };
  }

  /** A resolution as stored: its value sealed when the field is personal. */
  async sealResolution(
    conflict: Pick<StoredConflict, 'conflictId' | 'entity' | 'key' | 'field'>,
    resolution: ConflictResolution,
  ): Promise<ConflictResolution> {
    const value = await this.seal(resolution.value, this.conflictContext(conflict));
    return { ...resolution, value: value as FieldValue };
  }

  /** A stored conflict as the resolver reads it. */
  async openConflict(conflict: StoredConflict): Promise<StoredConflict> {
    const c = this.conflictContext(conflict);
    return {
      ...conflict,
      legacy: { ...conflict.legacy, value: await this.open(conflict.legacy.value, c) },
      service: { ...conflict.service, value: await this.open(conflict.service.value, c) },
      ...(conflict.resolution
        ? { resolution: { ...conflict.resolution, value: await this.open(conflict.resolution.value, c) } }
        : {}),
    };
  }

  /** Bound to the conflict's id too: a sealed value copied into another conflict does not open. */
  private conflictContext(c: Pick<StoredConflict, 'conflictId' | 'entity' | 'key' | 'field'>): SealContext {
    return { purpose: 'conflicts', entity: c.entity, key: `${c.key}#${c.conflictId}`, field: c.field };
  }
}
