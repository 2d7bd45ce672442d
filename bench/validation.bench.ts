/**
 * `npm run bench -- validation`: the rollout's phase 1 at growing table sizes — backfill, then
 * full validation (lambdas/domain/validation.ts) — on MariaDB and DynamoDB Local, showing that
 * throughput holds and that what one worker holds does not grow with the table.
 *
 * Each size (BENCH_VALIDATION_SIZES, default 10,000, 100,000 and 1,000,000 customers) gets a
 * fresh Magento database and fresh service tables. The steps run as the state machine runs them:
 * `planBackfill`, then one backfill chunk per item; `Plan`, the scan items, `PlanCompare`, the
 * compare items, `Report` (failing on any mismatch, as phase 1 does). Items run in WORKERS worker
 * processes (bench/validation-worker.ts, one item at a time each, like Lambda execution
 * environments at that concurrency) which report each item's memory; backfill, Scan and Compare
 * each get a fresh pool (separate functions on AWS). The object store (S3 on AWS) lives in this
 * process and the workers reach it over IPC. Orchestration by Step Functions (seconds per Map
 * Run on AWS) is not part of the figures. The figures are written after every size, and past
 * BENCH_VALIDATION_BUDGET_MIN minutes no further item starts: what finished is reported.
 *
 * Backfill: each size backfills its last BENCH_VALIDATION_BACKFILL_ROWS customers (default
 * 10,000, i.e. all of the 10 k size) through the backfill itself, into a table that already holds
 * the customers before them, bulk-loaded as the backfill leaves them (items and sync states,
 * BatchWriteItem). The backfill applies every row through the forward-sync rules (reads, then a
 * conditional transaction of item + sync state), which DynamoDB Local here sustains at about a
 * hundred rows/s: backfilling 1 M through it would take hours. The same number of rows in the
 * same chunk shape at every size shows whether the backfill's rate and memory depend on the
 * table's size; validation then reads the whole table either way. Each size gets its own
 * DynamoDB Local (see the bench function: the emulator slows after tables are dropped).
 *
 * Results: the section in BENCHMARKS.md, the figures as JSON in bench/results/validation.json,
 * and the plot docs/validation-scale.svg (bench/plot-validation.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { documentClient } from '../lambdas/adapters/dynamodb-service.js';
import { EnvelopeCipher, LocalDataKeys } from '../lambdas/adapters/field-cipher.js';
import { type SyncBackfillChunk, SyncEngineBackfill } from '../lambdas/domain/rollout-sync.js';
import { planBackfill } from '../lambdas/domain/rollout-tasks.js';
import {
  type CompareItem,
  type CompareSummary,
  type ScanItem,
  SyncEngineValidation,
  type ValidationOutcome,
  validationPlanTask,
  validationReportTask,
  type WorkerStats,
  type WorkList,
} from '../lambdas/domain/validation.js';
import { registerSpecs } from '../lambdas/handlers/bundled-spec.js';
import { closeRuntime, configureRuntime, runtime } from '../lambdas/handlers/runtime.js';
import {
  createMagentoDatabase,
  createServiceTables,
  findOrStartMariaDb,
  startDynamoLocal,
} from '../lib/local/databases.js';
import { RUNTIME_ENV } from '../lib/spec/runtime.js';
import magento from '../migrations/magento.js';
import { insertCustomers, putBackfilledStates, putCustomerItems } from '../test/support/bulk.js';
import { InMemoryPublisher } from '../test/support/in-memory-publisher.js';
import { MemoryObjectStore } from '../test/support/memory-objects.js';
import { type ScaleResults, type SizeResult, type StepResult, writePlot } from './plot-validation.js';
import type { Bench, BenchRow } from './types.js';
import type { FromWorker, ItemMemory, ToWorker, WorkerTask } from './validation-worker.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SIZES = (process.env['BENCH_VALIDATION_SIZES'] ?? '10000,100000,1000000')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isSafeInteger(n) && n > 0);
/** Customers (the last ones) each size backfills; those below are bulk-loaded. */
const BACKFILL_ROWS = Number(process.env['BENCH_VALIDATION_BACKFILL_ROWS'] ?? 10_000);
/** Rows a validation worker may hold: small enough that 10,000 rows already need a whole worker. */
const ROWS_PER_WORKER = Number(process.env['BENCH_VALIDATION_ROWS_PER_WORKER'] ?? 10_000);
/**
 * V8 old-space cap (MB) of every validation worker, the same at every size. Garbage not yet
 * collected grows with a process's uptime (a worker runs more items at 1 M than at 10 k, and V8
 * lets its heap grow before it collects), so peaks without a cap measure the collector's
 * patience; under a cap, every item finishing at every size is what shows memory bounded.
 */
