/**
 * Legacy change capture by polling (the alternative to Debezium), one entity per call.
 *
 * - Tables with `updated_at`: a keyset scan on `(updated_at, key)` from the stored watermark.
 *   The watermark never passes a second that is not over (plus `pollerOverlapSeconds`, the safe
 *   horizon), so a row committed late in a second is never skipped by a cursor that already
 *   moved past its key. Rows changed after the horizon ("young") are read and published at once
 *   all the same, each version once (`publishedAhead`, kept across polls and handed from one
 *   invocation to the next): a row edited again before its second was safe would otherwise be
 *   read only once it stopped changing. Each row becomes a `migration.<entity>.changed` event;
 *   the watermark moves (compare-and-set) only after the publish succeeded, so a failed publish
 *   is retried from the same place.
 * - Columns that do not move `updated_at` (Magento's EAV values, stock, coupons): per key-range
 *   chunk, the store computes a checksum of those columns; a chunk whose checksum differs from
 *   the last snapshot (in the sync table) is read row by row and compared with the snapshot's
 *   per-row hashes. Counters travel as deltas against the last observed value, net of the
 *   deltas the reverse sync applied itself (the inbox table, read in the same snapshot), so the
 *   sync's own increments are never re-emitted. The first poll only takes the baseline.
 *   Checksums and row hashes are checksum.ts's; a snapshot stored by an earlier checksum version
 *   is read row by row once, its rows compared by that version's hash, and replaced.
 */

import { fieldPolicy } from '../../lib/spec/lookup.js';
import type { EntitySpec, MigrationSpec, MysqlEntityLegacy } from '../../lib/spec/schema.js';
import {
  CHECKSUM_VERSION,
  EMPTY_CHECKSUM,
  hashRowText,
  recordHash,
  recordText,
  rowHashHex,
  rowHashV1,
} from './checksum.js';
import { type ChangeEvent, type FieldValue, toBusEntry } from './events.js';
import type {
  CapturedRow,
  ChunkSnapshot,
  Clock,
  EventPublisher,
  LegacyStore,
  PublishedAhead,
  ScanCursor,
  SyncStateStore,
} from './ports.js';

export interface PollerDeps {
  readonly spec: MigrationSpec;
  readonly legacy: LegacyStore;
  readonly state: SyncStateStore;
  readonly publisher: EventPublisher;
  readonly now: Clock;
}

export interface PollOptions {
  /** Rows per keyset page. @default spec.sync.pollerBatchSize */
  readonly batchSize?: number;
  /** Keyset pages per call. @default 10 */
  readonly maxPages?: number;
  /** Keys per snapshot chunk. @default 1000 */
  readonly chunkSize?: number;
  /**
   * Whether to run the snapshot comparison (a checksum scan of the table) in this call; the
   * continuous poller runs it less often for `eventual` entities. @default true
   */
  readonly snapshots?: boolean;
  /**
   * Start no further keyset page or snapshot chunk after this time (ms since the epoch): an
   * invocation stops before its deadline instead of being cut off mid-publish.
   * @default - no limit
   */
  readonly until?: number;
  /**
   * The young rows (changed past the safe horizon) already published, by row key: kept by the
   * caller across polls (and handed from one poller invocation to the next) so that each
   * version is published once. Updated in place. @default - a new, empty map (each call then
   * publishes the young rows it reads)
   */
  readonly publishedAhead?: Map<string, PublishedAhead>;
}

/**
 * How far past the poller's clock the keyset scan reads: rows the database stamped ahead of it
 * (a database clock running fast) are read too, as young rows.
 */
const READ_AHEAD_MS = 3_600_000;

export interface PollResult {
  readonly published: number;
  readonly watermark?: { readonly at: number; readonly key: string };
  readonly chunksChanged: number;
}

/** A version-1 row hash (CRC32) as it appeared in event ids. */
const hex = (n: number) => n.toString(16).padStart(8, '0');

/** Fields whose changes do not move `updated_at` and need the snapshot comparison. */
export function snapshotFields(entity: EntitySpec): string[] {
  const legacy = entity.legacy as MysqlEntityLegacy;
  if (!legacy.updatedAt) return entity.fields.map((f) => f.name);
  return entity.fields.filter((f) => f.eav).map((f) => f.name);
}

