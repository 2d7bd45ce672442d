/**
 * The consistency check (pt-table-checksum style) and its repair.
 *
 * 1. Count and checksum each key-range chunk on both sides (checksum.ts): a row's hash is the
 *    first 52 bits of SHA-256 of `key|v1|v2…`, the canonical text of the entity's fields in spec
 *    order (NULL as `\N`); a chunk's checksum is the sum of its row hashes mod 2^52, which edits
 *    leave unchanged only by a 2^-52 chance (the XOR of CRC32s it replaced cancelled the same
 *    edit on two rows). The legacy store computes
 *    it in SQL (`SUM(CONV(LEFT(SHA2(CONCAT_WS('|', …), 256), 13), 16, 10)) MOD 2^52`), the service side here,
 *    in JS, over the same canonical values; rows are placed in chunks by their legacy key (the key
 *    map translates keys of service-born records).
 *    The service side keeps only each row's hash (not its values) while it scans.
 * 2. Only chunks whose count or checksum differ are read row by row and diffed: the legacy rows
 *    of the chunk against the row hashes; the service records of the rows that differ are then
 *    read again by key, as they are now, to name the differing fields (and to repair).
 * 3. The report lists the mismatching keys (no values: they may be personal data).
 * 4. Repair (legacy is the source of truth until writes are cut over): for each mismatching key,
 *    the record's sync state is re-baselined to what the service holds now, and the legacy row is
 *    re-emitted as a change event; the forward sync then sees a change on the legacy side only and
 *    applies it, whatever the field's conflict policy.
 */
import { entityByName, keyMapEntity } from '../../lib/spec/lookup.js';
import type { EntitySpec, MigrationSpec } from '../../lib/spec/schema.js';
import {
  addRowHash,
  canonicalText,
  EMPTY_CHECKSUM,
  hashRowText,
  type RowHash,
  recordHash,
  removeRowHash,
} from './checksum.js';
import { chunkOfKey } from './chunks.js';
import type { FieldSyncState } from './conflict.js';
import { type ChangeEvent, toBusEntry } from './events.js';
import type { WriteMode } from './flags.js';
import type {
  Clock,
  EventPublisher,
  LegacyStore,
  Row,
  ServiceStore,
  StoredRecord,
  SyncStateStore,
} from './ports.js';
import { referencesToService } from './references.js';

/** The chunk of a legacy key: key range for unsigned integers, else a hash bucket (chunks.ts). */
export function chunkOf(legacyKey: string, chunkSize: number): number {
  return chunkOfKey(legacyKey, chunkSize);
}

export type MismatchKind = 'missing-in-service' | 'missing-in-legacy' | 'different';

export interface Mismatch {
  readonly legacyKey: string;
  readonly serviceKey?: string;
  readonly kind: MismatchKind;
  /** Fields that differ (kind `different`). */
  readonly fields?: readonly string[];
}

export interface ConsistencyReport {
  readonly entity: string;
  readonly legacyCount: number;
  readonly serviceCount: number;
  readonly chunks: number;
  readonly chunksDiffering: number;
  readonly mismatches: readonly Mismatch[];
  /** Mismatches past `maxReported` are counted here but not listed. */
  readonly mismatchesTotal: number;
  readonly durationMs: number;
  /** Keys re-emitted by repair. */
  readonly repaired: number;
}

export interface ConsistencyDeps {
  readonly spec: MigrationSpec;
  readonly legacy: LegacyStore;
  readonly service: ServiceStore;
  readonly state: SyncStateStore;
  readonly publisher: EventPublisher;
  readonly now: Clock;
  /**
   * The write mode in force for a service (the deployed `<service>_write` flag). Repair asks it
   * before re-emitting anything and refuses once writes are cut over ({@link RepairAfterCutoverError}).
   * The deployed functions read AppConfig; without it (local runs, tests) repair is not guarded.
   */
  readonly writeModeOf?: (service: string) => Promise<WriteMode>;
}

/**
 * Repair re-emits Magento's rows as legacy changes: the legacy side wins. Once a service's
 * writes are cut over (write mode `primary`) the service is the source of truth, so a repair
 * would overwrite its newer data with Magento's: it is refused, naming the entity and service.
 */