const WORKER_HEAP_MB = Number(process.env['BENCH_VALIDATION_WORKER_HEAP_MB'] ?? 64);
/** Worker processes: the spec's backfillConcurrency (4), also used as validationConcurrency. */
const WORKERS = magento.services[0]!.rollout.backfillConcurrency;
const CHUNK_SIZE = magento.services[0]!.rollout.backfillChunkSize;
const MB = 2 ** 20;
const fmtN = (n: number) => n.toLocaleString('en-US');
/**
 * Minutes the whole run may take: past it no further item starts, the size under way fails and
 * the sizes that finished are reported (the 1 M size can take long on a loaded machine).
 */
const BUDGET_MIN = Number(process.env['BENCH_VALIDATION_BUDGET_MIN'] ?? 60);
const deadline = Date.now() + BUDGET_MIN * 60_000;
/** Customers per slice of the bulk load (the budget is checked between slices). */
const BULK_SLICE = 20_000;

/** The run's time budget (BENCH_VALIDATION_BUDGET_MIN) ran out before a size finished. */
class BenchBudgetError extends Error {
  override readonly name = 'BenchBudgetError';
}

interface ItemOutcome<R> {
  readonly result: R;
  readonly memory: ItemMemory;
  readonly worker: number;
}

/** Worker processes running one item at a time each; the object store is this process's. */
class WorkerPool {
  private readonly idle: ChildProcess[] = [];
  private readonly queue: Array<() => void> = [];
  private seq = 0;
  private readonly pending = new Map<
    number,
    { resolve: (v: ItemOutcome<unknown>) => void; reject: (e: Error) => void; worker: number }
  >();

  private constructor(
    private readonly children: ChildProcess[],
    private readonly store: MemoryObjectStore,
  ) {}

