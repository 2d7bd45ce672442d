/**
 * Ports of the data plane: what the sync use cases need from the legacy store (Magento over
 * MySQL, or a legacy REST API), the service store (DynamoDB), the sync state (sync table), the
 * conflicts table and the bus. Adapters in `lambdas/adapters` implement them; tests and the
 * local rehearsal may inject fakes. No AWS SDK, mysql2 or middy here.
 */
import type { EntitySpec } from '../../lib/spec/schema.js';
import type { ParkedConflict, SyncState } from './conflict.js';
import type { FieldValue } from './events.js';
import type { ColumnLimits } from './values.js';

/** Canonical field values (see values.ts) keyed by field name. */
export type Row = Record<string, FieldValue>;

/** A record as one side holds it. */
export interface StoredRecord {
  readonly key: string;
  readonly exists: boolean;
  /** Canonical values of the entity's mapped fields (empty when it does not exist). */
  readonly data: Row;
  /** This side's own last change time (ms): Magento `updated_at`, service `updatedAt`. */
  readonly changedAt?: number;
  /** Service item version (DynamoDB); undefined for Magento rows. */
  readonly version?: number;
  /**
   * The store's own compare-and-set token for this read (opaque to the domain: e.g. the raw
   * column values of a Magento row, compared in one conditional UPDATE). Passed back unchanged in
   * `LegacyWrite.expected`.
   */
  readonly casToken?: unknown;
}

/** What `write` did. `conflict`: the compare-and-set lost a race (re-read and re-decide). */
export type WriteOutcome = 'written' | 'conflict' | 'duplicate';

/** A write to the legacy side, compare-and-set on the values read. */
export interface LegacyWrite {
  /** The record read before deciding; the write fails with `conflict` if it changed since. */
  readonly expected: StoredRecord;
  readonly patch: Row;
  /** Counter increments, applied exactly once per `eventId` (inbox table). */
  readonly deltas: Readonly<Record<string, number>>;
  readonly create: boolean;
  readonly delete: boolean;
  readonly eventId: string;
  /**
   * For creates: an idempotency token (`create:<entity>:<serviceKey>`) stored with the new row
   * in the same transaction, so that a retried create finds the row instead of inserting another.
   */
  readonly createToken?: string;
  /**
   * For creates: the service key, used as the row's key only where the store does not generate
   * keys (a key column without AUTO_INCREMENT, such as stock's `product_id`, its product's id). A
   * key the store generates is always its own: a record born in the service never chooses its
   * legacy id (a numeric service key would otherwise move Magento's AUTO_INCREMENT), and the key
   * map is the only link.
   */
  readonly desiredKey?: string;
  /** The change's time: a created row's `updated_at`. */
  readonly changedAt?: string;
}

export interface LegacyWriteResult {
  readonly outcome: WriteOutcome | 'exists';
  /** The legacy key written (the new key after a create, or the one found by `createToken`). */
  readonly key?: string;
}

/** Key-range chunk checksum (pt-table-checksum style, defined in checksum.ts) and the count. */
export interface ChunkChecksum {
  /** Chunk index (chunks.ts): keys in [index*size, (index+1)*size) for integer keys, a negative hash bucket for other keys. */
  readonly chunk: number;
  readonly count: number;
  /** Sum of the row hashes mod 2^52 (checksum.ts). */
  readonly checksum: number;
}

export interface ScanCursor {
  /** `updated_at` of the last row returned (ms). */
  readonly at: number;
  readonly key: string;
}

/** A legacy row read for change capture, with what the sync itself added to its counters. */
export interface CapturedRow extends StoredRecord {
  /** Sum of counter deltas the reverse sync applied to this row (from the inbox table). */
  readonly syncedDeltas?: Readonly<Record<string, number>>;
}

/**
 * A capability of a legacy store: resolving Magento EAV attribute ids (`eav_attribute`), what the
 * Debezium intake needs to map EAV value-table changes to fields. The MySQL store has it; the
 * composition root hands it over explicitly (`Runtime.legacyEav`), so no caller probes a store
 * for it.
 */
export interface EavAttributeSource {
  /** attribute_id -> attribute code for the entity's EAV type. */
  attributeCodes(entity: EntitySpec): Promise<Map<number, string>>;
}

