/**
 * Full validation of the menu migration, whose legacy side is the Restaurant Service's REST API
 * (a loopback server, string ids in hash buckets): the legacy side is listed page by page into
 * parts by one scan item, the service table scanned by others, and compared group by group —
 * the `listing` mode of lambdas/domain/validation.ts, which the magento tests (SQL checksums)
 * do not reach. 1,200 items, 200 rows per worker: every worker stays within its budget, and the
 * planted differences are found, reported and repaired.
 */
import '../support/quiet-powertools.js';
import { BatchWriteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { documentClient } from '../../lambdas/adapters/dynamodb-service.js';
import {
  type CompareItem,
  type GroupResult,
  LATEST_REPORT_KEY,
  type ScanItem,
  SyncEngineValidation,
  type ValidationReport,
  validationPlanTask,
  validationReportTask,
  type WorkerStats,
  type WorkList,
} from '../../lambdas/domain/validation.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { closeRuntime, configureRuntime, runtime } from '../../lambdas/handlers/runtime.js';
import type { ServiceTableNames } from '../support/databases.js';
import { InMemoryPublisher } from '../support/in-memory-publisher.js';
import { MemoryObjectStore } from '../support/memory-objects.js';
import {
  canonicalData,
  type MenuLegacyServer,
  menuItems,
  startMenuLegacyServer,
} from '../support/menu-legacy-server.js';
import { invokeSqs, setupMenuEnv, sqsEvent } from '../support/sync-env.js';

const ITEMS = menuItems(1200);
const BUDGET = 200;
const TOKEN = 'menu-validation-token';
const DIFFERENT = ITEMS[321]!;
const MISSING = ITEMS[987]!;
const ORPHAN = 'mi-service-born-orphan';

describe('Full validation, listing mode (menu migration: HTTP legacy side, 1,200 items, 200 per worker)', () => {
  let server: MenuLegacyServer;
  let tables: ServiceTableNames;
  const publisher = new InMemoryPublisher();
  const store = new MemoryObjectStore('cutover-test-validation-listing');
  const dynamo = documentClient({ endpoint: inject('dynamoEndpoint') });

  beforeAll(async () => {
    server = await startMenuLegacyServer(ITEMS, { token: TOKEN });
    tables = await setupMenuEnv('t-menu-validation', server.baseUrl, TOKEN);
    await closeRuntime();
    await configureRuntime({ publisher });
    // The service table as the backfill left it, but MISSING never copied, DIFFERENT's price
    // changed out of band, and ORPHAN created on the service side only.
    const table = tables.serviceTables['menu_item']!;
    const puts = ITEMS.filter((i) => i !== MISSING).map((i) => ({
      PutRequest: {
        Item: { menuItemId: i.id, ...canonicalData(i), version: 1, updatedAt: '2026-11-20T08:00:00.000Z' },
      },
    }));
    for (let i = 0; i < puts.length; i += 25)
      await dynamo.send(new BatchWriteCommand({ RequestItems: { [table]: puts.slice(i, i + 25) } }));
    await dynamo.send(
      new UpdateCommand({
        TableName: table,
        Key: { menuItemId: DIFFERENT.id },
        UpdateExpression: 'SET price = :p',
        ExpressionAttributeValues: { ':p': '999.99' },
      }),
    );
    await dynamo.send(
      new PutCommand({
        TableName: table,
        Item: {
          ...canonicalData(ITEMS[0]!),
          menuItemId: ORPHAN,
          version: 1,
          updatedAt: '2026-11-20T08:00:00.000Z',
        },
      }),
    );
  }, 120_000);
  afterAll(async () => {
    await closeRuntime();
    dynamo.destroy();
    await server?.close();
  });

  /** One run, step by step as the state machine runs it (Plan, Scan items, PlanCompare, Compare items, Report). */
  async function validate(run: string, repair: boolean) {
    const port = new SyncEngineValidation({ ...(await runtime()), store });
    const plan = (await validationPlanTask(port, {
      step: 'plan',
      run,
      entities: ['menu_item'],
      rowsPerWorker: BUDGET,
      chunkSize: 1000,
      startedAt: new Date().toISOString(),
    })) as { scan: WorkList };
    const scanItems = JSON.parse(await store.get(plan.scan.bucketKey)) as ScanItem[];
    const scans: WorkerStats[] = [];
    for (const item of scanItems) scans.push(await port.scan(item));
    const { compare } = (await validationPlanTask(port, { step: 'compare', run, repair })) as {
      compare: WorkList;
    };
    const compareItems = JSON.parse(await store.get(compare.bucketKey)) as CompareItem[];
    for (const item of compareItems) await port.compare(item);
    const outcome = await validationReportTask(port, {
      run,
      entities: ['menu_item'],
      startedAt: new Date().toISOString(),
      scanStats: scans,
      failOnMismatch: false,
    });
    const groups = [...store.objects]
      .filter(([k]) => k.startsWith(`runs/${run}/menu_item/results/`))
      .map(([, v]) => JSON.parse(v) as GroupResult);
    return { scanItems, scans, compareItems, groups, outcome };
  }

  it('lists the legacy side into parts in pages, finds and repairs the planted differences, no worker above its budget', async () => {
    server.seen.length = 0;
    const first = await validate('menu/first', true);

    // Six service scan parts (1,200 / 200) and one listing of the legacy side.
    expect(first.scanItems.map((i) => i.side).sort()).toEqual(['legacy', ...Array(6).fill('service')]);
    expect(first.compareItems.every((i) => i.mode === 'listing')).toBe(true);
    expect(first.compareItems.length).toBeGreaterThan(1);
    for (const s of [...first.scans, ...first.groups]) expect(s.maxRowsHeld).toBeLessThanOrEqual(BUDGET);
    // The listing is paged: no request asks for more than half a worker's budget.
    const limits = server.listings().map((r) => Number(r.query.get('limit')));
    expect(limits.length).toBeGreaterThan(1200 / BUDGET);
    expect(Math.max(...limits.filter((_, i) => i > 0))).toBeLessThanOrEqual(500);
    expect(server.listings().every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);

    expect(first.outcome.consistent).toBe(false);
    expect(first.outcome.entities[0]).toMatchObject({
      legacyCount: 1200,
      serviceCount: 1200,
      mismatches: 3,
      repaired: 2,
    });
    const report = JSON.parse(await store.get(LATEST_REPORT_KEY)) as ValidationReport;
    expect(report.location).toBe(first.outcome.location);
    expect(report.entities[0]!.maxRowsHeld).toBeLessThanOrEqual(BUDGET);
    expect(report.entities[0]!.mismatchRecords.map((m) => `${m.kind}:${m.legacyKey}`).sort()).toEqual(
      [`different:${DIFFERENT.id}`, `missing-in-service:${MISSING.id}`, `missing-in-legacy:${ORPHAN}`].sort(),
    );
    expect(report.entities[0]!.mismatchRecords.find((m) => m.legacyKey === DIFFERENT.id)!.fields).toEqual([
      'price',
    ]);

    // The repair re-emitted the two legacy items; once the forward sync applied them, only the
    // service-born orphan is left (repair never deletes on the service's side).
    const emitted = publisher.take().filter((e) => e.DetailType === 'migration.menu_item.changed');
    expect(emitted.map((e) => JSON.parse(e.Detail).key).sort()).toEqual([DIFFERENT.id, MISSING.id].sort());
    expect((await invokeSqs(forward, sqsEvent(emitted))).failedIndexes).toEqual([]);
    const second = await validate('menu/second', false);
    expect(second.outcome.entities[0]).toMatchObject({
      legacyCount: 1200,
      serviceCount: 1201,
      mismatches: 1,
      repaired: 0,
    });
  }, 300_000);
});
