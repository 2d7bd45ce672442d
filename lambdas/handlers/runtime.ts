/**
 * The wiring of the functions that reach the legacy side (reverse sync, the poller, the
 * consistency check, backfill, validation): the service-side runtime plus the legacy store of
 * the spec's kind. The legacy adapters are loaded on first use (dynamic import), so that a
 * bundle evaluates mysql2 only when it connects, and an HTTP legacy never does.
 */
import { functionEnv, RUNTIME_ENV } from '../../lib/spec/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import type { BatchSyncDeps } from '../domain/sync-batch.js';
import {
  closeRuntime,
  configureRuntime,
  onRuntimeClose,
  type Runtime,
  runtimeOverrides,
  type ServiceRuntime,
  serviceRuntime,
} from './service-runtime.js';

export { closeRuntime, configureRuntime, type Runtime, type ServiceRuntime };

/** The legacy store with the capabilities its kind has (the use cases take each explicitly). */
type LegacySide = Pick<Runtime, 'legacy' | 'legacyBatch' | 'legacySource' | 'legacyEav'>;

async function connectLegacy(spec: MigrationSpec, env: NodeJS.ProcessEnv): Promise<LegacySide> {
  if (spec.legacy.kind === 'mysql') {
    const [{ MysqlLegacyStore }, { legacyPoolFromEnv }] = await Promise.all([
      import('../adapters/mysql-legacy.js'),
      import('../adapters/mysql-rotating-pool.js'),
    ]);
    const store = new MysqlLegacyStore({
      pool: await legacyPoolFromEnv(env, runtimeOverrides().secrets),
      tablePrefix: spec.legacy.tablePrefix,
    });
    onRuntimeClose({ close: () => store.end() });
    // A database: set-based writes, chunk checksums of key ranges in SQL, and EAV attribute ids.
    return {
      legacy: store,
      legacyBatch: store,
      legacySource: { mode: 'sql', bounds: store },
      legacyEav: store,
    };
  }
  const { HttpLegacyStore, legacyTokenFromEnv } = await import('../adapters/http-legacy.js');
  const token = await legacyTokenFromEnv(env);
  const store = new HttpLegacyStore({
    baseUrl: env[RUNTIME_ENV.legacyEndpoint] || spec.legacy.baseUrl,
    timeoutMs: spec.legacy.timeoutMs,
    maxRetries: spec.legacy.maxRetries,
    ...(token ? { token } : {}),
  });
  // A REST API: records one by one, and a listing instead of key ranges.
  return { legacy: store, legacySource: { mode: 'listing', listing: store } };
}

/** A legacy store given by `configureRuntime`, with the capabilities given with it. */
function overriddenLegacy(o: Partial<Runtime>, legacy: Runtime['legacy']): LegacySide {
  if (!o.legacySource)
    throw new Error('configureRuntime: a legacy override needs its legacySource (how validation reads it)');
  return {
    legacy,
    legacySource: o.legacySource,
    ...(o.legacyBatch ? { legacyBatch: o.legacyBatch } : {}),
    ...(o.legacyEav ? { legacyEav: o.legacyEav } : {}),
  };
}

let current: Promise<Runtime> | undefined;
onRuntimeClose({
  reset: () => {
    current = undefined;
  },
});

async function build(env: NodeJS.ProcessEnv): Promise<Runtime> {
  const base = await serviceRuntime(env);
  const o = runtimeOverrides();
  const side = o.legacy ? overriddenLegacy(o, o.legacy) : await connectLegacy(base.spec, env);
  return { ...base, ...side };
}

/**
 * The runtime as the reverse sync's batched path takes it (its legacy store's set-based writes).
 * @throws when the legacy store has none (a REST API: its events are applied one by one)
 */
export function withLegacyBatch<R extends Runtime>(rt: R): R & BatchSyncDeps {
  const { legacyBatch } = rt;
  if (!legacyBatch) throw new Error(`the ${rt.spec.legacy.kind} legacy store has no set-based writes`);
  return { ...rt, legacyBatch };
}

/** The runtime of this container, legacy store included (built on first use). */
export function runtime(env: NodeJS.ProcessEnv = functionEnv()): Promise<Runtime> {
  if (!current) {
    current = build(env);
    // A failed build (e.g. the database was unreachable) is retried on the next invocation.
    current.catch(() => {
      current = undefined;
    });
  }
  return current;
}
