/**
 * The sync handlers send the records of an `eventual` entity that arrive in one SQS batch to the
 * batched path together (one set-based compare-and-set), and still answer per record: a bad
 * record fails alone, a key repeated in the batch is applied in delivery order.
 */
import '../support/quiet-powertools.js';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChangeEvent } from '../../lambdas/domain/events.js';
import { applyBatchToLegacy, applyBatchToService } from '../../lambdas/domain/sync-batch.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { logger } from '../../lambdas/handlers/powertools.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import { runtime } from '../../lambdas/handlers/runtime.js';
import { METRIC } from '../../lib/spec/metrics.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import magento from '../../migrations/magento.js';
import {
  changeEvent,
  getItem,
  invokeSqs,
  legacyEntry,
  type SyncEnv,
  seedFromLegacy,
  serviceChange,
  setupSyncEnv,
  sqsEvent,
} from '../support/sync-env.js';

// The real batched use cases, wrapped only to count their calls.
vi.mock('../../lambdas/domain/sync-batch.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../lambdas/domain/sync-batch.js')>();
  return {
    ...mod,
    applyBatchToService: vi.fn(mod.applyBatchToService),
    applyBatchToLegacy: vi.fn(mod.applyBatchToLegacy),
  };
});

/** The Magento spec with customers synced `eventual`ly (batched). */
function eventualCustomers(): MigrationSpec {
  const spec = structuredClone(magento) as MigrationSpec;
  const customer = spec.services[0]!.entities.find((e) => e.name === 'customer')!;
  (customer as { consistency: string }).consistency = 'eventual';
  return spec;
}

describe('Function: sync handlers, eventual entities (batched per SQS batch)', () => {
  let env: SyncEnv;
  const ids: string[] = [];
  beforeAll(async () => {
    env = await setupSyncEnv('handler-batched', { spec: eventualCustomers() });
    for (let i = 0; i < 8; i++) {
      const [r] = await env.db.query<ResultSetHeader>(
        `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, updated_at)
         VALUES (1, ?, 1, 1, 'H', 'Initial', NOW() - INTERVAL 60 SECOND)`,
        [`handler-batched${i}@example.com`],
      );
      ids.push(String(r.insertId));
      await seedFromLegacy(env, 'customer', String(r.insertId));
    }
  });
  afterAll(async () => {
    await env?.close();
  });
  beforeEach(() => {
    vi.mocked(applyBatchToService).mockClear();
    vi.mocked(applyBatchToLegacy).mockClear();
  });

  it('forward: one batched call for the batch; the bad record fails alone; a repeated key ends at its last change', async () => {
    const change = (key: string, data: Record<string, unknown>, ago: number) =>
      changeEvent({
        entity: 'customer',
        key,
        origin: 'legacy',
        data: data as ChangeEvent['data'],
        changedAt: new Date(Date.now() - ago).toISOString(),
      });
    const events = [
      ...ids.slice(0, 5).map((key) => change(key, { lastName: `B${key}` }, 9_000)),
      change(ids[5]!, { websiteId: 'not a number' }, 9_000),
      change(ids[0]!, { lastName: 'Later' }, 5_000),
    ];
    const { failedIndexes } = await invokeSqs(forward, sqsEvent(events.map(legacyEntry)));
    expect(failedIndexes).toEqual([5]);
    const calls = vi.mocked(applyBatchToService).mock.calls.map((c) => c[2].map((e) => e.key));
    // The first event of each key together (the bad one among them), then the repeated key.
    expect(calls).toEqual([[...ids.slice(0, 6)], [ids[0]]]);
    expect((await getItem(env, 'customer', ids[0]!))?.['lastName']).toBe('Later');
    for (const key of ids.slice(1, 5))
      expect((await getItem(env, 'customer', key))?.['lastName']).toBe(`B${key}`);
  });

  it('reverse: one batched call writes every row; updated_at untouched', async () => {
    const entries = [];
    for (const id of ids.slice(6, 8))
      entries.push(...(await serviceChange(env, 'customer', id, { firstName: `R${id}` })));
    const before = (
      await env.db.query<RowDataPacket[]>(
        'SELECT entity_id, UNIX_TIMESTAMP(updated_at) AS u FROM customer_entity WHERE entity_id IN (?) ORDER BY entity_id',
        [ids.slice(6, 8)],
      )
    )[0];
    const { failedIndexes } = await invokeSqs(reverse, sqsEvent(entries));
    expect(failedIndexes).toEqual([]);
    expect(vi.mocked(applyBatchToLegacy).mock.calls.map((c) => c[2].length)).toEqual([2]);
    const after = (
      await env.db.query<RowDataPacket[]>(
        'SELECT entity_id, firstname, UNIX_TIMESTAMP(updated_at) AS u FROM customer_entity WHERE entity_id IN (?) ORDER BY entity_id',
        [ids.slice(6, 8)],
      )
    )[0];
    expect(after.map((r) => r['firstname'])).toEqual(ids.slice(6, 8).map((id) => `R${id}`));
    expect(after.map((r) => r['u'])).toEqual(before.map((r) => r['u']));
  });

  it('reverse: a batch transaction failing as a whole is logged (masked) and counted; its events still apply', async () => {
    const rt = await runtime();
    const legacy = rt.legacy as unknown as { applyBatch: (...a: unknown[]) => Promise<unknown> };
    const failure = Object.assign(
      new Error("Deadlock found when trying to get lock; row of 'handler-batched6@example.com'"),
      { code: 'ER_LOCK_DEADLOCK' },
    );
    const applyBatch = vi.spyOn(legacy, 'applyBatch').mockRejectedValueOnce(failure);
    const warn = vi.spyOn(logger, 'warn');
    const addMetric = vi.spyOn(Metrics.prototype, 'addMetric');
    try {
      const entries = [];
      for (const id of ids.slice(6, 8))
        entries.push(...(await serviceChange(env, 'customer', id, { firstName: `F${id}` })));
      const { failedIndexes } = await invokeSqs(reverse, sqsEvent(entries));
      expect(failedIndexes).toEqual([]);
      expect(applyBatch).toHaveBeenCalledTimes(1);
      const logged = warn.mock.calls.find(([m]) => String(m).includes('batch transaction failed'));
      expect(logged?.[1]).toEqual({
        entity: 'customer',
        events: 2,
        reason: expect.stringContaining('Deadlock'),
      });
      expect(JSON.stringify(logged)).not.toContain('handler-batched6@example.com');
      expect(addMetric).toHaveBeenCalledWith(METRIC.syncBatchFailures, 'Count', 1);
      const names = (
        await env.db.query<RowDataPacket[]>(
          'SELECT firstname FROM customer_entity WHERE entity_id IN (?) ORDER BY entity_id',
          [ids.slice(6, 8)],
        )
      )[0].map((r) => r['firstname']);
      expect(names).toEqual(ids.slice(6, 8).map((id) => `F${id}`));
    } finally {
      applyBatch.mockRestore();
      warn.mockRestore();
      addMetric.mockRestore();
    }
  });
});
