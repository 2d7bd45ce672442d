import '../support/quiet-powertools.js';
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetterReason } from '../../lambdas/adapters/sqs-dead-letter.js';
import { handler as debeziumIngest } from '../../lambdas/handlers/debezium-ingest.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import { configureDeadLetter } from '../../lambdas/handlers/sqs-batch.js';
import { debeziumBody, magentoTable } from '../support/debezium.js';
import {
  changeEvent,
  getItem,
  invokeSqs,
  legacyEntry,
  legacyEvent,
  magentoForPolling,
  nextSecond,
  pollNow,
  type SyncEnv,
  seededCustomer,
  seedFromLegacy,
  serviceChange,
  setupSyncEnv,
  splitByOrigin,
  sqsEvent,
} from '../support/sync-env.js';

describe('Function: sync (delivery: same second, duplicates, order, crashes, poison, echo, EAV, key map)', () => {
  let env: SyncEnv;
  beforeAll(async () => {
    env = await setupSyncEnv('delivery', { spec: magentoForPolling() });
  });
  afterAll(async () => {
    await env?.close();
  });

  const ok = async (handler: unknown, entries: Parameters<typeof sqsEvent>[0]) =>
    expect((await invokeSqs(handler, sqsEvent(entries))).failedIndexes).toEqual([]);
  const row = async (sql: string, params: unknown[]) =>
    (await env.db.query<RowDataPacket[]>(sql, params))[0][0] as Record<string, unknown> | undefined;
  const attr = async (code: string) =>
    Number(
      (await row('SELECT attribute_id FROM eav_attribute WHERE entity_type_id = 4 AND attribute_code = ?', [
        code,
      ]))!['attribute_id'],
    );

  it('edits on both sides within the same second converge to the tie-break side, in either order', async () => {
    const second = Math.floor(Date.now() / 1000) - 5;
    for (const order of ['legacy-first', 'service-first'] as const) {
      const id = await seededCustomer(env, `Tie${order === 'legacy-first' ? 'A' : 'B'}`);
      const fromService = await serviceChange(
        env,
        'customer',
        id,
        { firstName: 'FromService' },
        new Date(second * 1000 + 600),
      );
      await env.db.query(
        'UPDATE customer_entity SET firstname = ?, updated_at = FROM_UNIXTIME(?) WHERE entity_id = ?',
        ['FromMagento', second, id],
      );
      const fromLegacy = await legacyEvent(env, 'customer', id);
      if (order === 'legacy-first') {
        await ok(forward, [fromLegacy]);
        await ok(reverse, splitByOrigin(env.publisher.take()).reverse); // the push-back
        await ok(reverse, fromService);
      } else {
        await ok(reverse, fromService);
        await ok(forward, [fromLegacy]);
      }
      expect(env.publisher.take()).toEqual([]);
      // Never skipped silently: the tie is resolved for the entity's tieBreak side (service).
      expect(
        (await row('SELECT firstname FROM customer_entity WHERE entity_id = ?', [id]))!['firstname'],
      ).toBe('FromService');
      expect((await getItem(env, 'customer', id))?.['firstName']).toBe('FromService');
    }
  });

  it('duplicate delivery applies once', async () => {
    const id = await seededCustomer(env, 'Dup');
    await env.db.query('UPDATE customer_entity SET lastname = ? WHERE entity_id = ?', ['Twice', id]);
    const event = sqsEvent([await legacyEvent(env, 'customer', id)]);
    const before = await getItem(env, 'customer', id);
    expect((await invokeSqs(forward, event)).failedIndexes).toEqual([]);
    expect((await invokeSqs(forward, event)).failedIndexes).toEqual([]);
    const after = await getItem(env, 'customer', id);
    expect(after?.['lastName']).toBe('Twice');
    expect(after?.['version']).toBe(Number(before?.['version']) + 1);
  });

  it('out-of-order delivery keeps the newest change', async () => {
    const id = await seededCustomer(env, 'Order');
    const base = Date.now() - 30_000;
    const older = legacyEntry(
      changeEvent({
        entity: 'customer',
        key: id,
        origin: 'legacy',
        data: { lastName: 'First' },
        changedAt: new Date(base).toISOString(),
      }),
    );
    const newer = legacyEntry(
      changeEvent({
        entity: 'customer',
        key: id,
        origin: 'legacy',
        data: { lastName: 'Second' },
        changedAt: new Date(base + 2000).toISOString(),
      }),
    );
    await ok(forward, [newer]);
    await ok(forward, [older]);
    expect((await getItem(env, 'customer', id))?.['lastName']).toBe('Second');
  });

  it('a batch that crashed mid-way and is redelivered whole applies every change once', async () => {
    const [c] = await env.db.query<ResultSetHeader>(
      "INSERT INTO salesrule_coupon (rule_id, code, times_used, is_primary) VALUES (1, 'CRASH', 0, 2)",
    );
    const coupon = String(c.insertId);
    await seedFromLegacy(env, 'coupon', coupon);
    const ids = [await seededCustomer(env, 'CrashA'), await seededCustomer(env, 'CrashB')];
    const entries = [
      ...Array.from({ length: 12 }, (_, i) =>
        legacyEntry(
          changeEvent({
            entity: 'coupon',
            key: coupon,
            origin: 'legacy',
            deltas: { timesUsed: 1 },
            changedAt: new Date(Date.now() - 1000 + i).toISOString(),
          }),
        ),
      ),
      ...ids.map((id) =>
        legacyEntry(
          changeEvent({ entity: 'customer', key: id, origin: 'legacy', data: { lastName: 'AfterCrash' } }),
        ),
      ),
    ];
    const batch = sqsEvent(entries);
    // The first invocation died after applying part of the batch (no response reached SQS)…
    await invokeSqs(forward, { Records: batch.Records.slice(0, 7) });
    // …so SQS redelivers every message of the batch.
    expect((await invokeSqs(forward, batch)).failedIndexes).toEqual([]);
    expect((await getItem(env, 'coupon', coupon))?.['timesUsed']).toBe(12);
    for (const id of ids) expect((await getItem(env, 'customer', id))?.['lastName']).toBe('AfterCrash');
  });

  it('a poison record fails alone; the rest of the batch is applied', async () => {
    const ids = [await seededCustomer(env, 'GoodA'), await seededCustomer(env, 'GoodB')];
    const good = (id: string) =>
      legacyEntry(
        changeEvent({ entity: 'customer', key: id, origin: 'legacy', data: { lastName: 'Applied' } }),
      );
    const bodies = [
      good(ids[0]!),
      'not json at all {',
      JSON.stringify({
        'detail-type': 'migration.customer.changed',
        source: 'cutover.legacy',
        detail: { schemaVersion: 1 },
      }),
      legacyEntry(
        changeEvent({ entity: 'customer', key: ids[0]!, origin: 'legacy', data: { shoeSize: 44 } }),
      ),
      legacyEntry(changeEvent({ entity: 'warehouse', key: '1', origin: 'legacy', data: { name: 'x' } })),
      legacyEntry(
        changeEvent({
          entity: 'customer',
          key: ids[1]!,
          origin: 'legacy',
          data: { websiteId: 'not-a-number' as unknown as number },
        }),
      ),
      good(ids[1]!),
    ];
    const res = await invokeSqs(forward, sqsEvent(bodies));
    expect(res.failedIndexes).toEqual([1, 2, 3, 4, 5]);
    for (const id of ids) expect((await getItem(env, 'customer', id))?.['lastName']).toBe('Applied');
  });

  it('a contract violation goes to the DLQ at its first delivery, with its reason; a DLQ that cannot be written leaves it for redelivery', async () => {
    const id = await seededCustomer(env, 'DlqGood');
    const event = sqsEvent([
      legacyEntry(
        changeEvent({ entity: 'customer', key: id, origin: 'legacy', data: { lastName: 'Applied' } }),
      ),
      'not json at all {',
      legacyEntry(changeEvent({ entity: 'customer', key: id, origin: 'legacy', data: { shoeSize: 44 } })),
      // Not in this migration: may be a deployment in progress, so redelivered, not dead-lettered.
      legacyEntry(changeEvent({ entity: 'warehouse', key: '1', origin: 'legacy', data: { name: 'x' } })),
      legacyEntry(
        changeEvent({
          entity: 'customer',
          key: id,
          origin: 'legacy',
          data: { websiteId: 'not-a-number' as unknown as number },
        }),
      ),
    ]);
    const sent: { body: string; why: DeadLetterReason }[] = [];
    configureDeadLetter({
      send: async (record, why) => {
        sent.push({ body: record.body, why });
      },
    });
    try {
      const res = await invokeSqs(forward, event);
      // Only the unknown entity is left for redelivery; the contract violations are acknowledged…
      expect(res.failedIndexes).toEqual([3]);
      // …because the DLQ has them, as delivered, with why.
      expect(sent.map((s) => s.body)).toEqual([1, 2, 4].map((i) => event.Records[i]!.body));
      for (const s of sent) expect(s.why).toMatchObject({ error: 'ContractError', source: 'forward-sync' });
      expect(sent[2]!.why.reason).toContain('websiteId');
      expect((await getItem(env, 'customer', id))?.['lastName']).toBe('Applied');

      // The DLQ refuses the message: nothing is acknowledged that is not kept.
      sent.length = 0;
      configureDeadLetter({
        send: async () => {
          throw new Error('AccessDenied: not authorized to perform sqs:SendMessage');
        },
      });
      const again = await invokeSqs(forward, event);
      expect(again.failedIndexes).toEqual([1, 2, 3, 4]);
    } finally {
      configureDeadLetter(undefined);
    }
  });

  it('an echo stops after one hop (Debezium sees the reverse sync write; the forward sync drops it)', async () => {
    const id = await seededCustomer(env, 'Echo');
    await nextSecond();
    await pollNow(['customer']); // the watermark passes every existing row
    env.publisher.take();
    const before = (await row('SELECT * FROM customer_entity WHERE entity_id = ?', [id]))!;
    await ok(reverse, await serviceChange(env, 'customer', id, { email: 'echo.new@example.com' }));
    const after = (await row('SELECT * FROM customer_entity WHERE entity_id = ?', [id]))!;
    expect(after['email']).toBe('echo.new@example.com');
    expect((after['updated_at'] as Date).getTime()).toBe((before['updated_at'] as Date).getTime());
    const serviceItem = await getItem(env, 'customer', id);

    // Hop 1: the binlog change comes back as a legacy event…
    const body = debeziumBody(magentoTable('customer_entity'), { op: 'u', before, after, tsMs: Date.now() });
    await ok(debeziumIngest, [body]);
    const echoed = env.publisher.take();
    expect(echoed).toHaveLength(1);
    // …and goes no further: no service write, nothing published.
    await ok(forward, echoed);
    expect((await getItem(env, 'customer', id))?.['version']).toBe(serviceItem?.['version']);
    expect(env.publisher.take()).toEqual([]);
    // The poller does not see a sync write at all (updated_at did not move).
    await nextSecond();
    await pollNow(['customer']);
    expect(env.publisher.take().map((e) => JSON.parse(e.Detail).key)).not.toContain(id);
  });

  it('EAV price: a Magento price change reaches the service; a service price change lands in _decimal at store 0', async () => {
    const [p] = await env.db.query<ResultSetHeader>(
      "INSERT INTO catalog_product_entity (attribute_set_id, type_id, sku, updated_at) VALUES (4, 'simple', 'TEE-1', NOW() - INTERVAL 60 SECOND)",
    );
    const id = String(p.insertId);
    await env.db.query(
      'INSERT INTO catalog_product_entity_varchar (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, ?)',
      [await attr('name'), id, 'Tee'],
    );
    await env.db.query(
      'INSERT INTO catalog_product_entity_decimal (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, 10)',
      [await attr('price'), id],
    );
    // A store-view override must not be read or written.
    await env.db.query(
      'INSERT INTO catalog_product_entity_decimal (attribute_id, store_id, entity_id, value) VALUES (?, 1, ?, 99)',
      [await attr('price'), id],
    );
    await seedFromLegacy(env, 'product', id);
    expect(await getItem(env, 'product', id)).toMatchObject({
      price: '10.000000',
      name: 'Tee',
      status: null,
    });
    await pollNow(['product']);
    env.publisher.take();

    // Magento -> service: a direct EAV write does not move catalog_product_entity.updated_at.
    await env.db.query(
      'UPDATE catalog_product_entity_decimal SET value = 12.5 WHERE entity_id = ? AND attribute_id = ? AND store_id = 0',
      [id, await attr('price')],
    );
    await pollNow(['product']);
    const { forward: changes } = splitByOrigin(env.publisher.take());
    expect(changes).toHaveLength(1);
    await ok(forward, changes);
    expect((await getItem(env, 'product', id))?.['price']).toBe('12.500000');

    // service -> Magento
    const entityBefore = (await row('SELECT updated_at FROM catalog_product_entity WHERE entity_id = ?', [
      id,
    ]))!;
    await ok(reverse, await serviceChange(env, 'product', id, { price: '14.990000', status: 2 }));
    const price = await row(
      'SELECT value FROM catalog_product_entity_decimal WHERE entity_id = ? AND attribute_id = ? AND store_id = ?',
      [id, await attr('price'), 0],
    );
    expect(price?.['value']).toBe('14.990000');
    const override = await row(
      'SELECT value FROM catalog_product_entity_decimal WHERE entity_id = ? AND attribute_id = ? AND store_id = ?',
      [id, await attr('price'), 1],
    );
    expect(override?.['value']).toBe('99.000000');
    const status = await row(
      'SELECT value FROM catalog_product_entity_int WHERE entity_id = ? AND attribute_id = ? AND store_id = 0',
      [id, await attr('status')],
    );
    expect(status?.['value']).toBe(2);
    const entityAfter = (await row('SELECT updated_at FROM catalog_product_entity WHERE entity_id = ?', [
      id,
    ]))!;
    expect(entityAfter['updated_at']).toEqual(entityBefore['updated_at']);
    // The snapshot poller sees the sync's write once, and the forward sync drops it.
    await pollNow(['product']);
    const { forward: echo } = splitByOrigin(env.publisher.take());
    const version = (await getItem(env, 'product', id))?.['version'];
    await ok(forward, echo);
    expect((await getItem(env, 'product', id))?.['version']).toBe(version);
  });

  it('a product created on the service side gets one Magento entity_id, kept in the key map, even across retries', async () => {
    const created = await serviceChange(env, 'product', 'prd-8c1e', {
      sku: 'NEW-SKU-1',
      name: 'Service-born',
      price: '5.500000',
      status: 1,
    });
    await ok(reverse, created);
    const count = async () =>
      Number(
        (await row('SELECT COUNT(*) AS n FROM catalog_product_entity WHERE sku = ?', ['NEW-SKU-1']))!['n'],
      );
    expect(await count()).toBe(1);
    const map = await env.dynamo.send(
      new GetCommand({ TableName: env.tables.syncTable, Key: { pk: 'key#product#s#prd-8c1e' } }),
    );
    const legacyKey = String(map.Item?.['legacyKey']);
    const back = await env.dynamo.send(
      new GetCommand({ TableName: env.tables.syncTable, Key: { pk: `key#product#l#${legacyKey}` } }),
    );
    expect(back.Item?.['serviceKey']).toBe('prd-8c1e');
    const eav = (
      await env.db.query<RowDataPacket[]>(
        `SELECT (SELECT value FROM catalog_product_entity_varchar WHERE entity_id = e.entity_id AND attribute_id = ? AND store_id = 0) AS name,
              (SELECT value FROM catalog_product_entity_decimal WHERE entity_id = e.entity_id AND attribute_id = ? AND store_id = 0) AS price,
              (SELECT value FROM catalog_product_entity_int WHERE entity_id = e.entity_id AND attribute_id = ? AND store_id = 0) AS status,
              e.attribute_set_id, e.type_id
         FROM catalog_product_entity e WHERE e.entity_id = ?`,
        [await attr('name'), await attr('price'), await attr('status'), legacyKey],
      )
    )[0][0];
    expect(eav).toMatchObject({
      name: 'Service-born',
      price: '5.500000',
      status: 1,
      attribute_set_id: 4,
      type_id: 'simple',
    });

    // A crash after the insert but before the key map was stored: the retry finds the row.
    await env.dynamo.send(
      new DeleteCommand({ TableName: env.tables.syncTable, Key: { pk: 'key#product#s#prd-8c1e' } }),
    );
    await env.dynamo.send(
      new DeleteCommand({ TableName: env.tables.syncTable, Key: { pk: `key#product#l#${legacyKey}` } }),
    );
    await env.dynamo.send(
      new DeleteCommand({ TableName: env.tables.syncTable, Key: { pk: 'state#product#prd-8c1e' } }),
    );
    await ok(reverse, created);
    expect(await count()).toBe(1);
    const again = await env.dynamo.send(
      new GetCommand({ TableName: env.tables.syncTable, Key: { pk: 'key#product#s#prd-8c1e' } }),
    );
    expect(again.Item?.['legacyKey']).toBe(legacyKey);
    // A later service change of that product goes to the same row.
    await ok(reverse, await serviceChange(env, 'product', 'prd-8c1e', { name: 'Renamed' }));
    expect(await count()).toBe(1);
    expect(
      (await row(
        'SELECT value FROM catalog_product_entity_varchar WHERE entity_id = ? AND attribute_id = ? AND store_id = 0',
        [legacyKey, await attr('name')],
      ))!['value'],
    ).toBe('Renamed');
  });
});
