/**
 * In-memory stand-ins of the data-plane ports (lambdas/domain/ports.ts) for property tests that
 * drive the real sync use cases (`applyToLegacy`, `applyToService`) over many generated histories,
 * where a database round trip per step would be too slow. Each keeps the port's contract the way
 * the real adapter does: compare-and-set on what was read, creates made once per `createToken`,
 * and the legacy key assigned by the database (AUTO_INCREMENT; the MySQL adapter never inserts an
 * explicit value into such a column). Only what the sync use cases call is implemented; the rest
 * throws.
 */

import type { SyncState } from '../../lambdas/domain/conflict.js';
import type {
  BusEvent,
  ConflictPage,
  ConflictResolution,
  ConflictStore,
  EventPublisher,
  ForwardSyncRead,
  LegacyStore,
  LegacyWrite,
  LegacyWriteResult,
  ParkedConflictRecord,
  Row,
  ServiceStore,
  ServiceWrite,
  StateWrite,
  StoredConflict,
  StoredRecord,
  StoredSyncState,
  SyncStateStore,
  WriteOutcome,
} from '../../lambdas/domain/ports.js';
import { type ColumnLimits, sameValue } from '../../lambdas/domain/values.js';
import type { EntitySpec } from '../../lib/spec/schema.js';

const unused = (what: string) => () => {
  throw new Error(`${what} is not part of the in-memory stores`);
};

interface LegacyRow {
  data: Row;
  changedAt: number;
}

/** The legacy database: one table whose key the database generates (AUTO_INCREMENT). */
export class MemoryLegacyStore implements LegacyStore {
  readonly rows = new Map<string, LegacyRow>();
  /** The next id MySQL would assign. */
  autoIncrement = 1;
  /** Rows inserted by the sync (creates), by key. */
  readonly createdBySync = new Set<string>();
  private readonly tokens = new Map<string, string>();

  /** A row inserted by the legacy application itself; returns its key. */
  insertOwn(data: Row, at: number): string {
    const key = String(this.autoIncrement++);
    this.rows.set(key, { data: { ...data }, changedAt: at });
    return key;
  }

  /** An edit made by the legacy application itself (moves `updated_at`). */
  editOwn(key: string, data: Row, at: number): void {
    const row = this.rows.get(key)!;
    Object.assign(row.data, data);
    row.changedAt = at;
  }

  async read(_entity: EntitySpec, key: string): Promise<StoredRecord> {
    const row = this.rows.get(key);
    return row
      ? { key, exists: true, data: { ...row.data }, changedAt: row.changedAt }
      : { key, exists: false, data: {} };
  }

  async write(entity: EntitySpec, w: LegacyWrite): Promise<LegacyWriteResult> {
    if (w.create) {
      const found = w.createToken && this.tokens.get(w.createToken);
      if (found) return { outcome: 'exists', key: found };
      // The key column is AUTO_INCREMENT: the database's id, whatever the caller would like.
      const key = String(this.autoIncrement++);
      const data: Row = {};
      for (const f of entity.fields) data[f.name] = w.patch[f.name] ?? null;
      this.rows.set(key, { data, changedAt: w.changedAt ? Date.parse(w.changedAt) : 0 });
      this.createdBySync.add(key);
      if (w.createToken) this.tokens.set(w.createToken, key);
      return { outcome: 'written', key };
    }
    const key = w.expected.key;
    const row = this.rows.get(key);
    if (!row || !w.expected.exists) return { outcome: 'conflict', key };
    for (const f of entity.fields) {
      if (!sameValue(row.data[f.name], w.expected.data[f.name])) return { outcome: 'conflict', key };
    }
    if (row.changedAt !== w.expected.changedAt) return { outcome: 'conflict', key };
    if (w.delete) this.rows.delete(key);
    else Object.assign(row.data, w.patch); // a sync write keeps updated_at
    return { outcome: 'written', key };
  }

  async deltasApplied(): Promise<boolean> {
    return false;
  }

  /**
   * The set-based write of the batched reverse sync (`LegacyBatchWriter`): the rows as they are,
   * the plan's patches applied at once (nothing interleaves in memory; a sync write keeps
   * updated_at).
   */
  async applyBatch(
    entity: EntitySpec,
    keys: readonly string[],
    plan: (records: ReadonlyMap<string, StoredRecord>) => ReadonlyMap<string, Row>,
  ): Promise<ReadonlyMap<string, StoredRecord>> {
    const records = new Map<string, StoredRecord>();
    for (const k of keys) records.set(k, await this.read(entity, k));
    for (const [k, patch] of plan(records)) {
      const row = this.rows.get(k);
      if (row) Object.assign(row.data, patch);
    }
    return records;
  }

