/**
 * What ships (the CDK app and constructs in lib/, the command line in bin/, the functions in
 * lambdas/, the bundled specs in migrations/) imports nothing from test/: `cutover rehearse` and
 * `npm start` run from lib/, and test support is not part of the product.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRIC } from '../../lib/spec/metrics.js';

const root = path.resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

/**
 * Module specifiers of static imports, re-exports and dynamic imports; with `values`, the
 * type-only ones (`import type`, `export type`: erased) left out.
 */
function specifiers(text: string, { values = false } = {}): string[] {
  const out: string[] = [];
  const re =
    /(?:^|\n)\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of text.matchAll(re)) {
    if (values && m[1]) continue;
    out.push((m[2] ?? m[3])!);
  }
  return out;
}

/** Imports of `dir`'s sources as project paths (`lambdas/adapters/x.ts`) or package names. */
function edges(dir: string): { from: string; to: string }[] {
  return sources(dir).flatMap((from) =>
    specifiers(readFileSync(path.join(root, from), 'utf8'), { values: true }).map((s) => ({
      from,
      to: s.startsWith('.')
        ? path.relative(root, path.resolve(root, path.dirname(from), s)).replace(/\.js$/, '.ts')
        : s,
    })),
  );
}

/**
 * Reads of the current time, timers and randomness in `text`, comments left out: the domain
 * takes them from its dependencies (a `Clock`, `Sleep`, `Random` of lambdas/domain/ports.ts), so
 * its use cases run the same under a test's clock as under the system's.
 */
function ambientCalls(text: string): string[] {
  return [
    ...code(text).matchAll(
      /\b(?:Date\.now|performance\.now|setTimeout|setInterval|setImmediate|Math\.random)\b|\bnew Date\(\s*\)/g,
    ),
  ].map((m) => m[0].replace(/\(\s+\)/, '()'));
}

