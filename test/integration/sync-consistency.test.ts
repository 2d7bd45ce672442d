import '../support/quiet-powertools.js';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConsistencyCheckEvent,
  type ConsistencyCheckResponse,
  handler as consistencyCheck,
} from '../../lambdas/handlers/consistency-check.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { insertCustomers, putCustomerItems } from '../support/bulk.js';
import {
  fakeContext,
  getItem,
  invokeSqs,
  type SyncEnv,
  setupSyncEnv,
  sqsEvent,
} from '../support/sync-env.js';

const CUSTOMERS = 100_000;
const PLANTED = 73_541;

describe('Function: consistency-check (100,000 customers)', () => {
  let env: SyncEnv;
  const check = (event: ConsistencyCheckEvent) =>
    (consistencyCheck as unknown as (e: unknown, c: unknown) => Promise<ConsistencyCheckResponse>)(
      event,
      fakeContext,
    );

  beforeAll(async () => {
    env = await setupSyncEnv('consistency');
    // Both sides hold the same 100,000 customers (as after the backfill)…
    await Promise.all([
      insertCustomers(env.db, 1, CUSTOMERS + 1),
      putCustomerItems(env.dynamo, env.tables.serviceTables['customer']!, 1, CUSTOMERS + 1, 16),
    ]);
    // …but one item was changed out of band on the service side.
    await env.dynamo.send(
      new UpdateCommand({
        TableName: env.tables.serviceTables['customer']!,
        Key: { customerId: String(PLANTED) },
        UpdateExpression: 'SET email = :e',
        ExpressionAttributeValues: { ':e': 'corrupted@example.com' },
      }),
    );
    // Seeding 100,000 items into DynamoDB Local took 270-300 s beside another integration file
    // on the shared machine (30 s alone).
  }, 600_000);
  afterAll(async () => {
    await env?.close();
  });

  it('finds the one planted mismatch by chunk checksums, and repair fixes it', async () => {
    const first = await check({ entities: ['customer'] });
    expect(first.consistent).toBe(false);
    const report = first.reports[0]!;
    expect(report).toMatchObject({
      legacyCount: CUSTOMERS,
      serviceCount: CUSTOMERS,
      chunksDiffering: 1,
      mismatchesTotal: 1,
    });
    expect(report.mismatches).toEqual([
      { legacyKey: String(PLANTED), serviceKey: String(PLANTED), kind: 'different', fields: ['email'] },
    ]);
    expect(env.publisher.published).toEqual([]);

    // Repair re-emits the legacy row; the forward sync applies it.
    const repaired = await check({ entities: ['customer'], repair: true });
    expect(repaired.reports[0]!.repaired).toBe(1);
    const emitted = env.publisher.take();
    expect(emitted.map((e) => [e.DetailType, JSON.parse(e.Detail).key])).toEqual([
      ['migration.customer.changed', String(PLANTED)],
    ]);
    expect((await invokeSqs(forward, sqsEvent(emitted))).failedIndexes).toEqual([]);
    const [[row]] = (await env.db.query<RowDataPacket[]>(
      'SELECT email FROM customer_entity WHERE entity_id = ?',
      [PLANTED],
    )) as unknown as [[{ email: string }]];
    expect((await getItem(env, 'customer', String(PLANTED)))?.['email']).toBe(row.email);

    const after = await check({ entities: ['customer'] });
    expect(after.consistent).toBe(true);
    expect(after.ratio).toBe(1);
    expect(after.reports[0]!.mismatchesTotal).toBe(0);
  }, 300_000);
});
