/**
 * The functions' bundles: each handler bundled with esbuild exactly as `CutoverFunction` has
 * aws-lambda-nodejs bundle it (lib/constructs/cutover-function.ts, `esbuildOptions`), its size,
 * and its module init: the time a fresh `node` process (this process's binary, the Node 24 of
 * `node_modules/.bin`) takes to import it, median of RUNS processes.
 *
 * Measured in the same run:
 * - **before**: the handlers at `CUTOVER_BENCH_BEFORE` (default: the last commit before the
 *   per-function composition roots of issue 18), extracted with `git archive` and bundled with
 *   the options they had then;
 * - **now**: the working tree with the construct's options;
 * - the options, each against *now*: the AWS SDK provided by the nodejs24.x runtime instead of
 *   bundled, Node's built-ins imported as ES modules instead of through
 *   `process.getBuiltinModule` (`NODE_BUILTINS_WITHOUT_FACADE`), the source map enabled at run
 *   time (`NODE_OPTIONS=--enable-source-maps`), minify flipped; on a sample of functions
 *   ({@link OPTION_SAMPLE}).
 *
 * Each import runs with the function's `NODE_OPTIONS` and no AWS credentials: module init only
 * (clients are constructed, nothing is called). The external AWS SDK resolves from this
 * project's `node_modules`, as the runtime's own copy would from `/var/runtime`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import {
  BUNDLING,
  bundlingFor,
  esbuildOptions,
  FUNCTION_NODE_OPTIONS,
} from '../lib/constructs/cutover-function.js';
import { magento } from '../migrations/index.js';
import { BUNDLE_BUDGET, isAwsSdkPackage, LEGACY_HANDLERS } from '../test/support/function-kinds.js';
import type { Bench, BenchRow } from './types.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.join(root, '.cutover', 'bench-bundles');
const RUNS = Math.max(3, Number(process.env.CUTOVER_BENCH_RUNS ?? 11));
/** main just before issue 18 changed the functions' composition. */
const BEFORE_REF = process.env.CUTOVER_BENCH_BEFORE ?? 'fd3e24b';
/** The bundling options at BEFORE_REF (lib/constructs/cutover-function.ts then). */
const BEFORE_BUNDLING = {
  target: 'node24',
  mainFields: ['module', 'main'],
  banner: BUNDLING.banner,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  externalModules: ['@aws-sdk/*'],
};
const KIB = 1024;
/**
 * The functions the options are measured on (each option against *now*): the SQS sync paths,
 * a MySQL one, the gateway (AWS SDK client at init), and the smallest rollout task. All
 * functions get their before/now figures.
 */
const OPTION_SAMPLE = new Set(['forward-sync', 'reverse-sync', 'gateway', 'rollout-request-approval']);

/** Handler entries of a tree: the files of lambdas/handlers that export `handler`. */
function entriesOf(tree: string): Map<string, string> {
  const dir = path.join(tree, 'lambdas', 'handlers');
  const out = new Map<string, string>();
  for (const f of readdirSync(dir).sort()) {
    const file = path.join(dir, f);
    if (!f.endsWith('.ts') || !statSync(file).isFile()) continue;
    if (/export const handler\b/.test(readFileSync(file, 'utf8'))) out.set(f.replace(/\.ts$/, ''), file);
  }
  return out;
}

interface Bundle {
  readonly file: string;
  readonly bytes: number;
  readonly mapBytes: number;
  readonly nodeOptions: string;
  /** Bytes of the output by npm package (`(project)` for our sources). */
  readonly byPackage: Map<string, number>;
}

function packageOf(input: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return m ? m[1]! : '(project)';
}

async function bundle(
  entry: string,
  out: string,
  options: Parameters<typeof esbuildOptions>[2],
  extra: { define?: Record<string, string>; nodeOptions?: string } = {},
): Promise<Bundle> {
  rmSync(path.dirname(out), { recursive: true, force: true });
  mkdirSync(path.dirname(out), { recursive: true });
  const result = await build({
    ...esbuildOptions(entry, out, { ...options, ...(extra.define ? { define: extra.define } : {}) }),
    metafile: true,
  });
  const byPackage = new Map<string, number>();
  const outputs = (result.metafile as Metafile).outputs;
  for (const o of Object.values(outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(o.inputs)) {
      const p = packageOf(input);
      byPackage.set(p, (byPackage.get(p) ?? 0) + bytesInOutput);
    }
  }
  return {
    file: out,
    bytes: statSync(out).size,
    mapBytes: existsSync(`${out}.map`) ? statSync(`${out}.map`).size : 0,
    nodeOptions: extra.nodeOptions ?? FUNCTION_NODE_OPTIONS,
    byPackage,
  };
}

const IMPORT = [
  'const url = process.argv[1];',
  'const t = performance.now();',
  'await import(url);',
  'process.stdout.write(String(performance.now() - t));',
].join('\n');

