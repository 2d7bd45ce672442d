/**
 * The backfill's chunk copy (`SyncEngineBackfill.copyChunk`) on the in-memory stores: every row
 * of the chunk through the forward-sync rules, several rows at a time (a chunk is thousands of
 * rows; one at a time, each waiting for its read and its conditional write, a chunk took minutes).
 */
import { describe, expect, it } from 'vitest';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import type { CapturedRow, LegacyStore } from '../../lambdas/domain/ports.js';
import { BACKFILL_ROWS_IN_FLIGHT, SyncEngineBackfill } from '../../lambdas/domain/rollout-sync.js';
import magento from '../../migrations/magento.js';
import { MemoryOutbox, MemorySyncTables } from '../support/memory-stores.js';

function customerRows(n: number): CapturedRow[] {
  return Array.from({ length: n }, (_, i) => ({
    key: String(i + 1),
    exists: true,
    data: {
      email: `c${i + 1}@example.com`,
      firstName: 'Ada',
      lastName: 'Lovelace',
      websiteId: 1,
      groupId: 1,
      isActive: 1,
    },
    changedAt: Date.parse('2026-11-01T00:00:00.000Z'),
  }));
}

describe('Backfill: a chunk copied through the forward-sync rules', () => {
  it(`applies a chunk's rows ${BACKFILL_ROWS_IN_FLIGHT} at a time and copies every row once`, async () => {
    const rows = customerRows(95);
    const tables = new MemorySyncTables();
    // Each conditional write takes a moment, as a round trip does; count those in flight.
    let inFlight = 0;
    let most = 0;
    const write = tables.write.bind(tables);
    tables.write = async (...args) => {
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 2));
        return await write(...args);
      } finally {
        inFlight--;
      }
    };
    const legacy = { readChunk: async () => rows } as unknown as LegacyStore;
    const outbox = new MemoryOutbox();
    const backfill = new SyncEngineBackfill({
      ...systemAmbient,
      spec: magento,
      legacy,
      service: tables,
      state: tables,
      conflicts: outbox,
      publisher: outbox,
    });

    const out = await backfill.copyChunk({
      entity: 'customer',
      from: '0',
      to: '99',
      keys: rows.length,
      chunk: 0,
      chunkSize: 100,
    } as never);

    expect(out).toEqual({ copied: 95, skipped: 0 });
    expect(most).toBe(BACKFILL_ROWS_IN_FLIGHT);
    expect([...tables.items.keys()].sort((a, b) => Number(a) - Number(b))).toEqual(rows.map((r) => r.key));
    expect(tables.items.get('42')!.data).toEqual(rows[41]!.data);
    // Copied again (a retried chunk): the same events, nothing written twice.
    expect(
      await backfill.copyChunk({
        entity: 'customer',
        from: '0',
        to: '99',
        keys: 95,
        chunk: 0,
        chunkSize: 100,
      } as never),
    ).toEqual({ copied: 0, skipped: 95 });
  });
});
