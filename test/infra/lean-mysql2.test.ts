/**
 * The mysql2 the functions bundle (`leanMysql2`, lib/constructs/cutover-function.ts): the
 * installed package with its error-code table evaluated on first use. Same files but that one,
 * and a table that names every code and every name as mysql2's own does.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { leanMysql2 } from '../../lib/constructs/cutover-function.js';

const installed = fileURLToPath(new URL('../../node_modules/mysql2/', import.meta.url));

function filesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

describe("leanMysql2: the bundles' mysql2", () => {
  const lean = leanMysql2();

  it('is the installed mysql2 with only its error-code table changed (and a stamp)', () => {
    const changed = filesOf(lean).filter((f) => {
      const original = join(installed, f);
      try {
        return !readFileSync(original).equals(readFileSync(join(lean, f)));
      } catch {
        return true;
      }
    });
    expect(changed.sort()).toEqual([
      '.cutover-stamp',
      'lib/constants/errors-table.js',
      'lib/constants/errors.js',
    ]);
    expect(filesOf(installed).filter((f) => !filesOf(lean).includes(f))).toEqual([]);
  });

  it("names every error code and every name as mysql2's own table does", () => {
    const require = createRequire(import.meta.url);
    const own = require(join(installed, 'lib/constants/errors.js')) as Record<string, unknown>;
    const table = require(join(lean, 'lib/constants/errors.js')) as Record<string, unknown>;
    expect(Object.keys(own).length).toBeGreaterThan(3000);
    expect({ ...table }).toEqual({ ...own });
    expect(Object.keys(table)).toEqual(Object.keys(own));
    expect(table[1062]).toBe('ER_DUP_ENTRY');
    expect(table['ER_ACCESS_DENIED_ERROR']).toBe(1045);
    expect('ER_READ_ONLY_MODE' in table).toBe(true);
    expect(table[999_999]).toBeUndefined();
  });

  it('evaluates the table on first use, not when mysql2 loads it', () => {
    // A fresh require (its own cache): loading the module leaves the table unevaluated.
    const require = createRequire(join(lean, 'lib', 'packets', 'packet.js'));
    const errors = join(lean, 'lib/constants/errors.js');
    const tableFile = join(lean, 'lib/constants/errors-table.js');
    delete require.cache[errors];
    delete require.cache[tableFile];
    const table = require(errors) as Record<number, string>;
    expect(require.cache[tableFile]).toBeUndefined();
    expect(table[1146]).toBe('ER_NO_SUCH_TABLE');
    expect(require.cache[tableFile]).toBeDefined();
  });

  it('is prepared once: a second call keeps the copy', () => {
    const stamp = join(lean, '.cutover-stamp');
    const before = statSync(stamp).mtimeMs;
    expect(leanMysql2()).toBe(lean);
    expect(statSync(stamp).mtimeMs).toBe(before);
    expect(relative(fileURLToPath(new URL('../../', import.meta.url)), lean)).toBe(
      '.cutover/bundling/node_modules/mysql2',
    );
  });
});
