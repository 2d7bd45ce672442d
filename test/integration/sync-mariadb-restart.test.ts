import '../support/quiet-powertools.js';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBusEntry } from '../../lambdas/domain/events.js';
import type { BusEvent } from '../../lambdas/domain/ports.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import { type MariaDbServer, startThrowawayMariaDb } from '../support/databases.js';
import {
  changeEvent,
  getItem,
  invokeSqs,
  type SyncEnv,
  seedFromLegacy,
  setupSyncEnv,
  sqsEvent,
} from '../support/sync-env.js';

// Its own throwaway mariadbd, crashed (SIGKILL) in the middle of a reverse-sync batch.
describe('Function: reverse-sync (MariaDB restarted mid-batch)', () => {
  let server: MariaDbServer;
  let env: SyncEnv;
  beforeAll(async () => {
    server = await startThrowawayMariaDb((l) => process.stderr.write(`[restart-test] ${l}\n`));
    env = await setupSyncEnv('mariadb-restart', { mysqlUrl: server.url });
  });
  afterAll(async () => {
    await env?.close().catch(() => {});
    await server?.stop();
  });

  it('the retry succeeds: nothing is lost and no counter is applied twice', async () => {
    // Prepare: a coupon and customers known to both sides; 40 uses of the coupon and a change
    // per customer, in one batch, as the service emitted them.
    const [c] = await env.db.query<ResultSetHeader>(
      "INSERT INTO salesrule_coupon (rule_id, code, times_used, is_primary) VALUES (1, 'RESTART', 3, 1)",
    );
    const coupon = String(c.insertId);
    await seedFromLegacy(env, 'coupon', coupon);
    const customers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const [r] = await env.db.query<ResultSetHeader>(
        `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, updated_at)
         VALUES (1, ?, 1, 1, 'R', 'Before', NOW() - INTERVAL 60 SECOND)`,
        [`restart${i}@example.com`],
      );
      customers.push(String(r.insertId));
      await seedFromLegacy(env, 'customer', String(r.insertId));
    }
    const uses = 40;
    const entries: BusEvent[] = [
      ...Array.from({ length: uses }, (_, i) =>
        toBusEntry(
          changeEvent({
            entity: 'coupon',
            key: coupon,
            origin: 'service',
            deltas: { timesUsed: 1 },
            sequence: 2 + i,
            changedAt: new Date(Date.now() - 1000 + i).toISOString(),
          }),
          'coupon.used',
        ),
      ),
      ...customers.map((id) =>
        toBusEntry(
          changeEvent({
            entity: 'customer',
            key: id,
            origin: 'service',
            data: { lastName: 'After' },
            sequence: 2,
          }),
        ),
      ),
    ];
    const batch = sqsEvent(entries);
    const watcher = await mysql.createConnection({ uri: env.mysqlUrl });
    const applied = async () =>
      Number(
        (
          await watcher.query<RowDataPacket[]>(
            "SELECT COUNT(*) AS n FROM cutover_applied_event WHERE field_name = 'timesUsed'",
          )
        )[0][0]!['n'],
      );

    // Act: crash the database once a few uses are in, then restart it.
    const first = invokeSqs(reverse, batch);
    while ((await applied()) < 5) await new Promise((r) => setTimeout(r, 5));
    await watcher.end();
    await server.shutdown!('SIGKILL');
    const firstRun = await first;
    expect(firstRun.failedIndexes.length).toBeGreaterThan(0);
    expect(firstRun.failedIndexes.length).toBeLessThan(entries.length);
    await server.start!();

    // SQS redelivers the failed messages until they succeed.
    let pending = firstRun.failedIndexes.map((i) => batch.Records[i]!);
    for (let round = 0; round < 5 && pending.length; round++) {
      const res = await invokeSqs(reverse, { Records: pending });
      pending = res.failedIndexes.map((i) => pending[i]!);
    }
    expect(pending).toEqual([]);

    // Assess
    const check = await mysql.createConnection({ uri: env.mysqlUrl });
    try {
      const [[row]] = (await check.query<RowDataPacket[]>(
        'SELECT times_used FROM salesrule_coupon WHERE coupon_id = ?',
        [coupon],
      )) as unknown as [[{ times_used: number }]];
      expect(row.times_used).toBe(3 + uses);
      const [inbox] = await check.query<RowDataPacket[]>(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM cutover_applied_event WHERE field_name = 'timesUsed'",
      );
      expect(inbox[0]).toMatchObject({ n: uses, d: uses });
      const [names] = await check.query<RowDataPacket[]>(
        `SELECT lastname FROM customer_entity WHERE entity_id IN (${customers.map(() => '?').join(',')})`,
        customers,
      );
      expect(names.map((n) => n['lastname'])).toEqual(customers.map(() => 'After'));
    } finally {
      await check.end();
    }
    // The service side was never touched by the reverse sync.
    expect((await getItem(env, 'coupon', coupon))?.['timesUsed']).toBe(3);
  });
});
