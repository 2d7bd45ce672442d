/**
 * The consistency check of the menu migration: the legacy side is the Restaurant Service's REST
 * API (a loopback server listing 300 menu items with string ids), the service side the menu_item
 * table on DynamoDB Local. Wired as on AWS: the handler's runtime builds the HTTP legacy store
 * from `CUTOVER_LEGACY_ENDPOINT` / `CUTOVER_LEGACY_TOKEN`.
 */
import '../support/quiet-powertools.js';
import { BatchWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { documentClient } from '../../lambdas/adapters/dynamodb-service.js';
import { chunkOfKey, isHashBucket } from '../../lambdas/domain/chunks.js';
import {
  type ConsistencyCheckEvent,
  type ConsistencyCheckResponse,
  handler as consistencyCheck,
} from '../../lambdas/handlers/consistency-check.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { closeRuntime, configureRuntime } from '../../lambdas/handlers/runtime.js';
import type { ServiceTableNames } from '../support/databases.js';
import { InMemoryPublisher } from '../support/in-memory-publisher.js';
import {
  canonicalData,
  type MenuLegacyServer,
  menuItems,
  startMenuLegacyServer,
} from '../support/menu-legacy-server.js';
import { fakeContext, invokeSqs, setupMenuEnv, sqsEvent, TEST_CIPHER } from '../support/sync-env.js';

const ITEMS = menuItems(300);
const TOKEN = 'menu-test-token';
const DIFFERENT = ITEMS[123]!;
const MISSING = ITEMS[200]!;

describe('Function: consistency-check (menu migration, HTTP legacy side)', () => {
  let server: MenuLegacyServer;
  let tables: ServiceTableNames;
  const publisher = new InMemoryPublisher();
  const dynamo = documentClient({ endpoint: inject('dynamoEndpoint') });
  const check = (event: ConsistencyCheckEvent) =>
    (consistencyCheck as unknown as (e: unknown, c: unknown) => Promise<ConsistencyCheckResponse>)(
      event,
      fakeContext,
    );

  beforeAll(async () => {
    server = await startMenuLegacyServer(ITEMS, { token: TOKEN });
    tables = await setupMenuEnv('t-menu-consistency', server.baseUrl, TOKEN);
    await configureRuntime({ cipher: TEST_CIPHER, publisher });
    // The service table holds the same items (as after the backfill), keyed by the legacy id…
    const table = tables.serviceTables['menu_item']!;
    const puts = ITEMS.filter((i) => i !== MISSING).map((i) => ({
      PutRequest: {
        Item: { menuItemId: i.id, ...canonicalData(i), version: 1, updatedAt: '2026-11-20T08:00:00.000Z' },
      },
    }));
    for (let i = 0; i < puts.length; i += 25)
      await dynamo.send(new BatchWriteCommand({ RequestItems: { [table]: puts.slice(i, i + 25) } }));
    // …but one item's price was changed out of band on the service side (MISSING was never copied).
    await dynamo.send(
      new UpdateCommand({
        TableName: table,
        Key: { menuItemId: DIFFERENT.id },
        UpdateExpression: 'SET price = :p',
        ExpressionAttributeValues: { ':p': '999.99' },
      }),
    );
  }, 120_000);
  afterAll(async () => {
    await closeRuntime();
    dynamo.destroy();
    await server?.close();
  });

  it('finds the planted mismatches through the listing, and repair fixes them', async () => {
    expect(isHashBucket(chunkOfKey(DIFFERENT.id, 1000))).toBe(true);
    const first = await check({ entities: ['menu_item'] });
    const report = first.reports[0]!;
    expect(report).toMatchObject({
      legacyCount: 300,
      serviceCount: 299,
      chunksDiffering: 2,
      mismatchesTotal: 2,
    });
    expect([...report.mismatches].sort((a, b) => a.legacyKey.localeCompare(b.legacyKey))).toEqual(
      [
        { legacyKey: DIFFERENT.id, serviceKey: DIFFERENT.id, kind: 'different', fields: ['price'] },
        { legacyKey: MISSING.id, kind: 'missing-in-service' },
      ].sort((a, b) => a.legacyKey.localeCompare(b.legacyKey)),
    );
    expect(first.consistent).toBe(false);
    expect(first.ratio).toBeCloseTo(298 / 300, 6);
    // Nothing is cached (memory must not grow with the collection): the count, the checksums and
    // each of the two differing chunks' rows came from a listing of their own, each one page of
    // 500 (300 items) and the empty page that ends it, with the API token.
    expect(server.listings()).toHaveLength(4 * 2);
    expect(server.listings().every((r) => r.query.get('limit') === '500')).toBe(true);
    expect(server.listings().filter((r) => !r.query.has('afterId'))).toHaveLength(4);
    expect(server.listings().every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(publisher.published).toEqual([]);

    // Repair re-emits the two legacy items; the forward sync applies them.
    const repaired = await check({ entities: ['menu_item'], repair: true });
    expect(repaired.reports[0]!.repaired).toBe(2);
    const emitted = publisher.take();
    expect(emitted.map((e) => [e.DetailType, JSON.parse(e.Detail).key]).sort()).toEqual(
      [
        ['migration.menu_item.changed', DIFFERENT.id],
        ['migration.menu_item.changed', MISSING.id],
      ].sort(),
    );
    expect((await invokeSqs(forward, sqsEvent(emitted))).failedIndexes).toEqual([]);

    const after = await check({ entities: ['menu_item'] });
    expect(after.reports[0]).toMatchObject({ legacyCount: 300, serviceCount: 300, mismatchesTotal: 0 });
    expect(after).toMatchObject({ consistent: true, ratio: 1 });
  }, 60_000);
});
