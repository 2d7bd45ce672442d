/**
 * Property: a service's own keys are never taken for Magento ids. Generated histories mix
 * Magento's own customers (ids from AUTO_INCREMENT, brought over by the forward sync) with
 * customers the service creates under keys of its own — numeric ones among them, equal to
 * existing Magento ids, near the top of `int unsigned` and beyond — edited on both sides and
 * redelivered. The real sync use cases run over in-memory ports (test/support/memory-stores.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import type { ChangeEvent, FieldValue } from '../../lambdas/domain/events.js';
import {
  applyToLegacy,
  applyToService,
  KeyCollisionError,
  type SyncDeps,
} from '../../lambdas/domain/sync.js';
import { entityByName } from '../../lib/spec/schema.js';
import { magento } from '../../migrations/index.js';
import { MemoryLegacyStore, MemoryOutbox, MemorySyncTables } from '../support/memory-stores.js';

const RUNS = Number(process.env['CUTOVER_PROPERTY_RUNS'] ?? 1000);
const SEED = Number(process.env['CUTOVER_PROPERTY_SEED'] ?? 20261125);

const customer = entityByName(magento, 'customer').entity;
/** Service keys: numbers Magento also uses, numbers near and past `int unsigned`, and a non-number. */
const SERVICE_KEYS = ['1', '2', '3', '5', '3000000123', '4294967295', '999999999999999999', 'cus-a'] as const;

type Command =
  | { kind: 'magento-insert' }
  | { kind: 'backfill'; row: number }
  | { kind: 'magento-edit'; row: number }
  | { kind: 'service-create'; key: string }
  | { kind: 'service-edit'; key: string }
  | { kind: 'redeliver'; index: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'magento-insert' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('backfill' as const), row: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('magento-edit' as const), row: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('service-create' as const),
      key: fc.constantFrom(...SERVICE_KEYS),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('service-edit' as const),
      key: fc.constantFrom(...SERVICE_KEYS),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('redeliver' as const), index: fc.nat() }) },
);

function fullRow(firstName: string, n: number): Record<string, FieldValue> {
  return {
    email: `c${n}@example.com`,
    firstName,
    lastName: 'L',
    websiteId: 1,
    groupId: 1,
    isActive: 1,
  };
}

async function run(commands: readonly Command[]) {
  let clock = 1_800_000_000_000;
  let n = 0;
  const legacy = new MemoryLegacyStore();
  const tables = new MemorySyncTables();
  const outbox = new MemoryOutbox();
  const deps: SyncDeps = {
    ...systemAmbient,
    spec: magento,
    legacy,
    service: tables,
    state: tables,
    conflicts: outbox,
    publisher: outbox,
    now: () => clock,
  };
  const delivered: ChangeEvent[] = [];
  const collisions: string[] = [];
  /** Ground truth: the keys of the records the service created itself. */
  const bornInService = new Set<string>();
  const event = (e: Omit<ChangeEvent, 'schemaVersion' | 'op'>): ChangeEvent => ({
    schemaVersion: 1,
    op: 'upsert',
    ...e,
  });
  const apply = async (e: ChangeEvent) => {
    delivered.push(e);
    try {
      if (e.origin === 'legacy') await applyToService(deps, customer, e);
      else await applyToLegacy(deps, customer, e);
    } catch (error) {
      // A Magento row whose key a service-born record already holds cannot be brought over under
      // it: the sync says so (to the DLQ) rather than mixing the two records.
      if (!(error instanceof KeyCollisionError)) throw error;
      collisions.push(e.key);
    }
    // Push-backs go back over the bus to the other direction.
    for (const b of outbox.published.splice(0)) {
      if (b.Source === 'cutover.legacy' || b.Source === 'cutover.service') await apply(JSON.parse(b.Detail));
    }
  };
  const legacyRowEvent = (key: string) => {
    const row = legacy.rows.get(key)!;
    return event({
      eventId: `poll:${key}:${row.changedAt}:${++n}`,
      entity: 'customer',
      key,
      changedAt: new Date(row.changedAt).toISOString(),
      origin: 'legacy',
      data: { ...row.data },
      sequence: clock,
    });
  };
  for (const c of commands) {
    clock += 1000;
    const magentoKeys = [...legacy.rows.keys()];
    switch (c.kind) {
      case 'magento-insert':
        legacy.insertOwn(fullRow(`mag-new-${++n}`, n), clock);
        break;
      case 'backfill':
      case 'magento-edit': {
        if (!magentoKeys.length) break;
        const key = magentoKeys[c.row % magentoKeys.length]!;
        if (c.kind === 'magento-edit') legacy.editOwn(key, { firstName: `mag-${key}-${++n}` }, clock);
        await apply(legacyRowEvent(key));
        break;
      }
      case 'service-create':
      case 'service-edit': {
        const exists = tables.items.has(c.key);
        if (c.kind === 'service-edit' && !exists) break;
        if (!exists) bornInService.add(c.key);
        const data = exists ? { firstName: `svc-${c.key}-${++n}` } : fullRow(`svc-${c.key}-${++n}`, n);
        tables.serviceWrite(c.key, data, clock);
        await apply(
          event({
            eventId: `svc:${c.key}:${tables.items.get(c.key)!.version}`,
            entity: 'customer',
            key: c.key,
            changedAt: new Date(clock).toISOString(),
            origin: 'service',
            data,
            sequence: tables.items.get(c.key)!.version,
          }),
        );
        break;
      }
      case 'redeliver':
        if (delivered.length) await apply(delivered[c.index % delivered.length]!);
        break;
    }
  }
  return { legacy, tables, collisions, bornInService };
}

describe('Property: numeric service keys are never Magento ids', () => {
  it('records cross only through the key map or as the same row brought over by the forward sync', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { maxLength: 40 }), async (commands) => {
        const { legacy, tables, bornInService } = await run(commands);
        /** Where item k's data belongs on the legacy side: its mapped row, or its own key. */
        const rowOf = (k: string) => (bornInService.has(k) ? tables.serviceToLegacy.get(k) : k);
        // Every id came from AUTO_INCREMENT, one after the other.
        expect([...legacy.rows.keys()].map(Number).sort((a, b) => a - b)).toEqual(
          Array.from({ length: legacy.rows.size }, (_, i) => i + 1),
        );
        // A record born in the service that reached Magento is a row the sync created for it,
        // linked both ways, never one of Magento's own rows.
        for (const [serviceKey, legacyKey] of tables.serviceToLegacy) {
          expect(bornInService.has(serviceKey), serviceKey).toBe(true);
          expect(legacy.createdBySync.has(legacyKey), `${serviceKey} -> ${legacyKey}`).toBe(true);
          expect(tables.legacyToService.get(legacyKey)).toBe(serviceKey);
        }
        // No data crosses to another record: a service edit of item k is only ever in k's own
        // row (mapped, or the Magento row k brought over under its key), and vice versa.
        for (const [legacyKey, row] of legacy.rows) {
          const m = /^svc-(.+)-\d+$/.exec(String(row.data['firstName']));
          if (!m) continue;
          const k = m[1]!;
          expect(rowOf(k), `legacy row ${legacyKey} holds service item ${k}'s edit`).toBe(legacyKey);
        }
        for (const [serviceKey, item] of tables.items) {
          const m = /^mag-(\d+)-\d+$/.exec(String(item.data['firstName']));
          if (!m) continue;
          const l = m[1]!;
          expect(rowOf(serviceKey), `service item ${serviceKey} holds Magento row ${l}'s edit`).toBe(l);
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
