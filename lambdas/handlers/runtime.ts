/**
 * The wiring of the functions that reach the legacy side (reverse sync, the poller, the
 * consistency check, backfill, validation): the service-side runtime plus the legacy store of
 * the spec's kind. The legacy adapters are loaded on first use (dynamic import), so that a
 * bundle evaluates mysql2 only when it connects, and an HTTP legacy never does.
 */
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import type { LegacyStore } from '../domain/ports.js';
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

async function connectLegacy(spec: MigrationSpec, env: NodeJS.ProcessEnv): Promise<LegacyStore> {
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
    return store;
  }
  const { HttpLegacyStore, legacyTokenFromEnv } = await import('../adapters/http-legacy.js');
  const token = await legacyTokenFromEnv(env);
  return new HttpLegacyStore({
    baseUrl: env[RUNTIME_ENV.legacyEndpoint] || spec.legacy.baseUrl,
    timeoutMs: spec.legacy.timeoutMs,
    maxRetries: spec.legacy.maxRetries,
    ...(token ? { token } : {}),
  });
}

let current: Promise<Runtime> | undefined;
onRuntimeClose({
  reset: () => {
    current = undefined;
  },
});

async function build(env: NodeJS.ProcessEnv): Promise<Runtime> {
  const base = await serviceRuntime(env);
  const legacy = runtimeOverrides().legacy ?? (await connectLegacy(base.spec, env));
  return { ...base, legacy };
}

/** The runtime of this container, legacy store included (built on first use). */
export function runtime(env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  if (!current) {
    current = build(env);
    // A failed build (e.g. the database was unreachable) is retried on the next invocation.
    current.catch(() => {
      current = undefined;
    });
  }
  return current;
}
