/**
 * A rotation of the legacy database's secret while the sync runs: the functions connect the way
 * a deployed function does (the secret `CUTOVER_LEGACY_SECRET_ARN` read through Secrets Manager —
 * the fake here, built from the recorded GetSecretValue answer — and TLS to a MariaDB that
 * requires it). Mid-run the sync user's password is changed (`ALTER USER … IDENTIFIED BY`), the
 * secret gets the new one, and the server closes the pool's connections (as `wait_timeout` or a
 * failover would): the reverse sync's next batch needs new connections, is refused with the old
 * password, reads the secret again, rebuilds its pool and applies every event.
 */
import '../support/quiet-powertools.js';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBusEntry } from '../../lambdas/domain/events.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import { configureRuntime } from '../../lambdas/handlers/runtime.js';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import { type MariaDbServer, startThrowawayMariaDb } from '../support/databases.js';
import { FakeSecretsManager } from '../support/fake-secrets-manager.js';
import {
  changeEvent,
  invokeSqs,
  type SyncEnv,
  seedFromLegacy,
  setupSyncEnv,
  sqsEvent,
  TEST_CIPHER,
} from '../support/sync-env.js';

const SECRET_ARN = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:magento-sync-a1b2c3';
const USER = 'cutover_sync';
const HOSTS = ['%', '127.0.0.1', 'localhost'];

describe('Function: reverse-sync across a rotation of the database secret', () => {
  let server: MariaDbServer;
  let env: SyncEnv;
  let database: string;
  const secrets = new FakeSecretsManager();
  const saved: Record<string, string | undefined> = {};

  const putSecret = (password: string) =>
    secrets.put(
      SECRET_ARN,
      JSON.stringify({
        engine: 'mysql',
        host: '127.0.0.1',
        port: server.port,
        username: USER,
        password,
        dbname: database,
      }),
    );

  beforeAll(async () => {
    server = await startThrowawayMariaDb((l) => process.stderr.write(`[rotation-test] ${l}\n`), {
      requireTls: true,
    });
    env = await setupSyncEnv('secret-rotation', { mysqlUrl: server.url });
    database = new URL(env.mysqlUrl).pathname.slice(1);
    for (const host of HOSTS) {
      await env.db.query(`CREATE USER '${USER}'@'${host}' IDENTIFIED BY 'first-password'`);
      await env.db.query(`GRANT ALL ON \`${database}\`.* TO '${USER}'@'${host}'`);
    }
    putSecret('first-password');
    // The functions' runtime as deployed: the secret (through the fake Secrets Manager) and the CA.
    for (const k of [RUNTIME_ENV.mysqlUrl, RUNTIME_ENV.legacySecretArn, RUNTIME_ENV.legacyCa])
      saved[k] = process.env[k];
    delete process.env[RUNTIME_ENV.mysqlUrl];
    process.env[RUNTIME_ENV.legacySecretArn] = SECRET_ARN;
    process.env[RUNTIME_ENV.legacyCa] = server.ca!;
    await configureRuntime({ cipher: TEST_CIPHER, publisher: env.publisher, secrets: secrets.source });
  }, 180_000);

  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await env?.close().catch(() => {});
    await server?.stop();
  });

  /** Connections the sync user holds now. */
  const sessions = async () =>
    (
      await env.db.query<RowDataPacket[]>('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?', [
        USER,
      ])
    )[0].map((r) => Number(r['ID']));

  it('the password changes mid-run: the next batch reads the new secret and applies every event', async () => {
    // Prepare: customers known to both sides.
    const customers: string[] = [];
    for (let i = 0; i < 8; i++) {
      const [r] = await env.db.query<ResultSetHeader>(
        `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, updated_at)
         VALUES (1, ?, 1, 1, 'R', 'Before', NOW() - INTERVAL 60 SECOND)`,
        [`rotation${i}@example.com`],
      );
      customers.push(String(r.insertId));
      await seedFromLegacy(env, 'customer', String(r.insertId));
    }
    const batch = (lastName: string, sequence: number) =>
      sqsEvent(
        customers.map((id) =>
          toBusEntry(
            changeEvent({ entity: 'customer', key: id, origin: 'service', data: { lastName }, sequence }),
          ),
        ),
      );
    const lastNames = async () =>
      (
        await env.db.query<RowDataPacket[]>(
          `SELECT lastname FROM customer_entity WHERE entity_id IN (${customers.map(() => '?').join(',')})`,
          customers,
        )
      )[0].map((r) => r['lastname']);

    // The sync runs on the first password.
    expect((await invokeSqs(reverse, batch('First', 2))).failedIndexes).toEqual([]);
    expect(await lastNames()).toEqual(customers.map(() => 'First'));
    expect((await sessions()).length).toBeGreaterThan(0);

    // Act: rotate. New password on the server and in the secret; the server closes the pool's
    // connections, so the next statements need new ones.
    for (const host of HOSTS)
      await env.db.query(`ALTER USER '${USER}'@'${host}' IDENTIFIED BY 'second-password'`);
    putSecret('second-password');
    for (const id of await sessions()) await env.db.query(`KILL CONNECTION ${id}`);
    for (let i = 0; i < 100 && (await sessions()).length; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));

    // Assess: the batch after the rotation is applied in full, at its first delivery.
    const after = await invokeSqs(reverse, batch('Second', 3));
    expect(after.failedIndexes).toEqual([]);
    expect(await lastNames()).toEqual(customers.map(() => 'Second'));
    // The new connections are the sync user's, made with the new password.
    expect((await sessions()).length).toBeGreaterThan(0);
  });
});
