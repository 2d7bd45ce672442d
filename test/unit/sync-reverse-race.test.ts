/**
 * The reverse sync's write to Magento and its sync-state write are two stores, not one
 * transaction: another reverse delivery of the same record can decide between them, on the row it
 * sees and a sync state that does not yet account for that row. Driven through the real use
 * cases (`applyToLegacy`, `applyBatchToLegacy`) on the in-memory stores, with the state writes
 * held at chosen points to make the interleaving of two concurrent Lambda invocations.
 */
import { describe, expect, it } from 'vitest';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import type { ChangeEvent } from '../../lambdas/domain/events.js';
import type { StateWrite } from '../../lambdas/domain/ports.js';
import { applyToLegacy, type SyncDeps } from '../../lambdas/domain/sync.js';
import { applyBatchToLegacy } from '../../lambdas/domain/sync-batch.js';
import { entityByName } from '../../lib/spec/lookup.js';
import type { EntitySpec } from '../../lib/spec/schema.js';
import { magento } from '../../migrations/index.js';
import { MemoryLegacyStore, MemoryOutbox, MemorySyncTables } from '../support/memory-stores.js';

const { entity: customer } = entityByName(magento, 'customer');
const T0 = Date.parse('2026-11-30T21:00:00Z');

/** Sync-state writes held one by one until released (the n-th `put` waits for gate n). */
class HeldStates extends MemorySyncTables {
  private calls = 0;
  readonly reached: Promise<void>[] = [];
  private readonly onReach: (() => void)[] = [];
  private readonly releases: (() => void)[] = [];
  private readonly gates: Promise<void>[] = [];
  constructor(held: number) {
    super();
    for (let i = 0; i < held; i++) {
      this.reached.push(new Promise((r) => this.onReach.push(r)));
      this.gates.push(new Promise((r) => this.releases.push(r)));
    }
  }
  release(n: number): void {
    this.releases[n]!();
  }
  override async put(entity: EntitySpec, key: string, w: StateWrite): Promise<boolean> {
    const n = this.calls++;
    if (n < this.gates.length) {
      this.onReach[n]!();
      await this.gates[n];
    }
    return super.put(entity, key, w);
  }
}

function setup(held: number) {
  const legacy = new MemoryLegacyStore();
  const tables = new HeldStates(held);
  const outbox = new MemoryOutbox();
  const row = {
    email: 'c1@example.com',
    firstName: 'F0',
    lastName: 'L',
    websiteId: 1,
    groupId: 1,
    isActive: 1,
  };
  const key = legacy.insertOwn(row, T0);
  // After the backfill: the service holds the row under its key, both sides agreed on it.
  tables.serviceWrite(key, row, T0);
  const fields: Record<string, { value: unknown; seen: object }> = { $exists: { value: true, seen: {} } };
  for (const [f, v] of Object.entries(row)) fields[f] = { value: v, seen: {} };
  tables.states.set(key, { state: { fields, bornOn: 'legacy' } as never, revision: 1 });
  const deps: SyncDeps = {
    ...systemAmbient,
    spec: magento,
    legacy,
    service: tables,
    state: tables,
    conflicts: outbox,
    publisher: outbox,
    now: () => T0 + 60_000,
  };
  return { deps, legacy, tables, key };
}

/** A service-side edit of firstName as the stream capture reports it. */
function serviceEdit(key: string, firstName: string, version: number, at: number): ChangeEvent {
  return {
    schemaVersion: 1,
    eventId: `ddb:customer:${key}:${version}`,
    entity: 'customer',
    key,
    op: 'upsert',
    changedAt: new Date(at).toISOString(),
    origin: 'service',
    data: { firstName },
    sequence: version,
  };
}

/** The set-up of both races: firstName changed twice on the service (S1, then S2), as two events. */
function twoServiceChanges() {
  const s = setup(2);
  s.tables.serviceWrite(s.key, { firstName: 'S1' }, T0 + 10_000);
  s.tables.serviceWrite(s.key, { firstName: 'S2' }, T0 + 10_200);
  return {
    ...s,
    older: serviceEdit(s.key, 'S1', 2, T0 + 10_000),
    newer: serviceEdit(s.key, 'S2', 3, T0 + 10_200),
  };
}

describe('reverse sync: two deliveries of one record racing between the Magento write and the state write', () => {
  it('an older service change decided on a state that lags the row does not stay in Magento', async () => {
    // The service changed firstName twice (versions 2 and 3, in that order); the stream's two
    // records reach two concurrent reverse invocations, the newer one first.
    const { deps, legacy, tables, key, older, newer } = twoServiceChanges();

    // The newer change is written to Magento; its state write is held.
    const second = applyToLegacy(deps, customer, newer);
    await tables.reached[0];
    expect(legacy.rows.get(key)!.data['firstName']).toBe('S2');
    // The older one reads the row (S2) and the state (not yet saying S2), writes S1; its own
    // state write is held too.
    const first = applyToLegacy(deps, customer, older);
    await tables.reached[1];
    // The newer one's state lands first; the older one's compare-and-set then loses.
    tables.release(0);
    await second;
    tables.release(1);
    await first;

    // Both sides hold the newer change: nothing silently kept the older value in Magento.
    expect(tables.items.get(key)!.data['firstName']).toBe('S2');
    expect(legacy.rows.get(key)!.data['firstName']).toBe('S2');
  });

  it('the same race on the batched path (states read before the rows are locked): the older change is undone', async () => {
    const { deps, legacy, tables, key, older, newer } = twoServiceChanges();

    const second = applyToLegacy(deps, customer, newer);
    await tables.reached[0];
    const first = applyBatchToLegacy({ ...deps, legacyBatch: legacy }, customer, [older]);
    await tables.reached[1];
    tables.release(0);
    await second;
    tables.release(1);
    const results = await first;

    expect(results.map((r) => r.error)).toEqual([undefined]);
    expect(tables.items.get(key)!.data['firstName']).toBe('S2');
    expect(legacy.rows.get(key)!.data['firstName']).toBe('S2');
  });

  it('a write whose state lost the race only to an unrelated state change is made again, not lost', async () => {
    const { deps, legacy, tables, key } = setup(1);
    tables.serviceWrite(key, { firstName: 'S1' }, T0 + 10_000);
    const change = serviceEdit(key, 'S1', 2, T0 + 10_000);
    const applying = applyToLegacy(deps, customer, change);
    await tables.reached[0];
    // Meanwhile the forward sync stored the state again (a legacy change seen on another field).
    const now = tables.states.get(key)!;
    tables.states.set(key, { state: now.state, revision: now.revision + 1 });
    tables.release(0);
    await applying;
    expect(legacy.rows.get(key)!.data['firstName']).toBe('S1');
    expect((await tables.get(customer, key)).state.fields['firstName']?.value).toBe('S1');
  });
});
