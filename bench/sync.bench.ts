/**
 * `npm run bench -- sync`: the two-way sync's throughput and apply latency beside the raw
 * throughput of the same writes made directly with the store client, and the consistency
 * check's rows/s. Real MariaDB and DynamoDB Local on loopback (started like the tests do);
 * EventBridge is an in-memory publisher.
 *
 * Sizes: MySQL-only measurements and the consistency check run on 100,000 rows. Everything that
 * writes DynamoDB Local (the service table, and the sync state every sync event reads and writes)
 * is bound by DynamoDB Local's ~1-3k requests/s on this machine, so those run on fewer events
 * (SYNC_SINGLE / SYNC_BATCHED below) to finish in a few minutes; the notes say so.
 */
import { BatchWriteCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import mysql from 'mysql2/promise';
import { documentClient } from '../lambdas/adapters/dynamodb-service.js';
import { checkConsistency } from '../lambdas/domain/consistency.js';
import type { ChangeEvent } from '../lambdas/domain/events.js';
import { applyToLegacy, applyToService } from '../lambdas/domain/sync.js';
import { applyBatchToLegacy, applyBatchToService } from '../lambdas/domain/sync-batch.js';
import { closeRuntime, configureRuntime, runtime } from '../lambdas/handlers/runtime.js';
import { RUNTIME_ENV } from '../lib/spec/runtime.js';
import magento from '../migrations/magento.js';
import { insertCustomers, putCustomerItems } from '../test/support/bulk.js';
import {
  createMagentoDatabase,
  createServiceTables,
  findOrStartMariaDb,
  startDynamoLocal,
} from '../test/support/databases.js';
import { InMemoryPublisher } from '../test/support/in-memory-publisher.js';
import type { Bench, BenchRow } from './types.js';

const ROWS = 100_000;
const SYNC_SINGLE = Number(process.env['BENCH_SYNC_SINGLE'] ?? 4_000);
const SYNC_BATCHED = Number(process.env['BENCH_SYNC_BATCHED'] ?? 20_000);
const CONCURRENCY = 8;
const BATCH = 500;

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `work(i)` for i in [0, n) on `concurrency` workers; returns events/s and latencies (ms). */
async function measure(
  n: number,
  concurrency: number,
  work: (i: number) => Promise<void>,
): Promise<{ rate: number; p50: number; p99: number }> {
  const lat: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await work(i);
        lat.push(performance.now() - t);
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  lat.sort((a, b) => a - b);
  return { rate: n / secs, p50: pct(lat, 50), p99: pct(lat, 99) };
}

/** Batches of `size` over [0, n), run by `concurrency` workers; each event's latency is its batch's. */
async function measureBatches(
  n: number,
  size: number,
  concurrency: number,
  work: (from: number, to: number) => Promise<void>,
): Promise<{ rate: number; p50: number; p99: number }> {
  const lat: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const from = next;
        next = Math.min(n, next + size);
        const t = performance.now();
        await work(from, next);
        const ms = performance.now() - t;
        for (let i = from; i < next; i++) lat.push(ms);
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  lat.sort((a, b) => a - b);
  return { rate: n / secs, p50: pct(lat, 50), p99: pct(lat, 99) };
}

const bench: Bench = async (log) => {
  const [maria, dynamo] = await Promise.all([findOrStartMariaDb(log), startDynamoLocal(log)]);
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    const url = await createMagentoDatabase(maria.url, 'cutover_bench_sync');
    const tables = await createServiceTables(dynamo.endpoint, magento, `bench-${Date.now()}`);
    Object.assign(process.env, {
      [RUNTIME_ENV.migration]: 'magento',
      [RUNTIME_ENV.syncTable]: tables.syncTable,
      [RUNTIME_ENV.conflictsTable]: tables.conflictsTable,
      [RUNTIME_ENV.serviceTables]: JSON.stringify(tables.serviceTables),
      [RUNTIME_ENV.mysqlUrl]: url,
      [RUNTIME_ENV.dynamoEndpoint]: dynamo.endpoint,
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    const publisher = new InMemoryPublisher();
    await configureRuntime({ publisher });
    const rt = await runtime();
    const customer = magento.services[0]!.entities[0]!;
    const db = mysql.createPool({
      uri: url,
      connectionLimit: CONCURRENCY,
      timezone: 'Z',
      flags: ['-FOUND_ROWS'],
    });
    const ddb = documentClient({ endpoint: dynamo.endpoint });
    const table = tables.serviceTables['customer']!;

    log(`seeding ${ROWS} customers on both sides…`);
    let t = performance.now();
    await insertCustomers(db, 1, ROWS + 1);
    const mysqlSeed = (performance.now() - t) / 1000;
    t = performance.now();
    await putCustomerItems(ddb, table, 1, ROWS + 1, 16);
    const ddbSeed = (performance.now() - t) / 1000;
    log(
      `seeded: MariaDB ${mysqlSeed.toFixed(1)} s (multi-row INSERTs), DynamoDB Local ${ddbSeed.toFixed(1)} s`,
    );
    rows.push({
      metric: 'seed: MariaDB multi-row INSERT (2,000 rows/statement)',
      value: ROWS / mysqlSeed,
      unit: 'rows/s',
    });
    rows.push({
      metric: 'seed: DynamoDB Local BatchWriteItem (25 items, 16 parallel)',
      value: ROWS / ddbSeed,
      unit: 'rows/s',
    });

    // --- consistency check -------------------------------------------------------------------
    log('consistency check…');
    t = performance.now();
    const sums = await rt.legacy.chunkChecksums(customer, { chunkSize: 1000 });
    const sqlSecs = (performance.now() - t) / 1000;
    // The first check after the seed also pays DynamoDB Local's JVM warm-up of its scan path (an
    // artifact of the emulator, not of the check): reported apart, then the median of 3 runs.
    t = performance.now();
    let report = await checkConsistency(rt, customer, { chunkSize: 1000 });
    const coldSecs = (performance.now() - t) / 1000;
    const warm: number[] = [];
    for (let run = 0; run < 3; run++) {
      t = performance.now();
      report = await checkConsistency(rt, customer, { chunkSize: 1000 });
      warm.push((performance.now() - t) / 1000);
    }
    warm.sort((a, b) => a - b);
    const checkSecs = warm[1]!;
    rows.push({
      metric: `consistency check, ${ROWS.toLocaleString('en-US')} customers, end to end (median of 3 after the first)`,
      value: ROWS / checkSecs,
      unit: 'rows/s',
      target: '>= 50,000 rows/s',
      met: ROWS / checkSecs >= 50_000,
    });
    rows.push({
      metric: 'consistency check, first run after the seed (DynamoDB Local JVM cold)',
      value: ROWS / coldSecs,
      unit: 'rows/s',
    });
    rows.push({
      metric: 'consistency check, MySQL side (chunk checksums in SQL)',
      value: ROWS / sqlSecs,
      unit: 'rows/s',
      target: '>= 50,000 rows/s',
      met: ROWS / sqlSecs >= 50_000,
    });
    notes.push(
      `Consistency: ${sums.length} chunks of 1,000; ${report.mismatchesTotal} mismatches. End to end is bound by the DynamoDB Local scan ` +
        '(16 parallel segments paging independently, key and mapped fields projected, pages hashed as they arrive while the SQL ' +
        'checksums and the key map are read); the SQL side alone is the MySQL row. ' +
        `Runs after the first: ${warm.map((w) => Math.round(ROWS / w).toLocaleString('en-US')).join(', ')} rows/s.`,
    );

    // --- reverse sync (service -> MySQL) -------------------------------------------------------
    log('reverse: raw single-row UPDATEs…');
    const raw1 = await measure(ROWS, CONCURRENCY, async (i) => {
      await db.query('UPDATE customer_entity SET lastname = ?, updated_at = updated_at WHERE entity_id = ?', [
        `Raw${i}`,
        i + 1,
      ]);
    });
    rows.push({
      metric: `reverse raw single-row UPDATE (${ROWS.toLocaleString('en-US')}, ${CONCURRENCY} parallel)`,
      value: raw1.rate,
      unit: 'events/s',
    });
    // The same writes the sync makes: the row, and the record's sync state (a conditional put).
    log(`reverse: raw single-row UPDATE + sync-state put (${SYNC_SINGLE})…`);
    const raw1s = await measure(SYNC_SINGLE, CONCURRENCY, async (i) => {
      await db.query('UPDATE customer_entity SET lastname = ?, updated_at = updated_at WHERE entity_id = ?', [
        `RawS${i}`,
        i + 1,
      ]);
      await ddb.send(
        new PutCommand({
          TableName: tables.syncTable,
          Item: { pk: `state#raw#${i}`, state: '{}', revision: 1 },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    });
    rows.push({
      metric: `reverse raw single-row UPDATE + state put (${SYNC_SINGLE.toLocaleString('en-US')})`,
      value: raw1s.rate,
      unit: 'events/s',
    });
    log('reverse: raw batched UPDATEs…');
    const rawB = await measureBatches(ROWS, BATCH, 2, async (from, to) => {
      const ids = Array.from({ length: to - from }, (_, k) => from + k + 1);
      await db.query(
        `UPDATE customer_entity SET lastname = CASE entity_id ${ids.map(() => 'WHEN ? THEN ?').join(' ')} END, updated_at = updated_at WHERE entity_id IN (?)`,
        [...ids.flatMap((id) => [id, `RawB${id}`]), ids],
      );
    });
    rows.push({
      metric: `reverse raw batched UPDATE … CASE (${BATCH} rows/statement)`,
      value: rawB.rate,
      unit: 'events/s',
    });

    const reverseEvent = (i: number, tag: string): ChangeEvent => ({
      schemaVersion: 1,
      eventId: `bench:${tag}:${i}`,
      entity: 'customer',
      key: String(i + 1),
      op: 'upsert',
      changedAt: new Date().toISOString(),
      origin: 'service',
      data: { lastName: `${tag}${i}` },
      sequence: 2,
    });
    log(`reverse: sync single-record path (${SYNC_SINGLE})…`);
    const revS = await measure(SYNC_SINGLE, CONCURRENCY, async (i) => {
      await applyToLegacy(rt, customer, reverseEvent(i, 'RevS'));
    });
    rows.push({
      metric: `reverse-sync single-record path (${SYNC_SINGLE.toLocaleString('en-US')} events)`,
      value: revS.rate,
      unit: 'events/s',
      baseline: { metric: 'raw single-row', value: raw1.rate },
      target: '>= 50 % of raw single-row',
      met: revS.rate >= raw1.rate * 0.5,
    });
    rows.push({
      metric: 'reverse-sync single-record vs raw row + state writes',
      value: revS.rate,
      unit: 'events/s',
      baseline: { metric: 'raw UPDATE + state put', value: raw1s.rate },
      target: '>= 50 %',
      met: revS.rate >= raw1s.rate * 0.5,
    });
    rows.push({ metric: 'reverse-sync single-record apply latency p50', value: revS.p50, unit: 'ms' });
    rows.push({ metric: 'reverse-sync single-record apply latency p99', value: revS.p99, unit: 'ms' });
    log(`reverse: sync batched path (${SYNC_BATCHED})…`);
    const revB = await measureBatches(SYNC_BATCHED, BATCH, 4, async (from, to) => {
      const events = Array.from({ length: to - from }, (_, k) =>
        reverseEvent(SYNC_SINGLE + from + k, 'RevB'),
      );
      const res = await applyBatchToLegacy(rt, customer, events);
      const failed = res.filter((r) => r.error);
      if (failed.length) throw new Error(`${failed.length} reverse batch events failed`);
    });
    rows.push({
      metric: `reverse-sync batched path (${SYNC_BATCHED.toLocaleString('en-US')} events, ${BATCH}/batch)`,
      value: revB.rate,
      unit: 'events/s',
      baseline: { metric: 'raw single-row', value: raw1.rate },
      target: '> raw single-row; goal >= 80 % of raw batched',
      met: revB.rate > raw1.rate,
    });
    rows.push({
      metric: 'reverse-sync batched vs raw batched',
      value: revB.rate,
      unit: 'events/s',
      baseline: { metric: 'raw batched', value: rawB.rate },
      target: 'goal >= 80 %',
      met: revB.rate >= rawB.rate * 0.8,
    });
    rows.push({
      metric: 'reverse-sync batched vs raw row + state writes (single-row)',
      value: revB.rate,
      unit: 'events/s',
      baseline: { metric: 'raw UPDATE + state put', value: raw1s.rate },
      target: '> single-row baseline',
      met: revB.rate > raw1s.rate,
    });
    rows.push({ metric: 'reverse-sync batched apply latency p50 (per batch)', value: revB.p50, unit: 'ms' });
    rows.push({ metric: 'reverse-sync batched apply latency p99 (per batch)', value: revB.p99, unit: 'ms' });

    // --- forward sync (MySQL -> DynamoDB) ------------------------------------------------------
    log(`forward: raw single-row conditional UpdateItem (${SYNC_SINGLE})…`);
    const fraw1 = await measure(SYNC_SINGLE, CONCURRENCY, async (i) => {
      await ddb.send(
        new UpdateCommand({
          TableName: table,
          Key: { customerId: String(i + 1) },
          UpdateExpression: 'SET lastName = :l, version = version + :one',
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':l': `FRaw${i}`, ':one': 1, ':v': 1 },
        }),
      );
    });
    rows.push({
      metric: `forward raw single-row conditional UpdateItem (${SYNC_SINGLE.toLocaleString('en-US')})`,
      value: fraw1.rate,
      unit: 'events/s',
    });
    log(`forward: raw TransactWriteItems item + state (${SYNC_SINGLE})…`);
    const fraw1s = await measure(SYNC_SINGLE, CONCURRENCY, async (i) => {
      await ddb.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: table,
                Key: { customerId: String(i + 1) },
                UpdateExpression: 'SET lastName = :l, version = version + :one',
                ConditionExpression: 'version = :v',
                ExpressionAttributeValues: { ':l': `FRawS${i}`, ':one': 1, ':v': 2 },
              },
            },
            {
              Put: {
                TableName: tables.syncTable,
                Item: { pk: `state#rawf#${i}`, state: '{}', revision: 1 },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    });
    rows.push({
      metric: `forward raw TransactWriteItems item + state (${SYNC_SINGLE.toLocaleString('en-US')})`,
      value: fraw1s.rate,
      unit: 'events/s',
    });
    log(`forward: raw BatchWriteItem (${SYNC_BATCHED})…`);
    const frawB = await measureBatches(SYNC_BATCHED, 25, 4, async (from, to) => {
      let items: Record<string, unknown>[] = Array.from({ length: to - from }, (_, k) => ({
        customerId: String(SYNC_SINGLE + from + k + 1),
        email: `c${from + k}@example.com`,
        lastName: `FRawB${from + k}`,
        version: 2,
      }));
      while (items.length) {
        const res = await ddb.send(
          new BatchWriteCommand({
            RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) },
          }),
        );
        items = (
          (res.UnprocessedItems?.[table] ?? []) as { PutRequest?: { Item?: Record<string, unknown> } }[]
        ).map((u) => u.PutRequest!.Item!);
      }
    });
    rows.push({
      metric: 'forward raw BatchWriteItem (25 items, 4 parallel)',
      value: frawB.rate,
      unit: 'events/s',
    });

    const forwardEvent = (i: number, tag: string): ChangeEvent => ({
      schemaVersion: 1,
      eventId: `bench:${tag}:${i}`,
      entity: 'customer',
      key: String(i + 1),
      op: 'upsert',
      changedAt: new Date().toISOString(),
      origin: 'legacy',
      data: { firstName: `${tag}${i}` },
      sequence: Date.now(),
    });
    const offset = SYNC_SINGLE + SYNC_BATCHED; // keys untouched by the forward raw writes
    log(`forward: sync single-record path (${SYNC_SINGLE})…`);
    const fwdS = await measure(SYNC_SINGLE, CONCURRENCY, async (i) => {
      await applyToService(rt, customer, forwardEvent(offset + i, 'FwdS'));
    });
    rows.push({
      metric: `forward-sync single-record path (${SYNC_SINGLE.toLocaleString('en-US')} events)`,
      value: fwdS.rate,
      unit: 'events/s',
      baseline: { metric: 'raw single-row', value: fraw1.rate },
      target: '>= 50 % of raw single-row',
      met: fwdS.rate >= fraw1.rate * 0.5,
    });
    rows.push({
      metric: 'forward-sync single-record vs raw item + state transaction',
      value: fwdS.rate,
      unit: 'events/s',
      baseline: { metric: 'raw TransactWriteItems', value: fraw1s.rate },
      target: '>= 50 %',
      met: fwdS.rate >= fraw1s.rate * 0.5,
    });
    rows.push({ metric: 'forward-sync single-record apply latency p50', value: fwdS.p50, unit: 'ms' });
    rows.push({ metric: 'forward-sync single-record apply latency p99', value: fwdS.p99, unit: 'ms' });
    log(`forward: sync batched path (${SYNC_BATCHED})…`);
    const fwdB = await measureBatches(SYNC_BATCHED, BATCH, 4, async (from, to) => {
      const events = Array.from({ length: to - from }, (_, k) =>
        forwardEvent(offset + SYNC_SINGLE + from + k, 'FwdB'),
      );
      const res = await applyBatchToService(rt, customer, events);
      const failed = res.filter((r) => r.error);
      if (failed.length) throw new Error(`${failed.length} forward batch events failed`);
    });
    rows.push({
      metric: `forward-sync batched path (${SYNC_BATCHED.toLocaleString('en-US')} events, ${BATCH}/batch)`,
      value: fwdB.rate,
      unit: 'events/s',
      baseline: { metric: 'raw single-row', value: fraw1.rate },
      target: '> raw single-row; goal >= 80 % of raw batched',
      met: fwdB.rate > fraw1.rate,
    });
    rows.push({
      metric: 'forward-sync batched vs raw batched',
      value: fwdB.rate,
      unit: 'events/s',
      baseline: { metric: 'raw batched', value: frawB.rate },
      target: 'goal >= 80 %',
      met: fwdB.rate >= frawB.rate * 0.8,
    });
    rows.push({
      metric: 'forward-sync batched vs raw item + state transaction (single-row)',
      value: fwdB.rate,
      unit: 'events/s',
      baseline: { metric: 'raw TransactWriteItems', value: fraw1s.rate },
      target: '> single-row baseline',
      met: fwdB.rate > fraw1s.rate,
    });
    rows.push({ metric: 'forward-sync batched apply latency p50 (per batch)', value: fwdB.p50, unit: 'ms' });
    rows.push({ metric: 'forward-sync batched apply latency p99 (per batch)', value: fwdB.p99, unit: 'ms' });

    notes.push(
      `Sizes: ${ROWS.toLocaleString('en-US')} rows for the MySQL raw baselines and the consistency check; ` +
        `${SYNC_SINGLE.toLocaleString('en-US')} events per single-record path and ${SYNC_BATCHED.toLocaleString('en-US')} per batched path, ` +
        'because every sync event reads and writes its sync state in DynamoDB Local, which serves ~1-3k requests/s on this shared 2-core machine; 100,000 events per path did not fit in a few minutes.',
      'Single-record paths run 8 events in parallel (as a Lambda processes an SQS batch); raw single-row baselines use the same parallelism.',
      'A reverse single-record event costs 2 DynamoDB Local requests (one BatchGetItem of the key map and sync state items, one compare-and-set Put of the state) plus a MySQL read and a transaction (locking read + compare + UPDATE); a forward one 2 (one BatchGetItem of the item, its state and the key map; one TransactWriteItems of item + state). The raw baselines make only the target write(s).',
      'Where targets are missed, the cost is the sync state in DynamoDB Local (~5-12 ms per request here, ~1 ms per item in a transaction): the MySQL-only baselines never touch it, so the rows against baselines that make the same writes (row + state) are the fair comparison.',
      'Reverse events are first syncs of records with no sync state yet (the engine resolves them as timestamp conflicts the event wins); forward events are updates of existing items.',
    );
    const ratio = (a: number, b: number) => `${((a / b) * 100).toFixed(0)} %`;
    notes.push(
      `This run, against the same-writes baselines: reverse single-record ${ratio(revS.rate, raw1s.rate)}, forward single-record ${ratio(fwdS.rate, fraw1s.rate)}; ` +
        `reverse batched ${ratio(revB.rate, raw1s.rate)}, forward batched ${ratio(fwdB.rate, fraw1s.rate)} of the single-row one. ` +
        'Run-to-run spread on this shared machine (4 engineers, load average ~8 on 2 cores) was about ±30 %.',
    );
    await db.end();
    ddb.destroy();
  } finally {
    await closeRuntime();
    await Promise.allSettled([maria.stop(), dynamo.stop()]);
  }
  return { title: 'Two-way sync (issue 3)', rows, notes };
};

export default bench;