  /** No column limits (the in-memory table holds any value). */
  async columnLimits(): Promise<ReadonlyMap<string, ColumnLimits>> {
    return new Map();
  }
  scanChanged = unused('scanChanged');
  chunkChecksums = unused('chunkChecksums');
  readChunk = unused('readChunk');
  count = unused('count');
}

interface ServiceItem {
  data: Row;
  version: number;
  changedAt: number;
}

/** The service table and the sync table (states and key map) together, as on DynamoDB. */
export class MemorySyncTables implements ServiceStore, SyncStateStore {
  readonly items = new Map<string, ServiceItem>();
  readonly states = new Map<string, StoredSyncState>();
  readonly serviceToLegacy = new Map<string, string>();
  readonly legacyToService = new Map<string, string>();

  /** An item written by the service itself (version + 1, its own change time). */
  serviceWrite(key: string, data: Row, at: number): void {
    const item = this.items.get(key);
    if (item) {
      Object.assign(item.data, data);
      item.version++;
      item.changedAt = at;
    } else this.items.set(key, { data: { ...data }, version: 1, changedAt: at });
  }

  // --- ServiceStore ---
  async read(_entity: EntitySpec, key: string): Promise<StoredRecord> {
    const item = this.items.get(key);
    return item
      ? { key, exists: true, data: { ...item.data }, version: item.version, changedAt: item.changedAt }
      : { key, exists: false, data: {} };
  }

  async write(_entity: EntitySpec, key: string, w: ServiceWrite): Promise<WriteOutcome> {
    const item = this.items.get(key);
    if ((item?.version ?? undefined) !== (w.expected.exists ? w.expected.version : undefined))
      return 'conflict';
    if ((this.states.get(key)?.revision ?? 0) !== w.state.expectedRevision) return 'conflict';
    if (w.delete) this.items.delete(key);
    else if (item) {
      Object.assign(item.data, w.patch);
      item.version++; // a sync write: version moves, updatedAt stays
    } else this.items.set(key, { data: { ...w.patch }, version: 1, changedAt: Date.parse(w.changedAt) });
    this.states.set(key, { state: w.state.next, revision: w.state.expectedRevision + 1 });
    return 'written';
  }

  async deltasApplied(): Promise<boolean> {
    return false;
  }

  async readForSync(
    entity: EntitySpec,
    key: string,
    options: { readonly legacyKey: string; readonly eventId?: string },
  ): Promise<ForwardSyncRead> {
    return {
      record: await this.read(entity, key),
      stored: await this.get(entity, key),
      mappedServiceKey: this.legacyToService.get(options.legacyKey),
      applied: options.eventId === undefined ? false : await this.deltasApplied(),
    };
  }

  async readMany(entity: EntitySpec, keys: readonly string[]): Promise<Map<string, StoredRecord>> {
    const found = new Map<string, StoredRecord>();
    for (const k of keys) if (this.items.has(k)) found.set(k, await this.read(entity, k));
    return found;
  }

  /** One by one (no transactions to lose together): each record's own outcome. */
  async writeMany(
    entity: EntitySpec,
    writes: readonly { readonly key: string; readonly write: ServiceWrite }[],
  ): Promise<Map<string, WriteOutcome>> {
    const out = new Map<string, WriteOutcome>();
    for (const w of writes) out.set(w.key, await this.write(entity, w.key, w.write));
    return out;
  }
  scan = unused('scan');

  // --- SyncStateStore ---
  async get(_entity: EntitySpec, serviceKey: string): Promise<StoredSyncState> {
    return this.states.get(serviceKey) ?? { state: { fields: {} } as SyncState, revision: 0 };
  }

  async put(_entity: EntitySpec, serviceKey: string, w: StateWrite): Promise<boolean> {
    if ((this.states.get(serviceKey)?.revision ?? 0) !== w.expectedRevision) return false;
    this.states.set(serviceKey, { state: w.next, revision: w.expectedRevision + 1 });
    return true;
  }

