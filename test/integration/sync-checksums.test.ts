/**
 * The chunk checksums on real MariaDB and DynamoDB Local, for the edits a linear checksum (the
 * XOR of per-row CRC32s it replaced) cancels out: the same edit on two rows of a chunk. Each
 * case is one Magento does all the time: two coupons used once each between two polls, two
 * products disabled by one UPDATE. And the upgrade: a poller snapshot stored by the CRC32 version
 * is compared by CRC32 once, not taken for a snapshot of every row changed.
 */
import '../support/quiet-powertools.js';
import { crc32 } from 'node:zlib';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksumOf, rowHash } from '../../lambdas/domain/checksum.js';
import {
  type ConsistencyCheckResponse,
  handler as consistencyCheck,
} from '../../lambdas/handlers/consistency-check.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import {
  fakeContext,
  getItem,
  invokeSqs,
  magentoForPolling,
  pollNow,
  type SyncEnv,
  seedFromLegacy,
  setupSyncEnv,
  splitByOrigin,
  sqsEvent,
} from '../support/sync-env.js';

describe('Function: chunk checksums (edits that cancel in a linear checksum)', () => {
  let env: SyncEnv;
  beforeAll(async () => {
    env = await setupSyncEnv('checksums', { spec: magentoForPolling() });
  });
  afterAll(async () => {
    await env?.close();
  });

  const check = (entities: string[]) =>
    (consistencyCheck as unknown as (e: unknown, c: unknown) => Promise<ConsistencyCheckResponse>)(
      { entities },
      fakeContext,
    );
  const forwardOk = async (entries: Parameters<typeof sqsEvent>[0]) =>
    expect((await invokeSqs(forward, sqsEvent(entries))).failedIndexes).toEqual([]);
  const attr = async (code: string) =>
    Number(
      (
        await env.db.query<RowDataPacket[]>(
          'SELECT attribute_id FROM eav_attribute WHERE entity_type_id = 4 AND attribute_code = ?',
          [code],
        )
      )[0][0]!['attribute_id'],
    );

  it('two coupons used once each between polls (4 -> 5, 6 -> 7): the poll publishes both deltas', async () => {
    // Same chunk, codes of the same length: the two rows' texts end `|4|1` and `|6|1` (rule 1).
    const ids: string[] = [];
    for (const [code, used] of [
      ['SPRING10', 4],
      ['SUMMER10', 6],
    ] as const) {
      const [r] = await env.db.query<ResultSetHeader>(
        'INSERT INTO salesrule_coupon (rule_id, code, times_used, is_primary, type) VALUES (1, ?, ?, NULL, 1)',
        [code, used],
      );
      ids.push(String(r.insertId));
    }
    for (const id of ids) await seedFromLegacy(env, 'coupon', id);
    await pollNow(['coupon']); // baseline
    env.publisher.take();

    for (const id of ids)
      await env.db.query('UPDATE salesrule_coupon SET times_used = times_used + 1 WHERE coupon_id = ?', [id]);
    await pollNow(['coupon']);
    const { forward: changes } = splitByOrigin(env.publisher.take());
    expect(changes.map((e) => [JSON.parse(e.Detail).key, JSON.parse(e.Detail).deltas]).sort()).toEqual([
      [ids[0], { timesUsed: 1 }],
      [ids[1], { timesUsed: 1 }],
    ]);
    await forwardOk(changes);
    expect((await getItem(env, 'coupon', ids[0]!))?.['timesUsed']).toBe(5);
    expect((await getItem(env, 'coupon', ids[1]!))?.['timesUsed']).toBe(7);
    expect((await check(['coupon'])).consistent).toBe(true);
  });

  it('two products disabled by one UPDATE (status 1 -> 2): the check reports both, the poll publishes both', async () => {
    const status = await attr('status');
    const ids: string[] = [];
    for (const sku of ['TEE-RED', 'TEE-BLU']) {
      const [p] = await env.db.query<ResultSetHeader>(
        "INSERT INTO catalog_product_entity (attribute_set_id, type_id, sku, updated_at) VALUES (4, 'simple', ?, NOW() - INTERVAL 60 SECOND)",
        [sku],
      );
      const id = String(p.insertId);
      ids.push(id);
      await env.db.query(
        'INSERT INTO catalog_product_entity_varchar (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, ?)',
        [await attr('name'), id, `Tee ${sku.slice(-3)}`],
      );
      await env.db.query(
        'INSERT INTO catalog_product_entity_decimal (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, 19.99)',
        [await attr('price'), id],
      );
      await env.db.query(
        'INSERT INTO catalog_product_entity_int (attribute_id, store_id, entity_id, value) VALUES (?, 0, ?, 1)',
        [status, id],
      );
      await seedFromLegacy(env, 'product', id);
    }
    await pollNow(['product']); // baseline (and the keyset's first reads of both rows)
    env.publisher.take();
    expect((await check(['product'])).consistent).toBe(true);

    // One statement disables both (a direct EAV write: catalog_product_entity.updated_at stays).
    await env.db.query(
      'UPDATE catalog_product_entity_int SET value = 2 WHERE attribute_id = ? AND store_id = 0 AND entity_id IN (?)',
      [status, ids],
    );
    const before = await check(['product']);
    expect(before.consistent).toBe(false);
    expect(before.reports[0]!.chunksDiffering).toBe(1);
    expect([...before.reports[0]!.mismatches].sort((a, b) => a.legacyKey.localeCompare(b.legacyKey))).toEqual(
      ids.map((id) => ({ legacyKey: id, serviceKey: id, kind: 'different', fields: ['status'] })),
    );

    await pollNow(['product']);
    const { forward: changes } = splitByOrigin(env.publisher.take());
    expect(changes.map((e) => [JSON.parse(e.Detail).key, JSON.parse(e.Detail).data.status]).sort()).toEqual([
      [ids[0], 2],
      [ids[1], 2],
    ]);
    await forwardOk(changes);
    for (const id of ids) expect((await getItem(env, 'product', id))?.['status']).toBe(2);
    expect((await check(['product'])).consistent).toBe(true);
  });

  it('a snapshot stored by the CRC32 version: rows compared by CRC32 once, only the changed one published, then replaced', async () => {
    // Coupons 5001 and 5002 (chunk 5), and the snapshot version 1 stored for that chunk: a CRC32
    // of `id|code|times_used|rule_id` (the spec's field order) per row, their XOR, the counters,
    // no version.
    const coupons = [
      ['5001', 'AUTUMN10', 4],
      ['5002', 'WINTER10', 6],
    ] as const;
    for (const [id, code, used] of coupons) {
      await env.db.query(
        'INSERT INTO salesrule_coupon (coupon_id, rule_id, code, times_used, is_primary, type) VALUES (?, 1, ?, ?, NULL, 1)',
        [id, code, used],
      );
      await seedFromLegacy(env, 'coupon', id);
    }
    const crcs = coupons.map(([id, code, used]) => crc32(`${id}|${code}|${used}|1`) >>> 0);
    const observedAt = Date.now() - 60_000;
    await env.dynamo.send(
      new PutCommand({
        TableName: env.tables.syncTable,
        Item: {
          pk: 'snapshot#coupon#5',
          chunk: 5,
          snapshot: JSON.stringify({
            checksum: (crcs[0]! ^ crcs[1]!) >>> 0,
            count: 2,
            rows: { 5001: crcs[0], 5002: crcs[1] },
            counters: { 5001: { timesUsed: 4 }, 5002: { timesUsed: 6 } },
            observedAt,
          }),
        },
      }),
    );
    await env.dynamo.send(
      new UpdateCommand({
        TableName: env.tables.syncTable,
        Key: { pk: 'snapshot#coupon' },
        UpdateExpression: 'ADD chunks :c',
        ExpressionAttributeValues: { ':c': new Set([5]) },
      }),
    );

    await env.db.query('UPDATE salesrule_coupon SET times_used = 5 WHERE coupon_id = 5001');
    await pollNow(['coupon']);
    const { forward: changes } = splitByOrigin(env.publisher.take());
    // Only 5001, with the id version 1 gave this transition (a retry across the upgrade repeats it).
    expect(changes.map((e) => JSON.parse(e.Detail))).toEqual([
      expect.objectContaining({
        key: '5001',
        deltas: { timesUsed: 1 },
        eventId: `poll:coupon:5001:${observedAt}:${(crc32('5001|AUTUMN10|5|1') >>> 0).toString(16).padStart(8, '0')}`,
      }),
    ]);
    await forwardOk(changes);
    expect((await getItem(env, 'coupon', '5001'))?.['timesUsed']).toBe(5);

    const stored = await env.dynamo.send(
      new GetCommand({ TableName: env.tables.syncTable, Key: { pk: 'snapshot#coupon#5' } }),
    );
    const snapshot = JSON.parse(String(stored.Item?.['snapshot']));
    const hashes = { 5001: rowHash('5001', ['AUTUMN10', 5, 1]), 5002: rowHash('5002', ['WINTER10', 6, 1]) };
    expect(snapshot).toEqual({
      version: 2,
      checksum: checksumOf(Object.values(hashes)),
      count: 2,
      rows: hashes,
      counters: { 5001: { timesUsed: 5 }, 5002: { timesUsed: 6 } },
      observedAt: expect.any(Number),
    });
    // Replaced: the next poll compares by the new checksum and finds nothing changed.
    await pollNow(['coupon']);
    expect(splitByOrigin(env.publisher.take()).forward).toEqual([]);
    expect((await check(['coupon'])).consistent).toBe(true);
  });
});
