/**
 * The chunk checksum computed by MariaDB (MysqlLegacyStore.chunkChecksums: the SQL of checksum.ts
 * in one GROUP BY) equals the one computed in JS (checksum.ts over the rows the store reads), on
 * random rows of every field type — what the consistency check relies on when it compares the
 * SQL side with the service side's JS, and the poller when it compares SQL checksums with its
 * snapshots' JS row hashes (fast-check, seeded).
 */
import fc from 'fast-check';
import mysql, { type Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMysqlPool, MysqlLegacyStore } from '../../lambdas/adapters/mysql-legacy.js';
import { checksumOf, recordHash } from '../../lambdas/domain/checksum.js';
import { chunkOfKey } from '../../lambdas/domain/chunks.js';
import { EntitySchema, type EntitySpec } from '../../lib/spec/schema.js';
import { createMagentoDatabase } from '../support/databases.js';

const RUNS = Math.min(200, Number(process.env['CUTOVER_PROPERTY_RUNS'] ?? 60));
const SEED = Number(process.env['CUTOVER_PROPERTY_SEED'] ?? 20261130);
const CHUNK = 10;

// Magento's tables are utf8mb3: the Basic Multilingual Plane, as Magento stores it.
const DDL = `CREATE TABLE checksum_probe (
  id int unsigned NOT NULL,
  s varchar(64) DEFAULT NULL,
  i int DEFAULT NULL,
  d decimal(20,6) DEFAULT NULL,
  r decimal(12,4) DEFAULT NULL,
  b tinyint(1) DEFAULT NULL,
  t datetime DEFAULT NULL,
  dt date DEFAULT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`;

const probe: EntitySpec = EntitySchema.parse({
  name: 'probe',
  legacy: { table: 'checksum_probe', key: 'id' },
  target: { key: 'probeId' },
  policy: 'timestamp',
  consistency: 'eventual',
  fields: [
    { name: 's', type: 'string', column: 's' },
    { name: 'i', type: 'integer', column: 'i' },
    { name: 'd', type: 'decimal', scale: 6, column: 'd' },
    // A coarser scale than the column's: both sides round to it.
    { name: 'r', type: 'decimal', scale: 2, column: 'r' },
    { name: 'b', type: 'boolean', column: 'b' },
    { name: 't', type: 'timestamp', column: 't' },
    { name: 'dt', type: 'date', column: 'dt' },
  ],
});

type ProbeRow = [
  number,
  string | null,
  number | null,
  string | null,
  string | null,
  number | null,
  string | null,
  string | null,
];

const text = fc.string({
  unit: fc.constantFrom('a', 'Z', '0', ' ', '|', '\\', 'N', "'", '"', 'é', 'ß', '中', '€', '\u00a0'),
  maxLength: 12,
});
const decimal = (intDigits: number, scale: number) =>
  fc
    .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** BigInt(intDigits + scale) - 1n }))
    .map(([neg, n]) => {
      const s = n.toString().padStart(scale + 1, '0');
      return `${neg ? '-' : ''}${s.slice(0, -scale)}.${s.slice(-scale)}`;
    });
const datetime = fc
  .date({ min: new Date('1970-01-02T00:00:00Z'), max: new Date('2037-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 19).replace('T', ' '));
const row = (id: number): fc.Arbitrary<ProbeRow> =>
  fc.tuple(
    fc.constant(id),
    fc.option(text),
    fc.option(fc.integer({ min: -2147483648, max: 2147483647 })),
    fc.option(decimal(14, 6)),
    fc.option(decimal(8, 4)),
    fc.option(fc.integer({ min: 0, max: 1 })),
    fc.option(datetime),
    fc.option(datetime.map((t) => t.slice(0, 10))),
  );
const table = fc
  .uniqueArray(fc.integer({ min: 0, max: 99 }), { minLength: 1, maxLength: 40 })
  .chain((ids) => fc.tuple(...ids.map(row)));

describe('Function: chunk checksums, MariaDB (SQL) and JS agree', () => {
  let db: Pool;
  let store: MysqlLegacyStore;
  beforeAll(async () => {
    const url = await createMagentoDatabase(inject('mysqlUrl'), 'cutover_checksum_sql');
    db = mysql.createPool({ uri: url, connectionLimit: 2, timezone: 'Z' });
    db.pool.on('connection', (c) => {
      c.query("SET time_zone = '+00:00'");
    });
    await db.query(DDL);
    store = new MysqlLegacyStore({ pool: createMysqlPool({ uri: url, connectionLimit: 2 }) });
  });
  afterAll(async () => {
    await store?.end();
    await db?.end();
  });

  /** Loads `rows`, then the store's SQL checksums and the JS checksums of the rows it reads. */
  async function bothSides(rows: readonly ProbeRow[]) {
    await db.query('DELETE FROM checksum_probe');
    await db.query('INSERT INTO checksum_probe (id, s, i, d, r, b, t, dt) VALUES ?', [rows]);
    const sql = await store.chunkChecksums(probe, { chunkSize: CHUNK });
    const js = await Promise.all(
      sql.map(async ({ chunk }) => {
        const read = await store.readChunk(probe, chunk, { chunkSize: CHUNK });
        for (const r of read) expect(chunkOfKey(r.key, CHUNK)).toBe(chunk);
        return {
          chunk,
          count: read.length,
          checksum: checksumOf(read.map((r) => recordHash(probe, r.key, r.data))),
        };
      }),
    );
    return { sql, js };
  }

  it('on the edge cases: NULLs, `\\N` and `|` in text, signs, rounding, the first and last instants', async () => {
    const rows: ProbeRow[] = [
      [1, null, null, null, null, null, null, null],
      [2, '\\N', 0, '0.000000', '0.0050', 0, '1970-01-02 00:00:00', '1970-01-02'],
      [3, 'a|b', -1, '-0.000001', '-0.0050', 1, '2037-12-31 23:59:59', '2037-12-31'],
      [4, '', 2147483647, '99999999999999.999999', '12345678.9999', 0, '2026-11-30 12:34:56', '2026-02-28'],
      [5, "Crème brûlée 中 '€'", -2147483648, '-99999999999999.999999', '-12345678.9949', 1, null, null],
      [15, ' trailing ', 7, '19.990000', '19.9950', null, '2000-02-29 00:00:00', '2000-02-29'],
    ];
    const { sql, js } = await bothSides(rows);
    expect(sql.map((c) => c.chunk)).toEqual([0, 1]);
    expect(sql).toEqual(js);
  });

  it('on random rows of every field type (property)', async () => {
    await fc.assert(
      fc.asyncProperty(table, async (rows) => {
        const { sql, js } = await bothSides(rows);
        expect(sql.reduce((n, c) => n + c.count, 0)).toBe(rows.length);
        expect(sql).toEqual(js);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, 120_000);
});
