/**
 * The rollout's phase-1 ports on the sync engine (`sync.ts`, `consistency.ts`): the backfill
 * copies key-range chunks of the legacy tables through the forward-sync rules (compare-and-set,
 * conflict policies, duplicates are no-ops), so it is safe while live sync runs; the check is
 * the sync engine's chunk-checksum consistency check.
 *
 * Chunks are the consistency check's: keys `[chunk × size, (chunk + 1) × size)` of the legacy
 * key. Counter fields (`sum` policy) are not copied: an absolute value would overwrite the
 * increments the live sync applies as deltas; they arrive through the sync itself.
 */
import { createHash } from 'node:crypto';
import { entityByName, fieldPolicy } from '../../lib/spec/lookup.js';
import { type ConsistencyDeps, checkConsistency, mapLimit } from './consistency.js';
import type { ChangeEvent, FieldValue } from './events.js';
import type { BackfillChunk, BackfillPort, ConsistencyCheckPort, ConsistencyReport } from './rollout.js';
import { applyToService, type SyncDeps } from './sync.js';

/**
 * Rows of a chunk applied at once: as many as the forward-sync handler has records in flight
 * (an SQS batch of the default 10). Each row waits on a read and a conditional write; one at a
 * time, a chunk of 5,000 took minutes, and the backfill of 10 M rows days.
 */
export const BACKFILL_ROWS_IN_FLIGHT = 10;

/** A backfill chunk of the sync engine: the chunk number and its size. */
export interface SyncBackfillChunk extends BackfillChunk {
  readonly chunk: number;
  readonly chunkSize: number;
}

export class SyncEngineBackfill implements BackfillPort {
  constructor(private readonly deps: SyncDeps) {}

  async planChunks(entity: string, chunkSize: number): Promise<SyncBackfillChunk[]> {
    const { entity: spec } = entityByName(this.deps.spec, entity);
    const sums = await this.deps.legacy.chunkChecksums(spec, { chunkSize });
    return sums
      .filter((c) => c.count > 0)
      .sort((a, b) => a.chunk - b.chunk)
      .map((c) => ({
        entity,
        from: String(c.chunk * chunkSize),
        to: String((c.chunk + 1) * chunkSize - 1),
        keys: c.count,
        chunk: c.chunk,
        chunkSize,
      }));
  }

  async copyChunk(input: BackfillChunk): Promise<{ copied: number; skipped: number }> {
    const chunk = input as SyncBackfillChunk;
    const { entity } = entityByName(this.deps.spec, chunk.entity);
    const rows = await this.deps.legacy.readChunk(entity, chunk.chunk, { chunkSize: chunk.chunkSize });
    const now = this.deps.now();
    // Rows of a chunk have distinct keys: applied concurrently, each under its own compare-and-set.
    const outcomes = await mapLimit(rows, BACKFILL_ROWS_IN_FLIGHT, async (row) => {
      if (!row.exists) return undefined;
      const data: Record<string, FieldValue> = {};
      for (const f of entity.fields) {
        if (fieldPolicy(entity, f) !== 'sum') data[f.name] = row.data[f.name] ?? null;
      }
      if (Object.keys(data).length === 0) return 'skipped';
      const at = row.changedAt ?? now;
      const digest = createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 16);
      const event: ChangeEvent = {
        schemaVersion: 1,
        // The same row version copied twice (a retried chunk) is the same event: a no-op.
        eventId: `backfill:${entity.name}:${row.key}:${at}:${digest}`,
        entity: entity.name,
        key: row.key,
        op: 'upsert',
        changedAt: new Date(at).toISOString(),
        origin: 'legacy',
        data,
        sequence: now,
      };
      const result = await applyToService(this.deps, entity, event);
      const wrote = result.decision.outcome === 'apply' || result.decision.outcome === 'apply-delta';
      return wrote ? 'copied' : 'skipped';
    });
    return {
      copied: outcomes.filter((o) => o === 'copied').length,
      skipped: outcomes.filter((o) => o === 'skipped').length,
    };
  }
}

export class SyncEngineConsistencyCheck implements ConsistencyCheckPort {
  constructor(
    private readonly deps: ConsistencyDeps,
    private readonly options: { readonly chunkSize?: number } = {},
  ) {}

  async check(entity: string): Promise<ConsistencyReport> {
    const { entity: spec } = entityByName(this.deps.spec, entity);
    const r = await checkConsistency(this.deps, spec, this.options);
    const rows = Math.max(r.legacyCount, r.serviceCount);
    return {
      entity,
      legacyCount: r.legacyCount,
      serviceCount: r.serviceCount,
      mismatches: r.mismatches.map((m) => m.legacyKey),
      mismatchesTotal: r.mismatchesTotal,
      consistency: rows === 0 ? 1 : Math.max(0, (rows - r.mismatchesTotal) / rows),
    };
  }
}
