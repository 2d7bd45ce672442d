/**
 * The layering the README promises, held on the sources' imports (static and dynamic):
 * - `lambdas/domain` is pure: no adapter, handler, AWS SDK, mysql2, middy, Powertools or zod;
 * - nothing under `lambdas/` imports `migrations/` (a function gets its spec as JSON in its
 *   bundle; the bundles' asset hash leaves the migrations' sources out);
 * - a handler entry (a file of lambdas/handlers exporting `handler`) imports no other entry;
 * - adapters import no handler, and no module of lambdas/ is part of an import cycle.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((f) => {
    const p = join(dir, f);
    return statSync(join(root, p)).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The module specifiers a file imports (`import … from`, `export … from`, `import(…)`), type-only ones left out. */
function importsOf(source: string): string[] {
  const out: string[] = [];
  const re =
    /(?:^|\n)\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of source.matchAll(re)) {
    if (m[2]) continue; // `import type` / `export type`: erased
    out.push((m[3] ?? m[4])!);
  }
  return out;
}

/** `spec` as a project path (`lambdas/adapters/x.ts`) or a package name. */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return relative(root, resolve(root, dirname(file), spec)).replace(/\.js$/, '.ts');
}

const edges = (dir: string) =>
  files(dir).flatMap((f) =>
    importsOf(readFileSync(join(root, f), 'utf8')).map((s) => ({ from: f, to: target(f, s) })),
  );

describe('Layers (imports per folder)', () => {
  it('reads static, re-exported and dynamic imports, and leaves type-only ones out', () => {
    expect(
      importsOf(
        "import a from 'x';\nimport type { B } from 'y';\nexport { c } from './c.js';\nconst d = await import('./d.js');",
      ),
    ).toEqual(['x', './c.js', './d.js']);
  });

  it('keeps lambdas/domain pure', () => {
    const bad = edges('lambdas/domain').filter(({ to }) =>
      /^(lambdas\/(adapters|handlers)\/|migrations\/|@aws-sdk\/|mysql2|@middy\/|@aws-lambda-powertools\/|zod$|zod\/)/.test(
        to,
      ),
    );
    expect(bad).toEqual([]);
  });

  it('keeps migrations/ and zod out of every function', () => {
    const bad = edges('lambdas').filter(({ to }) =>
      /^(migrations\/|lib\/spec\/schema\.ts$|zod$|zod\/)/.test(to),
    );
    expect(bad).toEqual([]);
  });

  it("has no import cycle among the functions' modules", () => {
    const graph = new Map<string, string[]>();
    for (const { from, to } of edges('lambdas')) graph.set(from, [...(graph.get(from) ?? []), to]);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (node: string, path: string[]) => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'open') {
        cycles.push([...path.slice(path.indexOf(node)), node].join(' -> '));
        return;
      }
      state.set(node, 'open');
      for (const next of graph.get(node) ?? []) if (next.startsWith('lambdas/')) visit(next, [...path, node]);
      state.set(node, 'done');
    };
    for (const node of graph.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });

  it('keeps handler entries from importing each other, and adapters from importing handlers', () => {
    const entries = new Set(
      files('lambdas/handlers').filter((f) =>
        /export const handler\b/.test(readFileSync(join(root, f), 'utf8')),
      ),
    );
    expect(entries.size).toBeGreaterThanOrEqual(20);
    const bad = [
      ...edges('lambdas/handlers').filter(({ from, to }) => entries.has(from) && entries.has(to)),
      ...edges('lambdas/adapters').filter(({ to }) => to.startsWith('lambdas/handlers/')),
    ];
    expect(bad).toEqual([]);
  });
});
