/**
 * The legacy database over TLS: a throwaway MariaDB with a certificate from a throwaway CA and
 * `require_secure_transport=ON`. A plain connection is refused, a connection that does not
 * trust the CA is refused, and the sync (runtime pool from `CUTOVER_MYSQL_URL` +
 * `CUTOVER_LEGACY_CA`) reads and writes Magento over verified TLS.
 */
import '../support/quiet-powertools.js';
import mysql, { type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMysqlPool, legacyTls, mysqlOptionsFromEnv } from '../../lambdas/adapters/mysql-legacy.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import { closeRuntime } from '../../lambdas/handlers/runtime.js';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import { type MariaDbServer, startThrowawayMariaDb } from '../support/databases.js';
import {
  invokeSqs,
  type SyncEnv,
  seedFromLegacy,
  serviceChange,
  setupSyncEnv,
  sqsEvent,
} from '../support/sync-env.js';

describe('Adapter: MySQL legacy over TLS (server requires secure transport)', () => {
  let server: MariaDbServer;
  let env: SyncEnv;
  beforeAll(async () => {
    server = await startThrowawayMariaDb(undefined, { requireTls: true });
    env = await setupSyncEnv('tls', { mysqlUrl: server.url });
    // The runtime connects the way a deployed function does: a plain URL and the CA to trust.
    const plain = new URL(env.mysqlUrl);
    plain.search = '';
    process.env[RUNTIME_ENV.mysqlUrl] = plain.toString();
    process.env[RUNTIME_ENV.legacyCa] = server.ca!;
    await closeRuntime();
  }, 180_000);
  afterAll(async () => {
    delete process.env[RUNTIME_ENV.legacyCa];
    await env?.close();
    await server?.stop();
  });

  it('refuses a connection without TLS and accepts the same one with TLS', async () => {
    const plain = { host: '127.0.0.1', port: server.port!, user: 'root', connectTimeout: 5000 };
    await expect(mysql.createConnection(plain)).rejects.toThrow();
    const secure = await mysql.createConnection({ ...plain, ssl: { ca: server.ca! } });
    await secure.end();
  });

  it('refuses a server whose certificate does not chain to the configured CA (the RDS bundle here)', async () => {
    const pool = createMysqlPool({
      host: '127.0.0.1',
      port: server.port!,
      user: 'root',
      ssl: legacyTls({}),
      connectionLimit: 1,
    });
    try {
      await expect(pool.query('SELECT 1')).rejects.toThrow(/certificate/i);
    } finally {
      await pool.end();
    }
  });

  it('connects with the configured CA over TLS, and the reverse sync writes Magento through it', async () => {
    const options = await mysqlOptionsFromEnv();
    expect(options.ssl?.ca).toBe(server.ca);
    const pool = createMysqlPool({ ...options, connectionLimit: 1 });
    try {
      const [status] = await pool.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_version'");
      expect(String(status[0]!['Value'])).toMatch(/^TLSv1\.[23]$/);
    } finally {
      await pool.end();
    }

    const [r] = await env.db.query<ResultSetHeader>(
      `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, is_active, updated_at)
       VALUES (1, 'tls.customer@example.com', 1, 1, 'Plain', 'Initial', 1, NOW() - INTERVAL 60 SECOND)`,
    );
    const id = String(r.insertId);
    await seedFromLegacy(env, 'customer', id);
    const change = await serviceChange(env, 'customer', id, { firstName: 'OverTls' });
    expect((await invokeSqs(reverse, sqsEvent(change))).failedIndexes).toEqual([]);
    const [rows] = await env.db.query<RowDataPacket[]>(
      'SELECT firstname FROM customer_entity WHERE entity_id = ?',
      [id],
    );
    expect(rows[0]!['firstname']).toBe('OverTls');
  });
});
