/**
 * An entry bundled by test/integration/bundled-mysql.test.ts with the functions' esbuild options,
 * so with the bundles' mysql2 (its error-code table evaluated on first use, iconv-lite without
 * its double-byte tables: lib/constructs/cutover-function.ts): the legacy pool built as a
 * function's runtime builds it on its first connection (`legacyPoolFromEnv`, here from
 * `CUTOVER_MYSQL_URL`), then a query, a Magento row with non-ASCII text (`CUTOVER_TEST_TEXT`)
 * written and read back, a utf8mb4 value (`CUTOVER_TEST_TEXT_MB4`) likewise, server errors, and a
 * result in a charset the bundles cannot decode. Prints what it saw as JSON.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { legacyPoolFromEnv } from '../../lambdas/adapters/mysql-rotating-pool.js';

const pool = await legacyPoolFromEnv(process.env);
const text = process.env['CUTOVER_TEST_TEXT'] ?? '';
const mb4 = process.env['CUTOVER_TEST_TEXT_MB4'] ?? '';

async function failure(sql: string, params: unknown[] = []) {
  try {
    await pool.query(sql, params);
    return null;
  } catch (e) {
    const { code, errno, sqlState, message } = e as {
      code?: string;
      errno?: number;
      sqlState?: string;
      message: string;
    };
    return { code, errno, sqlState, message };
  }
}

const [[literal]] = await pool.query<RowDataPacket[]>("SELECT 'ok' AS s, 40 + 2 AS n");
await pool.query('INSERT INTO store_website (code, name) VALUES (?, ?)', ['bundle_probe', text]);
const [[website]] = await pool.query<RowDataPacket[]>(
  'SELECT name, HEX(name) AS hex FROM store_website WHERE code = ?',
  ['bundle_probe'],
);
await pool.query('CREATE TABLE bundle_probe_mb4 (id int PRIMARY KEY, s varchar(64)) CHARSET=utf8mb4');
await pool.query('INSERT INTO bundle_probe_mb4 (id, s) VALUES (1, ?)', [mb4]);
const [[wide]] = await pool.query<RowDataPacket[]>(
  'SELECT s, HEX(s) AS hex FROM bundle_probe_mb4 WHERE id = 1',
);
const errors = {
  duplicate: await failure('INSERT INTO store_website (code, name) VALUES (?, ?)', ['bundle_probe', 'again']),
  noTable: await failure('SELECT * FROM no_such_table'),
  syntax: await failure('SELEC 1'),
};
// A result left in big5 (no conversion to the connection's utf8mb4): iconv-lite's big5 table is
// not in the bundle, so this must fail, never come back as wrongly decoded text.
const conn = await pool.getConnection();
await conn.query('SET character_set_results = NULL');
const unsupported = await conn
  .query<RowDataPacket[]>('SELECT CONVERT(? USING big5) AS s', ['漢字'])
  .then(([rows]) => ({ decoded: rows[0]?.['s'] as unknown }))
  .catch((e: Error) => ({ error: e.message }));
conn.release();
await pool.end();
process.stdout.write(JSON.stringify({ literal, website, wide, errors, unsupported }));
