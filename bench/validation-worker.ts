/**
 * One worker process of `npm run bench -- validation`, standing in for one Lambda execution
 * environment of the backfill or full validation: it runs one item at a time (a backfill chunk,
 * a scan part, a compare group) with the sync engine's own use cases on MariaDB and DynamoDB
 * Local, and reports beside each item's result what the item cost this process in memory.
 *
 * The object store (S3 on AWS) is the parent's: every put/get/list goes over IPC, so what the
 * worker holds is only what it reads and builds itself, as in Lambda.
 *
 * Memory per item: a full GC before it (`--expose-gc`), then `process.memoryUsage()` sampled
 * every 5 ms while it runs (and once at its end): the most heap in use above the heap before the
 * item (garbage not yet collected included), and the process's peak RSS (what Lambda reports as
 * "Max Memory Used"); after it, another GC gives the heap it left behind.
 */

import { EnvelopeCipher, LocalDataKeys } from '../lambdas/adapters/field-cipher.js';
import type { ObjectStore } from '../lambdas/domain/ports.js';
import type { BackfillChunk } from '../lambdas/domain/rollout.js';
import { SyncEngineBackfill } from '../lambdas/domain/rollout-sync.js';
import { copyBackfillChunk } from '../lambdas/domain/rollout-tasks.js';
import { type CompareItem, type ScanItem, SyncEngineValidation } from '../lambdas/domain/validation.js';
import { registerSpecs } from '../lambdas/handlers/bundled-spec.js';
import { configureRuntime, runtime } from '../lambdas/handlers/runtime.js';
import { migrations } from '../migrations/index.js';
import { InMemoryPublisher } from '../test/support/in-memory-publisher.js';

/** What the parent asks a worker to run. */
export type WorkerTask =
  | { readonly kind: 'backfill'; readonly input: { readonly chunk: BackfillChunk } }
  | { readonly kind: 'scan'; readonly input: ScanItem }
  | { readonly kind: 'compare'; readonly input: CompareItem };

/** What one item cost the worker (bytes). */
export interface ItemMemory {
  /** Heap in use before the item, after a full GC. */
  readonly heapBefore: number;
  /** Most heap in use while it ran, above `heapBefore`. */
  readonly heapPeakAbove: number;
  /** Heap in use after it, after a full GC, above `heapBefore` (what it left behind). */
  readonly heapLeftAbove: number;
  /** The process's resident set at its peak so far. */
  readonly rssPeak: number;
}

export type ToWorker =
  | { readonly type: 'run'; readonly id: number; readonly task: WorkerTask }
  | { readonly type: 'store'; readonly id: number; readonly result?: unknown; readonly error?: string };

export type FromWorker =
  | { readonly type: 'ready' }
  | {
      readonly type: 'done';
      readonly id: number;
      readonly result?: unknown;
      readonly error?: string;
      readonly memory: ItemMemory;
    }
  | {
      readonly type: 'store';
      readonly id: number;
      readonly op: 'put' | 'get' | 'list' | 'listFolders';
      readonly args: readonly string[];
    };

/** The parent's object store, over IPC. */
class IpcObjectStore implements ObjectStore {
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  answer(m: Extract<ToWorker, { type: 'store' }>): void {
    const w = this.waiting.get(m.id);
    this.waiting.delete(m.id);
    if (m.error !== undefined) w?.reject(new Error(m.error));
    else w?.resolve(m.result);
  }

  private call<T>(op: Extract<FromWorker, { type: 'store' }>['op'], ...args: string[]): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      send({ type: 'store', id, op, args });
    });
  }

  put(key: string, body: string): Promise<void> {
    return this.call('put', key, body);
  }
  get(key: string): Promise<string> {
    return this.call('get', key);
  }
  list(prefix: string): Promise<string[]> {
    return this.call('list', prefix);
  }
  listFolders(prefix: string): Promise<string[]> {
    return this.call('listFolders', prefix);
  }
  location(key: string): string {
    return `s3://bench-validation/${key}`;
  }
}

function send(m: FromWorker): void {
  process.send!(m);
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run the worker with --expose-gc');

async function measured(
  fn: () => Promise<unknown>,
): Promise<{ result?: unknown; error?: string; memory: ItemMemory }> {
  gc!();
  const before = process.memoryUsage();
  let heapPeak = before.heapUsed;
  let rssPeak = before.rss;
  const sample = () => {
    const m = process.memoryUsage();
    heapPeak = Math.max(heapPeak, m.heapUsed);
    rssPeak = Math.max(rssPeak, m.rss);
  };
  const timer = setInterval(sample, 5);
  let result: unknown;
  let error: string | undefined;
  try {
    result = await fn();
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  } finally {
    clearInterval(timer);
    sample();
  }
  result = JSON.parse(JSON.stringify(result ?? null));
  gc!();
  const after = process.memoryUsage();
  return {
    result,
    ...(error !== undefined ? { error } : {}),
    memory: {
      heapBefore: before.heapUsed,
      heapPeakAbove: heapPeak - before.heapUsed,
      heapLeftAbove: after.heapUsed - before.heapUsed,
      rssPeak: Math.max(rssPeak, after.rss),
    },
  };
}

const store = new IpcObjectStore();
// Run from source: the functions' spec comes from the registered migrations, by CUTOVER_MIGRATION.
registerSpecs(migrations);
// One local key for the bench and its worker processes (they open each other's sync state).
await configureRuntime({
  publisher: new InMemoryPublisher(),
  cipher: new EnvelopeCipher(new LocalDataKeys(Buffer.alloc(32, 7))),
});
const rt = await runtime();
const backfill = new SyncEngineBackfill(rt);
const validation = new SyncEngineValidation({ ...rt, store });

process.on('message', (m: ToWorker) => {
  if (m.type === 'store') {
    store.answer(m);
    return;
  }
  const { task } = m;
  void measured(() =>
    task.kind === 'backfill'
      ? copyBackfillChunk({ backfill }, task.input)
      : task.kind === 'scan'
        ? validation.scan(task.input)
        : validation.compare(task.input),
  ).then((r) => send({ type: 'done', id: m.id, ...r }));
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