export class RepairAfterCutoverError extends Error {
  constructor(entity: string, service: string) {
    super(
      `repair of ${entity} refused: ${service} writes are cut over (write mode primary), and repair would make Magento's rows win over the service's; compare without repair and settle the differences from the service side`,
    );
    this.name = 'RepairAfterCutoverError';
  }
}

/** @throws RepairAfterCutoverError when the entity's service has its writes cut over */
export async function assertRepairAllowed(
  deps: Pick<ConsistencyDeps, 'spec' | 'writeModeOf'>,
  entity: EntitySpec,
): Promise<void> {
  if (!deps.writeModeOf) return;
  const service = entityByName(deps.spec, entity.name).service.name;
  if ((await deps.writeModeOf(service)) === 'primary')
    throw new RepairAfterCutoverError(entity.name, service);
}

export interface ConsistencyOptions {
  /** Keys per chunk. @default 1000 */
  readonly chunkSize?: number;
  /** Re-emit change events for mismatching keys. @default false */
  readonly repair?: boolean;
  /** Keys listed in the report. @default 1000 */
  readonly maxReported?: number;
  /**
   * Parallel scan segments on the service side. 16 measured best on a 2-core machine against
   * DynamoDB Local (8: about 25 % slower; 24 and 32: no faster, within noise). @default 16
   */
  readonly segments?: number;
}

/** The service side of one chunk as the scan found it. */
interface ServiceChunk {
  count: number;
  /** Sum of the row hashes so far (`addRowHash`). */
  checksum: number;
  /** legacy key -> row hash, for the row diff should the chunk differ. */
  readonly rows: Map<string, RowHash>;
}

/** A service record re-read for a row that differs: what the report and the repair need. */
interface ServiceRow {
  readonly serviceKey: string;
  readonly record: StoredRecord;
}

