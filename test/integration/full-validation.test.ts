/**
 * Full validation at a size larger than one worker's budget, executed from the synthesized
 * templates (test/support/rollout-harness.ts runs each Distributed Map's ItemReader and item
 * processor item by item) on real MariaDB and DynamoDB Local: 5,000 customers, 500 rows per
 * worker. The rollout's phase 1 (backfill, then validation that must find nothing) and the
 * scheduled reconciliation (which finds, reports and repairs planted differences) both run, and
 * every worker reports the most rows it held at once: none may exceed the budget.
 */
import '../support/quiet-powertools.js';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncEngineBackfill, SyncEngineConsistencyCheck } from '../../lambdas/domain/rollout-sync.js';
import {
  type GroupResult,
  LATEST_REPORT_KEY,
  SyncEngineValidation,
  VALIDATION_EVENT,
  type ValidationOutcome,
  type ValidationReport,
} from '../../lambdas/domain/validation.js';
import { runtime } from '../../lambdas/handlers/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import magento from '../../migrations/magento.js';
import { insertCustomers } from '../support/bulk.js';
import { MemoryObjectStore } from '../support/memory-objects.js';
import { RolloutWorld, type SynthesizedRollout, synthesizeRollouts } from '../support/rollout-harness.js';
import { type SyncEnv, setupSyncEnv } from '../support/sync-env.js';

const CUSTOMERS = 5000;
const BUDGET = 500;
const CHUNK = 100;

let env: SyncEnv;
let spec: MigrationSpec;
let machines: Record<string, SynthesizedRollout>;
const store = new MemoryObjectStore('cutover-test-validation');

beforeAll(async () => {
  env = await setupSyncEnv('full-validation');
  await insertCustomers(env.db, 1, CUSTOMERS + 1);
  spec = structuredClone(magento);
  for (const s of spec.services) s.rollout.backfillChunkSize = 500;
  spec.sync.validationRowsPerWorker = BUDGET;
  spec.sync.validationChunkSize = CHUNK;
  spec.sync.validationConcurrency = 4;
  machines = synthesizeRollouts(spec, { reconciliation: true });
}, 240_000);

afterAll(async () => {
  await env?.close();
});

async function world(): Promise<RolloutWorld> {
  const rt = await runtime();
  return new RolloutWorld(spec, machines, {
    ports: {
      backfill: new SyncEngineBackfill(rt),
      consistency: new SyncEngineConsistencyCheck(rt),
      validation: new SyncEngineValidation({ ...rt, store }),
    },
    objects: store,
  });
}

/** Every compare worker's result of a run (what each held is in it). */
function groupResults(run: string): GroupResult[] {
  return [...store.objects]
    .filter(([k]) => k.startsWith(`runs/${run}/customer/results/`))
    .map(([, v]) => JSON.parse(v) as GroupResult);
}

describe('Full validation as Distributed Maps (MariaDB + DynamoDB Local, 5,000 rows, 500 per worker)', () => {
  it('phase 1: backfills, then validates in bounded workers with zero mismatches, and reports to S3 and the bus', async () => {
    env.publisher.take();
    const w = await world();
    const out = await w.run('customer', 'phase1');

    expect(out.status, out.cause).toBe('SUCCEEDED');
    const validation = out.output!['validation'] as ValidationOutcome;
    expect(validation.consistent).toBe(true);
    expect(validation.entities).toEqual([
      expect.objectContaining({
        entity: 'customer',
        legacyCount: CUSTOMERS,
        serviceCount: CUSTOMERS,
        mismatches: 0,
        chunksDiffering: 0,
      }),
    ]);
    // Ten scan workers (5,000 / 500) and 13 groups of 400 keys (4 chunks of 100 + one chunk of
    // legacy rows within 500), each its own child execution.
    expect(w.trace.filter((t) => t === 'customer:ValidateScanPart')).toHaveLength(CUSTOMERS / BUDGET);
    expect(w.trace.filter((t) => t === 'customer:ValidateCompareGroup')).toHaveLength(13);
    expect(w.mapConcurrency['ValidateCompare']).toBeLessThanOrEqual(4);
    // No worker held more than its budget.
    const results = groupResults(validation.run);
    expect(results).toHaveLength(13);
    for (const r of results) expect(r.maxRowsHeld).toBeLessThanOrEqual(BUDGET);
    expect(validation.entities[0]!.maxRowsHeld).toBeLessThanOrEqual(BUDGET);
    expect(validation.entities[0]!.maxRowsHeld).toBeGreaterThan(BUDGET / 2);
    // The report, where the event says it is.
    const report = JSON.parse(
      await store.get(`reports/${validation.run.replace('/', '-')}.json`),
    ) as ValidationReport;
    expect(report.location).toBe(validation.location);
    expect(await store.get(LATEST_REPORT_KEY)).toBe(JSON.stringify(report, null, 2));
    const events = env.publisher.published.filter((e) => e.DetailType === VALIDATION_EVENT.detailType);
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.Detail)).toMatchObject({ location: validation.location, consistent: true });
  }, 600_000);

  it('reconciliation: finds, reports and repairs planted differences, still within the budget', async () => {
    await env.db.query(
      "UPDATE customer_entity SET email = CONCAT('changed-', email) WHERE entity_id IN (17, 4321)",
    );
    const table = env.tables.serviceTables['customer']!;
    await env.dynamo.send(new DeleteCommand({ TableName: table, Key: { customerId: '2500' } }));
    await env.dynamo.send(
      new PutCommand({
        TableName: table,
        Item: {
          customerId: 'cus-orphan',
          email: 'orphan@example.com',
          version: 1,
          updatedAt: new Date().toISOString(),
        },
      }),
    );
    env.publisher.take();
    const w = await world();
    const out = await w.run('customer:reconciliation', 'nightly', { repair: true });

    expect(out.status, out.cause).toBe('SUCCEEDED');
    const validation = out.output!['validation'] as ValidationOutcome;
    expect(validation.consistent).toBe(false);
    expect(validation.entities[0]).toMatchObject({
      legacyCount: CUSTOMERS,
      serviceCount: CUSTOMERS,
      mismatches: 4,
      repaired: 3,
    });
    const report = JSON.parse(await store.get(LATEST_REPORT_KEY)) as ValidationReport;
    const e = report.entities[0]!;
    // Chunks of 100 keys: 17 -> 0, 2500 -> 25, 4321 -> 43; the orphan sits in a hash bucket.
    expect(e.differingChunks.filter((c) => c >= 0)).toEqual([0, 25, 43]);
    expect(e.differingChunks.filter((c) => c < 0)).toHaveLength(1);
    expect(e.mismatchRecords.map((m) => `${m.kind}:${m.legacyKey}`).sort()).toEqual([
      'different:17',
      'different:4321',
      'missing-in-legacy:cus-orphan',
      'missing-in-service:2500',
    ]);
    expect(e.mismatchRecords.find((m) => m.legacyKey === '17')!.fields).toEqual(['email']);
    for (const r of groupResults(validation.run)) expect(r.maxRowsHeld).toBeLessThanOrEqual(BUDGET);
    // The repair re-emitted the three legacy rows; the report's event went out too.
    const repairs = env.publisher.changeEvents().map((c) => c.event.key);
    expect(repairs.sort()).toEqual(['17', '2500', '4321']);
    expect(env.publisher.published.some((p) => p.DetailType === VALIDATION_EVENT.detailType)).toBe(true);
  }, 600_000);
});