export interface LegacyStore {
  read(entity: EntitySpec, key: string): Promise<StoredRecord>;
  /** Applies a decision's write in one transaction, compare-and-set on `expected`. */
  write(entity: EntitySpec, write: LegacyWrite): Promise<LegacyWriteResult>;
  /** Whether the counter deltas of `eventId` were already applied (inbox). */
  deltasApplied(entity: EntitySpec, eventId: string): Promise<boolean>;
  /**
   * Keyset scan for the poller: rows with `(updated_at, key) > cursor` and `updated_at < before`,
   * ordered by `(updated_at, key)`. Only for entities with `legacy.updatedAt`.
   */
  scanChanged(
    entity: EntitySpec,
    cursor: ScanCursor | undefined,
    options: { readonly limit: number; readonly before: number },
  ): Promise<CapturedRow[]>;
  /** Per-chunk checksums over `fields` (all mapped fields by default), computed by the store. */
  chunkChecksums(
    entity: EntitySpec,
    options: {
      readonly chunkSize: number;
      readonly fields?: readonly string[];
      /** Only the key-range chunks `from` ≤ chunk < `to` (one worker's share). @default - every chunk */
      readonly chunks?: { readonly from: number; readonly to: number };
    },
  ): Promise<ChunkChecksum[]>;
  /** Rows whose key falls in the chunk (with `syncedDeltas` when `withSyncedDeltas`). */
  readChunk(
    entity: EntitySpec,
    chunk: number,
    options: { readonly chunkSize: number; readonly withSyncedDeltas?: boolean },
  ): Promise<CapturedRow[]>;
  count(entity: EntitySpec): Promise<number>;
  /**
   * What each mapped field's column can hold (field name -> limits), from the database's own
   * column definitions, read once per table and kept. Fields without a limit are absent (a store
   * that knows no column definitions, such as a REST API, returns an empty map).
   */
  columnLimits(entity: EntitySpec): Promise<ReadonlyMap<string, ColumnLimits>>;
}

/**
 * A legacy store that writes a batch of existing records in one set-based compare-and-set (a SQL
 * database: MySQL). The reverse sync's batched path (sync-batch.ts) takes it; the composition
 * root hands it over only where the legacy store has it, and applies events one by one otherwise.
 */
export interface LegacyBatchWriter {
  /**
   * In one transaction, reads the rows of `keys` with row locks, asks `plan` for each record's
   * patch (decided on exactly the values locked, so no other writer can interleave), writes all
   * patches with one multi-row statement per table, and commits. Returns the records as read.
   */
  applyBatch(
    entity: EntitySpec,
    keys: readonly string[],
    plan: (records: ReadonlyMap<string, StoredRecord>) => ReadonlyMap<string, Row>,
  ): Promise<ReadonlyMap<string, StoredRecord>>;
}

/** A legacy store that bounds its integer keys cheaply (an index): full validation's SQL mode. */
export interface LegacyKeyBounds {
  /**
   * The number of rows and the lowest and highest key, without reading the rows: how full
   * validation plans its key ranges. Integer keys only.
   */
  keyBounds(
    entity: EntitySpec,
  ): Promise<{ readonly count: number; readonly min?: number; readonly max?: number }>;
}

/**
 * A legacy store that can list the whole collection but not read a key range (a REST API): full
 * validation's listing mode.
 */
export interface LegacyListing {
  /**
   * One page of the listing in the store's key order, the items after `after` (exclusive), at
   * most `limit`; `last` is the key to continue after, absent when the listing has ended.
   */
  listPage(
    entity: EntitySpec,
    options: { readonly after?: string; readonly limit: number },
  ): Promise<{ readonly rows: CapturedRow[]; readonly last?: string }>;
}

/**
 * How full validation reads the legacy side, chosen by the composition root from the legacy
 * store's kind: chunk checksums of key ranges in SQL (`sql`, planned from the key bounds), or the
 * listing read page by page into parts (`listing`).
 */
export type LegacyValidationSource =
  | { readonly mode: 'sql'; readonly bounds: LegacyKeyBounds }
  | { readonly mode: 'listing'; readonly listing: LegacyListing };

/** A write to the service table together with the record's sync state (one transaction). */
export interface ServiceWrite {
  readonly expected: StoredRecord;
  readonly patch: Row;
  readonly deltas: Readonly<Record<string, number>>;
  readonly create: boolean;
  readonly delete: boolean;
  readonly eventId: string;
  /** `updatedAt` of a created item (the change's time); updates leave it as it is. */
  readonly changedAt: string;
  readonly state: StateWrite;
}

export interface StateWrite {
  readonly next: SyncState;
  /** Revision read (0: no state stored yet). */
  readonly expectedRevision: number;
}