/** Compares one entity across both sides; with `repair`, re-emits the legacy rows that differ. */
export async function checkConsistency(
  deps: ConsistencyDeps,
  entity: EntitySpec,
  options: ConsistencyOptions = {},
): Promise<ConsistencyReport> {
  // Refused before the scan, not after it.
  if (options.repair) await assertRepairAllowed(deps, entity);
  const now = deps.now;
  const started = now();
  const chunkSize = options.chunkSize ?? 1000;
  const maxReported = options.maxReported ?? 1000;

  // The legacy side's SQL checksums and the service scan run at once; pages are hashed as they
  // arrive, each row placed under its own key first. A record born in the service sits under
  // another legacy key (the key map's); where it was placed wrongly, both the chunk of its own key
  // and the chunk of its legacy key differ, so only the rows of differing chunks are looked up in
  // the key map (by key) and moved. A consistent entity so costs no key-map read at all, and the
  // check never reads the sync states (a key's shape says nothing: a service may number its
  // records like Magento does).
  const legacySide = Promise.all([
    deps.legacy.count(entity),
    deps.legacy.chunkChecksums(entity, { chunkSize }),
  ] as const);
  // Awaited below; if the scan fails first, this must not become an unhandled rejection.
  legacySide.catch(() => {});

  // Service side: the same checksums in JS. Held per row: its legacy key and row hash (one Map
  // entry in its chunk; the key string is the scan's), plus its service key where that differs
  // from the legacy key. No values: the few rows that differ are read again by key below.
  const serviceChunks = new Map<number, ServiceChunk>();
  const serviceKeys = new Map<string, string>();
  const place = (legacyKey: string, hash: RowHash) => {
    const chunk = chunkOf(legacyKey, chunkSize);
    let c = serviceChunks.get(chunk);
    if (!c) {
      c = { count: 0, checksum: EMPTY_CHECKSUM, rows: new Map() };
      serviceChunks.set(chunk, c);
    }
    c.count++;
    c.checksum = addRowHash(c.checksum, hash);
    c.rows.set(legacyKey, hash);
  };
  let serviceCount = 0;
  const scan = deps.service.scan(entity, { segments: options.segments ?? 16 });
  for await (const page of scan) {
    for (const r of page) {
      serviceCount++;
      // rowHash(key, values): the scan gives the `|v1|v2…` part as text.
      place(r.key, hashRowText(r.key + r.text));
    }
  }
  const [legacyCount, legacyChunks] = await legacySide;
  const legacyByChunk = new Map(legacyChunks.map((c) => [c.chunk, c]));
  const differingChunks = () =>
    [...new Set([...legacyByChunk.keys(), ...serviceChunks.keys()])]
      .filter((c) => {
        const l = legacyByChunk.get(c);
        const s = serviceChunks.get(c);
        return !l || !s || l.count !== s.count || l.checksum !== s.checksum;
      })
      .sort((a, b) => a - b);

  // Rows of differing chunks that are records born in the service move to their mapped legacy
  // key (read again by key: only hashes were kept); a record not synced yet stays where it is and
  // is reported missing in legacy by the row diff.
  const placed = differingChunks().flatMap((c) => [...(serviceChunks.get(c)?.rows.keys() ?? [])]);
  const moves = [...(await mappedLegacyKeys(deps, entity, placed))].filter(([s, l]) => s !== l);
  if (moves.length) {
    const moved = await readServiceRecords(
      deps.service,
      entity,
      moves.map(([s]) => s),
    );
    for (const [serviceKey, legacyKey] of moves) {
      const chunk = chunkOf(serviceKey, chunkSize);
      const c = serviceChunks.get(chunk)!;
      c.count--;
      c.checksum = removeRowHash(c.checksum, c.rows.get(serviceKey)!);
      c.rows.delete(serviceKey);
      if (!c.count) serviceChunks.delete(chunk);
      const record = moved.get(serviceKey);
      if (!record?.exists) {
        serviceCount--; // deleted since the scan
        continue;
      }
      place(legacyKey, recordHash(entity, legacyKey, record.data));
      serviceKeys.set(legacyKey, serviceKey);
    }
  }
  const serviceKeyOf = (legacyKey: string) => serviceKeys.get(legacyKey) ?? legacyKey;
  const all = new Set([...legacyByChunk.keys(), ...serviceChunks.keys()]);
  const differing = differingChunks();

  // Row-level reads of the differing chunks only, a few at a time; results kept in chunk order.
  const legacyRows = await mapLimit(differing, 4, (chunk) =>
    deps.legacy.readChunk(entity, chunk, { chunkSize }),
  );
  // References are held as legacy keys in the row and as service keys in the service: rows are
  // compared as the engine sees them (references.ts), and repaired from the row as it is.
  const compared = new Map<StoredRecord, Row>();
  if (entity.fields.some((f) => f.references))
    for (const rows of legacyRows)
      for (const r of rows)
        compared.set(
          r,
          await referencesToService(deps.spec, entity, r.data, (ref, k) => deps.state.serviceKeyOf(ref, k)),
        );
  const dataOf = (r: StoredRecord) => compared.get(r) ?? r.data;
  // The row diff, in chunk order: rows whose hash differs are settled once their service
  // records are read again (settleRows).
  const found: FoundRow[] = [];
  differing.forEach((chunk, i) => {
    const rows = legacyRows[i]!;
    const svc = serviceChunks.get(chunk)?.rows ?? new Map<string, RowHash>();
    const seen = new Set<string>();
    for (const l of rows) {
      seen.add(l.key);
      const hash = svc.get(l.key);
      if (hash === undefined) found.push({ kind: 'missing-in-service', legacy: l });
      else if (recordHash(entity, l.key, dataOf(l)) !== hash)
        found.push({ kind: 'different', legacy: l, serviceKey: serviceKeyOf(l.key) });
    }
    for (const legacyKey of svc.keys()) {
      if (!seen.has(legacyKey))
        found.push({ kind: 'missing-in-legacy', legacyKey, serviceKey: serviceKeyOf(legacyKey) });
    }
  });
  // A legacy row missing where its key says may still be there under a service key of its
  // record's own that was placed in a chunk that happened to agree: compared with that record.
  const missing = found.flatMap((f, i) => (f.kind === 'missing-in-service' ? [[f.legacy, i] as const] : []));
  if (missing.length) {
    const elsewhere = await mappedServiceKeys(
      deps,
      entity,
      missing.map(([l]) => l.key),
    );
    for (const [legacy, i] of missing) {
      const serviceKey = elsewhere.get(legacy.key);
      if (serviceKey !== undefined && serviceKey !== legacy.key)
        found[i] = { kind: 'different', legacy, serviceKey };
    }
  }
  const { mismatches, repaired } = await settleRows(deps, entity, found, {
    repair: options.repair ?? false,
    dataOf,
  });

  return {
    entity: entity.name,
    legacyCount,
    serviceCount,
    chunks: all.size,
    chunksDiffering: differing.length,
    mismatches: mismatches.slice(0, maxReported),
    mismatchesTotal: mismatches.length,
    durationMs: now() - started,
    repaired,
  };
}

