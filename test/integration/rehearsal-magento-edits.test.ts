/**
 * The rehearsal of the services whose Magento data is not one flat row: the catalog (a product's
 * name, price and status in EAV value tables, its stock in cataloginventory_stock_item) and the
 * order service (orders pointing at customers of the service rolled out before it, coupons with a
 * counter both sides move). Bounded: a dozen rows per entity, two
 * seconds of edits, template durations scaled down 1000x.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoSyncStateStore } from '../../lambdas/adapters/dynamodb-sync-state.js';
import { buildApp } from '../../lib/app.js';
import { type AssemblyModel, readAssembly, withGateThreshold } from '../../lib/rehearse/assembly.js';
import { type RehearsalOptions, type RehearsalReport, rehearse } from '../../lib/rehearse/rehearsal.js';
import { entityByName } from '../../lib/spec/lookup.js';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import magento from '../../migrations/magento.js';
import { ROLLOUT_SUCCEEDED, rolloutOutcomes } from '../support/rehearsal-phases.js';

let dir: string;
let model: AssemblyModel;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cutover-rehearsal-edits-'));
  const built = buildApp({ env: 'dev', outdir: dir, context: { 'aws:cdk:bundling-stacks': [] }, nag: false });
  model = readAssembly(built.app.synth().directory);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(service: string, extra: Partial<RehearsalOptions> = {}): Promise<RehearsalReport> {
  return rehearse({
    model,
    spec: magento,
    service,
    env: 'dev',
    mysqlServerUrl: inject('mysqlUrl'),
    dynamoEndpoint: inject('dynamoEndpoint'),
    datasetRows: 12,
    rate: 20,
    durationMs: 2000,
    timeScale: 1000,
    drainTimeoutMs: 20_000,
    functionLog: process.env['RH_LOG'] ? (l) => appendFileSync(process.env['RH_LOG']!, `${l}\n`) : () => {},
    ...extra,
  });
}

function explain(report: RehearsalReport): string {
  return JSON.stringify({ phases: report.phases, edits: report.edits, divergence: report.divergence });
}

describe('rehearsal: Magento admin edits beyond one flat row', () => {
  it('catalog: EAV prices and names, stock quantities, same-second edits; both sides end equal', async () => {
    const report = await run('catalog');
    expect(
      report.phases.map((p) => [p.name, p.outcome]),
      explain(report),
    ).toEqual([
      ['setup', 'succeeded'],
      ['backfill', 'succeeded'],
      ['traffic', 'succeeded'],
      ['drain', 'succeeded'],
      ['verify', 'succeeded'],
    ]);
    expect(report.entities.traffic).toEqual(['product', 'stock']);
    expect(report.phases.find((p) => p.name === 'backfill')!.detail).toBe(
      '12 product, 12 stock rows in the service tables',
    );
    // The admin's edits: a price set in catalog_product_entity_decimal at store 0, a name in
    // catalog_product_entity_varchar, a quantity in cataloginventory_stock_item; each offered
    // and seen arriving in the service. The service never sets the price (policy admin).
    for (const kind of ['magento product.price', 'magento product.name', 'magento stock.qty']) {
      expect(report.edits[kind]?.offered, `${kind}: ${explain(report)}`).toBeGreaterThan(0);
      expect(report.edits[kind]?.applied, `${kind}: ${explain(report)}`).toBeGreaterThan(0);
    }
    expect(report.edits['service stock.qty']?.offered).toBeGreaterThan(0);
    expect(report.edits['service product.name']?.offered).toBeGreaterThan(0);
    expect(report.edits).not.toHaveProperty(['service product.price']);
    expect(report.lag.byDirection['forward']!.samples).toBeGreaterThan(0);
    expect(report.events.unmatched).toBe(0);
    expect(report.divergence.rows).toBe(0);
    expect(report.divergence.parked).toBe(0);
    expect(report.ok).toBe(true);
  }, 180_000);

  it('order: orders edited on both sides arrive with their values, their customer translated both ways; coupons used on both sides add up', async () => {
    const runId = `ord${Date.now().toString(36).slice(-5)}`;
    // 80 edits over 14 kinds: each kind made on each side.
    const report = await run('order', { runId, rate: 40 });
    expect(report.entities.traffic, explain(report)).toEqual(['order', 'coupon']);
    expect(report.entities.skipped).toEqual([]);
    // Orders: each side's edits (state, status, increment id, grand total; policy service-wins)
    // offered, and their values seen arriving on the other side.
    const sum = (side: string, what: 'offered' | 'applied') =>
      Object.entries(report.edits)
        .filter(([k]) => k.startsWith(`${side} order.`))
        .reduce((n, [, v]) => n + (v[what] ?? 0), 0);
    for (const side of ['magento', 'service']) {
      expect(sum(side, 'offered'), `${side}: ${explain(report)}`).toBeGreaterThan(0);
      expect(sum(side, 'applied'), `${side}: ${explain(report)}`).toBeGreaterThan(0);
    }
    // Orders moved to another customer on each side, by that side's key of it (no token to
    // follow: the end state below shows where they went).
    for (const side of ['magento', 'service']) {
      expect(report.edits[`${side} order.customerId`]?.offered, explain(report)).toBeGreaterThan(0);
      expect(report.edits[`${side} order.customerId`]?.applied).toBeNull();
    }
    // Two coupons per statement: an even number of rows changed.
    const magentoCoupons = report.edits['magento coupon.timesUsed'];
    expect(magentoCoupons?.offered, explain(report)).toBeGreaterThan(0);
    expect(magentoCoupons!.offered % 2).toBe(0);
    expect(magentoCoupons!.applied).toBeNull();
    expect(report.edits['service coupon.timesUsed']?.offered).toBeGreaterThan(0);
    expect(report.divergence.rows, explain(report)).toBe(0);
    expect(report.ok, explain(report)).toBe(true);

    // The customer reference on each side, after both sides moved orders between customers:
    // Magento's customer_id is the customer's entity_id, the service's customerId the customer's
    // service key (the key map's), never the same value. A wrong translation either way leaves a
    // service key in Magento (refused: customer_id is an integer FK) or a legacy id in the service.
    const conn = await mysql.createConnection({ uri: inject('mysqlUrl') });
    const raw = new DynamoDBClient({
      endpoint: inject('dynamoEndpoint'),
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      const [orders] = await conn.query<RowDataPacket[]>(
        `SELECT entity_id, customer_id FROM \`cutover_rehearsal_${runId}\`.sales_order ORDER BY entity_id`,
      );
      const [customers] = await conn.query<RowDataPacket[]>(
        `SELECT entity_id FROM \`cutover_rehearsal_${runId}\`.customer_entity`,
      );
      const customerIds = new Set(customers.map((c) => String(c['entity_id'])));
      expect(orders.length).toBe(12);
      const env = Object.values(model.functions).find(
        (f) => f.stack === 'cutover-dev-magento-order' && f.environment[RUNTIME_ENV.serviceTables],
      )!.environment;
      const orderTable = (JSON.parse(env[RUNTIME_ENV.serviceTables]!) as Record<string, string>)['order']!;
      const doc = DynamoDBDocumentClient.from(raw);
      const items = (
        await doc.send(new ScanCommand({ TableName: `rh-${runId}-${orderTable}`, ConsistentRead: true }))
      ).Items!;
      const state = new DynamoSyncStateStore(doc, `rh-${runId}-${env[RUNTIME_ENV.syncTable]!}`);
      const customer = entityByName(magento, 'customer').entity;
      const byId = new Map(items.map((i) => [String(i['orderId']), i]));
      for (const o of orders) {
        const legacyCustomer = String(o['customer_id']);
        expect(customerIds.has(legacyCustomer)).toBe(true);
        const item = byId.get(String(o['entity_id']));
        expect(item, `order ${o['entity_id']} in the service`).toBeDefined();
        const serviceCustomer = await state.serviceKeyOf(customer, legacyCustomer);
        expect(serviceCustomer).toMatch(/^[0-9a-f-]{36}$/);
        expect(item!['customerId']).toBe(serviceCustomer);
        expect(await state.legacyKeyOf(customer, String(item!['customerId']))).toBe(legacyCustomer);
      }
    } finally {
      await conn.end();
      raw.destroy();
    }
  }, 180_000);

  it('catalog --rollout: the customer service before it is taken as rolled out, so its rollout starts and users write EAV names through the gateway', async () => {
    // Latency checks raised as in rehearsal-rollout.test.ts (a loaded machine's p95 is not the
    // system's); this test is about the rollout starting after its predecessor.
    const report = await run('catalog', {
      model: withGateThreshold(model, ['p95LatencyMs', 'addedWriteLatencyMs'], 10_000),
      rollout: true,
      rate: 10,
      durationMs: 3000,
      gatewayRate: 80,
      minBakeMs: 1500,
    });
    expect(rolloutOutcomes(report), explain(report)).toEqual(ROLLOUT_SUCCEEDED);
    expect(report.gateway.requests).toBeGreaterThan(0);
    expect(report.divergence.rows).toBe(0);
    expect(report.ok).toBe(true);
  }, 240_000);
});