/** One fresh process importing the bundle: milliseconds from import start to its end. */
function initOnce(b: Bundle): number {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', IMPORT, pathToFileURL(b.file).href], {
    env: {
      PATH: process.env.PATH,
      NODE_OPTIONS: b.nodeOptions,
      AWS_REGION: 'us-east-1',
      CUTOVER_MIGRATION: 'magento',
      CUTOVER_STAGE: 'bench',
    },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`importing ${b.file} failed: ${r.stderr}`);
  return Number(r.stdout);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The tree at `ref`, under .cutover (so that its imports resolve from this node_modules). */
function extract(ref: string): string | undefined {
  const dir = path.join(work, `tree-${ref}`);
  try {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync('git', ['-C', root, 'archive', ref, 'lambdas', 'lib', 'migrations'], {
      maxBuffer: 256 * 2 ** 20,
    });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
    return dir;
  } catch {
    return undefined;
  }
}

/** The 1-, 5- and 15-minute load averages (what `uptime` prints): the machine is shared. */
function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

const bench: Bench = async (log) => {
  const loadBefore = loadAverage();
  const peakLoad = () => Math.max(...os.loadavg());
  let busiest = peakLoad();
  const now = entriesOf(root);
  const beforeTree = extract(BEFORE_REF);
  const before = beforeTree ? entriesOf(beforeTree) : new Map<string, string>();
  if (!beforeTree) log(`no git tree at ${BEFORE_REF}: no "before" figures`);

  type Variant =
    | 'before'
    | 'now'
    | 'with-legacy'
    | 'sdk-external'
    | 'builtins-imported'
    | 'sourcemap-flip'
    | 'minify-flip';
  const bundles = new Map<string, Map<Variant, Bundle>>();
  for (const [name, entry] of now) {
    const v = new Map<Variant, Bundle>();
    const dir = path.join(work, name);
    const at = (variant: string) => path.join(dir, variant, 'index.mjs');
    const beforeEntry = before.get(name);
    if (beforeEntry)
      v.set(
        'before',
        await bundle(beforeEntry, at('before'), BEFORE_BUNDLING, { nodeOptions: '--enable-source-maps' }),
      );
    const now = bundlingFor(magento);
    v.set('now', await bundle(entry, at('now'), now));
    if (LEGACY_HANDLERS.has(name)) {
      // The same bundle with the legacy adapters the runtime loads on its first connection
      // (lambdas/handlers/runtime.ts) evaluated at import: what a cold start of a MySQL-legacy
      // migration's function evaluates before its first query, short of the network.
      const probe = path.join(dir, 'with-legacy-entry.ts');
      mkdirSync(dir, { recursive: true });
      const adapters = ['mysql-legacy', 'mysql-rotating-pool'].map((a) =>
        JSON.stringify(path.join(root, 'lambdas', 'adapters', `${a}.ts`)),
      );
      writeFileSync(
        probe,
        [`export * from ${JSON.stringify(entry)};`, ...adapters.map((a) => `await import(${a});`)].join('\n'),
      );
      v.set('with-legacy', await bundle(probe, at('with-legacy'), now));
    }
    if (OPTION_SAMPLE.has(name)) {
      v.set(
        'sdk-external',
        await bundle(entry, at('sdk-external'), {
          ...now,
          externalModules: [...now.externalModules, '@aws-sdk/*'],
        }),
      );
      v.set('builtins-imported', await bundle(entry, at('builtins-imported'), { ...now, esbuildArgs: {} }));
      // The same bundle and map, with the map enabled at run time.
      v.set('sourcemap-flip', { ...v.get('now')!, nodeOptions: '--enable-source-maps' });
      v.set('minify-flip', await bundle(entry, at('minify-flip'), { ...now, minify: !now.minify }));
    }
    bundles.set(name, v);
  }
  log(
    `bundled ${now.size} handlers (before, now; options on ${OPTION_SAMPLE.size}); timing ${RUNS} imports each`,
  );

  // Interleaved: every variant of every function once per round, so that load drift on a
  // shared machine spreads over all of them alike. One warm-up round (file cache).
  const times = new Map<string, number[]>();
  for (let round = 0; round <= RUNS; round++) {
    for (const [name, v] of bundles) {
      for (const [variant, b] of v) {
        const ms = initOnce(b);
        if (round === 0) continue;
        const key = `${name}\n${variant}`;
        times.set(key, [...(times.get(key) ?? []), ms]);
      }
    }
    busiest = Math.max(busiest, peakLoad());
    if (round > 0 && round % 4 === 0) log(`round ${round}/${RUNS}`);
  }
  const init = (name: string, variant: Variant) => median(times.get(`${name}\n${variant}`) ?? [Number.NaN]);

  const rows: BenchRow[] = [];
  const notes: string[] = [];
  for (const [name, v] of bundles) {
    const cur = v.get('now')!;
    const old = v.get('before');
    const mysql = cur.byPackage.has('mysql2');
    const sizeTarget = (LEGACY_HANDLERS.has(name) ? BUNDLE_BUDGET.legacy : BUNDLE_BUDGET.small) / KIB;
    const sdkBytes = [...cur.byPackage].reduce((n, [p, b]) => n + (isAwsSdkPackage(p) ? b : 0), 0);
    rows.push({
      metric: `${name}: bundle besides the AWS SDK${mysql ? ' (mysql2)' : ''}`,
      value: (cur.bytes - sdkBytes) / KIB,
      unit: 'KiB',
      ...(old ? { baseline: { metric: 'before', value: old.bytes / KIB } } : {}),
      target: `< ${sizeTarget} KiB`,
      met: (cur.bytes - sdkBytes) / KIB < sizeTarget,
    });
    rows.push({ metric: `${name}: bundle with the AWS SDK`, value: cur.bytes / KIB, unit: 'KiB' });
    rows.push({
      metric: `${name}: module init, median`,
      value: init(name, 'now'),
      unit: 'ms',
      ...(old ? { baseline: { metric: 'before', value: init(name, 'before') } } : {}),
      target: '< 100 ms',
      met: init(name, 'now') < 100,
    });
    const top = [...cur.byPackage]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([p, n]) => `${p} ${(n / KIB).toFixed(0)} KiB`)
      .join(', ');
    notes.push(`${name}: ${top}${old ? `; before: ${(old.bytes / KIB).toFixed(0)} KiB` : ''}`);
    if (v.has('with-legacy'))
      rows.push({
        metric: `${name}: init with mysql2 evaluated (first connection's imports)`,
        value: init(name, 'with-legacy'),
        unit: 'ms',
        baseline: { metric: 'now', value: init(name, 'now') },
        target: '< 100 ms',
        met: init(name, 'with-legacy') < 100,
      });
    if (!v.has('sdk-external')) continue;
    for (const [variant, label] of [
      ['sdk-external', "AWS SDK external (the runtime's)"],
      ['builtins-imported', 'built-ins as ESM imports'],
      ['sourcemap-flip', 'NODE_OPTIONS=--enable-source-maps'],
      ['minify-flip', BUNDLING.minify ? 'minify off' : 'minify on'],
    ] as const) {
      rows.push({
        metric: `${name}: init, ${label}`,
        value: init(name, variant),
        unit: 'ms',
        baseline: { metric: 'now', value: init(name, 'now') },
      });
    }
    rows.push({
      metric: `${name}: bundle, AWS SDK external`,
      value: v.get('sdk-external')!.bytes / KIB,
      unit: 'KiB',
      baseline: { metric: 'now', value: cur.bytes / KIB },
    });
  }
  if (beforeTree) rmSync(beforeTree, { recursive: true, force: true });
  return {
    title: "Function bundles: size and module init (fresh process), before/now and esbuild's options",
    rows,
    notes: [
      `Each handler bundled with esbuild as CutoverFunction does (its BUNDLING with the magento spec compiled in, lib/constructs/cutover-function.ts), written under .cutover/bench-bundles; "before" is ${BEFORE_REF} (git archive) with its options then (ESM, node24, minified, source maps with NODE_OPTIONS=--enable-source-maps, AWS SDK external).`,
      `Module init: median of ${RUNS} fresh \`node\` processes (${process.version}) per bundle and variant, each timing \`await import(bundle)\` with the function's NODE_OPTIONS (before: --enable-source-maps; now: ${FUNCTION_NODE_OPTIONS || 'none'}); rounds interleave all bundles and variants, after one warm-up round.`,
      "Now: the AWS SDK bundled (its ES modules, tree-shaken) and Node's http, https, util, fs, fs/promises taken with process.getBuiltinModule (no ESM facade: node:http's lazy getters would load undici). The SDK's default credential chain is reduced to its environment link (the credentials Lambda sets), and mysql2's error-code table is evaluated on first use (leanMysql2). The \"AWS SDK external\" variant resolves the SDK from node_modules here; on Lambda it would be the runtime's copy. \"(mysql2)\" marks a bundle containing mysql2. Budgets (test/infra/bundle-budget.test.ts), bytes besides the AWS SDK (@aws-sdk/*, @smithy/*): 1 MiB for the functions that query the legacy side, 150 KiB for the others.",
      'The MySQL functions load mysql2 (and the legacy adapters) by dynamic import when the runtime first connects, i.e. in their first invocation, not in module init: every invocation of a Magento (MySQL) migration\'s function connects, so that cost (the "init with mysql2 evaluated" row: the same bundle importing those adapters at module init) is part of every cold start and is not saved by the deferral; only an HTTP-legacy migration never pays it.',
      `Load average (\`uptime\`: 1, 5, 15 min) on this 2-core shared machine: ${loadBefore} before, ${loadAverage()} after${busiest > 4 ? `; above 4 during the run (up to ${busiest.toFixed(1)}): the machine was busy and every time above is inflated by it` : ''}.`,
      'Largest parts of each bundle (now), by package:',
      ...notes,
    ],
  };
};

export default bench;
