/**
 * The Magento store's compare-and-set, on real MariaDB: a plain column update is one conditional
 * UPDATE (the compare-and-set in its WHERE clause), everything else a transaction with a locking
 * read. Both must refuse a write when anything the decision was made on moved between the read
 * and the write — even a change only in letter case (the columns' collation ignores case) or only
 * in a DECIMAL's last digit — and accept it when nothing moved.
 */
import '../support/quiet-powertools.js';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LegacyWrite, StoredRecord } from '../../lambdas/domain/ports.js';
import { entityByName } from '../../lib/spec/schema.js';
import { type SyncEnv, setupSyncEnv } from '../support/sync-env.js';

describe('Class: MysqlLegacyStore (compare-and-set of an update)', () => {
  let env: SyncEnv;
  beforeAll(async () => {
    env = await setupSyncEnv('legacy-cas');
  });
  afterAll(async () => {
    await env?.close();
  });

  const customerSpec = () => entityByName(env.spec, 'customer').entity;
  const stockSpec = () => entityByName(env.spec, 'stock').entity;

  async function newCustomer(): Promise<string> {
    const [r] = await env.db.query<ResultSetHeader>(
      `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, is_active, updated_at)
       VALUES (1, ?, 1, 1, 'Ada', 'Lovelace', 1, NOW() - INTERVAL 60 SECOND)`,
      [`ada.${Math.random().toString(36).slice(2, 10)}@example.com`],
    );
    return String(r.insertId);
  }
  async function newStock(qty: string): Promise<string> {
    const [p] = await env.db.query<ResultSetHeader>(
      "INSERT INTO catalog_product_entity (attribute_set_id, sku) VALUES (4, CONCAT('cas-', UUID()))",
    );
    await env.db.query(
      'INSERT INTO cataloginventory_stock_item (product_id, stock_id, website_id, qty, is_in_stock) VALUES (?, 1, 0, ?, 1)',
      [p.insertId, qty],
    );
    return String(p.insertId);
  }
  const customerRow = async (id: string) =>
    (
      await env.db.query<RowDataPacket[]>(
        'SELECT email, lastname, UNIX_TIMESTAMP(updated_at) AS u FROM customer_entity WHERE entity_id = ?',
        [id],
      )
    )[0][0]!;

  const update = (expected: StoredRecord, patch: LegacyWrite['patch']): LegacyWrite => ({
    expected,
    patch,
    deltas: {},
    create: false,
    delete: false,
    eventId: `cas-${Math.random()}`,
  });
  // The transactional path is taken by any write without the one-statement token.
  const paths = {
    'one conditional UPDATE': (r: StoredRecord) => r,
    'transaction with a locking read': (r: StoredRecord): StoredRecord => ({ ...r, casToken: undefined }),
  };

  for (const [path, asRead] of Object.entries(paths)) {
    describe(path, () => {
      it('writes when nothing moved, and keeps updated_at (a sync write is no local change)', async () => {
        const id = await newCustomer();
        const before = await customerRow(id);
        const read = await env.legacy.read(customerSpec(), id);
        const res = await env.legacy.write(customerSpec(), update(asRead(read), { lastName: 'Byron' }));
        expect(res.outcome).toBe('written');
        const after = await customerRow(id);
        expect(after['lastname']).toBe('Byron');
        expect(after['u']).toEqual(before['u']);
      });

      it('writes when the new values equal the current ones (the row matched though nothing changed)', async () => {
        const id = await newCustomer();
        const read = await env.legacy.read(customerSpec(), id);
        const res = await env.legacy.write(customerSpec(), update(asRead(read), { lastName: 'Lovelace' }));
        expect(res.outcome).toBe('written');
      });

      // What Magento (or a person) changed between the read and the write.
      const moves: [string, string][] = [
        [
          'another column the decision read moved',
          "UPDATE customer_entity SET firstname = 'Augusta' WHERE entity_id = ?",
        ],
        [
          'an email changed only in letter case (the collation would call it equal)',
          'UPDATE customer_entity SET email = UPPER(email) WHERE entity_id = ?',
        ],
        [
          'only updated_at moved (Magento saved the row again)',
          'UPDATE customer_entity SET updated_at = updated_at + INTERVAL 1 SECOND WHERE entity_id = ?',
        ],
      ];
      for (const [what, sql] of moves) {
        it(`refuses when ${what}`, async () => {
          const id = await newCustomer();
          const read = await env.legacy.read(customerSpec(), id);
          await env.db.query(sql, [id]);
          const res = await env.legacy.write(customerSpec(), update(asRead(read), { lastName: 'Byron' }));
          expect(res.outcome).toBe('conflict');
          expect((await customerRow(id))['lastname']).toBe('Lovelace');
        });
      }

      it('refuses when a DECIMAL moved in its last digit, writes when it did not', async () => {
        const key = await newStock('10.0000');
        const read = await env.legacy.read(stockSpec(), key);
        expect(read.data['qty']).toBe('10.0000');
        await env.db.query('UPDATE cataloginventory_stock_item SET qty = 10.0001 WHERE product_id = ?', [
          key,
        ]);
        expect((await env.legacy.write(stockSpec(), update(asRead(read), { isInStock: 0 }))).outcome).toBe(
          'conflict',
        );
        const again = await env.legacy.read(stockSpec(), key);
        expect((await env.legacy.write(stockSpec(), update(asRead(again), { qty: '7.5000' }))).outcome).toBe(
          'written',
        );
        const [[row]] = await env.db.query<RowDataPacket[]>(
          'SELECT qty FROM cataloginventory_stock_item WHERE product_id = ?',
          [key],
        );
        expect(String(row!['qty'])).toBe('7.5000');
      });

      it('refuses when the row was deleted meanwhile', async () => {
        const id = await newCustomer();
        const read = await env.legacy.read(customerSpec(), id);
        await env.db.query('DELETE FROM customer_entity WHERE entity_id = ?', [id]);
        const res = await env.legacy.write(customerSpec(), update(asRead(read), { lastName: 'Byron' }));
        expect(res.outcome).toBe('conflict');
      });
    });
  }
});
