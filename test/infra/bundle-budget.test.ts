/**
 * The bundle budgets of issue 18, held on every handler: bundled with esbuild as CutoverFunction
 * bundles it (same options, the magento spec compiled in), a function that does not query the
 * legacy side stays under 150 KiB and holds no mysql2; one that does stays under 1 MiB. Bundle
 * size is deterministic for the same sources and lockfile, so this is a behaviour check, not a
 * timing one. (Module init times: `npm run bench -- bundles`.)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { bundlingFor, esbuildOptions, handlerEntry } from '../../lib/constructs/cutover-function.js';
import { magento } from '../../migrations/index.js';
import { BUNDLE_BUDGET, LEGACY_HANDLERS } from '../support/function-kinds.js';

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

async function bundle(handler: string): Promise<{ bytes: number; packages: Set<string> }> {
  const outfile = join(out, handler, 'index.mjs');
  const r = await build({
    ...esbuildOptions(handlerEntry(handler), outfile, bundlingFor(magento)),
    metafile: true,
  });
  const packages = new Set(
    Object.keys((r.metafile as Metafile).inputs)
      .map((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(i)?.[1])
      .filter((p): p is string => p !== undefined),
  );
  return { bytes: statSync(outfile).size, packages };
}

describe('Function bundles (esbuild, as CutoverFunction builds them)', () => {
  it('knows every handler the budgets name', () => {
    expect(handlers.length).toBeGreaterThanOrEqual(20);
    for (const h of LEGACY_HANDLERS) expect(handlers).toContain(h);
  });

  it.each(handlers.filter((h) => !LEGACY_HANDLERS.has(h)))(
    '%s: under 150 KiB, without mysql2 or zod',
    async (handler) => {
      const b = await bundle(handler);
      expect(b.packages).not.toContain('mysql2');
      expect(b.packages).not.toContain('zod');
      expect(b.bytes, `${handler}: ${(b.bytes / 1024).toFixed(1)} KiB`).toBeLessThan(BUNDLE_BUDGET.small);
    },
  );

  it.each([...LEGACY_HANDLERS])('%s: under 1 MiB, without zod', async (handler) => {
    const b = await bundle(handler);
    expect(b.packages).not.toContain('zod');
    expect(b.bytes, `${handler}: ${(b.bytes / 1024).toFixed(1)} KiB`).toBeLessThan(BUNDLE_BUDGET.legacy);
  });
});
