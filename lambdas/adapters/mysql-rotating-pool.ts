/**
 * A MySQL pool that follows rotations of the legacy database's secret.
 *
 * mysql2 fixes a pool's credentials when it is created, and MySQL keeps an open connection
 * authenticated after its user's password changed: after a rotation the pool works on until it
 * needs a new connection, and then every new connection is refused (`ER_ACCESS_DENIED_ERROR`,
 * errno 1045) until the container dies. So:
 *
 * - the secret is cached with an expiry ({@link CachedSecret}); when a re-read finds a new
 *   version (an alternating-users rotation: the old user still works for a while), a new pool
 *   is built from it;
 * - a query or connection refused with access denied reads the secret at once, rebuilds the pool
 *   when the version changed, and runs once more — once: a password that is simply wrong fails
 *   the call as before (the record is retried by redelivery);
 * - a replaced pool is ended once the last connection taken from it is released, so a
 *   transaction in flight on it completes.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import { functionEnv, RUNTIME_ENV } from '../../lib/spec/runtime.js';
import {
  createMysqlPool,
  type LegacyPool,
  legacySecretId,
  type MysqlConnectionOptions,
  mysqlOptionsFromEnv,
  optionsFromSecret,
} from './mysql-legacy.js';
import { CachedSecret, type SecretSource, SecretsManagerSource, type SecretValue } from './secrets.js';

/** The server refused the user or password (a rotated secret, or a wrong one). */
export function isAccessDenied(e: unknown): boolean {
  const err = e as { code?: string; errno?: number } | undefined;
  return err?.code === 'ER_ACCESS_DENIED_ERROR' || err?.errno === 1045;
}

/**
 * How long a function uses the secret it read before reading it again (an alternating-users
 * rotation is followed within this time; a single-user rotation at the first refused connection).
 */
export const LEGACY_SECRET_MAX_AGE_MS = 300_000;

interface Generation {
  readonly pool: Pool;
  readonly versionId: string;
  /** Calls running on the pool and connections taken from it and not yet released. */
  inUse: number;
  retired: boolean;
}

export interface RotatingPoolOptions {
  readonly secret: CachedSecret;
  /** Connection options from the secret's string. */
  readonly optionsOf: (secretString: string) => MysqlConnectionOptions;
  /** @default createMysqlPool */
  readonly createPool?: (options: MysqlConnectionOptions) => Pool;
}

/** {@link LegacyPool} over pools built from the current version of the secret. */
export class RotatingPool implements LegacyPool {
  private current?: Generation;
  private readonly live = new Set<Generation>();
  private readonly createPool: (options: MysqlConnectionOptions) => Pool;
  /** Pools built so far (the first included). */
  generations = 0;

  constructor(private readonly options: RotatingPoolOptions) {
    this.createPool = options.createPool ?? createMysqlPool;
  }

  /** The pool of the secret's current version (read again once it is older than its max age). */
  async ready(): Promise<void> {
    await this.generation(false);
  }

  readonly query = ((...args: unknown[]) =>
    this.run((g) => (g.pool.query as (...a: unknown[]) => Promise<unknown>)(...args))) as Pool['query'];

  async getConnection(): Promise<PoolConnection> {
    return this.run(async (g) => {
      const conn = await g.pool.getConnection();
      // Held until released: the pool is not ended under a transaction.
      g.inUse++;
      const release = conn.release.bind(conn);
      let released = false;
      conn.release = () => {
        release();
        if (released) return;
        released = true;
        this.done(g);
      };
      return conn;
    });
  }

  async end(): Promise<void> {
    const all = [...this.live];
    this.live.clear();
    this.current = undefined;
    await Promise.allSettled(all.map((g) => g.pool.end()));
  }

  private async run<T>(op: (g: Generation) => Promise<T>): Promise<T> {
    const first = await this.generation(false);
    try {
      return await this.using(first, op);
    } catch (e) {
      if (!isAccessDenied(e)) throw e;
      // Another call may have rebuilt the pool meanwhile; else read the secret now.
      const next = this.current && this.current !== first ? this.current : await this.generation(true);
      return this.using(next, op);
    }
  }

  private async using<T>(g: Generation, op: (g: Generation) => Promise<T>): Promise<T> {
    g.inUse++;
    try {
      return await op(g);
    } finally {
      this.done(g);
    }
  }

  private done(g: Generation): void {
    g.inUse--;
    if (g.retired && g.inUse === 0 && this.live.delete(g)) g.pool.end().catch(() => {});
  }

  private async generation(refresh: boolean): Promise<Generation> {
    const secret: SecretValue = refresh
      ? await this.options.secret.refresh()
      : await this.options.secret.get();
    const current = this.current;
    if (current && current.versionId === secret.versionId) return current;
    const next: Generation = {
      pool: this.createPool(this.options.optionsOf(secret.secretString)),
      versionId: secret.versionId,
      inUse: 0,
      retired: false,
    };
    this.generations++;
    this.live.add(next);
    this.current = next;
    if (current) {
      current.retired = true;
      if (current.inUse === 0 && this.live.delete(current)) current.pool.end().catch(() => {});
    }
    return next;
  }
}

/**
 * The legacy database's pool from the environment: `CUTOVER_MYSQL_URL` (local runs, tests) as a
 * plain pool, else a {@link RotatingPool} on the secret `CUTOVER_LEGACY_SECRET_ARN` (read now,
 * so that a missing secret fails the runtime's build). `secrets` replaces Secrets Manager (tests).
 */
export async function legacyPoolFromEnv(
  env: NodeJS.ProcessEnv = functionEnv(),
  secrets: SecretSource = new SecretsManagerSource(),
): Promise<LegacyPool> {
  if (env[RUNTIME_ENV.mysqlUrl]) return createMysqlPool(await mysqlOptionsFromEnv(env));
  const pool = new RotatingPool({
    secret: new CachedSecret(secrets, legacySecretId(env), { maxAgeMs: LEGACY_SECRET_MAX_AGE_MS }),
    optionsOf: (s) => optionsFromSecret(s, env),
  });
  await pool.ready();
  return pool;
}
