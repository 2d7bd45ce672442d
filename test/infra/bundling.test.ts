/**
 * The one test that bundles: a CutoverFunction built with the local esbuild (no Docker) is an
 * ESM bundle with the createRequire banner, and leaves the runtime's AWS SDK v3 out.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { CutoverFunction, ESM_REQUIRE_BANNER } from '../../lib/constructs/cutover-function.js';
import { magento } from '../../migrations/index.js';

describe('Construct: CutoverFunction bundling', () => {
  it('bundles a handler locally into an ESM module with the require banner', () => {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Bundled');
    new CutoverFunction(stack, 'Rollback', {
      handler: 'rollback',
      serviceName: 'rollback',
      spec: magento,
      stage: 'dev',
    });
    const assembly = app.synth();
    const assets = readdirSync(assembly.directory).filter((d) => d.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    const code = readFileSync(join(assembly.directory, assets[0]!, 'index.mjs'), 'utf8');
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler' });
    expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(code).toMatch(/export\s*\{[^}]*handler/);
    // The SDK stays an import (the runtime provides it); Powertools and middy are inside.
    expect(code).toMatch(/from\s*"@aws-sdk\/client-appconfig"/);
    expect(code).not.toMatch(/from\s*"@middy\/core"/);
    expect(code).toContain('rollback_duration_seconds');
  });
});