/**
 * The key map read by key (`toLegacy`: service keys -> legacy keys, else the reverse), in
 * batched reads of a few thousand keys at a time; an entity keyed by another's (stock by
 * product) is in that entity's map. Any key may be mapped: its shape says nothing.
 */
async function readKeyMap(
  deps: Pick<ConsistencyDeps, 'spec' | 'state'>,
  entity: EntitySpec,
  keys: readonly string[],
  direction: 'toLegacy' | 'toService',
): Promise<Map<string, string>> {
  if (!keys.length) return new Map();
  const st = deps.state;
  const keyMap = keyMapEntity(deps.spec, entity);
  const batched = direction === 'toLegacy' ? st.legacyKeysOf.bind(st) : st.serviceKeysOf.bind(st);
  const parts: string[][] = [];
  for (let i = 0; i < keys.length; i += 2000) parts.push(keys.slice(i, i + 2000));
  return new Map((await mapLimit(parts, 4, (part) => batched(keyMap, part))).flatMap((m) => [...m]));
}

/** The legacy keys the key map holds for service keys (records born in the service). */
export function mappedLegacyKeys(
  deps: Pick<ConsistencyDeps, 'spec' | 'state'>,
  entity: EntitySpec,
  serviceKeys: readonly string[],
): Promise<Map<string, string>> {
  return readKeyMap(deps, entity, serviceKeys, 'toLegacy');
}

/** The service keys the key map holds for legacy keys. */
function mappedServiceKeys(
  deps: Pick<ConsistencyDeps, 'spec' | 'state'>,
  entity: EntitySpec,
  legacyKeys: readonly string[],
): Promise<Map<string, string>> {
  return readKeyMap(deps, entity, legacyKeys, 'toService');
}

/**
 * A legacy row's values as the service holds them: references (legacy keys in the row) as
 * service keys (references.ts). Rows without reference fields are returned as they are.
 */
export async function comparableData(
  deps: Pick<ConsistencyDeps, 'spec' | 'state'>,
  entity: EntitySpec,
  r: StoredRecord,
): Promise<Row> {
  if (!entity.fields.some((f) => f.references)) return r.data;
  return referencesToService(deps.spec, entity, r.data, (ref, k) => deps.state.serviceKeyOf(ref, k));
}

/** A row the chunk diff found differing, before its service record is read again. */
export type FoundRow =
  | { readonly kind: 'missing-in-service'; readonly legacy: StoredRecord }
  | { readonly kind: 'missing-in-legacy'; readonly legacyKey: string; readonly serviceKey: string }
  | { readonly kind: 'different'; readonly legacy: StoredRecord; readonly serviceKey: string };

/**
 * Settles the rows a chunk diff found: the service records of the `different` ones are read
 * again by key, as they are now, to name the fields that differ (a record synced since the
 * scan matches now and is dropped); with `repair`, the legacy rows are re-emitted (see
 * {@link repair}). Mismatches in the order found.
 */