/** What {@link ServiceStore.readForSync} reads for the forward sync's first decision. */
export interface ForwardSyncRead {
  readonly record: StoredRecord;
  readonly stored: StoredSyncState;
  /** The service key the key map holds for the legacy key, if any. */
  readonly mappedServiceKey: string | undefined;
  /** Whether the event's deltas were applied (false when no `eventId` was asked about). */
  readonly applied: boolean;
}

export interface ServiceStore {
  read(entity: EntitySpec, key: string): Promise<StoredRecord>;
  /**
   * Writes the item (conditional on the version read) and the sync state (conditional on its
   * revision), plus the applied-event marker when there are deltas, in one transaction.
   * `duplicate`: the deltas of `eventId` were already applied.
   */
  write(entity: EntitySpec, key: string, write: ServiceWrite): Promise<WriteOutcome>;
  deltasApplied(entity: EntitySpec, eventId: string): Promise<boolean>;
  /**
   * The forward sync's first read, in one round trip where the store can: the item under `key`,
   * the sync state under `key`, the service key mapped to `legacyKey`, and (with `eventId`)
   * whether that event's deltas were applied. All consistent reads.
   */
  readForSync(
    entity: EntitySpec,
    key: string,
    options: { readonly legacyKey: string; readonly eventId?: string },
  ): Promise<ForwardSyncRead>;
  /** Batched reads (BatchGetItem, consistent); keys not found are absent. */
  readMany(entity: EntitySpec, keys: readonly string[]): Promise<Map<string, StoredRecord>>;
  /**
   * Batched conditional writes: item + state per record, many records per TransactWriteItems.
   * A transaction whose condition fails reports `conflict` for every record in it (the caller
   * applies those one by one).
   */
  writeMany(
    entity: EntitySpec,
    writes: readonly { readonly key: string; readonly write: ServiceWrite }[],
  ): Promise<Map<string, WriteOutcome>>;
  /**
   * Every item (for the consistency check), in pages, in no particular order, each as its key and
   * the canonical text of its fields (no record objects: a scan reads every item).
   */
  scan(
    entity: EntitySpec,
    options?: {
      readonly segments?: number;
      /**
       * One worker's share of a scan split between `of` workers: the table is scanned as
       * `segments × of` segments, of which this worker scans its `segments` in parallel.
       * @default - the whole table
       */
      readonly part?: { readonly index: number; readonly of: number };
      /** Items per page (a bound on what a page holds). @default - up to 1 MB of items */
      readonly pageSize?: number;
    },
  ): AsyncIterable<ScannedRow[]>;
}

/** An item as the consistency check scans it. */
export interface ScannedRow {
  /** The item's key (as `read` takes it). */
  readonly key: string;
  /**
   * `|v1|v2…`: `canonicalText` (checksum.ts) of each of the entity's fields in spec order, of
   * the value `read` would return, each after a `|`. The row hash is `hashRowText(legacy key + text)`.
   */
  readonly text: string;
}

export interface StoredSyncState {
  readonly state: SyncState;
  /** 0 when nothing is stored yet. */
  readonly revision: number;
}

export interface Watermark extends ScanCursor {
  readonly revision: number;
}

/** Poller snapshot of one key-range chunk of a table without `updated_at`. */
export interface ChunkSnapshot {
  /**
   * `CHECKSUM_VERSION` (checksum.ts) of `checksum` and `rows`. Absent in snapshots stored before
   * version 2: those hold the XOR of CRC32s and a CRC32 per row.
   */
  readonly version?: number;
  readonly checksum: number;
  readonly count: number;
  /** key -> row hash (a CRC32 in a snapshot without `version`) */
  readonly rows: Readonly<Record<string, number>>;
  /** key -> counter field -> last observed value net of the sync's own deltas */
  readonly counters: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** When this snapshot was taken (ms): part of the ids of the events it explains. */
  readonly observedAt: number;
}

