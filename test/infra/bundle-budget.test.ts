/**
 * The bundle budgets of issue 18, held on every handler: bundled with esbuild as CutoverFunction
 * bundles it (same options, the magento spec compiled in), a function that does not query the
 * legacy side stays under 150 KiB besides the AWS SDK and holds no mysql2; one that does stays
 * under 1 MiB besides the AWS SDK. Bundle size is deterministic for the same sources and
 * lockfile, so this is a behaviour check, not a timing one. Each bundle is also imported in a
 * fresh Node process (what a cold start does first). (Module init times: `npm run bench --
 * bundles`.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { bundlingFor, esbuildOptions, handlerEntry } from '../../lib/constructs/cutover-function.js';
import { magento } from '../../migrations/index.js';
import { BUNDLE_BUDGET, isAwsSdkPackage, LEGACY_HANDLERS } from '../support/function-kinds.js';

const handlersDir = fileURLToPath(new URL('../../lambdas/handlers/', import.meta.url));
/** Every handler entry: the files of lambdas/handlers that export `handler`. */
const handlers = readdirSync(handlersDir)
  .filter(
    (f) => f.endsWith('.ts') && /export const handler\b/.test(readFileSync(join(handlersDir, f), 'utf8')),
  )
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();
const out = mkdtempSync(join(tmpdir(), 'cutover-bundles-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Bundle {
  readonly outfile: string;
  /** Bytes of `index.mjs` besides the AWS SDK's modules. */
  readonly bytes: number;
  readonly sdkBytes: number;
  readonly packages: Set<string>;
}

async function bundle(handler: string): Promise<Bundle> {
  const outfile = join(out, handler, 'index.mjs');
  const r = await build({
    ...esbuildOptions(handlerEntry(handler), outfile, bundlingFor(magento)),
    metafile: true,
  });
  const packages = new Set<string>();
  let sdkBytes = 0;
  for (const o of Object.values((r.metafile as Metafile).outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(o.inputs)) {
      const p = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
      if (p === undefined) continue;
      packages.add(p);
      if (isAwsSdkPackage(p)) sdkBytes += bytesInOutput;
    }
  }
  return { outfile, bytes: statSync(outfile).size - sdkBytes, sdkBytes, packages };
}

/** Imports the bundle in a fresh Node process, as a cold start does, with no AWS credentials. */
function importFresh(outfile: string): { status: number | null; stderr: string } {
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', 'await import(process.argv[1])', pathToFileURL(outfile).href],
    {
      env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', CUTOVER_MIGRATION: 'magento' },
      encoding: 'utf8',
    },
  );
  return { status: r.status, stderr: r.stderr };
}

describe('Function bundles (esbuild, as CutoverFunction builds them)', () => {
  it('knows every handler the budgets name', () => {
    expect(handlers.length).toBeGreaterThanOrEqual(20);
    for (const h of LEGACY_HANDLERS) expect(handlers).toContain(h);
  });

  it.each(handlers.filter((h) => !LEGACY_HANDLERS.has(h)))(
    '%s: under 150 KiB besides the AWS SDK, without mysql2 or zod; imports in a fresh process',
    async (handler) => {
      const b = await bundle(handler);
      expect(b.packages).not.toContain('mysql2');
      expect(b.packages).not.toContain('zod');
      expect(b.bytes, `${handler}: ${(b.bytes / 1024).toFixed(1)} KiB`).toBeLessThan(BUNDLE_BUDGET.small);
      expect(importFresh(b.outfile)).toEqual({ status: 0, stderr: '' });
    },
  );

  it.each([...LEGACY_HANDLERS])(
    '%s: under 1 MiB besides the AWS SDK, without zod; imports in a fresh process',
    async (handler) => {
      const b = await bundle(handler);
      expect(b.packages).not.toContain('zod');
      expect(b.bytes, `${handler}: ${(b.bytes / 1024).toFixed(1)} KiB`).toBeLessThan(BUNDLE_BUDGET.legacy);
      expect(importFresh(b.outfile)).toEqual({ status: 0, stderr: '' });
    },
  );
});
