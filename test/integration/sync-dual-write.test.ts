import '../support/quiet-powertools.js';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { handler as poller } from '../../lambdas/handlers/legacy-poller.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import { captureBatch } from '../../lambdas/handlers/service-capture.js';
import {
  capturedEntries,
  fakeContext,
  getItem,
  invokeSqs,
  magentoForPolling,
  nextSecond,
  type SyncEnv,
  serviceWrite,
  setupSyncEnv,
  splitByOrigin,
  sqsEvent,
  streamRecord,
} from '../support/sync-env.js';

// The seed's validate-dual-write scenario, end to end through the handlers.
describe('Function: sync (validate dual write)', () => {
  let env: SyncEnv;
  beforeAll(async () => {
    env = await setupSyncEnv('dual-write', { spec: magentoForPolling() });
  });
  afterAll(async () => {
    await env?.close();
  });

  const poll = async () =>
    (poller as unknown as (e: unknown, c: unknown) => Promise<unknown>)(
      { entities: ['customer'] },
      fakeContext,
    );

  it('a customer created on the service side appears in customer_entity, once, with its key mapped', async () => {
    // Prepare: the Customer Service creates a customer (its own key, not a Magento id).
    const change = await serviceWrite(env, 'customer', 'cus-7f3a9c', {
      email: 'ada.lovelace@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      websiteId: 1,
      groupId: 1,
      isActive: 1,
    });
    // Act: the pipe captures the stream record; reverse sync applies it; SQS redelivers it.
    const captured = await captureBatch([streamRecord(env, 'customer', change)]);
    expect(captured).toHaveLength(1);
    const sqs = sqsEvent(capturedEntries(captured));
    expect((await invokeSqs(reverse, sqs)).failedIndexes).toEqual([]);
    expect((await invokeSqs(reverse, sqs)).failedIndexes).toEqual([]);
    // Assess: one Magento row, the mapping, and no echo back to the service.
    const [rows] = await env.db.query<RowDataPacket[]>(
      'SELECT entity_id, email, firstname, lastname, website_id, store_id, group_id FROM customer_entity WHERE email = ?',
      ['ada.lovelace@example.com'],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      firstname: 'Ada',
      lastname: 'Lovelace',
      website_id: 1,
      store_id: 1,
      group_id: 1,
    });
    const legacyKey = String(rows[0]!['entity_id']);
    const map = await env.dynamo.send(
      new (await import('@aws-sdk/lib-dynamodb')).GetCommand({
        TableName: env.tables.syncTable,
        Key: { pk: `key#customer#s#cus-7f3a9c` },
      }),
    );
    expect(map.Item?.['legacyKey']).toBe(legacyKey);
    expect(env.publisher.take()).toEqual([]);

    // The poller sees the new row (it has its own updated_at) and the forward sync stops it.
    await nextSecond();
    await poll();
    const { forward: echoes } = splitByOrigin(env.publisher.take());
    expect(echoes.length).toBeGreaterThan(0);
    const before = await getItem(env, 'customer', 'cus-7f3a9c');
    expect((await invokeSqs(forward, sqsEvent(echoes))).failedIndexes).toEqual([]);
    const after = await getItem(env, 'customer', 'cus-7f3a9c');
    expect(after?.['version']).toBe(before?.['version']);
    expect(env.publisher.take()).toEqual([]);
  });

  it('a service-born customer whose email Magento already has fails alone, without a second row', async () => {
    await env.db.query(
      `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname)
       VALUES (1, 'taken@example.com', 1, 1, 'Existing', 'Customer')`,
    );
    const change = await serviceWrite(env, 'customer', 'cus-dup-email', {
      email: 'taken@example.com',
      firstName: 'Second',
      lastName: 'Claimant',
      websiteId: 1,
      groupId: 1,
      isActive: 1,
    });
    const captured = capturedEntries(await captureBatch([streamRecord(env, 'customer', change)]));
    const other = await serviceWrite(env, 'customer', 'cus-fine', {
      email: 'fine@example.com',
      websiteId: 1,
      groupId: 1,
      isActive: 1,
    });
    const fine = capturedEntries(await captureBatch([streamRecord(env, 'customer', other)]));
    const res = await invokeSqs(reverse, sqsEvent([...captured, ...fine]));
    expect(res.failedIndexes).toEqual([0]);
    const [rows] = await env.db.query<RowDataPacket[]>(
      'SELECT firstname FROM customer_entity WHERE email = ?',
      ['taken@example.com'],
    );
    expect(rows.map((r) => r['firstname'])).toEqual(['Existing']);
    const [ok] = await env.db.query<RowDataPacket[]>('SELECT 1 FROM customer_entity WHERE email = ?', [
      'fine@example.com',
    ]);
    expect(ok).toHaveLength(1);
  });

  it('the poller advances its watermark only after the publish succeeded', async () => {
    await nextSecond();
    await poll();
    env.publisher.take();
    const [ins] = await env.db.query<import('mysql2').ResultSetHeader>(
      `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname)
       VALUES (1, 'late.publish@example.com', 1, 1, 'Late', 'Publish')`,
    );
    await nextSecond();
    env.publisher.failNext(1);
    await expect(poll()).rejects.toThrow(/injected/);
    expect(env.publisher.take()).toEqual([]);
    await poll();
    expect(env.publisher.take().map((e) => JSON.parse(e.Detail).key)).toEqual([String(ins.insertId)]);
  });

  it('an email updated in Magento reaches the service table', async () => {
    // Prepare: a Magento customer, synced once to the service.
    const [ins] = await env.db.query<import('mysql2').ResultSetHeader>(
      `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, is_active)
       VALUES (1, 'grace@example.com', 1, 1, 'Grace', 'Hopper', 1)`,
    );
    const id = String(ins.insertId);
    await nextSecond();
    await poll();
    expect(
      (await invokeSqs(forward, sqsEvent(splitByOrigin(env.publisher.take()).forward))).failedIndexes,
    ).toEqual([]);
    expect(await getItem(env, 'customer', id)).toMatchObject({
      email: 'grace@example.com',
      firstName: 'Grace',
    });

    // Act: Magento changes the email (its own change: ON UPDATE moves updated_at).
    await env.db.query('UPDATE customer_entity SET email = ? WHERE entity_id = ?', [
      'grace.hopper@example.com',
      id,
    ]);
    await nextSecond();
    await poll();
    const { forward: changes } = splitByOrigin(env.publisher.take());
    expect(changes.map((c) => JSON.parse(c.Detail).key)).toContain(id);
    expect((await invokeSqs(forward, sqsEvent(changes))).failedIndexes).toEqual([]);

    // Assess
    const item = await getItem(env, 'customer', id);
    expect(item).toMatchObject({ email: 'grace.hopper@example.com', _writer: 'cutover-sync' });
    expect(item?.['_syncedVersion']).toBe(item?.['version']);
    // The sync's write is recognised by the capture and goes no further.
    expect(
      await captureBatch([streamRecord(env, 'customer', { before: { ...item, version: 1 }, after: item! })]),
    ).toEqual([]);
  });
});
