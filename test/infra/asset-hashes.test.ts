/**
 * Bundles per migration: a function's bundle carries its migration's spec (as JSON), and its
 * asset hash covers that spec, not the migrations' sources. Changing one setting of one spec
 * changes the asset hash of that migration's functions only; the other migration's functions
 * keep theirs (and are not redeployed). Bundling skipped: the hash is computed, not built.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { magento, menu } from '../../migrations/index.js';

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, any> }> };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** `<stack>/<function logical id>` -> the S3 key of its code asset (the asset hash). */
function assetKeys(migrations: readonly MigrationSpec[]): Map<string, string> {
  const outdir = mkdtempSync(join(tmpdir(), 'cutover-hashes-'));
  dirs.push(outdir);
  const { app } = buildApp({ env: 'dev', outdir, migrations, context: { 'aws:cdk:bundling-stacks': [] } });
  const out = new Map<string, string>();
  for (const stack of app.synth().stacks) {
    for (const [id, r] of Object.entries((stack.template as Template).Resources)) {
      const key = r.Type === 'AWS::Lambda::Function' ? r.Properties?.['Code']?.['S3Key'] : undefined;
      if (typeof key === 'string') out.set(`${stack.stackName}/${id}`, key);
    }
  }
  return out;
}

describe('Bundles per migration', () => {
  it("a change to one spec changes only that migration's functions' asset hashes", () => {
    const before = assetKeys([magento, menu]);
    const changed: MigrationSpec = structuredClone(magento);
    changed.sync.maxReceiveCount += 1;
    const after = assetKeys([changed, menu]);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const differ = [...before].filter(([id, key]) => after.get(id) !== key).map(([id]) => id);
    const menuFns = [...before.keys()].filter((id) => id.includes('-menu'));
    const magentoFns = [...before.keys()].filter((id) => id.includes('-magento'));
    expect(menuFns.length).toBeGreaterThan(5);
    expect(magentoFns.length).toBeGreaterThan(5);
    // Every function of magento's service stacks is rebuilt; none of menu's.
    for (const id of magentoFns) expect(differ, id).toContain(id);
    for (const id of menuFns) expect(differ, id).not.toContain(id);
  }, 300_000);
});
