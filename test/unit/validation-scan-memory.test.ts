/**
 * A scan worker's memory does not grow with the table: its rows spread over every group of the
 * table (scan order is hash order), and at 1 M customers writing all of a flush's parts at once
 * held every group's text and request together (BENCHMARKS.md, validation: peak heap 54 MB above
 * idle against 24 MB at 10 k). The worker writes at most PART_WRITES_IN_FLIGHT parts at a time,
 * whatever the number of groups, and still writes every row once.
 */
import { describe, expect, it } from 'vitest';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import type { ScannedRow } from '../../lambdas/domain/ports.js';
import {
  PART_WRITES_IN_FLIGHT,
  type ScanItem,
  scanPart,
  type ValidationDeps,
} from '../../lambdas/domain/validation.js';
import magento from '../../migrations/magento.js';
import { MemoryObjectStore } from '../support/memory-objects.js';

/** An object store whose puts take a few ms each and that counts how many are in flight. */
class SlowStore extends MemoryObjectStore {
  inFlight = 0;
  maxInFlight = 0;
  override async put(key: string, body: string): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, 2));
    this.inFlight--;
    await super.put(key, body);
  }
}

function deps(store: MemoryObjectStore, rows: number, pageSize: number): ValidationDeps {
  const service = {
    async *scan(): AsyncIterable<ScannedRow[]> {
      // Keys in an order unrelated to their groups, as a parallel scan returns them.
      const keys = Array.from({ length: rows }, (_, i) => String((i * 7919) % rows));
      for (let i = 0; i < keys.length; i += pageSize)
        yield keys.slice(i, i + pageSize).map((key) => ({ key, text: `|${key}@example.com` }));
    },
  };
  const state = {
    async legacyKeysOf() {
      return new Map<string, string>();
    },
  };
  return { ...systemAmbient, spec: magento, service, state, store } as unknown as ValidationDeps;
}

describe('Function: scanPart writes its parts a few at a time', () => {
  it(`keeps at most ${PART_WRITES_IN_FLIGHT} part writes in flight with 200 groups, and writes every row once`, async () => {
    const store = new SlowStore('b');
    // 20,000 rows in 200 groups of 100 keys; flushes every 2,000 rows, each touching all groups.
    const layout = { chunkSize: 50, chunksPerGroup: 2, bucketsPerGroup: 1, rowsPerWorker: 4_000 };
    const item: ScanItem = { run: 'run-1', entity: 'customer', side: 'service', segments: 1, layout };
    const stats = await scanPart(deps(store, 20_000, 500), item);

    expect(stats.rows).toBe(20_000);
    expect(stats.maxRowsHeld).toBeLessThanOrEqual(layout.rowsPerWorker);
    expect(store.maxInFlight).toBeGreaterThan(1);
    expect(store.maxInFlight).toBeLessThanOrEqual(PART_WRITES_IN_FLIGHT);

    const prefix = 'runs/run-1/customer/service/';
    const folders = (await store.listFolders(prefix)).filter((f) => !f.endsWith('_done/'));
    expect(folders).toHaveLength(200);
    const keys: string[] = [];
    for (const k of await store.list(prefix)) {
      if (k.includes('/_done/')) continue;
      for (const line of (await store.get(k)).split('\n')) keys.push((JSON.parse(line) as string[])[0]!);
    }
    expect(keys).toHaveLength(20_000);
    expect(new Set(keys).size).toBe(20_000);
  });
});