export async function pollEntity(
  deps: PollerDeps,
  entity: EntitySpec,
  options: PollOptions = {},
): Promise<PollResult> {
  const legacy = entity.legacy as MysqlEntityLegacy;
  let published = 0;
  let watermark: PollResult['watermark'];
  if (legacy.updatedAt) {
    const r = await pollKeyset(deps, entity, options);
    published += r.published;
    watermark = r.watermark;
  }
  let chunksChanged = 0;
  if (snapshotFields(entity).length && options.snapshots !== false) {
    const r = await pollSnapshots(deps, entity, options);
    published += r.published;
    chunksChanged = r.chunksChanged;
  }
  return { published, chunksChanged, ...(watermark ? { watermark } : {}) };
}

async function pollKeyset(
  deps: PollerDeps,
  entity: EntitySpec,
  options: PollOptions,
): Promise<{ published: number; watermark?: { at: number; key: string } }> {
  const now = deps.now();
  const limit = options.batchSize ?? deps.spec.sync.pollerBatchSize;
  const overlapMs = deps.spec.sync.pollerOverlapSeconds * 1000;
  // The safe horizon: a second (and the overlap) that is over can get no late commit any more,
  // so the watermark never passes a row changed at or after it.
  const horizon = Math.floor((now - overlapMs) / 1000) * 1000;
  // Rows past the horizon ("young") are read and published too, once per version: a row edited
  // more often than the horizon moves would otherwise never be read while it stays hot.
  const ahead = options.publishedAhead ?? new Map<string, PublishedAhead>();
  let published = 0;
  let wm = await deps.state.getWatermark(entity);
  let cursor: ScanCursor | undefined = wm;
  for (let page = 0; page < (options.maxPages ?? 10); page++) {
    if (page > 0 && options.until !== undefined && deps.now() >= options.until) break;
    const rows = await deps.legacy.scanChanged(entity, cursor, { limit, before: now + READ_AHEAD_MS });
    if (!rows.length) break;
    const events: ChangeEvent[] = [];
    let safe: CapturedRow | undefined;
    const seen: Array<[string, PublishedAhead]> = [];
    for (const r of rows) {
      const event = rowEvent(entity, r, now);
      const young = r.changedAt! >= horizon;
      const before = ahead.get(r.key);
      if (!young) safe = r;
      if (before?.eventId === event.eventId) {
        // Already published while young: once its second is safe it is only passed over.
        if (!young) ahead.delete(r.key);
        continue;
      }
      events.push(event);
      if (young) seen.push([r.key, { eventId: event.eventId, at: r.changedAt! }]);
      else ahead.delete(r.key);
    }
    if (events.length) await deps.publisher.publish(events.map((e) => toBusEntry(e)));
    published += events.length;
    for (const [key, p] of seen) ahead.set(key, p);
    const last = rows[rows.length - 1]!;
    cursor = { at: last.changedAt!, key: last.key };
    if (safe) {
      const mark = { at: safe.changedAt!, key: safe.key };
      const ok = await deps.state.putWatermark(entity, mark, wm?.revision ?? 0);
      if (!ok) break; // another poller advanced it: stop; the events it covers are duplicates at worst
      wm = { ...mark, revision: (wm?.revision ?? 0) + 1 };
    }
    if (rows.length < limit) break;
  }
  // What lies behind the watermark is never read again.
  if (wm) for (const [key, p] of ahead) if (p.at < wm.at) ahead.delete(key);
  return { published, ...(wm ? { watermark: { at: wm.at, key: wm.key } } : {}) };
}

function rowEvent(entity: EntitySpec, r: CapturedRow, observedAt: number): ChangeEvent {
  const data: Record<string, FieldValue> = {};
  for (const f of entity.fields) {
    // Absolute counter values would overwrite the other side's increments: not sent here.
    if (fieldPolicy(entity, f) === 'sum') continue;
    data[f.name] = r.data[f.name] ?? null;
  }
  const at = r.changedAt ?? observedAt;
  return {
    schemaVersion: 1,
    // The same row version re-read (overlap, retry) is the same event.
    eventId: `poll:${entity.name}:${r.key}:${at}:${rowHashHex(recordHash(entity, r.key, r.data))}`,
    entity: entity.name,
    key: r.key,
    op: 'upsert',
    changedAt: new Date(at).toISOString(),
    origin: 'legacy',
    data,
    sequence: observedAt,
  };
}

