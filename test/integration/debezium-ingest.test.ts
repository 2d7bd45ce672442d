import '../support/quiet-powertools.js';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as debeziumIngest } from '../../lambdas/handlers/debezium-ingest.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import {
  DEBEZIUM_TOMBSTONE_BODY,
  type DebeziumChange,
  type DebeziumOptions,
  debeziumBody,
  type MysqlTable,
  withCustomerTemporalFields,
} from '../support/debezium.js';
import {
  entitySpec,
  getItem,
  invokeSqs,
  magentoForPolling,
  type SyncEnv,
  seedFromLegacy,
  setupSyncEnv,
  sqsEvent,
} from '../support/sync-env.js';

describe('Function: debezium-ingest (Debezium Server events from the real database, through the forward sync)', () => {
  let env: SyncEnv;
  beforeAll(async () => {
    env = await setupSyncEnv('debezium', { spec: withCustomerTemporalFields(magentoForPolling()) });
    // A DATETIME(6), as Magento extensions declare: the connector sends it as MicroTimestamp.
    await env.db.query('ALTER TABLE customer_entity MODIFY rp_token_created_at datetime(6) DEFAULT NULL');
  });
  afterAll(async () => {
    await env?.close();
  });

  const ingest = async (bodies: string[]) =>
    (await invokeSqs(debeziumIngest, sqsEvent(bodies))).failedIndexes;
  const ok = async (handler: unknown, entries: Parameters<typeof sqsEvent>[0]) =>
    expect((await invokeSqs(handler, sqsEvent(entries))).failedIndexes).toEqual([]);

  /** The table's columns as the live database declares them (what the connector reads). */
  async function table(name: string): Promise<MysqlTable> {
    const [cols] = await env.db.query<RowDataPacket[]>(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable FROM information_schema.COLUMNS
       WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [name],
    );
    return {
      db: 'magento',
      table: name,
      columns: cols.map((c) => ({ name: c['name'], type: c['type'], nullable: c['nullable'] === 'YES' })),
    };
  }
  /** A row as the binlog has it: DECIMALs as text, DATETIME/TIMESTAMP with their microseconds (UTC). */
  async function row(sql: string, params: unknown[]): Promise<Record<string, unknown>> {
    const [rows] = await env.db.query<RowDataPacket[]>({ sql, dateStrings: true }, params);
    return { ...rows[0]! };
  }
  /** The SQS body Debezium Server sends for a change of `name` (schemas on: the default). */
  async function body(name: string, change: Omit<DebeziumChange, 'tsMs'>, options?: DebeziumOptions) {
    return debeziumBody(await table(name), { ...change, tsMs: Date.now() }, options);
  }
  const attr = async (code: string) =>
    (
      await row('SELECT attribute_id FROM eav_attribute WHERE entity_type_id = 4 AND attribute_code = ?', [
        code,
      ])
    )['attribute_id'] as number;

  async function customer(): Promise<string> {
    const [r] = await env.db.query<ResultSetHeader>(
      `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, is_active,
         rp_token_created_at, first_failure, dob, updated_at)
       VALUES (1, ?, 1, 1, 'Dee', 'Bezium', 1, '2026-05-04 03:02:01.654321', '2026-05-04 03:02:00', '1990-02-03',
         NOW() - INTERVAL 60 SECOND)`,
      [`dbz.${Math.random().toString(36).slice(2, 8)}@example.com`],
    );
    const id = String(r.insertId);
    await seedFromLegacy(env, 'customer', id);
    return id;
  }

  it('a Magento delete and the tombstone after it: the delete reaches the service, the tombstone is skipped', async () => {
    const id = await customer();
    expect(await getItem(env, 'customer', id)).toBeDefined();
    const before = await row('SELECT * FROM customer_entity WHERE entity_id = ?', [id]);
    await env.db.query('DELETE FROM customer_entity WHERE entity_id = ?', [id]);

    const failed = await ingest([
      await body('customer_entity', { op: 'd', before, after: null }),
      DEBEZIUM_TOMBSTONE_BODY,
    ]);
    expect(failed).toEqual([]);
    const published = env.publisher.take();
    expect(published.map((e) => JSON.parse(e.Detail))).toMatchObject([{ op: 'delete', key: id }]);
    await ok(forward, published);
    expect(await getItem(env, 'customer', id)).toBeUndefined();
  });

  it('precise decimals (the default decimal.handling.mode) reach the service exactly: a large price, a negative total', async () => {
    const [p] = await env.db.query<ResultSetHeader>(
      "INSERT INTO catalog_product_entity (attribute_set_id, type_id, sku, updated_at) VALUES (4, 'simple', 'DBZ-1', NOW() - INTERVAL 60 SECOND)",
    );
    const productId = String(p.insertId);
    const price = await attr('price');
    await env.db.query(
      'INSERT INTO catalog_product_entity_decimal (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, 10)',
      [price, productId],
    );
    await seedFromLegacy(env, 'product', productId);
    const priceRow =
      'SELECT * FROM catalog_product_entity_decimal WHERE entity_id = ? AND attribute_id = ? AND store_id = 0';
    const priceBefore = await row(priceRow, [productId, price]);
    // decimal(20,6) at full width: beyond a double's precision.
    await env.db.query(
      'UPDATE catalog_product_entity_decimal SET value = 12345678901234.123457 WHERE value_id = ?',
      [priceBefore['value_id']],
    );
    const priceAfter = await row(priceRow, [productId, price]);
    expect(priceAfter['value']).toBe('12345678901234.123457');

    const [o] = await env.db.query<ResultSetHeader>(
      "INSERT INTO sales_order (state, status, increment_id, grand_total, updated_at) VALUES ('new', 'pending', 'DBZ-100', 10, NOW() - INTERVAL 60 SECOND)",
    );
    const orderId = String(o.insertId);
    await seedFromLegacy(env, 'order', orderId);
    const orderBefore = await row('SELECT * FROM sales_order WHERE entity_id = ?', [orderId]);
    await env.db.query('UPDATE sales_order SET grand_total = -1234567890123456.7891 WHERE entity_id = ?', [
      orderId,
    ]);
    const orderAfter = await row('SELECT * FROM sales_order WHERE entity_id = ?', [orderId]);

    const priceChange = { op: 'u', before: priceBefore, after: priceAfter } as const;
    const failed = await ingest([
      await body('catalog_product_entity_decimal', priceChange),
      await body('sales_order', { op: 'u', before: orderBefore, after: orderAfter }),
      // Without the schema a precise decimal cannot be decoded: refused alone, with the reason.
      await body('catalog_product_entity_decimal', priceChange, { schemas: false }),
    ]);
    expect(failed).toEqual([2]);
    const published = env.publisher.take();
    expect(published.map((e) => JSON.parse(e.Detail).data)).toEqual([
      { price: '12345678901234.123457' },
      { grandTotal: '-1234567890123456.7891' },
    ]);
    await ok(forward, published);
    expect((await getItem(env, 'product', productId))?.['price']).toBe('12345678901234.123457');
    expect((await getItem(env, 'order', orderId))?.['grandTotal']).toBe('-1234567890123456.7891');
  });

  it('a DATETIME(6) (MicroTimestamp), TIMESTAMP (ZonedTimestamp) and DATE reach the service as the poller reads them', async () => {
    const id = await customer();
    const before = await row('SELECT * FROM customer_entity WHERE entity_id = ?', [id]);
    await env.db.query(
      `UPDATE customer_entity SET rp_token_created_at = '2026-05-04 03:02:09.987654',
         first_failure = '2026-05-04 03:02:08', dob = '1990-02-04' WHERE entity_id = ?`,
      [id],
    );
    const after = await row('SELECT * FROM customer_entity WHERE entity_id = ?', [id]);
    expect(after['rp_token_created_at']).toBe('2026-05-04 03:02:09.987654');

    expect(await ingest([await body('customer_entity', { op: 'u', before, after })])).toEqual([]);
    const published = env.publisher.take();
    const expected = {
      rpTokenCreatedAt: '2026-05-04T03:02:09.987Z',
      firstFailure: '2026-05-04T03:02:08.000Z',
      dob: '1990-02-04',
    };
    expect(published.map((e) => JSON.parse(e.Detail).data)).toEqual([expected]);
    // The same values the MySQL adapter (the poller, the consistency check) reads.
    const legacy = await env.legacy.read(entitySpec(env, 'customer'), id);
    expect(legacy.exists && legacy.data).toMatchObject(expected);
    await ok(forward, published);
    expect(await getItem(env, 'customer', id)).toMatchObject(expected);
  });
});
