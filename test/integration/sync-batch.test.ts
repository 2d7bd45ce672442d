import '../support/quiet-powertools.js';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../lambdas/domain/events.js';
import { applyBatchToLegacy, applyBatchToService } from '../../lambdas/domain/sync-batch.js';
import { runtime, withLegacyBatch } from '../../lambdas/handlers/runtime.js';
import type { EntitySpec } from '../../lib/spec/schema.js';
import {
  changeEvent,
  entitySpec,
  getItem,
  type SyncEnv,
  seedFromLegacy,
  serviceChange,
  serviceWrite,
  setupSyncEnv,
} from '../support/sync-env.js';

// The batched (set-based compare-and-set) path gives the single path's results, and hands
// everything it does not handle to the single path.
describe('Function: sync batched path', () => {
  let env: SyncEnv;
  const ids: string[] = [];
  beforeAll(async () => {
    env = await setupSyncEnv('batch');
    for (let i = 0; i < 8; i++) {
      const [r] = await env.db.query<ResultSetHeader>(
        `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, updated_at)
         VALUES (1, ?, 1, 1, 'B', 'Initial', NOW() - INTERVAL 60 SECOND)`,
        [`batch${i}@example.com`],
      );
      ids.push(String(r.insertId));
      await seedFromLegacy(env, 'customer', String(r.insertId));
    }
  });
  afterAll(async () => {
    await env?.close();
  });
  const customer = () => entitySpec(env, 'customer');

  it('forward: plain updates batched; a conflict, a repeated key and a bad record fall back or fail alone', async () => {
    const rt = await runtime();
    // ids[2] was changed on the service side since the last sync, and is newer: a conflict.
    await serviceWrite(env, 'customer', ids[2]!, { lastName: 'ServiceNewer' });
    const ev = (key: string, lastName: string, ago = 10_000): ChangeEvent =>
      changeEvent({
        entity: 'customer',
        key,
        origin: 'legacy',
        data: { lastName },
        changedAt: new Date(Date.now() - ago).toISOString(),
      });
    const events = [
      ev(ids[0]!, 'F0'),
      ev(ids[1]!, 'F1'),
      ev(ids[2]!, 'F2-older'),
      ev(ids[3]!, 'F3a', 20_000),
      ev(ids[3]!, 'F3b', 5_000),
      { ...ev(ids[4]!, 'x'), data: { websiteId: 'bad' as unknown as number } },
    ];
    const results = await applyBatchToService(rt, customer(), events);
    const byId = new Map(results.map((r) => [r.eventId, r]));
    expect(byId.get(events[0]!.eventId)).toMatchObject({ batched: true });
    expect(byId.get(events[1]!.eventId)).toMatchObject({ batched: true });
    expect(byId.get(events[2]!.eventId)?.batched).toBe(false); // push-back: single path
    expect(byId.get(events[4]!.eventId)?.batched).toBe(false); // repeated key: single path
    expect(byId.get(events[5]!.eventId)?.error).toBeDefined();
    expect((await getItem(env, 'customer', ids[0]!))?.['lastName']).toBe('F0');
    expect((await getItem(env, 'customer', ids[2]!))?.['lastName']).toBe('ServiceNewer');
    expect((await getItem(env, 'customer', ids[3]!))?.['lastName']).toBe('F3b');
    expect(env.publisher.take().map((e) => JSON.parse(e.Detail).key)).toEqual([ids[2]]);
  });

  it('reverse: one locked multi-row write; updated_at untouched; redelivery is a no-op', async () => {
    const rt = await runtime();
    const events: ChangeEvent[] = [];
    for (const id of ids.slice(5, 8)) {
      const [entry] = await serviceChange(env, 'customer', id, { firstName: `R${id}` });
      events.push(JSON.parse(entry!.Detail));
    }
    const before = (
      await env.db.query<RowDataPacket[]>(
        'SELECT entity_id, updated_at FROM customer_entity ORDER BY entity_id',
      )
    )[0];
    const results = await applyBatchToLegacy(withLegacyBatch(rt), customer(), events);
    expect(results.every((r) => r.batched && !r.error)).toBe(true);
    const [rows] = await env.db.query<RowDataPacket[]>(
      'SELECT entity_id, firstname, updated_at FROM customer_entity ORDER BY entity_id',
    );
    for (const id of ids.slice(5, 8))
      expect(rows.find((r) => String(r['entity_id']) === id)?.['firstname']).toBe(`R${id}`);
    expect(rows.map((r) => (r['updated_at'] as Date).getTime())).toEqual(
      before.map((r) => (r['updated_at'] as Date).getTime()),
    );
    const again = await applyBatchToLegacy(withLegacyBatch(rt), customer(), events);
    expect(again.map((r) => r.result?.decision.outcome)).toEqual([
      'skip-duplicate',
      'skip-duplicate',
      'skip-duplicate',
    ]);
  });

  it('reverse: a service-born key lands on its mapped row; only such keys are looked up in the key map', async () => {
    const rt = await runtime();
    // A customer created on the service side: the single path creates its Magento row and maps it.
    const [created] = await serviceChange(env, 'customer', 'cus-batch-1', {
      email: 'batch.born@example.com',
      firstName: 'Born',
      lastName: 'Service',
      websiteId: 1,
      groupId: 1,
      isActive: 1,
    });
    const { applyToLegacy } = await import('../../lambdas/domain/sync.js');
    await applyToLegacy(rt, customer(), JSON.parse(created!.Detail));
    const [[born]] = await env.db.query<RowDataPacket[]>(
      'SELECT entity_id FROM customer_entity WHERE email = ?',
      ['batch.born@example.com'],
    );
    const bornId = String(born!['entity_id']);
    expect(bornId).toMatch(/^\d+$/);
    // Then a batch with it and an entity_id-shaped key.
    const events: ChangeEvent[] = [];
    for (const [key, firstName] of [
      ['cus-batch-1', 'BornBatched'],
      [ids[5]!, 'OwnBatched'],
    ] as const) {
      const [entry] = await serviceChange(env, 'customer', key, { firstName });
      events.push(JSON.parse(entry!.Detail));
    }
    const asked: string[][] = [];
    const state = rt.state;
    const spied = {
      ...rt,
      state: Object.assign(Object.create(state) as typeof state, {
        legacyKeysOf: (e: EntitySpec, keys: readonly string[]) => {
          asked.push([...keys]);
          return state.legacyKeysOf(e, keys);
        },
      }),
    };
    const results = await applyBatchToLegacy(withLegacyBatch(spied), customer(), events);
    expect(results.map((r) => [r.batched, r.error])).toEqual([
      [true, undefined],
      [true, undefined],
    ]);
    expect(asked).toEqual([['cus-batch-1']]);
    const [rows] = await env.db.query<RowDataPacket[]>(
      'SELECT entity_id, firstname FROM customer_entity WHERE entity_id IN (?, ?) ORDER BY entity_id',
      [bornId, ids[5]],
    );
    expect(Object.fromEntries(rows.map((r) => [String(r['entity_id']), r['firstname']]))).toEqual({
      [bornId]: 'BornBatched',
      [ids[5]!]: 'OwnBatched',
    });
  });
});
