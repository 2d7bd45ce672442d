/**
 * The poller polling continuously within one invocation (lambdas/domain/poller-loop.ts) through
 * the legacy-poller handler, on real MariaDB and DynamoDB Local: an UPDATE committed after the
 * invocation started is published within about one interval; the invocation stops a safety
 * margin before its deadline; a publish that fails mid-loop never lets the watermark pass the
 * unpublished row; two overlapping invocations hand over without publishing anything twice.
 */
import '../support/quiet-powertools.js';
import { randomUUID } from 'node:crypto';
import type { ResultSetHeader } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoPollerLease } from '../../lambdas/adapters/dynamodb-lease.js';
import { DynamoSyncStateStore } from '../../lambdas/adapters/dynamodb-sync-state.js';
import type { ChangeEvent } from '../../lambdas/domain/events.js';
import { pollerTiming } from '../../lambdas/domain/poller-loop.js';
import type { PollerEvent } from '../../lambdas/handlers/legacy-poller.js';
import { configureRuntime } from '../../lambdas/handlers/runtime.js';
import { invokePoller } from '../support/poller.js';
import {
  entitySpec,
  insertLegacyCustomer,
  magentoForPolling,
  nextSecond,
  pollNow,
  type SyncEnv,
  setupSyncEnv,
  TEST_CIPHER,
} from '../support/sync-env.js';