  async getMany(_entity: EntitySpec, serviceKeys: readonly string[]): Promise<Map<string, StoredSyncState>> {
    return new Map(
      serviceKeys.flatMap((k) => (this.states.has(k) ? [[k, this.states.get(k)!] as const] : [])),
    );
  }

  async putMany(
    entity: EntitySpec,
    writes: readonly { readonly key: string; readonly write: StateWrite }[],
  ): Promise<Set<string>> {
    const stored = new Set<string>();
    for (const w of writes) if (await this.put(entity, w.key, w.write)) stored.add(w.key);
    return stored;
  }

  async legacyKeysOf(_entity: EntitySpec, serviceKeys: readonly string[]): Promise<Map<string, string>> {
    return lookUp(this.serviceToLegacy, serviceKeys);
  }

  async serviceKeysOf(_entity: EntitySpec, legacyKeys: readonly string[]): Promise<Map<string, string>> {
    return lookUp(this.legacyToService, legacyKeys);
  }

  async getWithLegacyKey(
    entity: EntitySpec,
    serviceKey: string,
  ): Promise<{ stored: StoredSyncState; legacyKey: string | undefined }> {
    return { stored: await this.get(entity, serviceKey), legacyKey: this.serviceToLegacy.get(serviceKey) };
  }

  async reset(_entity: EntitySpec, serviceKey: string): Promise<void> {
    this.states.delete(serviceKey);
  }

  async legacyKeyOf(_entity: EntitySpec, serviceKey: string): Promise<string | undefined> {
    return this.serviceToLegacy.get(serviceKey);
  }

  async serviceKeyOf(_entity: EntitySpec, legacyKey: string): Promise<string | undefined> {
    return this.legacyToService.get(legacyKey);
  }

  async mapKeys(entity: EntitySpec, serviceKey: string, legacyKey: string): Promise<void> {
    const l = this.serviceToLegacy.get(serviceKey);
    const s = this.legacyToService.get(legacyKey);
    if ((l !== undefined && l !== legacyKey) || (s !== undefined && s !== serviceKey))
      throw new Error(`${entity.name}: ${serviceKey} or ${legacyKey} already mapped to another key`);
    this.serviceToLegacy.set(serviceKey, legacyKey);
    this.legacyToService.set(legacyKey, serviceKey);
  }

  getWatermark = unused('getWatermark');
  putWatermark = unused('putWatermark');
  getSnapshots = unused('getSnapshots');
  putSnapshot = unused('putSnapshot');
}

/** The entries of `map` under `keys` (the ones it has). */
function lookUp(map: ReadonlyMap<string, string>, keys: readonly string[]): Map<string, string> {
  return new Map(keys.flatMap((k) => (map.has(k) ? [[k, map.get(k)!] as const] : [])));
}

/** Parked conflicts and published events, kept for inspection. */
export class MemoryOutbox implements ConflictStore, EventPublisher {
  readonly parked = new Map<string, StoredConflict>();
  readonly published: BusEvent[] = [];
  private readonly announced = new Set<string>();

  async park(conflict: ParkedConflictRecord): Promise<boolean> {
    if (!this.parked.has(conflict.conflictId))
      this.parked.set(conflict.conflictId, { ...conflict, status: 'open' });
    if (this.announced.has(conflict.conflictId)) return false;
    this.announced.add(conflict.conflictId);
    return true;
  }

  async unannounce(conflictId: string): Promise<void> {
    this.announced.delete(conflictId);
  }

  async get(conflictId: string): Promise<StoredConflict | undefined> {
    return this.parked.get(conflictId);
  }

  async listOpen(options: { entity?: string } = {}): Promise<ConflictPage> {
    return {
      items: [...this.parked.values()].filter(
        (c) => c.status !== 'resolved' && (!options.entity || c.entity === options.entity),
      ),
    };
  }

  async claim(conflictId: string, resolution: ConflictResolution): Promise<StoredConflict | undefined> {
    const c = this.parked.get(conflictId);
    if (c?.status === 'open') this.parked.set(conflictId, { ...c, status: 'resolving', resolution });
    return this.parked.get(conflictId);
  }

  async close(conflictId: string, resolvedAt: string): Promise<StoredConflict | undefined> {
    const c = this.parked.get(conflictId);
    if (c && c.status !== 'open') this.parked.set(conflictId, { ...c, status: 'resolved', resolvedAt });
    return this.parked.get(conflictId);
  }

  async publish(events: readonly BusEvent[]): Promise<void> {
    this.published.push(...events);
  }
}
