/**
 * Full validation across the checksum upgrade: a run whose scan wrote version-1 row hashes (CRC32s
 * as text) is not compared with version-2 checksums, where every row would differ and a repairing
 * run would re-emit the whole table: the compare worker stops with a ChecksumVersionError before
 * it reads or repairs anything.
 */
import { describe, expect, it } from 'vitest';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import { ChecksumVersionError, recordHash } from '../../lambdas/domain/checksum.js';
import { type CompareItem, compareGroup, type ValidationDeps } from '../../lambdas/domain/validation.js';
import magento from '../../migrations/magento.js';
import { InMemoryPublisher } from '../support/in-memory-publisher.js';
import { MemoryObjectStore } from '../support/memory-objects.js';

const customer = magento.services[0]!.entities[0]!;
const layout = { chunkSize: 100, chunksPerGroup: 4, bucketsPerGroup: 1, rowsPerWorker: 500 };
const item: CompareItem = {
  run: 'run-1',
  entity: 'customer',
  group: 'r0',
  mode: 'sql',
  layout,
  repair: true,
  maxReported: 10,
};
const data = {
  email: 'a@example.com',
  firstName: 'Ann',
  lastName: 'Lee',
  websiteId: 1,
  groupId: 1,
  isActive: 1,
};

function deps(store: MemoryObjectStore, publisher: InMemoryPublisher, legacyCalls: string[]): ValidationDeps {
  const legacy = {
    async chunkChecksums() {
      legacyCalls.push('chunkChecksums');
      return [{ chunk: 0, count: 1, checksum: recordHash(customer, '7', data) }];
    },
    async readChunk() {
      legacyCalls.push('readChunk');
      return [{ key: '7', exists: true, data }];
    },
  };
  return { ...systemAmbient, spec: magento, legacy, store, publisher } as unknown as ValidationDeps;
}

/** A completed scan attempt's part holding `line` for legacy key 7. */
async function scanned(store: MemoryObjectStore, hash: unknown): Promise<void> {
  const prefix = 'runs/run-1/customer/service/';
  await store.put(`${prefix}r0/s0.a1.0.jsonl`, JSON.stringify(['7', '', hash]));
  await store.put(`${prefix}_done/s0.a1`, '1');
}

describe('Function: compareGroup and the checksum version of the scan parts', () => {
  it('compares parts of this version (the row matches, nothing repaired)', async () => {
    const store = new MemoryObjectStore('b');
    const publisher = new InMemoryPublisher();
    const calls: string[] = [];
    await scanned(store, recordHash(customer, '7', data));
    const summary = await compareGroup(deps(store, publisher, calls), item);
    expect(summary).toMatchObject({ mismatchesTotal: 0, repaired: 0 });
    expect(calls).toEqual(['chunkChecksums']);
  });

  it('refuses parts written by version 1 (a CRC32 as text), before reading or repairing anything', async () => {
    const store = new MemoryObjectStore('b');
    const publisher = new InMemoryPublisher();
    const calls: string[] = [];
    await scanned(store, '2736423491');
    const run = compareGroup(deps(store, publisher, calls), item);
    await expect(run).rejects.toBeInstanceOf(ChecksumVersionError);
    await expect(run).rejects.toThrow(/earlier checksum version \(this is version 2\); start a new run/);
    expect(calls).toEqual([]);
    expect(publisher.published).toEqual([]);
  });
});