export interface SyncStateStore {
  get(entity: EntitySpec, serviceKey: string): Promise<StoredSyncState>;
  /** Compare-and-set on the revision. Returns false when another writer got there first. */
  put(entity: EntitySpec, serviceKey: string, write: StateWrite): Promise<boolean>;
  /** The states of many records (batched reads); keys with no state stored are absent. */
  getMany(entity: EntitySpec, serviceKeys: readonly string[]): Promise<Map<string, StoredSyncState>>;
  /** Conditional puts, many per transaction; returns the keys stored (others lost a race). */
  putMany(
    entity: EntitySpec,
    writes: readonly { readonly key: string; readonly write: StateWrite }[],
  ): Promise<Set<string>>;
  /** {@link legacyKeyOf} of many keys (batched reads); unmapped keys are absent. */
  legacyKeysOf(entity: EntitySpec, serviceKeys: readonly string[]): Promise<Map<string, string>>;
  /** {@link serviceKeyOf} of many keys (batched reads); unmapped keys are absent. */
  serviceKeysOf(entity: EntitySpec, legacyKeys: readonly string[]): Promise<Map<string, string>>;
  /** Removes the state (repair re-baselines a record). */
  reset(entity: EntitySpec, serviceKey: string): Promise<void>;
  legacyKeyOf(entity: EntitySpec, serviceKey: string): Promise<string | undefined>;
  /**
   * The record's sync state and the legacy key mapped to it, read together (one round trip where
   * the store can: the reverse sync needs both before it decides).
   */
  getWithLegacyKey(
    entity: EntitySpec,
    serviceKey: string,
  ): Promise<{ readonly stored: StoredSyncState; readonly legacyKey: string | undefined }>;
  serviceKeyOf(entity: EntitySpec, legacyKey: string): Promise<string | undefined>;
  /**
   * Stores the mapping both ways with conditional puts. Idempotent for the same pair.
   * @throws when either key is already mapped to a different key
   */
  mapKeys(entity: EntitySpec, serviceKey: string, legacyKey: string): Promise<void>;
  getWatermark(entity: EntitySpec): Promise<Watermark | undefined>;
  /** Compare-and-set on the watermark's revision (two pollers never both advance it). */
  putWatermark(entity: EntitySpec, cursor: ScanCursor, expectedRevision: number): Promise<boolean>;
  getSnapshots(entity: EntitySpec): Promise<Map<number, ChunkSnapshot>>;
  putSnapshot(entity: EntitySpec, chunk: number, snapshot: ChunkSnapshot): Promise<void>;
}

/** What a lease store answers to a holder or a candidate (lambdas/domain/poller-loop.ts). */
export interface LeaseState {
  /** Whether the caller holds the lease now (taken or renewed by this call). */
  readonly held: boolean;
  /** The current holder, when another one holds it. */
  readonly holder?: string;
  /** When the lease runs out unless its holder renews it (ms since the epoch). */
  readonly expiresAt?: number;
  /** Another candidate asked the holder to hand over (asked less than a lease period ago). */
  readonly handoverRequested: boolean;
}

/**
 * An exclusive, expiring right to poll (one per service): only its holder publishes and moves
 * watermarks, so two overlapping poller invocations never both poll. Times are passed in by
 * the caller (its clock).
 */
export interface PollerLease {
  /** Takes the lease when it is free or has run out, or renews it for its holder. */
  acquire(owner: string, now: number, ttlMs: number): Promise<LeaseState>;
  /** Asks the current holder (not `owner`) to hand over at its next renewal. */
  requestHandover(owner: string, now: number): Promise<void>;
  /** Gives the lease up at once, if `owner` holds it. */
  release(owner: string): Promise<void>;
  /**
   * Leaves what the holder published ahead of its watermarks for the next holder (called right
   * before {@link release}; replaces the last one left).
   */
  saveHandoff(handoff: PollerHandoff): Promise<void>;
  /** What the last holder left ({@link saveHandoff}); empty when none. */
  loadHandoff(): Promise<PollerHandoff>;
}

/** A young row's version the poller published ahead of its watermark (lambdas/domain/poller.ts). */
export interface PublishedAhead {
  readonly eventId: string;
  /** Its `updated_at` (ms since the epoch). */
  readonly at: number;
}

/** Per entity name, per row key: the versions published ahead of the watermark. */
export type PollerHandoff = Readonly<Record<string, Readonly<Record<string, PublishedAhead>>>>;

/** A conflict parked by the `admin` policy, as stored for an operator. */
export interface ParkedConflictRecord extends ParkedConflict {
  readonly parkedAt: string;
}

/** How a person settles a parked conflict: keep one side's value, or give the value. */
export type ConflictChoice = 'legacy' | 'service' | 'value';

/** What a person decided about a parked conflict: who, when and what. */
export interface ConflictResolution {
  readonly choice: ConflictChoice;
  /** The value both sides end with (canonical, as the engine compares it). */
  readonly value: FieldValue;
  /** Who decided (an operator's name or id, as the CLI passes it). */
  readonly by: string;
  /** When the decision was taken (ISO-8601). */
  readonly at: string;
}

/**
 * A parked conflict as the conflicts table holds it. `open`: waiting for a person; `resolving`:
 * a resolution is claimed and being applied (a resolve that crashed is finished by resolving
 * again with the same choice); `resolved`: both sides hold the chosen value, closed at
 * `resolvedAt`.
 */