async function pollSnapshots(
  deps: PollerDeps,
  entity: EntitySpec,
  options: PollOptions,
): Promise<{ published: number; chunksChanged: number }> {
  const now = deps.now();
  const chunkSize = options.chunkSize ?? 1000;
  const fields = snapshotFields(entity);
  const counters = entity.fields.filter((f) => fieldPolicy(entity, f) === 'sum' && fields.includes(f.name));
  const [sums, snaps] = await Promise.all([
    deps.legacy.chunkChecksums(entity, { chunkSize, fields }),
    deps.state.getSnapshots(entity),
  ]);
  const current = new Map(sums.map((s) => [s.chunk, s]));
  const chunks = new Set([...current.keys(), ...snaps.keys()]);
  let published = 0;
  let chunksChanged = 0;
  for (const chunk of [...chunks].sort((a, b) => a - b)) {
    const sum = current.get(chunk) ?? { chunk, count: 0, checksum: EMPTY_CHECKSUM };
    const prev = snaps.get(chunk);
    // A snapshot of an earlier checksum version cannot be compared by checksum: read the chunk.
    const sameVersion = prev?.version === CHECKSUM_VERSION;
    if (prev && sameVersion && prev.count === sum.count && prev.checksum === sum.checksum) continue;
    // A chunk left for later keeps its old snapshot, so the next poll finds it changed again.
    if (options.until !== undefined && deps.now() >= options.until) break;
    chunksChanged++;
    const rows = await deps.legacy.readChunk(entity, chunk, {
      chunkSize,
      withSyncedDeltas: counters.length > 0,
    });
    const next: { rows: Record<string, number>; counters: Record<string, Record<string, number>> } = {
      rows: {},
      counters: {},
    };
    const events: ChangeEvent[] = [];
    for (const r of rows) {
      const external: Record<string, number> = {};
      for (const c of counters) {
        external[c.name] = Number(r.data[c.name] ?? 0) - Number(r.syncedDeltas?.[c.name] ?? 0);
      }
      // Hash counters net of the sync's own deltas: a reverse-sync increment changes nothing here.
      const text = recordText(entity, r.key, { ...r.data, ...external }, fields);
      const hash = hashRowText(text);
      next.rows[r.key] = hash;
      if (counters.length) next.counters[r.key] = external;
      if (!prev) continue;
      // The row as the previous snapshot's version hashes it (version 1: a CRC32 number).
      const observed = sameVersion ? hash : rowHashV1(text);
      if (prev.rows[r.key] === observed) continue;
      const isNew = prev.rows[r.key] === undefined;
      const data: Record<string, FieldValue> = {};
      const deltas: Record<string, number> = {};
      for (const name of fields) {
        const f = entity.fields.find((x) => x.name === name)!;
        if (fieldPolicy(entity, f) === 'sum') {
          if (isNew) data[name] = r.data[name] ?? null;
          else {
            const d = external[name]! - Number(prev.counters[r.key]?.[name] ?? external[name]);
            if (d !== 0) deltas[name] = d;
          }
        } else data[name] = r.data[name] ?? null;
      }
      if (!Object.keys(data).length && !Object.keys(deltas).length) continue;
      events.push({
        schemaVersion: 1,
        // Deterministic per observed transition: a retry after a failed snapshot save repeats
        // the same ids, so its deltas are not applied twice.
        // (Across the upgrade from version 1, the ids version 1 made for the same transition.)
        eventId: `poll:${entity.name}:${r.key}:${prev.observedAt}:${sameVersion ? rowHashHex(observed) : hex(observed)}`,
        entity: entity.name,
        key: r.key,
        op: 'upsert',
        changedAt: new Date(now).toISOString(),
        origin: 'legacy',
        data,
        ...(Object.keys(deltas).length ? { deltas } : {}),
        sequence: now,
      });
    }
    if (prev) {
      for (const key of Object.keys(prev.rows)) {
        if (next.rows[key] !== undefined) continue;
        events.push({
          schemaVersion: 1,
          eventId: `poll:${entity.name}:${key}:${prev.observedAt}:deleted`,
          entity: entity.name,
          key,
          op: 'delete',
          changedAt: new Date(now).toISOString(),
          origin: 'legacy',
          data: {},
          sequence: now,
        });
      }
    }
    if (events.length) {
      await deps.publisher.publish(events.map((e) => toBusEntry(e)));
      published += events.length;
    }
    const snapshot: ChunkSnapshot = {
      version: CHECKSUM_VERSION,
      checksum: sum.checksum,
      count: sum.count,
      ...next,
      observedAt: now,
    };
    await deps.state.putSnapshot(entity, chunk, snapshot);
  }
  return { published, chunksChanged };
}
