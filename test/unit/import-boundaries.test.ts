/**
 * What ships (the CDK app and constructs in lib/, the command line in bin/, the functions in
 * lambdas/, the bundled specs in migrations/) imports nothing from test/: `cutover rehearse` and
 * `npm start` run from lib/, and test support is not part of the product.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

/** Module specifiers of static imports, re-exports and dynamic imports. */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) out.push(m[1]!);
  return out;
}

describe('import boundaries', () => {
  it('lib/, bin/, lambdas/ and migrations/ import nothing from test/', () => {
    const offenders: string[] = [];
    for (const file of ['lib', 'bin', 'lambdas', 'migrations'].flatMap(sources)) {
      for (const spec of specifiers(readFileSync(path.join(root, file), 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = path.relative(root, path.resolve(root, path.dirname(file), spec));
        if (target === 'test' || target.startsWith(`test${path.sep}`)) offenders.push(`${file} → ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('finds an import of test/ when there is one (the scan itself works)', () => {
    expect(specifiers("const { x } = await import('../../test/support/databases.js');")).toEqual([
      '../../test/support/databases.js',
    ]);
    expect(specifiers("import { a } from '../test/support/databases.js';")).toEqual([
      '../test/support/databases.js',
    ]);
  });
});
