import '../support/quiet-powertools.js';
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConsistencyCheckEvent,
  type ConsistencyCheckResponse,
  handler as consistencyCheck,
} from '../../lambdas/handlers/consistency-check.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import {
  fakeContext,
  getItem,
  invokeSqs,
  legacyEvent,
  magentoForPolling,
  nextSecond,
  type SyncEnv,
  seedFromLegacy,
  serviceChange,
  setupSyncEnv,
  sqsEvent,
} from '../support/sync-env.js';

// Issue 12 (2): a service that numbers its own records (3000000123) must not hand those numbers
// to Magento as entity_ids: an explicit id moves AUTO_INCREMENT, and near the top of
// `int unsigned` Magento's own next INSERT fails. Magento assigns the id; the key map links them.
describe('Function: sync (numeric service keys are not Magento ids)', () => {
  let env: SyncEnv;
  beforeAll(async () => {
    env = await setupSyncEnv('numeric-keys', { spec: magentoForPolling() });
  });
  afterAll(async () => {
    await env?.close();
  });

  const ok = async (handler: unknown, entries: Parameters<typeof sqsEvent>[0]) =>
    expect((await invokeSqs(handler, sqsEvent(entries))).failedIndexes).toEqual([]);
  const rows = async (sql: string, params: unknown[] = []) =>
    (await env.db.query<RowDataPacket[]>(sql, params))[0] as Record<string, unknown>[];
  const autoIncrement = async (table: string) =>
    Number(
      (
        await rows(
          'SELECT AUTO_INCREMENT AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
          [table],
        )
      )[0]!['n'],
    );
  const mapped = async (entity: string, side: 's' | 'l', key: string) =>
    (
      await env.dynamo.send(
        new GetCommand({
          TableName: env.tables.syncTable,
          Key: { pk: `key#${entity}#${side}#${key}` },
          ConsistentRead: true,
        }),
      )
    ).Item;
  const check = (event: ConsistencyCheckEvent) =>
    (consistencyCheck as unknown as (e: unknown, c: unknown) => Promise<ConsistencyCheckResponse>)(
      event,
      fakeContext,
    );

  it('a service-born customer 3000000123 gets a Magento-assigned entity_id; AUTO_INCREMENT stays low; the key map links them', async () => {
    const before = await autoIncrement('customer_entity');
    const created = await serviceChange(env, 'customer', '3000000123', {
      email: 'numbered@example.com',
      firstName: 'Numbered',
      lastName: 'Service',
      websiteId: 1,
      groupId: 1,
      isActive: 1,
    });
    await ok(reverse, created);
    // Redelivered: no second row.
    await ok(reverse, created);
    const found = await rows('SELECT entity_id FROM customer_entity WHERE email = ?', [
      'numbered@example.com',
    ]);
    expect(found).toHaveLength(1);
    const entityId = String(found[0]!['entity_id']);
    expect(entityId).toBe(String(before));
    expect(await rows('SELECT 1 FROM customer_entity WHERE entity_id = 3000000123')).toEqual([]);
    expect(await autoIncrement('customer_entity')).toBe(before + 1);
    expect((await mapped('customer', 's', '3000000123'))?.['legacyKey']).toBe(entityId);
    expect((await mapped('customer', 'l', entityId))?.['serviceKey']).toBe('3000000123');

    // Magento keeps taking customers: its own next INSERT gets the next id.
    const [ins] = await env.db.query<ResultSetHeader>(
      `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname)
       VALUES (1, 'magento.own@example.com', 1, 1, 'Own', 'Customer')`,
    );
    expect(ins.insertId).toBe(before + 1);

    // A later Magento edit of that row reaches item 3000000123 (not an item under the entity_id).
    await env.db.query('UPDATE customer_entity SET firstname = ? WHERE entity_id = ?', [
      'EditedInMagento',
      entityId,
    ]);
    await nextSecond();
    await ok(forward, [await legacyEvent(env, 'customer', entityId)]);
    expect((await getItem(env, 'customer', '3000000123'))?.['firstName']).toBe('EditedInMagento');
    expect(await getItem(env, 'customer', entityId)).toBeUndefined();

    // And a later service edit lands on the same row.
    await ok(reverse, await serviceChange(env, 'customer', '3000000123', { lastName: 'Renumbered' }));
    expect(await rows('SELECT lastname FROM customer_entity WHERE entity_id = ?', [entityId])).toEqual([
      { lastname: 'Renumbered' },
    ]);
    expect(await autoIncrement('customer_entity')).toBe(before + 2);
  });

  it('a crash between the insert and the key map: the retry finds the row, no second one', async () => {
    const created = await serviceChange(env, 'customer', '3000000124', {
      email: 'crashed@example.com',
      firstName: 'Crashed',
      websiteId: 1,
      groupId: 1,
      isActive: 1,
    });
    await ok(reverse, created);
    const [{ entity_id: id }] = (await rows('SELECT entity_id FROM customer_entity WHERE email = ?', [
      'crashed@example.com',
    ])) as [{ entity_id: number }];
    // As if the Lambda died after the Magento transaction committed: no key map, no state.
    for (const pk of ['key#customer#s#3000000124', `key#customer#l#${id}`, 'state#customer#3000000124'])
      await env.dynamo.send(new DeleteCommand({ TableName: env.tables.syncTable, Key: { pk } }));
    await ok(reverse, created);
    expect(
      await rows('SELECT entity_id FROM customer_entity WHERE email = ?', ['crashed@example.com']),
    ).toEqual([{ entity_id: id }]);
    expect((await mapped('customer', 's', '3000000124'))?.['legacyKey']).toBe(String(id));
  });

  it('a service-born key equal to an existing Magento id is a new customer, not that Magento customer', async () => {
    // Magento's own customer, not (yet) synced.
    const [own] = await env.db.query<ResultSetHeader>(
      `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname)
       VALUES (1, 'magento.customer@example.com', 1, 1, 'Magento', 'Customer')`,
    );
    const magentoId = String(own.insertId);
    // The service numbers its own customers and happens to use the same number.
    await ok(
      reverse,
      await serviceChange(env, 'customer', magentoId, {
        email: 'service.customer@example.com',
        firstName: 'Service',
        lastName: 'Customer',
        websiteId: 1,
        groupId: 1,
        isActive: 1,
      }),
    );
    expect(
      await rows('SELECT email, firstname FROM customer_entity WHERE entity_id = ?', [magentoId]),
    ).toEqual([{ email: 'magento.customer@example.com', firstname: 'Magento' }]);
    const born = await rows('SELECT entity_id FROM customer_entity WHERE email = ?', [
      'service.customer@example.com',
    ]);
    expect(born).toHaveLength(1);
    expect(String(born[0]!['entity_id'])).not.toBe(magentoId);
    // Magento's customer cannot be brought over under the key the service's own customer holds:
    // it fails with a reason instead of overwriting it.
    await nextSecond();
    expect(
      (await invokeSqs(forward, sqsEvent([await legacyEvent(env, 'customer', magentoId)]))).failedIndexes,
    ).toEqual([0]);
    expect((await getItem(env, 'customer', magentoId))?.['email']).toBe('service.customer@example.com');
  });

  it('a Magento-born customer keeps its entity_id as its key both ways (the sync put it there)', async () => {
    const [r] = await env.db.query<ResultSetHeader>(
      `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, updated_at)
       VALUES (1, 'from.magento@example.com', 1, 1, 'From', 'Magento', NOW() - INTERVAL 60 SECOND)`,
    );
    const id = String(r.insertId);
    await seedFromLegacy(env, 'customer', id);
    await ok(reverse, await serviceChange(env, 'customer', id, { firstName: 'ChangedInService' }));
    expect(await rows('SELECT firstname FROM customer_entity WHERE entity_id = ?', [id])).toEqual([
      { firstname: 'ChangedInService' },
    ]);
    expect(await mapped('customer', 's', id)).toBeUndefined();
  });

  it('a service-born product with a numeric key (batched entity) gets a Magento-assigned id too', async () => {
    const before = await autoIncrement('catalog_product_entity');
    await ok(
      reverse,
      await serviceChange(env, 'product', '4000000001', {
        sku: 'NUM-4000000001',
        name: 'Numbered product',
        price: '9.990000',
        status: 1,
      }),
    );
    const found = await rows('SELECT entity_id FROM catalog_product_entity WHERE sku = ?', [
      'NUM-4000000001',
    ]);
    expect(found.map((f) => String(f['entity_id']))).toEqual([String(before)]);
    expect(await autoIncrement('catalog_product_entity')).toBe(before + 1);
    expect((await mapped('product', 's', '4000000001'))?.['legacyKey']).toBe(String(before));
  });

  it('the consistency check places numeric service-born customers by their mapped entity_id', async () => {
    const report = (await check({ entities: ['customer'] })).reports[0]!;
    const keys = report.mismatches.map((m) => m.serviceKey ?? m.legacyKey);
    // Only the Magento customers never brought over are reported (missing in the service).
    expect(keys).not.toContain('3000000123');
    expect(keys).not.toContain('3000000124');
    expect(report.mismatches.every((m) => m.kind === 'missing-in-service' || m.kind === 'different')).toBe(
      true,
    );
    expect(report.mismatches.filter((m) => m.kind === 'missing-in-legacy')).toEqual([]);
  });
});
