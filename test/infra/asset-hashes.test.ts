/**
 * Bundles per migration: a function's bundle carries its migration's spec (as JSON), and its
 * asset hash covers that spec, not the migrations' sources. Changing one setting of one spec
 * changes the asset hash of that migration's functions only; the other migration's functions
 * keep theirs (and are not redeployed). A stack with functions of both migrations, synthesized
 * twice with bundling skipped (the hash is computed, not built).
 */
import { App, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { CutoverFunction } from '../../lib/constructs/cutover-function.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { magento, menu } from '../../migrations/index.js';

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, any> }> };
const HANDLERS = ['forward-sync', 'reverse-sync', 'gateway', 'rollout-start'];

/** Function logical id -> the S3 key of its code asset (the asset hash). */
function assetKeys(specs: readonly MigrationSpec[]): Map<string, string> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Hashes');
  for (const spec of specs) {
    for (const handler of HANDLERS) {
      new CutoverFunction(stack, `${spec.name}-${handler}`, {
        handler,
        serviceName: 's',
        spec,
        stage: 'dev',
      });
    }
  }
  const template = app.synth().getStackByName('Hashes').template as Template;
  const out = new Map<string, string>();
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type === 'AWS::Lambda::Function') out.set(id, r.Properties!['Code']['S3Key'] as string);
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
    expect(before.size).toBe(2 * HANDLERS.length);
    const differ = new Set([...before].filter(([id, key]) => after.get(id) !== key).map(([id]) => id));
    for (const id of before.keys()) {
      expect(differ.has(id), id).toBe(id.startsWith('magento'));
    }
    // A function of one migration is a different bundle from the same handler of the other.
    expect(new Set(before.values()).size).toBe(before.size);
  });
});
