/**
 * The MySQL functions' mysql2 as bundled (lib/constructs/cutover-function.ts: the bundles take a
 * copy of mysql2 whose error-code table is evaluated on first use, `leanMysql2`, and iconv-lite
 * without its double-byte tables), against MariaDB: test/support/bundled-mysql-probe.ts, bundled
 * with the functions' esbuild options and run in a fresh Node process as a cold start runs it,
 * connects the way a function's runtime does, queries, writes and reads back non-ASCII text,
 * names server errors as mysql2 names them, and fails on a charset it cannot decode.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundlingFor, esbuildOptions } from '../../lib/constructs/cutover-function.js';
import { magento } from '../../migrations/index.js';
import { createMagentoDatabase } from '../support/databases.js';

const TEXT = 'Zoë Ñandú — Köln, Łódź, 東京';
const TEXT_MB4 = 'Zoë 🚀 東京 𝄞';
const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

describe("Bundled mysql2 (the functions' esbuild options) against MariaDB", () => {
  const out = mkdtempSync(join(tmpdir(), 'cutover-bundled-mysql-'));
  let seen: Record<string, any>;
  let inputs: string[];
  beforeAll(async () => {
    const outfile = join(out, 'index.mjs');
    const entry = fileURLToPath(new URL('../support/bundled-mysql-probe.ts', import.meta.url));
    const r = await build({ ...esbuildOptions(entry, outfile, bundlingFor(magento)), metafile: true });
    inputs = Object.keys(Object.values((r.metafile as Metafile).outputs).find((o) => o.entryPoint)!.inputs);
    const url = await createMagentoDatabase(inject('mysqlUrl'), 'cutover_bundled_mysql');
    const run = spawnSync(process.execPath, [outfile], {
      env: {
        PATH: process.env.PATH,
        CUTOVER_MYSQL_URL: url,
        CUTOVER_TEST_TEXT: TEXT,
        CUTOVER_TEST_TEXT_MB4: TEXT_MB4,
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    seen = JSON.parse(run.stdout);
  }, 120_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('bundles the lean mysql2 (error-code table as data, loaded on first use)', () => {
    const lean = inputs.filter((i) => i.startsWith('.cutover/bundling/node_modules/mysql2/'));
    expect(lean).toContain('.cutover/bundling/node_modules/mysql2/lib/constants/errors-table.js');
    expect(inputs.filter((i) => i.startsWith('node_modules/mysql2/'))).toEqual([]);
  });

  it('queries', () => {
    expect(seen['literal']).toEqual({ s: 'ok', n: 42 });
  });

  it('writes and reads back non-ASCII text in a Magento row (utf8mb3) and a utf8mb4 column, stored as UTF-8', () => {
    expect(seen['website']).toEqual({ name: TEXT, hex: hex(TEXT) });
    expect(seen['wide']).toEqual({ s: TEXT_MB4, hex: hex(TEXT_MB4) });
  });

  it("names server errors as mysql2's table does (code, errno, SQL state)", () => {
    const { duplicate, noTable, syntax } = seen['errors'];
    expect(duplicate).toMatchObject({ code: 'ER_DUP_ENTRY', errno: 1062, sqlState: '23000' });
    expect(noTable).toMatchObject({ code: 'ER_NO_SUCH_TABLE', errno: 1146, sqlState: '42S02' });
    expect(syntax).toMatchObject({ code: 'ER_PARSE_ERROR', errno: 1064, sqlState: '42000' });
  });

  it('fails loudly on a result in a charset the bundle cannot decode, never decodes it wrongly', () => {
    expect(seen['unsupported']).toEqual({ error: expect.stringMatching(/Cannot find module '\.\/tables\//) });
  });
});