  static async start(
    size: number,
    env: NodeJS.ProcessEnv,
    store: MemoryObjectStore,
    heapMb?: number,
  ): Promise<WorkerPool> {
    const children = Array.from({ length: size }, () =>
      fork(path.join(here, 'validation-worker.ts'), [], {
        execArgv: [
          '--import',
          'tsx',
          '--expose-gc',
          ...(heapMb !== undefined ? [`--max-old-space-size=${heapMb}`] : []),
        ],
        env,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    const pool = new WorkerPool(children, store);
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve, reject) => {
            child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready`)));
            child.on('message', (m: FromWorker) => {
              if (m.type === 'ready') resolve();
              else void pool.onMessage(child, m);
            });
          }),
      ),
    );
    // A worker that dies mid-item (out of memory, a crash) fails its item instead of hanging the run.
    for (const [worker, child] of children.entries())
      child.on('exit', (code, signal) => {
        for (const [id, p] of pool.pending)
          if (p.worker === worker) {
            pool.pending.delete(id);
            p.reject(new Error(`worker ${worker} exited (${signal ?? code}) while running an item`));
          }
      });
    pool.idle.push(...children);
    return pool;
  }

  private async onMessage(child: ChildProcess, m: FromWorker): Promise<void> {
    if (m.type === 'store') {
      const [a, b] = m.args as [string, string];
      let reply: ToWorker;
      try {
        const result =
          m.op === 'put'
            ? await this.store.put(a, b)
            : m.op === 'get'
              ? await this.store.get(a)
              : m.op === 'list'
                ? await this.store.list(a)
                : await this.store.listFolders(a);
        reply = { type: 'store', id: m.id, result };
      } catch (e) {
        reply = { type: 'store', id: m.id, error: (e as Error).message };
      }
      child.send(reply);
      return;
    }
    if (m.type !== 'done') return;
    const p = this.pending.get(m.id)!;
    this.pending.delete(m.id);
    this.idle.push(child);
    this.queue.shift()?.();
    if (m.error !== undefined) p.reject(new Error(`worker ${p.worker}: ${m.error}`));
    else p.resolve({ result: m.result, memory: m.memory, worker: p.worker });
  }

  async run<R>(task: WorkerTask): Promise<ItemOutcome<R>> {
    while (!this.idle.length) await new Promise<void>((r) => this.queue.push(r));
    if (Date.now() > deadline) {
      this.queue.shift()?.();
      throw new BenchBudgetError(`not finished within BENCH_VALIDATION_BUDGET_MIN=${BUDGET_MIN} min`);
    }
    const child = this.idle.shift()!;
    const id = ++this.seq;
    return new Promise<ItemOutcome<R>>((resolve, reject) => {
      this.pending.set(id, {
        resolve: resolve as (v: ItemOutcome<unknown>) => void,
        reject,
        worker: this.children.indexOf(child),
      });
      child.send({ type: 'run', id, task } satisfies ToWorker);
    });
  }

  /** Every item through the pool, results in item order; logs progress every 15 s. */
  async map<R>(
    log: (line: string) => void,
    label: string,
    tasks: readonly WorkerTask[],
  ): Promise<Array<ItemOutcome<R>>> {
    let done = 0;
    const started = performance.now();
    const progress = setInterval(() => {
      const s = (performance.now() - started) / 1000;
      log(`  ${label}: ${done}/${tasks.length} items (${s.toFixed(0)} s)`);
    }, 15_000);
    try {
      return await Promise.all(
        tasks.map(async (t) => {
          const r = await this.run<R>(t);
          done++;
          return r;
        }),
      );
    } finally {
      clearInterval(progress);
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.disconnect();
          }),
      ),
    );
  }
}

function step(
  seconds: number,
  rows: number,
  items: ReadonlyArray<ItemOutcome<unknown>>,
  rowsHeld: (o: ItemOutcome<unknown>) => number,
): StepResult {
  return {
    seconds,
    rowsPerSecond: rows / seconds,
    items: items.length,
    maxRowsHeld: Math.max(0, ...items.map(rowsHeld)),
    maxHeapAboveMb: Math.max(0, ...items.map((o) => o.memory.heapPeakAbove)) / MB,
    maxHeapLeftMb: Math.max(0, ...items.map((o) => o.memory.heapLeftAbove)) / MB,
    maxRssMb: Math.max(0, ...items.map((o) => o.memory.rssPeak)) / MB,
    heapBeforeMb: Math.max(0, ...items.map((o) => o.memory.heapBefore)) / MB,
  };
}

async function measureSize(
  log: (line: string) => void,
  maria: string,
  dynamoEndpoint: string,
  rows: number,
  index: number,
): Promise<SizeResult> {
  const url = await createMagentoDatabase(maria, `cutover_bench_validation_${index}`);
  const tables = await createServiceTables(dynamoEndpoint, magento, `bv${index}${Date.now() % 100_000}`);
  const env = {
    ...process.env,
    [RUNTIME_ENV.migration]: 'magento',
    [RUNTIME_ENV.syncTable]: tables.syncTable,
    [RUNTIME_ENV.conflictsTable]: tables.conflictsTable,
    [RUNTIME_ENV.serviceTables]: JSON.stringify(tables.serviceTables),
    [RUNTIME_ENV.mysqlUrl]: url,
    [RUNTIME_ENV.dynamoEndpoint]: dynamoEndpoint,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
  Object.assign(process.env, env);
  await closeRuntime();
  registerSpecs([magento]);
  // One local key for the bench and its worker processes (they open each other's sync state).
  await configureRuntime({
    publisher: new InMemoryPublisher(),
    cipher: new EnvelopeCipher(new LocalDataKeys(Buffer.alloc(32, 7))),
  });
  const rt = await runtime();
  const store = new MemoryObjectStore('bench-validation');
  const db = mysql.createPool({ uri: url, connectionLimit: 4, timezone: 'Z' });
  // One pool per step, started before its clock: on AWS backfill, scan and compare are separate
  // functions, so one step's peak memory never shows in another's figures.
  const pools: WorkerPool[] = [];
  const startPool = async (heapMb?: number) => {
    const p = await WorkerPool.start(WORKERS, env, store, heapMb);
    pools.push(p);
    return p;
  };
  const n = rows.toLocaleString('en-US');
  const loadBefore = loadAverage();
  try {
    log(`${n} customers: seeding MariaDB…`);
    await insertCustomers(db, 1, rows + 1);

    // Keys below `sampleFrom` are bulk-loaded as the backfill leaves them; the rest (the last
    // BACKFILL_ROWS customers, a whole number of chunks) go through the backfill itself.
    const sampleFrom = Math.max(1, rows - BACKFILL_ROWS);
    if (sampleFrom > 1 && sampleFrom % CHUNK_SIZE !== 0)
      throw new Error(
        `customers − BENCH_VALIDATION_BACKFILL_ROWS (${sampleFrom}) must be a multiple of ${CHUNK_SIZE}`,
      );
    let bulkLoadSeconds: number | undefined;
    if (sampleFrom > 1) {
      log(`${n}: bulk-loading customers 1–${fmtN(sampleFrom - 1)} as the backfill leaves them…`);
      const t = performance.now();
      const ddb = documentClient({ endpoint: dynamoEndpoint });
      try {
        // In slices, so that a run out of time stops here too, saying how far it got.
        for (let from = 1; from < sampleFrom; from += BULK_SLICE) {
          if (Date.now() > deadline)
            throw new BenchBudgetError(
              `not finished within BENCH_VALIDATION_BUDGET_MIN=${BUDGET_MIN} min: the bulk load had written ${fmtN(from - 1)} of ${fmtN(sampleFrom - 1)} customers (items and sync states) in ${((performance.now() - t) / 60_000).toFixed(0)} min`,
            );
          const to = Math.min(sampleFrom, from + BULK_SLICE);
          await Promise.all([
            putCustomerItems(ddb, tables.serviceTables['customer']!, from, to, 8),
            putBackfilledStates(ddb, tables.syncTable, from, to, 8),
          ]);
        }
      } finally {
        ddb.destroy();
      }
      bulkLoadSeconds = (performance.now() - t) / 1000;
    }
    const backfillRows = rows - sampleFrom + 1;
    log(
      `${n}: backfill of customers ${fmtN(sampleFrom)}–${n} (${WORKERS} workers, chunks of ${fmtN(CHUNK_SIZE)})…`,
    );
    const pool = await startPool();
    const tBackfill = performance.now();
    const planned = await planBackfill(
      { backfill: new SyncEngineBackfill(rt) },
      { entities: ['customer'], chunkSize: CHUNK_SIZE },
    );
    const chunks = planned.chunks.filter(
      (c) => sampleFrom === 1 || (c as SyncBackfillChunk).chunk * CHUNK_SIZE >= sampleFrom,
    );
    const copied = await pool.map<{ copied: number; skipped: number }>(
      log,
      'backfill',
      chunks.map((chunk) => ({ kind: 'backfill', input: { chunk } })),
    );
    await pool.close();
    const total = copied.reduce((a, o) => a + o.result.copied, 0);
    if (total !== backfillRows) throw new Error(`backfill copied ${total} of ${backfillRows} rows`);
    // A chunk's rows are all in the worker at once (readChunk).
    const backfill = step(
      (performance.now() - tBackfill) / 1000,
      backfillRows,
      copied,
      (o) => (o.result as { copied: number; skipped: number }).copied,
    );
    log(`${n}: backfill ${backfill.seconds.toFixed(1)} s, ${Math.round(backfill.rowsPerSecond)} rows/s`);

    log(`${n}: full validation (${ROWS_PER_WORKER.toLocaleString('en-US')} rows per worker)…`);
    const port = new SyncEngineValidation({ ...rt, store });
    const run = `bench/${index}`;
    // The validation workers run under the same heap cap at every size, as a Lambda function's
    // memory setting caps its environment: an item whose memory grew with the table would fail.
    const [scanPool, comparePool] = [await startPool(WORKER_HEAP_MB), await startPool(WORKER_HEAP_MB)];
    const t = performance.now();
    const plan = (await validationPlanTask(port, {
      step: 'plan',
      run,
      entities: ['customer'],
      rowsPerWorker: ROWS_PER_WORKER,
      chunkSize: magento.sync.validationChunkSize,
      startedAt: new Date().toISOString(),
    })) as { scan: WorkList };
    const scanItems = JSON.parse(await store.get(plan.scan.bucketKey)) as ScanItem[];
    const tScan = performance.now();
    const planSeconds = (tScan - t) / 1000;
    const scans = await scanPool.map<WorkerStats>(
      log,
      'scan',
      scanItems.map((input) => ({ kind: 'scan', input })),
    );
    const scanSeconds = (performance.now() - tScan) / 1000;
    const tPlanCompare = performance.now();
    const { compare } = (await validationPlanTask(port, { step: 'compare', run })) as { compare: WorkList };
    const compareItems = JSON.parse(await store.get(compare.bucketKey)) as CompareItem[];
    const tCompare = performance.now();
    const planCompareSeconds = (tCompare - tPlanCompare) / 1000;
    const compares = await comparePool.map<CompareSummary>(
      log,
      'compare',
      compareItems.map((input) => ({ kind: 'compare', input })),
    );
    const compareSeconds = (performance.now() - tCompare) / 1000;
    const tReport = performance.now();
    const outcome: ValidationOutcome = await validationReportTask(port, {
      run,
      entities: ['customer'],
      startedAt: new Date(Date.now() - (performance.now() - t)).toISOString(),
      scanStats: scans.map((s) => s.result),
      failOnMismatch: true,
    });
    const reportSeconds = (performance.now() - tReport) / 1000;
    const seconds = (performance.now() - t) / 1000;
    const e = outcome.entities[0]!;
    if (e.legacyCount !== rows || e.serviceCount !== rows || e.mismatches !== 0)
      throw new Error(`validation of ${n}: ${JSON.stringify(e)}`);
    const held = (o: ItemOutcome<unknown>) => (o.result as WorkerStats).maxRowsHeld;
    const result: SizeResult = {
      rows,
      backfillRows,
      backfill,
      ...(bulkLoadSeconds !== undefined ? { bulkLoadSeconds } : {}),
      loadAverage: { before: loadBefore, after: loadAverage() },
      validation: {
        seconds,
        rowsPerSecond: rows / seconds,
        planSeconds,
        planCompareSeconds,
        reportSeconds,
        scan: step(scanSeconds, rows, scans, held),
        compare: step(compareSeconds, rows, compares, held),
      },
    };
    log(
      `${n}: validation ${seconds.toFixed(1)} s, ${Math.round(result.validation.rowsPerSecond)} rows/s; ` +
        `worker peak RSS ${Math.max(result.validation.scan.maxRssMb, result.validation.compare.maxRssMb).toFixed(0)} MB`,
    );
    return result;
  } finally {
    for (const p of pools) await p.close();
    await db.end();
    await closeRuntime();
    const conn = await mysql.createConnection({ uri: maria });
    await conn.query(`DROP DATABASE IF EXISTS \`cutover_bench_validation_${index}\``);
    await conn.end();
  }
}

/** The 1-, 5- and 15-minute load averages (what `uptime` prints): the machine is shared. */
function loadAverage(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = os.loadavg().map((l) => Math.round(l * 100) / 100);
  return [a, b, c];
}

/** Frees DynamoDB Local's memory before the next size. */
const bench: Bench = async (log) => {
  // One MariaDB for the run; a fresh DynamoDB Local per size. The emulator keeps the streams of
  // deleted tables and looks up stream descriptions on every write (SQLiteDBAccessJob
  // .getStreamDescription, seen in jstack): after DeleteTable and CreateTable of the same
  // tables, its BatchWriteItem rate fell here from about 4,800 writes/s to under 100, and the
  // backfill's transactions with it, so a size measured after another measured the emulator's
  // leftovers. DynamoDB itself has no such cost: a fresh emulator is the faithful stand-in.
  const maria = await findOrStartMariaDb(log);
  const sizes: SizeResult[] = [];
  const skipped: string[] = [];
  const started = Date.now();
  const env = [
    'BENCH_VALIDATION_SIZES',
    'BENCH_VALIDATION_BACKFILL_ROWS',
    'BENCH_VALIDATION_ROWS_PER_WORKER',
    'BENCH_VALIDATION_BUDGET_MIN',
    'BENCH_VALIDATION_WORKER_HEAP_MB',
  ]
    .filter((k) => process.env[k])
    .map((k) => `${k}=${process.env[k]} `)
    .join('');
  const results = (): ScaleResults => ({
    measuredAt: new Date().toISOString(),
    command: `${env}npm run bench -- validation`,
    workers: WORKERS,
    rowsPerWorker: ROWS_PER_WORKER,
    backfillChunkSize: CHUNK_SIZE,
    backfillRows: BACKFILL_ROWS,
    validationChunkSize: magento.sync.validationChunkSize,
    sizes,
  });
  const json = path.join(here, 'results', 'validation.json');
  /** Written after every size: a run stopped later keeps what finished. */
  const save = () => {
    mkdirSync(path.dirname(json), { recursive: true });
    writeFileSync(json, `${JSON.stringify(results(), null, 2)}\n`);
    const svg = writePlot(results());
    log(`wrote ${path.relative(process.cwd(), json)} and ${path.relative(process.cwd(), svg)}`);
  };
  try {
    let last: { rows: number; seconds: number } | undefined;
    for (const [i, rows] of SIZES.entries()) {
      try {
        // A size the previous one's rate says cannot finish in the budget is not started.
        const predicted = last && (last.seconds * rows) / last.rows;
        if (predicted !== undefined && Date.now() + predicted * 1000 > deadline)
          throw new BenchBudgetError(
            `not started: at the ${fmtN(last!.rows)} size's rate (${(last!.seconds / 60).toFixed(1)} min from seeding to report) it would take about ${(predicted / 60).toFixed(0)} min, beyond what is left of BENCH_VALIDATION_BUDGET_MIN=${BUDGET_MIN} min (${((deadline - Date.now()) / 60_000).toFixed(0)} min)`,
          );
        const t = performance.now();
        const dynamo = await startDynamoLocal(log);
        try {
          sizes.push(await measureSize(log, maria.url, dynamo.endpoint, rows, i));
        } finally {
          await dynamo.stop();
        }
        last = { rows, seconds: (performance.now() - t) / 1000 };
        save();
      } catch (e) {
        log(`${rows}: ${(e as Error).message}`);
        skipped.push(`${rows.toLocaleString('en-US')} rows: ${(e as Error).message}`);
        break;
      }
    }
  } finally {
    await maria.stop();
  }

  const rows: BenchRow[] = [];
  const first = sizes[0];
  const secs = (n: number) => `${n.toFixed(1)} s`;
  const holds = (value: number, base: number | undefined, baseRows: number) =>
    base === undefined
      ? {}
      : {
          baseline: { metric: `${fmtN(baseRows)} customers`, value: base },
          target: '>= 80 % (throughput holds)',
          met: value >= 0.8 * base,
        };
  const flat = (value: number, base: number | undefined, baseRows: number) =>
    base === undefined
      ? {}
      : {
          baseline: { metric: `${fmtN(baseRows)} customers`, value: base },
          target: '<= 125 % (memory does not grow)',
          met: value <= 1.25 * base,
        };
  const rss = (s: SizeResult) => Math.max(s.validation.scan.maxRssMb, s.validation.compare.maxRssMb);
  const retained = (s: SizeResult) =>
    Math.max(s.validation.scan.maxHeapLeftMb, s.validation.compare.maxHeapLeftMb);
  const heap = (s: SizeResult) =>
    Math.max(s.validation.scan.maxHeapAboveMb, s.validation.compare.maxHeapAboveMb);
  for (const s of sizes) {
    const base = s === first ? undefined : first;
    const v = s.validation;
    const N = fmtN(s.rows);
    rows.push({
      metric: `${N}: backfill of the last ${fmtN(s.backfillRows)} customers (plan + ${fmtN(s.backfill.items)} chunk items, ${secs(s.backfill.seconds)})`,
      value: s.backfill.rowsPerSecond,
      unit: 'rows/s',
      ...holds(s.backfill.rowsPerSecond, base?.backfill?.rowsPerSecond, base?.rows ?? 0),
    });
    rows.push({
      metric: `${N}: full validation, Plan ${secs(v.planSeconds)} → Scan ${fmtN(v.scan.items)} items ${secs(v.scan.seconds)} → PlanCompare ${secs(v.planCompareSeconds)} → Compare ${fmtN(v.compare.items)} items ${secs(v.compare.seconds)} → Report ${secs(v.reportSeconds)} = ${secs(v.seconds)}`,
      value: v.rowsPerSecond,
      unit: 'rows/s',
      ...holds(v.rowsPerSecond, base?.validation.rowsPerSecond, base?.rows ?? 0),
    });
    rows.push({
      metric: `${N}: Scan step alone`,
      value: v.scan.rowsPerSecond,
      unit: 'rows/s',
      ...holds(v.scan.rowsPerSecond, base?.validation.scan.rowsPerSecond, base?.rows ?? 0),
    });
    rows.push({
      metric: `${N}: Compare step alone`,
      value: v.compare.rowsPerSecond,
      unit: 'rows/s',
      ...holds(v.compare.rowsPerSecond, base?.validation.compare.rowsPerSecond, base?.rows ?? 0),
    });
    rows.push({
      metric: `${N}: peak RSS of the most loaded backfill worker`,
      value: s.backfill.maxRssMb,
      unit: 'MB',
      ...flat(s.backfill.maxRssMb, base?.backfill?.maxRssMb, base?.rows ?? 0),
    });
    rows.push({
      metric: `${N}: peak RSS of the most loaded validation worker (scan ${v.scan.maxRssMb.toFixed(0)} MB, compare ${v.compare.maxRssMb.toFixed(0)} MB)`,
      value: rss(s),
      unit: 'MB',
      ...flat(rss(s), base && rss(base), base?.rows ?? 0),
    });
    rows.push({
      metric: `${N}: a validation item's peak heap above its worker's idle heap (most of any item)`,
      value: heap(s),
      unit: 'MB',
      ...flat(heap(s), base && heap(base), base?.rows ?? 0),
    });
    rows.push({
      metric: `${N}: heap a validation item left behind after a full GC (most of any item; the workers capped at ${WORKER_HEAP_MB} MB of old space)`,
      value: retained(s),
      unit: 'MB',
      ...flat(retained(s), base && retained(base), base?.rows ?? 0),
    });
    const held = Math.max(v.scan.maxRowsHeld, v.compare.maxRowsHeld);
    rows.push({
      metric: `${N}: rows held by a validation worker (most)`,
      value: held,
      unit: 'rows',
      target: `<= ${fmtN(ROWS_PER_WORKER)} (the budget)`,
      met: held <= ROWS_PER_WORKER,
    });
  }
  const load = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(', ');
  const notes = [
    `Command: \`${results().command}\`; took ${((Date.now() - started) / 60_000).toFixed(1)} min. Figures also in bench/results/validation.json; plot: docs/validation-scale.svg (\`npx tsx bench/plot-validation.ts\` redraws it from the JSON).`,
    `Load average (\`uptime\`: 1, 5, 15 min) on this 2-core machine, shared with other work while it ran: ${sizes.map((s) => `${fmtN(s.rows)}: ${load(s.loadAverage.before)} before, ${load(s.loadAverage.after)} after`).join('; ')}. MariaDB, DynamoDB Local (one JVM), the ${WORKERS} worker processes and this one share the same 2 cores, so rows/s are this machine's, not Lambda's.`,
    `${WORKERS} worker processes per step (the spec's backfillConcurrency; validationConcurrency set to the same), a fresh pool for each of backfill, Scan and Compare (separate functions on AWS), each process running one item at a time like a Lambda execution environment; backfill chunks of ${fmtN(CHUNK_SIZE)} keys; validation with ${fmtN(ROWS_PER_WORKER)} rows per worker (the default is 100,000: smaller here so that even 10,000 rows fill a worker and 1,000,000 need ${fmtN(1_000_000 / ROWS_PER_WORKER)} of them) and chunks of ${fmtN(magento.sync.validationChunkSize)} keys. Plan, PlanCompare and Report run in the bench process, which holds the object store (S3 on AWS; the workers reach it over IPC). Step Functions' own orchestration time is not included.`,
    "Rows/s = customers / wall time of the step; validation reads every row on both sides (SQL chunk checksums on MariaDB, a parallel scan of the service table). Memory per item: a full GC before it, process.memoryUsage() sampled every 5 ms while it runs; peak RSS is the worker process's over all its items (Lambda's \"Max Memory Used\" of a warm environment), heap above idle includes garbage not yet collected; the heap left behind is measured after a full GC at the item's end (its result still held). Validation workers run with --max-old-space-size=" +
      WORKER_HEAP_MB +
      ' (BENCH_VALIDATION_WORKER_HEAP_MB) at every size.',
    `Backfill: every size backfills its last ${fmtN(BACKFILL_ROWS)} customers (the whole 10 k size) through the backfill itself, the same rows in the same chunk shape, into a table already holding the customers before them, which are bulk-loaded as the backfill leaves them (BatchWriteItem of items and sync states: ${sizes
      .filter((s) => s.bulkLoadSeconds !== undefined)
      .map(
        (s) =>
          `${fmtN(s.rows - s.backfillRows)} rows in ${s.bulkLoadSeconds!.toFixed(0)} s at ${fmtN(s.rows)}`,
      )
      .join(
        ', ',
      )}). The backfill applies every row through the forward-sync rules (reads, then a conditional transaction of item + sync state), which DynamoDB Local sustains here only at the rates above: a whole 1 M backfill would take ${sizes.length ? `about ${Math.round(1_000_000 / Math.min(...sizes.map((s) => s.backfill.rowsPerSecond)) / 3600)} h` : 'hours'} at the slowest of them. Validation then reads the whole table, and finds zero mismatches at every size, so the bulk-loaded rows equal what the backfill writes.`,
    ...skipped.map((s) => `Not measured: ${s}`),
  ];
  return { title: 'Backfill and full validation at 10 k, 100 k and 1 M customers (issue 13)', rows, notes };
};

export default bench;
