import '../support/quiet-powertools.js';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoConflictStore } from '../../lambdas/adapters/dynamodb-sync-state.js';
import {
  ConflictResolutionError,
  listOpenConflicts,
  resolveConflict,
} from '../../lambdas/domain/conflict-resolution.js';
import type { BusEvent } from '../../lambdas/domain/ports.js';
import { CONFLICT_PARKED_DETAIL_TYPE } from '../../lambdas/domain/sync.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import { runtime } from '../../lambdas/handlers/runtime.js';
import type { CliContext } from '../../lib/cli/operator-commands.js';
import { deployedOutputs, runCli } from '../support/cli.js';
import {
  getItem,
  invokeSqs,
  magentoForPolling,
  pollNow,
  type SyncEnv,
  seedFromLegacy,
  serviceChange,
  setupSyncEnv,
  splitByOrigin,
  sqsEvent,
} from '../support/sync-env.js';

// The admin policy parks a concurrent product price change for a person; the person resolves it
// (lambdas/domain/conflict-resolution.ts, what the operator CLI calls) against MariaDB and
// DynamoDB Local, and the handlers keep syncing afterwards.
describe('Use case: resolve a parked conflict', () => {
  let env: SyncEnv;
  let priceAttr: number;
  beforeAll(async () => {
    env = await setupSyncEnv('conflict-resolution', { spec: magentoForPolling() });
    const [[row]] = (await env.db.query<RowDataPacket[]>(
      "SELECT attribute_id FROM eav_attribute WHERE entity_type_id = 4 AND attribute_code = 'price'",
    )) as unknown as [[{ attribute_id: number }]];
    priceAttr = row.attribute_id;
  });
  afterAll(async () => {
    await env?.close();
  });

  const ok = async (handler: unknown, entries: BusEvent[]) =>
    expect((await invokeSqs(handler, sqsEvent(entries))).failedIndexes).toEqual([]);
  const magentoPrice = async (id: string) =>
    (
      (await env.db.query<RowDataPacket[]>(
        'SELECT value FROM catalog_product_entity_decimal WHERE entity_id = ? AND attribute_id = ? AND store_id = 0',
        [id, priceAttr],
      )) as unknown as [[{ value: string }]]
    )[0][0].value;
  const conflictItem = async (conflictId: string) =>
    (await env.dynamo.send(new GetCommand({ TableName: env.tables.conflictsTable, Key: { conflictId } })))
      .Item;
  const parkedEvents = (entries: BusEvent[]) =>
    entries.filter((e) => e.DetailType === CONFLICT_PARKED_DETAIL_TYPE);

  /** A product at 19.99 in both places, then 24.99 in the service and 22.50 in Magento: parked. */
  async function parkPriceConflict(sku: string): Promise<{ id: string; conflictId: string }> {
    const [p] = await env.db.query<ResultSetHeader>(
      "INSERT INTO catalog_product_entity (attribute_set_id, type_id, sku) VALUES (4, 'simple', ?)",
      [sku],
    );
    const id = String(p.insertId);
    await env.db.query(
      'INSERT INTO catalog_product_entity_decimal (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, 19.99)',
      [priceAttr, id],
    );
    await seedFromLegacy(env, 'product', id);
    await pollNow(['product']); // the EAV snapshot's baseline
    env.publisher.take();

    const fromService = await serviceChange(env, 'product', id, { price: '24.990000' });
    await env.db.query(
      'UPDATE catalog_product_entity_decimal SET value = 22.5 WHERE entity_id = ? AND attribute_id = ?',
      [id, priceAttr],
    );
    await pollNow(['product']);
    const { forward: fromLegacy } = splitByOrigin(env.publisher.take());
    // Both directions see the conflict (and SQS delivers one of them twice).
    await ok(forward, fromLegacy);
    await ok(reverse, fromService);
    await ok(reverse, fromService);
    await ok(forward, fromLegacy);
    const announced = parkedEvents(env.publisher.take());
    expect(announced).toHaveLength(1);
    const { conflictId } = JSON.parse(announced[0]!.Detail) as { conflictId: string };
    expect(await conflictItem(conflictId)).toMatchObject({
      status: 'open',
      entity: 'product',
      key: id,
      field: 'price',
      legacy: { value: '22.500000' },
      service: { value: '24.990000' },
    });
    return { id, conflictId };
  }

  const cases = [
    { choice: 'legacy' as const, expected: '22.500000' },
    { choice: 'service' as const, expected: '24.990000' },
    { choice: 'value' as const, value: '23.75', expected: '23.750000' },
  ];
  for (const c of cases) {
    it(`keeps the ${c.choice === 'value' ? 'given' : c.choice} value on both sides, closes the item, and a second resolve changes nothing`, async () => {
      const { id, conflictId } = await parkPriceConflict(`RES-${c.choice.toUpperCase()}`);
      const rt = await runtime();
      expect((await listOpenConflicts(rt, { entity: 'product' })).items.map((i) => i.conflictId)).toContain(
        conflictId,
      );

      const result = await resolveConflict(rt, {
        conflictId,
        choice: c.choice,
        ...(c.value !== undefined ? { value: c.value } : {}),
        by: 'ops@example.com',
      });
      expect(result.outcome).toBe('resolved');
      expect(await magentoPrice(id)).toBe(c.expected);
      const item = await getItem(env, 'product', id);
      expect(item?.['price']).toBe(c.expected);
      const closed = await conflictItem(conflictId);
      expect(closed).toMatchObject({
        status: 'resolved',
        resolution: { choice: c.choice, value: c.expected, by: 'ops@example.com' },
      });
      expect(Date.parse(String(closed?.['resolvedAt']))).toBeGreaterThan(Date.now() - 60_000);
      expect(Date.parse(String(closed?.['resolution']?.at))).toBeLessThanOrEqual(
        Date.parse(String(closed?.['resolvedAt'])),
      );
      expect(
        (await listOpenConflicts(rt, { entity: 'product' })).items.map((i) => i.conflictId),
      ).not.toContain(conflictId);

      // Again, even with another choice: nothing changes.
      const again = await resolveConflict(rt, {
        conflictId,
        choice: 'value',
        value: '1.00',
        by: 'someone-else',
      });
      expect(again.outcome).toBe('already-resolved');
      expect(await conflictItem(conflictId)).toEqual(closed);
      expect(await magentoPrice(id)).toBe(c.expected);
      expect((await getItem(env, 'product', id))?.['version']).toBe(item?.['version']);

      // The sync state agrees: Magento's echo of the resolution changes nothing and parks nothing,
      // and the next real edit in the service reaches Magento as any change does.
      await pollNow(['product']);
      await ok(forward, splitByOrigin(env.publisher.take()).forward);
      expect((await getItem(env, 'product', id))?.['version']).toBe(item?.['version']);
      await ok(reverse, await serviceChange(env, 'product', id, { price: '30.000000' }));
      expect(await magentoPrice(id)).toBe('30.000000');
      expect(parkedEvents(env.publisher.take())).toEqual([]);
    });
  }

  it('refuses to resolve over a side that changed since the conflict was parked, and leaves it open', async () => {
    const { id, conflictId } = await parkPriceConflict('RES-MOVED');
    await env.db.query(
      'UPDATE catalog_product_entity_decimal SET value = 21 WHERE entity_id = ? AND attribute_id = ?',
      [id, priceAttr],
    );
    const rt = await runtime();
    await expect(resolveConflict(rt, { conflictId, choice: 'service', by: 'ops' })).rejects.toThrow(
      ConflictResolutionError,
    );
    expect(await magentoPrice(id)).toBe('21.000000');
    expect((await getItem(env, 'product', id))?.['price']).toBe('24.990000');
    expect(await conflictItem(conflictId)).toMatchObject({ status: 'open' });
    expect((await conflictItem(conflictId))?.['resolution']).toBeUndefined();
    // A bad value is refused before anything is claimed.
    const other = await parkPriceConflict('RES-BADVALUE');
    await expect(
      resolveConflict(rt, { conflictId: other.conflictId, choice: 'value', value: 'cheap', by: 'ops' }),
    ).rejects.toThrow(/value: price/);
    expect(await conflictItem(other.conflictId)).toMatchObject({ status: 'open' });
  });

  it('through the cutover CLI: conflicts list shows it, resolve --keep service settles both sides, show reads it back', async () => {
    const { id, conflictId } = await parkPriceConflict('RES-CLI');
    const rt = await runtime();
    const outputs = deployedOutputs('t', env.spec, { conflictsTable: env.tables.conflictsTable });
    const context = (): CliContext => ({
      stacks: { outputs: async (name) => outputs[name]! },
      executions: undefined as never,
      mapRuns: undefined as never,
      queues: undefined as never,
      metrics: undefined as never,
      metricQueries: undefined as never,
      flags: () => undefined as never,
      publisher: () => env.publisher,
      // The real adapter on DynamoDB Local; the sync engine as the handlers build it.
      conflicts: (table) => new DynamoConflictStore(env.dynamo, table),
      sync: async () => ({ ...rt, close: async () => {} }),
      captureSource: async () => undefined as never,
      now: Date.now,
      sleep: async () => {},
    });
    const list = await runCli(
      context,
      'conflicts',
      'list',
      '--env',
      't',
      '--migration',
      'magento',
      '--entity',
      'product',
      '--json',
    );
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out)).toContainEqual(
      expect.objectContaining({
        conflictId,
        key: id,
        field: 'price',
        legacy: '"22.500000"',
        service: '"24.990000"',
        personal: false,
      }),
    );
    const resolved = await runCli(
      context,
      'conflicts',
      'resolve',
      conflictId,
      '--keep',
      'service',
      '--by',
      'jane',
      '--env',
      't',
      '--migration',
      'magento',
    );
    expect(resolved.code).toBe(0);
    expect(resolved.out).toContain('resolved');
    expect(await magentoPrice(id)).toBe('24.990000');
    expect((await getItem(env, 'product', id))?.['price']).toBe('24.990000');
    const shown = await runCli(
      context,
      'conflicts',
      'show',
      conflictId,
      '--env',
      't',
      '--migration',
      'magento',
      '--json',
    );
    expect(JSON.parse(shown.out)).toMatchObject({
      status: 'resolved',
      resolution: { choice: 'service', by: 'jane' },
    });
    const unknown = await runCli(
      context,
      'conflicts',
      'show',
      'no-such-id',
      '--env',
      't',
      '--migration',
      'magento',
    );
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no parked conflict no-such-id');
  });
});
