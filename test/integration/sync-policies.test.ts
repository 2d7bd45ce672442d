import '../support/quiet-powertools.js';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import {
  getItem,
  invokeSqs,
  legacyEvent,
  magentoForPolling,
  pollNow,
  type SyncEnv,
  seededCustomer,
  seedFromLegacy,
  serviceChange,
  setupSyncEnv,
  splitByOrigin,
  sqsEvent,
} from '../support/sync-env.js';

// One test per row of the seed's policy table, each a true conflict (both sides changed the
// field since the last sync), delivered through the handlers.
describe('Function: sync (conflict policies)', () => {
  let env: SyncEnv;
  beforeAll(async () => {
    env = await setupSyncEnv('policies', { spec: magentoForPolling() });
  });
  afterAll(async () => {
    await env?.close();
  });

  const ok = async (handler: unknown, entries: Parameters<typeof sqsEvent>[0]) =>
    expect((await invokeSqs(handler, sqsEvent(entries))).failedIndexes).toEqual([]);
  const lastname = async (id: string) =>
    (
      await env.db.query<RowDataPacket[]>('SELECT lastname FROM customer_entity WHERE entity_id = ?', [id])
    )[0][0]!['lastname'];

  it('customer (timestamp): the newer change wins on both sides, whichever arrives first', async () => {
    // Legacy newer: the service changed 5 s ago, Magento now.
    const a = await seededCustomer(env, 'Alan');
    const fromService = await serviceChange(
      env,
      'customer',
      a,
      { lastName: 'ServiceOld' },
      new Date(Date.now() - 5000),
    );
    await env.db.query('UPDATE customer_entity SET lastname = ? WHERE entity_id = ?', ['LegacyNew', a]);
    const fromLegacy = await legacyEvent(env, 'customer', a);
    await ok(forward, [fromLegacy]);
    await ok(reverse, fromService);
    expect(await lastname(a)).toBe('LegacyNew');
    expect((await getItem(env, 'customer', a))?.['lastName']).toBe('LegacyNew');
    expect(env.publisher.take()).toEqual([]);

    // Service newer: synced a minute ago; Magento changed 10 s ago, the service now. The forward sync keeps the
    // service value and pushes it back; the reverse sync applies the push-back.
    const b = await seededCustomer(env, 'Barbara');
    await env.db.query(
      'UPDATE customer_entity SET lastname = ?, updated_at = NOW() - INTERVAL 10 SECOND WHERE entity_id = ?',
      ['LegacyOld', b],
    );
    const legacyOld = await legacyEvent(env, 'customer', b);
    const serviceNew = await serviceChange(env, 'customer', b, { lastName: 'ServiceNew' });
    await ok(forward, [legacyOld]);
    const pushed = env.publisher.take();
    expect(pushed).toHaveLength(1);
    const pushBack = JSON.parse(pushed[0]!.Detail);
    expect(pushBack).toMatchObject({ origin: 'service', key: b, data: { lastName: 'ServiceNew' } });
    expect(pushBack.eventId).toBe(`pushback:${JSON.parse(legacyOld.Detail).eventId}`);
    await ok(reverse, pushed);
    await ok(reverse, serviceNew);
    expect(await lastname(b)).toBe('ServiceNew');
    expect((await getItem(env, 'customer', b))?.['lastName']).toBe('ServiceNew');
  });

  it('order status (service-wins): the service value stands and is pushed to Magento', async () => {
    const [r] = await env.db.query<ResultSetHeader>(
      `INSERT INTO sales_order (state, status, increment_id, store_id, customer_email, grand_total)
       VALUES ('new', 'pending', '000000101', 1, 'buyer@example.com', 59.9000)`,
    );
    const id = String(r.insertId);
    await seedFromLegacy(env, 'order', id);
    const fromService = await serviceChange(env, 'order', id, { status: 'processing' });
    await env.db.query("UPDATE sales_order SET status = 'holded' WHERE entity_id = ?", [id]);
    const [[{ updated_at: magentoUpdatedAt }]] = (await env.db.query<RowDataPacket[]>(
      'SELECT updated_at FROM sales_order WHERE entity_id = ?',
      [id],
    )) as unknown as [[{ updated_at: Date }]];
    await ok(forward, [await legacyEvent(env, 'order', id)]);
    const { reverse: pushBacks } = splitByOrigin(env.publisher.take());
    expect(pushBacks).toHaveLength(1);
    await ok(reverse, pushBacks);
    await ok(reverse, fromService);
    const [[row]] = (await env.db.query<RowDataPacket[]>(
      'SELECT status, updated_at FROM sales_order WHERE entity_id = ?',
      [id],
    )) as unknown as [[{ status: string; updated_at: Date }]];
    expect(row.status).toBe('processing');
    // A sync write is not a local change: updated_at stays Magento's own.
    expect(row.updated_at.getTime()).toBe(magentoUpdatedAt.getTime());
    expect((await getItem(env, 'order', id))?.['status']).toBe('processing');
  });

  it('stock qty (service-wins): the service value stands even when the legacy change arrives late', async () => {
    const [p] = await env.db.query<ResultSetHeader>(
      "INSERT INTO catalog_product_entity (attribute_set_id, type_id, sku) VALUES (4, 'simple', 'STOCK-1')",
    );
    const productId = String(p.insertId);
    await env.db.query(
      'INSERT INTO cataloginventory_stock_item (product_id, stock_id, qty, is_in_stock, website_id) VALUES (?, 1, 100, 1, 0)',
      [productId],
    );
    await seedFromLegacy(env, 'stock', productId);
    const fromService = await serviceChange(env, 'stock', productId, { qty: '95.0000' });
    await env.db.query(
      'UPDATE cataloginventory_stock_item SET qty = 90 WHERE product_id = ? AND stock_id = 1',
      [productId],
    );
    const lateLegacy = await legacyEvent(env, 'stock', productId);
    await ok(reverse, fromService);
    await ok(forward, [lateLegacy]);
    const [[row]] = (await env.db.query<RowDataPacket[]>(
      'SELECT qty FROM cataloginventory_stock_item WHERE product_id = ? AND stock_id = 1',
      [productId],
    )) as unknown as [[{ qty: string }]];
    expect(row.qty).toBe('95.0000');
    expect((await getItem(env, 'stock', productId))?.['qty']).toBe('95.0000');
  });

  it('product price (admin): both values are parked once, nothing is overwritten, no PII in the event', async () => {
    const [p] = await env.db.query<ResultSetHeader>(
      "INSERT INTO catalog_product_entity (attribute_set_id, type_id, sku) VALUES (4, 'simple', 'MUG-001')",
    );
    const id = String(p.insertId);
    const attr = async (code: string) =>
      (
        await env.db.query<RowDataPacket[]>(
          'SELECT attribute_id FROM eav_attribute WHERE entity_type_id = 4 AND attribute_code = ?',
          [code],
        )
      )[0][0]!['attribute_id'];
    await env.db.query(
      'INSERT INTO catalog_product_entity_varchar (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, ?)',
      [await attr('name'), id, 'Mug'],
    );
    await env.db.query(
      'INSERT INTO catalog_product_entity_decimal (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, 19.99)',
      [await attr('price'), id],
    );
    await env.db.query(
      'INSERT INTO catalog_product_entity_int (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, 1)',
      [await attr('status'), id],
    );
    await seedFromLegacy(env, 'product', id);
    expect(await getItem(env, 'product', id)).toMatchObject({
      sku: 'MUG-001',
      name: 'Mug',
      price: '19.990000',
      status: 1,
    });
    await pollNow(['product']); // baseline of the EAV snapshot
    env.publisher.take();

    const fromService = await serviceChange(env, 'product', id, { price: '24.990000' });
    await env.db.query(
      'UPDATE catalog_product_entity_decimal SET value = 22.5 WHERE entity_id = ? AND attribute_id = ?',
      [id, await attr('price')],
    );
    await pollNow(['product']);
    const { forward: fromLegacy } = splitByOrigin(env.publisher.take());
    expect(fromLegacy.map((e) => JSON.parse(e.Detail).data)).toContainEqual(
      expect.objectContaining({ price: '22.500000' }),
    );

    await ok(forward, fromLegacy);
    await ok(reverse, fromService);
    await ok(reverse, fromService); // redelivered: still one conflict

    const parkedEvents = env.publisher.take().filter((e) => e.DetailType === 'cutover.conflict.parked');
    expect(parkedEvents).toHaveLength(1); // seen from both sides, announced once
    for (const e of parkedEvents) {
      expect(Object.keys(JSON.parse(e.Detail)).sort()).toEqual(['conflictId', 'entity', 'field', 'key']);
      expect(e.Detail).not.toMatch(/22\.5|24\.99/);
    }
    const conflicts = await env.dynamo.send(new ScanCommand({ TableName: env.tables.conflictsTable }));
    expect(conflicts.Items).toHaveLength(1);
    expect(conflicts.Items![0]).toMatchObject({
      entity: 'product',
      key: id,
      field: 'price',
      legacy: { value: '22.500000' },
      service: { value: '24.990000' },
      status: 'open',
    });
    // Neither side was overwritten: an operator decides.
    expect((await getItem(env, 'product', id))?.['price']).toBe('24.990000');
    const [[row]] = (await env.db.query<RowDataPacket[]>(
      'SELECT value FROM catalog_product_entity_decimal WHERE entity_id = ? AND attribute_id = ? AND store_id = 0',
      [id, await attr('price')],
    )) as unknown as [[{ value: string }]];
    expect(row.value).toBe('22.500000');
  });

  it('coupon usage (sum): increments on both sides add up, exactly once, and are not echoed', async () => {
    const [c] = await env.db.query<ResultSetHeader>(
      "INSERT INTO salesrule_coupon (rule_id, code, times_used, is_primary, type) VALUES (1, 'WINTER10', 5, 1, 0)",
    );
    const id = String(c.insertId);
    await seedFromLegacy(env, 'coupon', id);
    expect((await getItem(env, 'coupon', id))?.['timesUsed']).toBe(5);
    await pollNow(['coupon']); // baseline
    env.publisher.take();

    const fromService = await serviceChange(env, 'coupon', id, { timesUsed: 7 }); // +2 in the service
    expect(JSON.parse(fromService[0]!.Detail).deltas).toEqual({ timesUsed: 2 });
    await env.db.query('UPDATE salesrule_coupon SET times_used = times_used + 1 WHERE coupon_id = ?', [id]); // +1 in Magento
    await pollNow(['coupon']);
    const { forward: fromLegacy } = splitByOrigin(env.publisher.take());
    expect(fromLegacy.map((e) => JSON.parse(e.Detail).deltas)).toEqual([{ timesUsed: 1 }]);

    await ok(reverse, fromService);
    await ok(forward, fromLegacy);
    // Duplicates change nothing.
    await ok(reverse, fromService);
    await ok(forward, fromLegacy);
    const [[row]] = (await env.db.query<RowDataPacket[]>(
      'SELECT times_used FROM salesrule_coupon WHERE coupon_id = ?',
      [id],
    )) as unknown as [[{ times_used: number }]];
    expect(row.times_used).toBe(8);
    expect((await getItem(env, 'coupon', id))?.['timesUsed']).toBe(8);
    // The reverse sync's own +2 is not observed as a Magento change.
    await pollNow(['coupon']);
    expect(splitByOrigin(env.publisher.take()).forward).toEqual([]);
    const applied = await env.dynamo.send(
      new GetCommand({
        TableName: env.tables.syncTable,
        Key: { pk: `applied#${JSON.parse(fromLegacy[0]!.Detail).eventId}` },
      }),
    );
    expect(applied.Item).toBeDefined();
  });
});