const timing = pollerTiming(magentoForPolling().sync);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Function: legacy-poller (continuous)', () => {
  let env: SyncEnv;
  beforeAll(async () => {
    env = await setupSyncEnv('poller-loop', { spec: magentoForPolling() });
  });
  afterAll(async () => {
    await env?.close();
  });

  /** One invocation with a real deadline `remainingMs` from now. */
  function invoke(event: PollerEvent, remainingMs: number) {
    const startedAt = Date.now();
    const done = invokePoller(event, remainingMs).then((response) => ({ response, finishedAt: Date.now() }));
    return { startedAt, deadline: startedAt + remainingMs, done };
  }

  const insertCustomer = (last: string) => insertLegacyCustomer(env, 'Poll', last);

  /** Updates a customer (Magento's own change: ON UPDATE moves updated_at); returns when it committed. */
  async function updateCustomer(id: string, last: string): Promise<number> {
    await env.db.query('UPDATE customer_entity SET lastname = ? WHERE entity_id = ?', [last, id]);
    return Date.now();
  }

  /** The customer events published so far, with when. */
  const published = () =>
    env.publisher.log
      .map((l) => ({ at: l.at, event: JSON.parse(l.entry.Detail) as ChangeEvent }))
      .filter((p) => p.event.entity === 'customer');

  async function waitFor<T>(what: string, f: () => T | undefined, ms = 8000): Promise<T> {
    const until = Date.now() + ms;
    for (;;) {
      const v = f();
      if (v !== undefined) return v;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  /** A watermark past every existing row, before each scenario. */
  async function settle(): Promise<void> {
    await nextSecond();
    await pollNow(['customer']);
    env.publisher.take();
  }

  it('publishes an UPDATE committed after the invocation started within about one interval, and stops before its deadline', async () => {
    const id = await insertCustomer('Before');
    await settle();
    const run = invoke({ continuous: true, entities: ['customer'] }, timing.safetyMs + 6000);
    await sleep(1500);
    const committedAt = await updateCustomer(id, 'After');
    const seen = await waitFor('the update', () =>
      published().find((p) => p.event.key === id && p.event.data['lastName'] === 'After'),
    );
    const { response, finishedAt } = await run.done;

    // Published by this invocation, which was still polling: the second Magento's updated_at is
    // in (at most 1 s) plus one interval, with room for a loaded machine.
    expect(seen.at).toBeLessThan(finishedAt);
    expect(seen.at - committedAt).toBeLessThanOrEqual(1000 + timing.intervalMs + 1000);
    // It polled every interval and stopped a safety margin before its deadline.
    expect(response.stoppedBy).toBe('deadline');
    expect(response.entities['customer']!.polls).toBeGreaterThanOrEqual(4);
    expect(response.entities['customer']!.published).toBe(1);
    expect(finishedAt).toBeLessThanOrEqual(run.deadline - timing.safetyMs + 1000);
  });

  it('never moves the watermark past an unpublished row: a publish failing mid-loop is retried from the same place', async () => {
    const [a, b] = [await insertCustomer('A0'), await insertCustomer('B0')];
    await settle();
    const state = new DynamoSyncStateStore(env.dynamo, env.tables.syncTable);
    const customer = entitySpec(env, 'customer');
    const run = invoke({ continuous: true, entities: ['customer'] }, timing.safetyMs + 12_000);
    await sleep(1200);
    await updateCustomer(a, 'A1');
    await waitFor('A', () => published().find((p) => p.event.key === a && p.event.data['lastName'] === 'A1'));
    const afterA = await state.getWatermark(customer);
    expect(afterA?.key).toBe(a);

    // The bus fails from now on: B is read at every tick and never published.
    env.publisher.failNext(Number.POSITIVE_INFINITY);
    await updateCustomer(b, 'B1');
    await sleep(2500 + timing.intervalMs);
    expect(published().some((p) => p.event.key === b)).toBe(false);
    expect(await state.getWatermark(customer)).toEqual(afterA);

    // The bus is back: the next tick publishes B from the same place, then moves the watermark.
    env.publisher.failNext(0);
    await waitFor('B', () => published().find((p) => p.event.key === b && p.event.data['lastName'] === 'B1'));
    const { response } = await run.done;
    expect((await state.getWatermark(customer))?.key).toBe(b);
    expect(response.entities['customer']!.failures).toBeGreaterThanOrEqual(2);
    expect(response.entities['customer']).not.toHaveProperty('error');
    expect(published().filter((p) => p.event.key === b)).toHaveLength(1);
  });

  it('two overlapping invocations: the later takes over, only one polls at a time, nothing is published twice or missed', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => insertCustomer(`O${i}`)));
    await settle();
    const first = invoke({ continuous: true, entities: ['customer'] }, timing.safetyMs + 12_000);
    const writes: Promise<number>[] = [];
    const writer = (async () => {
      for (let round = 1; round <= 24; round++) {
        writes.push(updateCustomer(ids[round % ids.length]!, `R${round}`));
        await sleep(250);
      }
    })();
    await sleep(2000);
    const second = invoke({ continuous: true, entities: ['customer'] }, timing.safetyMs + 8000);
    await sleep(3000);
    // A one-pass poll (an operator's) meanwhile finds the lease taken and polls nothing.
    await expect(pollNow(['customer'])).rejects.toThrow(/holds the poller lease/);
    await writer;
    await Promise.all(writes);
    const [a, b] = [await first.done, await second.done];

    const events = published().filter((p) => p.at >= first.startedAt);
    const eventIds = events.map((p) => p.event.eventId);
    expect(new Set(eventIds).size).toBe(eventIds.length);
    expect(a.response.stoppedBy).toBe('handover');
    expect(b.response.stoppedBy).toBe('deadline');
    // The first stopped at its next tick after the second asked it to (one interval), and the
    // second waited no longer than that plus its own retry interval.
    expect(a.finishedAt - second.startedAt).toBeLessThan(2 * timing.intervalMs + 1000);
    expect(b.response.waitedMs).toBeLessThan(3 * timing.intervalMs + 1000);
    expect(a.response.entities['customer']!.published + b.response.entities['customer']!.published).toBe(
      events.length,
    );
    expect(b.response.entities['customer']!.published).toBeGreaterThan(0);
    // Every row's last value reached the bus.
    for (const id of ids) {
      const [[row]] = await env.db.query<import('mysql2').RowDataPacket[]>(
        'SELECT lastname FROM customer_entity WHERE entity_id = ?',
        [id],
      );
      const last = events.filter((p) => p.event.key === id).at(-1);
      expect(last?.event.data['lastName']).toBe(row!['lastname']);
    }
  });

  it('compares the snapshot of a strong entity (stock) at every interval, of an eventual one (product EAV) every pollerSnapshotIntervalSeconds', async () => {
    const spec = magentoForPolling();
    const slower = { ...spec, sync: { ...spec.sync, pollerSnapshotIntervalSeconds: 4 } };
    await configureRuntime({ cipher: TEST_CIPHER, publisher: env.publisher, spec: slower });
    try {
      const [p] = await env.db.query<ResultSetHeader>(
        "INSERT INTO catalog_product_entity (attribute_set_id, type_id, sku, updated_at) VALUES (4, 'simple', ?, NOW() - INTERVAL 60 SECOND)",
        [`SNAP-${randomUUID().slice(0, 8)}`],
      );
      const id = String(p.insertId);
      const [[price]] = await env.db.query<import('mysql2').RowDataPacket[]>(
        "SELECT attribute_id FROM eav_attribute WHERE entity_type_id = 4 AND attribute_code = 'price'",
      );
      await env.db.query(
        'INSERT INTO catalog_product_entity_decimal (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, 10)',
        [price!['attribute_id'], id],
      );
      await env.db.query(
        'INSERT INTO cataloginventory_stock_item (product_id, stock_id, website_id, qty, is_in_stock) VALUES (?, 1, 0, 5, 1)',
        [id],
      );
      await nextSecond();
      await pollNow(['product', 'stock']); // baselines of both snapshots
      const run = invoke({ continuous: true, entities: ['product', 'stock'] }, timing.safetyMs + 7000);
      await sleep(1200); // after the first tick, which compared both
      await env.db.query(
        'UPDATE catalog_product_entity_decimal SET value = 11 WHERE entity_id = ? AND attribute_id = ?',
        [id, price!['attribute_id']],
      );
      await env.db.query('UPDATE cataloginventory_stock_item SET qty = 6 WHERE product_id = ?', [id]);
      const changedAt = Date.now();
      const of = (entity: string) =>
        env.publisher.log
          .filter((l) => l.at >= run.startedAt)
          .map((l) => ({ at: l.at, event: JSON.parse(l.entry.Detail) as ChangeEvent }))
          .find((x) => x.event.entity === entity && x.event.key === id);
      const stock = await waitFor('stock', () => of('stock'));
      const product = await waitFor('product', () => of('product'));
      await run.done;
      expect(stock.event.data['qty']).toBe('6.0000');
      expect(product.event.data['price']).toBe('11.000000');
      // stock: the next tick (one interval, with room for a loaded machine); product: not before
      // its next comparison, 4 s after the first (a loaded machine only delays it).
      expect(stock.at - changedAt).toBeLessThanOrEqual(timing.intervalMs + 2000);
      expect(product.at - run.startedAt).toBeGreaterThanOrEqual(4000);
      expect(product.at - run.startedAt).toBeLessThan(4000 + timing.intervalMs + 3000);
      expect(product.at).toBeGreaterThan(stock.at);
    } finally {
      await configureRuntime({ cipher: TEST_CIPHER, publisher: env.publisher, spec });
    }
  });

  it('the lease: a holder that stopped renewing is replaced once it ran out, and then can neither renew nor release it', async () => {
    const lease = new DynamoPollerLease(env.dynamo, env.tables.syncTable, `poller#test-${randomUUID()}`);
    const t0 = Date.now();
    expect((await lease.acquire('a', t0, 10_000)).held).toBe(true);
    expect(await lease.acquire('b', t0 + 1000, 10_000)).toMatchObject({ held: false, holder: 'a' });
    await lease.requestHandover('b', t0 + 1000);
    expect(await lease.acquire('a', t0 + 2000, 10_000)).toMatchObject({
      held: true,
      handoverRequested: true,
    });
    // `a` stops renewing; at t0 + 2000 + 10,000 its lease has run out and `b` takes it.
    expect((await lease.acquire('b', t0 + 12_001, 10_000)).held).toBe(true);
    expect((await lease.acquire('a', t0 + 12_002, 10_000)).held).toBe(false);
    await lease.release('a');
    expect(await lease.acquire('b', t0 + 13_000, 10_000)).toMatchObject({
      held: true,
      handoverRequested: false,
    });
    await lease.release('b');
    expect((await lease.acquire('c', t0 + 13_001, 10_000)).held).toBe(true);
  });

  it('the lease: a handover request goes with the release it caused; the next holders are not asked by it', async () => {
    const lease = new DynamoPollerLease(env.dynamo, env.tables.syncTable, `poller#test-${randomUUID()}`);
    const t0 = Date.now();
    expect((await lease.acquire('a', t0, 10_000)).held).toBe(true);
    await lease.requestHandover('b', t0 + 100);
    expect((await lease.acquire('a', t0 + 1000, 10_000)).handoverRequested).toBe(true);
    await lease.release('a');
    expect(await lease.acquire('b', t0 + 1100, 10_000)).toMatchObject({
      held: true,
      handoverRequested: false,
    });
    await lease.release('b');
    // A request after the release (a candidate that lost the race) asks nobody.
    await lease.requestHandover('x', t0 + 1200);
    expect(await lease.acquire('c', t0 + 1300, 10_000)).toMatchObject({
      held: true,
      handoverRequested: false,
    });
    expect(await lease.acquire('c', t0 + 2300, 10_000)).toMatchObject({
      held: true,
      handoverRequested: false,
    });
  });
});
