import '../support/quiet-powertools.js';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type ConsistencyCheckResponse,
  handler as consistencyCheck,
} from '../../lambdas/handlers/consistency-check.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { logger } from '../../lambdas/handlers/powertools.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import {
  fakeContext,
  getItem,
  invokeSqs,
  legacyEvent,
  type SyncEnv,
  serviceChange,
  setupSyncEnv,
  sqsEvent,
} from '../support/sync-env.js';

// References between entities (migrations/magento.ts): stock is keyed by its product, an order
// points at its customer, a coupon belongs to a Magento rule. Records created in the services,
// applied to the Magento schema (lib/local/magento-fixture.sql: real NOT NULL columns and
// foreign keys) through the handlers.
describe('Function: sync (references between entities)', () => {
  let env: SyncEnv;
  beforeAll(async () => {
    env = await setupSyncEnv('references');
  });
  afterAll(async () => {
    await env?.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Delivers entries to the reverse sync; returns the failed indexes and the logged reasons. */
  async function reverseSync(entries: Parameters<typeof sqsEvent>[0]) {
    const warn = vi.spyOn(logger, 'warn');
    const res = await invokeSqs(reverse, sqsEvent(entries));
    const reasons = warn.mock.calls.map((c) => String((c[1] as { reason?: unknown } | undefined)?.reason));
    warn.mockRestore();
    return { failed: res.failedIndexes, reasons };
  }
  const rows = async (sql: string, params: unknown[]) =>
    (await env.db.query<RowDataPacket[]>(sql, params))[0];
  const productId = async (sku: string) =>
    String(
      (await rows('SELECT entity_id FROM catalog_product_entity WHERE sku = ?', [sku]))[0]!['entity_id'],
    );

  it("stock of a product created in the service lands with the product's Magento id, and comes back under the service key", async () => {
    const product = await serviceChange(env, 'product', 'prd-mug-7', {
      sku: 'MUG-007',
      name: 'Mug',
      price: '9.500000',
      status: 1,
    });
    expect((await reverseSync(product)).failed).toEqual([]);
    const entityId = await productId('MUG-007');

    const stock = await serviceChange(env, 'stock', 'prd-mug-7', { qty: '12.0000', isInStock: 1 });
    const res = await reverseSync(stock);
    expect(res).toEqual({ failed: [], reasons: [] });
    const items = await rows(
      'SELECT product_id, stock_id, website_id, qty, is_in_stock FROM cataloginventory_stock_item WHERE product_id = ?',
      [entityId],
    );
    expect(items).toEqual([
      { product_id: Number(entityId), stock_id: 1, website_id: 0, qty: '12.0000', is_in_stock: 1 },
    ]);

    // A change made in Magento reaches the service item of that product, not one under the
    // Magento id.
    await env.db.query(
      'UPDATE cataloginventory_stock_item SET qty = 11 WHERE product_id = ? AND stock_id = 1',
      [entityId],
    );
    const fromMagento = await legacyEvent(env, 'stock', entityId);
    expect((await invokeSqs(forward, sqsEvent([fromMagento]))).failedIndexes).toEqual([]);
    expect((await getItem(env, 'stock', 'prd-mug-7'))?.['qty']).toBe('11.0000');
    expect(await getItem(env, 'stock', entityId)).toBeUndefined();
  });

  it('stock arriving before its product waits (retried, not rejected) and lands once the product has', async () => {
    const stock = await serviceChange(env, 'stock', 'prd-late', { qty: '3.0000', isInStock: 1 });
    const early = await reverseSync(stock);
    expect(early.failed).toEqual([0]);
    expect(early.reasons).toEqual([expect.stringMatching(/^ReferenceNotReadyError: .*product prd-late/)]);
    expect(early.reasons[0]).not.toMatch(/foreign key|ER_/i);

    const product = await serviceChange(env, 'product', 'prd-late', {
      sku: 'LATE-001',
      name: 'Late',
      price: '1.000000',
      status: 1,
    });
    expect((await reverseSync(product)).failed).toEqual([]);
    // SQS redelivers the stock change.
    expect((await reverseSync(stock)).failed).toEqual([]);
    const items = await rows('SELECT qty FROM cataloginventory_stock_item WHERE product_id = ?', [
      await productId('LATE-001'),
    ]);
    expect(items).toEqual([{ qty: '3.0000' }]);
  });

  it("an order of a customer created in the service points at the customer's Magento row, and waits for it", async () => {
    const order = await serviceChange(env, 'order', 'ord-77', {
      state: 'new',
      status: 'pending',
      incrementId: '000000077',
      customerId: 'cus-buyer',
      customerEmail: 'buyer@example.com',
      grandTotal: '19.9000',
    });
    const early = await reverseSync(order);
    expect(early.failed).toEqual([0]);
    expect(early.reasons).toEqual([expect.stringMatching(/^ReferenceNotReadyError: .*customer cus-buyer/)]);

    const customer = await serviceChange(env, 'customer', 'cus-buyer', {
      email: 'buyer@example.com',
      firstName: 'Bea',
      lastName: 'Buyer',
      websiteId: 1,
      groupId: 1,
      isActive: 1,
    });
    expect((await reverseSync(customer)).failed).toEqual([]);
    expect((await reverseSync(order)).failed).toEqual([]);
    const [buyer] = await rows('SELECT entity_id FROM customer_entity WHERE email = ?', [
      'buyer@example.com',
    ]);
    const [placed] = await rows(
      'SELECT entity_id, customer_id, state FROM sales_order WHERE increment_id = ?',
      ['000000077'],
    );
    expect(placed).toMatchObject({ customer_id: buyer!['entity_id'], state: 'new' });

    // Back from Magento, the order names the customer by the service's key.
    await env.db.query("UPDATE sales_order SET status = 'processing' WHERE entity_id = ?", [
      placed!['entity_id'],
    ]);
    const fromMagento = await legacyEvent(env, 'order', String(placed!['entity_id']));
    expect(JSON.parse(fromMagento.Detail).data.customerId).toBe(String(buyer!['entity_id']));
    expect((await invokeSqs(forward, sqsEvent([fromMagento]))).failedIndexes).toEqual([]);
    expect(await getItem(env, 'order', 'ord-77')).toMatchObject({
      customerId: 'cus-buyer',
      status: 'processing',
    });
  });

  it('a coupon created in the service is created under the rule it names; without one it is refused with the reason', async () => {
    const withRule = await serviceChange(env, 'coupon', 'cpn-spring', {
      code: 'SPRING5',
      timesUsed: 0,
      ruleId: 1,
    });
    expect(await reverseSync(withRule)).toEqual({ failed: [], reasons: [] });
    expect(
      await rows('SELECT rule_id, times_used FROM salesrule_coupon WHERE code = ?', ['SPRING5']),
    ).toEqual([{ rule_id: 1, times_used: 0 }]);

    const noRule = await serviceChange(env, 'coupon', 'cpn-orphan', { code: 'ORPHAN', timesUsed: 0 });
    const refused = await reverseSync(noRule);
    expect(refused.failed).toEqual([0]);
    expect(refused.reasons).toEqual([
      expect.stringMatching(/^CreateRefusedError: coupon cpn-orphan: .*ruleId.*cart price rule/),
    ]);
    expect(refused.reasons[0]).not.toMatch(/ER_|doesn't have a default/);

    const unknownRule = await serviceChange(env, 'coupon', 'cpn-ghost', {
      code: 'GHOST',
      timesUsed: 0,
      ruleId: 999,
    });
    const rejected = await reverseSync(unknownRule);
    expect(rejected.failed).toEqual([0]);
    expect(rejected.reasons).toEqual([
      expect.stringMatching(/^LegacyReferenceError: coupon: Magento has no salesrule row with rule_id = 999/),
    ]);
    expect(await rows('SELECT code FROM salesrule_coupon WHERE code IN (?)', [['ORPHAN', 'GHOST']])).toEqual(
      [],
    );
  });

  it('the consistency check places stock by the product key map and compares the order customer as the same record', async () => {
    // Runs after the tests above: stock of two service-born products, an order of a service-born customer.
    const res = await (
      consistencyCheck as unknown as (e: unknown, c: unknown) => Promise<ConsistencyCheckResponse>
    )({ entities: ['stock', 'order'] }, fakeContext);
    expect(res.reports.map((r) => ({ entity: r.entity, mismatches: r.mismatchesTotal }))).toEqual([
      { entity: 'stock', mismatches: 0 },
      { entity: 'order', mismatches: 0 },
    ]);
    expect(res.consistent).toBe(true);
  });
});