export interface StoredConflict extends ParkedConflictRecord {
  readonly status: 'open' | 'resolving' | 'resolved';
  readonly resolution?: ConflictResolution;
  readonly resolvedAt?: string;
}

export interface ConflictPage {
  readonly items: readonly StoredConflict[];
  /** Pass back to read the next page; absent on the last one. */
  readonly cursor?: string;
}

export interface ConflictStore {
  /**
   * Parks a conflict; idempotent (one item per `conflictId`, the same id whichever side saw it).
   * Returns whether the caller is to announce it (`cutover.conflict.parked`): true once per
   * conflict, for the first caller to claim the announcement (`unannounce` gives the claim back
   * when the announcement could not be published).
   */
  park(conflict: ParkedConflictRecord): Promise<boolean>;
  /** Gives back the announcement claimed by `park` (its publish failed; the retry announces). */
  unannounce(conflictId: string): Promise<void>;
  get(conflictId: string): Promise<StoredConflict | undefined>;
  /** Conflicts not yet resolved (`open` and `resolving`), optionally of one entity, a page at a time. */
  listOpen(options?: {
    readonly entity?: string;
    readonly limit?: number;
    readonly cursor?: string;
  }): Promise<ConflictPage>;
  /**
   * Claims an open conflict for `resolution` (conditional on it being open). Returns the conflict
   * as stored afterwards: with this resolution, or with the one another resolver claimed first.
   */
  claim(conflictId: string, resolution: ConflictResolution): Promise<StoredConflict | undefined>;
  /** Closes a claimed conflict as resolved at `resolvedAt`. Idempotent. */
  close(conflictId: string, resolvedAt: string): Promise<StoredConflict | undefined>;
}

/**
 * What a sealed value is bound to: its purpose (the KMS encryption context, so that a key grant
 * can name one purpose) and the record and field it belongs to (authenticated with the value, so
 * a sealed value moved to another record or field does not open).
 */
export interface SealContext {
  /** `sync-state`: the sync functions open it; `conflicts`: only the conflict resolver does. */
  readonly purpose: 'sync-state' | 'conflicts';
  readonly entity: string;
  readonly key: string;
  readonly field: string;
}

/**
 * Field-level encryption of personal data at rest (envelope encryption: a data key from a
 * customer-managed KMS key encrypts the value, and the data key, encrypted under the KMS key,
 * travels with it). The real adapter uses KMS (lambdas/adapters/field-cipher.ts); tests and the
 * local rehearsal use a local key behind the same port.
 */
export interface FieldCipher {
  /** The sealed text of `plaintext` (opaque; safe to store). */
  seal(plaintext: string, context: SealContext): Promise<string>;
  /** @throws when `sealed` was not sealed for this context or the key may not be used */
  open(sealed: string, context: SealContext): Promise<string>;
}

/** One EventBridge entry (the shape of a PutEvents entry). */
export interface BusEvent {
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
}

export interface EventPublisher {
  /** Publishes all entries or throws (after bounded retries of the failed ones). */
  publish(events: readonly BusEvent[]): Promise<void>;
}

/**
 * Objects of a full validation run (S3): the work lists its Distributed Maps read, the partial
 * results its workers leave for each other, and the report. Keys are `/`-separated paths.
 */
export interface ObjectStore {
  put(key: string, body: string): Promise<void>;
  /** @throws when there is no object under `key` */
  get(key: string): Promise<string>;
  /** Every key under `prefix`, in key order. */
  list(prefix: string): Promise<string[]>;
  /** The next path level under `prefix` (`<prefix><name>/`, each once), in key order. */
  listFolders(prefix: string): Promise<string[]>;
  /** Where an operator finds the object (`s3://bucket/key`). */
  location(key: string): string;
}

/**
 * The current time, in ms since the epoch. The domain reads the time only through its
 * dependencies (the system's in lambdas/adapters/system-clock.ts, a test's own otherwise).
 */
export type Clock = () => number;

/**
 * Milliseconds from an arbitrary origin that never step back (the wall clock can, when it is set):
 * what durations are measured on.
 */
export type MonotonicClock = () => number;

/** Resolves after `ms`, or as soon as `signal` aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** A number uniform in [0, 1): jitter and sampling draw from it. */
export type Random = () => number;

/** The time, the waits and the randomness a use case runs with, handed in by its caller. */
export interface Ambient {
  readonly now: Clock;
  readonly monotonic: MonotonicClock;
  readonly sleep: Sleep;
  readonly random: Random;
}