export async function settleRows(
  deps: ConsistencyDeps,
  entity: EntitySpec,
  found: readonly FoundRow[],
  options: {
    readonly repair: boolean;
    /** A legacy row's values as the service holds them (references translated). @default its data */
    readonly dataOf?: (r: StoredRecord) => Row;
  },
): Promise<{ mismatches: Mismatch[]; repaired: number }> {
  if (options.repair) await assertRepairAllowed(deps, entity);
  const dataOf = options.dataOf ?? ((r: StoredRecord) => r.data);
  const now = deps.now;
  const records = await readServiceRecords(
    deps.service,
    entity,
    found.flatMap((f) => (f.kind === 'different' ? [f.serviceKey] : [])),
  );
  const mismatches: Mismatch[] = [];
  const toRepair: { legacy?: StoredRecord; service?: ServiceRow }[] = [];
  const names = entity.fields.map((f) => f.name);
  for (const f of found) {
    if (f.kind === 'missing-in-legacy') {
      mismatches.push({ legacyKey: f.legacyKey, serviceKey: f.serviceKey, kind: f.kind });
      continue;
    }
    const l = f.legacy;
    const record = f.kind === 'different' ? records.get(f.serviceKey) : undefined;
    if (f.kind === 'missing-in-service' || !record?.exists) {
      // (A `different` record deleted since the scan is missing now.)
      mismatches.push({ legacyKey: l.key, kind: 'missing-in-service' });
      toRepair.push({ legacy: l });
      continue;
    }
    const fields = names.filter((n) => canonicalText(dataOf(l)[n]) !== canonicalText(record.data[n]));
    // None: the record was synced since the scan and matches now.
    if (!fields.length) continue;
    mismatches.push({ legacyKey: l.key, serviceKey: f.serviceKey, kind: 'different', fields });
    toRepair.push({ legacy: l, service: { serviceKey: f.serviceKey, record } });
  }
  const repaired = options.repair ? await repair(deps, entity, toRepair, now) : 0;
  return { mismatches, repaired };
}

/** The service records of `keys` as they are now (batched reads); keys not found are absent. */
async function readServiceRecords(
  service: ServiceStore,
  entity: EntitySpec,
  keys: readonly string[],
): Promise<Map<string, StoredRecord>> {
  const out = new Map<string, StoredRecord>();
  const unique = [...new Set(keys)];
  const batches: string[][] = [];
  for (let i = 0; i < unique.length; i += 500) batches.push(unique.slice(i, i + 500));
  for (const found of await mapLimit(batches, 4, (b) => service.readMany(entity, b)))
    for (const [k, r] of found) out.set(k, r);
  return out;
}

/** `fn` over `items` with at most `limit` calls in flight; results in the order of `items`. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/**
 * Re-baselines the sync state of each record to the service's current values, then re-emits the
 * legacy row as a change: the forward sync sees a legacy-only change and applies it. Records
 * missing on the legacy side are only reported (deleting service data is left to a person).
 */
async function repair(
  deps: ConsistencyDeps,
  entity: EntitySpec,
  items: readonly { legacy?: StoredRecord; service?: ServiceRow }[],
  now: () => number,
): Promise<number> {
  const events: ChangeEvent[] = [];
  const at = now();
  for (const { legacy, service } of items) {
    if (!legacy) continue;
    const serviceKey =
      service?.serviceKey ??
      (await deps.state.serviceKeyOf(keyMapEntity(deps.spec, entity), legacy.key)) ??
      legacy.key;
    if (service) {
      const stored = await deps.state.get(entity, serviceKey);
      const fields: Record<string, FieldSyncState> = {};
      for (const f of entity.fields) {
        fields[f.name] = {
          value: service.record.data[f.name] ?? null,
          seen: stored.state.fields[f.name]?.seen ?? {},
        };
      }
      fields['$exists'] = { value: true, seen: stored.state.fields['$exists']?.seen ?? {} };
      const ok = await deps.state.put(entity, serviceKey, {
        // Re-baselined values; the record's provenance stays.
        next: { ...stored.state, fields },
        expectedRevision: stored.revision,
      });
      if (!ok) continue; // the record is being synced right now; the next check looks again
    } else {
      await deps.state.reset(entity, serviceKey);
    }
    events.push({
      schemaVersion: 1,
      eventId: `repair:${entity.name}:${legacy.key}:${at}`,
      entity: entity.name,
      key: legacy.key,
      op: 'upsert',
      changedAt: new Date(at).toISOString(),
      origin: 'legacy',
      data: { ...legacy.data },
      sequence: at,
    });
  }
  if (events.length) await deps.publisher.publish(events.map((e) => toBusEntry(e)));
  return events.length;
}