/** `text` without its comments (block and line), so that a rule reads only code. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** `file: match` for each match of `re` in the code of `files`. */
function matches(files: string[], re: RegExp): string[] {
  return files.flatMap((file) =>
    [...code(readFileSync(path.join(root, file), 'utf8')).matchAll(re)].map((m) => `${file}: ${m[0]}`),
  );
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

/**
 * The layering the README promises:
 * - `lambdas/domain` is pure: no adapter, handler, AWS SDK, mysql2, middy, Powertools or zod;
 * - nothing under `lambdas/` imports `migrations/`, the spec schema or zod (a function gets its
 *   spec as JSON in its bundle; the bundles' asset hash leaves the migrations' sources out);
 * - no module of `lambdas/` is part of an import cycle;
 * - a handler entry (a file of lambdas/handlers exporting `handler`) imports no other entry, and
 *   adapters import no handler.
 */
describe('Layers (imports per folder)', () => {
  it('reads static, re-exported and dynamic imports, and leaves type-only ones out', () => {
    const text =
      "import a from 'x';\nimport type { B } from 'y';\nexport { c } from './c.js';\nimport './side.js';\nconst d = await import('./d.js');";
    expect(specifiers(text, { values: true })).toEqual(['x', './c.js', './side.js', './d.js']);
    expect(specifiers(text)).toEqual(['x', 'y', './c.js', './side.js', './d.js']);
  });

  it('keeps lambdas/domain pure', () => {
    const bad = edges('lambdas/domain').filter(({ to }) =>
      /^(lambdas\/(adapters|handlers)\/|migrations\/|@aws-sdk\/|mysql2|@middy\/|@aws-lambda-powertools\/|zod$|zod\/)/.test(
        to,
      ),
    );
    expect(bad).toEqual([]);
  });

  it('keeps the clock, timers and randomness out of lambdas/domain (they come from its dependencies)', () => {
    const bad = sources('lambdas/domain').flatMap((file) =>
      ambientCalls(readFileSync(path.join(root, file), 'utf8')).map((call) => `${file}: ${call}`),
    );
    expect(bad).toEqual([]);
  });

  it('finds a read of the clock, a timer or randomness in code, and not in comments', () => {
    expect(
      ambientCalls('const t = Date.now();\nsetTimeout(f, 1); // Math.random\n/** @default setImmediate */'),
    ).toEqual(['Date.now', 'setTimeout']);
    expect(ambientCalls('const d = new Date();\nconst e = new Date(x);\nconst r = Math.random();')).toEqual([
      'new Date()',
      'Math.random',
    ]);
    expect(ambientCalls('const t0 = performance.now(); // performance.now()')).toEqual(['performance.now']);
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
      sources('lambdas/handlers').filter((f) =>
        /export const handler\b/.test(readFileSync(path.join(root, f), 'utf8')),
      ),
    );
    expect(entries.size).toBeGreaterThanOrEqual(20);
    const bad = [
      ...edges('lambdas/handlers').filter(({ from, to }) => entries.has(from) && entries.has(to)),
      ...edges('lambdas/adapters').filter(({ to }) => to.startsWith('lambdas/handlers/')),
    ];
    expect(bad).toEqual([]);
  });

  it('has handlers take capabilities from the composition root, not probe ports or adapter classes', () => {
    // A capability (set-based writes, key bounds, a listing, EAV attribute ids) is a port of its
    // own that lambdas/handlers/runtime.ts hands over where the legacy kind has it.
    const adapterClasses = [
      ...new Set(
        sources('lambdas/adapters').flatMap((f) =>
          [...readFileSync(path.join(root, f), 'utf8').matchAll(/export (?:abstract )?class (\w+)/g)].map(
            (m) => m[1]!,
          ),
        ),
      ),
    ];
    expect(adapterClasses).toContain('MysqlLegacyStore');
    const probes = matches(
      [...sources('lambdas/handlers'), 'lambdas/domain/ports.ts'],
      /typeof\s+[\w.()\s]+?(?:\s+as\s+[^)]+\))?\.\w+\s*===\s*['"]function['"]|\)\s*:\s*\w+\s+is\s+\w+\s*&/g,
    );
    const instanceOfAdapter = matches(
      sources('lambdas/handlers'),
      new RegExp(`\\binstanceof\\s+(?:${adapterClasses.join('|')})\\b`, 'g'),
    );
    expect([...probes, ...instanceOfAdapter]).toEqual([]);
  });

  it('defines the echo markers (the attributes that stop sync loops) in lib/spec/tables.ts only', () => {
    const bad = matches(
      [...sources('lambdas'), ...sources('lib').filter((f) => f !== path.join('lib', 'spec', 'tables.ts'))],
      /['"`](?:_writer|_syncedVersion)['"`]/g,
    );
    expect(bad).toEqual([]);
  });

  it('searches a spec for an entity or a service by name in lib/spec/lookup.ts only', () => {
    // lib/rehearse searches its own plan's entities (not a spec), and is another area's.
    const files = [...sources('lambdas'), ...sources('lib')].filter(
      (f) => f !== path.join('lib', 'spec', 'lookup.ts') && !f.startsWith(path.join('lib', 'rehearse')),
    );
    const bad = matches(
      files,
      /\.(?:entities|services)\.(?:find|some|filter)\(\s*\(?\w+\)?\s*=>\s*\w+\.name\s*===/g,
    );
    expect(bad).toEqual([]);
  });

  it('names metrics from the one list (METRIC of lib/spec/metrics.ts) in the functions, the alarms and the dashboards', () => {
    // A renamed metric then renames every emitter and every alarm on it, or fails to compile.
    const names = Object.values(METRIC);
    const files = ['lambdas', 'lib', 'bin']
      .flatMap(sources)
      .filter((f) => f !== path.join('lib', 'spec', 'metrics.ts'));
    const literals = matches(files, new RegExp(`['"\`](?:${names.join('|')})['"\`]`, 'g'));
    // Every emission goes through a METRIC value (the gateway's telemetry passes a MetricName).
    const emissions = matches(sources('lambdas'), /\baddMetric\(\s*(?!METRIC\.|name\b)[^,)]*/g);
    // Every CloudWatch metric of the stacks is built by cutoverMetric or queueMetric.
    const metrics = matches(
      files.filter((f) => f !== path.join('lib', 'constructs', 'metrics.ts')),
      /new cloudwatch\.Metric\(/g,
    );
    expect([...literals, ...emissions, ...metrics]).toEqual([]);
  });

  it("reads the functions' environment in one place (functionEnv of lib/spec/runtime.ts)", () => {
    // lib/spec is bundled into the functions with lambdas/; every `…FromEnv` defaults to functionEnv().
    const reader = path.join('lib', 'spec', 'runtime.ts');
    const bad = matches(
      [...sources('lambdas'), ...sources(path.join('lib', 'spec'))].filter((f) => f !== reader),
      /\bprocess\.env\b/g,
    );
    expect(bad).toEqual([]);
    expect(matches([reader], /\bprocess\.env\b/g)).toHaveLength(1);
  });

  it('sleeps and backs off with the one helper of each (systemSleep, backoffMs) in lambdas/ and lib/cli/', () => {
    // A wait is systemSleep (abortable, its timer cleared); a retry's delay is backoffMs.
    const files = [...sources('lambdas'), ...sources(path.join('lib', 'cli'))];
    const sleeps = matches(
      files.filter((f) => f !== path.join('lambdas', 'adapters', 'system-clock.ts')),
      /setTimeout\(\s*(?:r|resolve|done)\s*,/g,
    );
    const backoffs = matches(
      files.filter((f) => f !== path.join('lambdas', 'domain', 'backoff.ts')),
      /\b2\s*\*\*\s*\(?\s*attempt|Math\.pow\(\s*2\s*,\s*attempt/g,
    );
    expect([...sleeps, ...backoffs]).toEqual([]);
  });
});
