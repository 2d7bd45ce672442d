/**
 * The one test that synthesizes a bundle: a CutoverFunction built with the local esbuild (no
 * Docker) through aws-lambda-nodejs's CLI arguments is an ESM bundle with the createRequire
 * banner, the AWS SDK v3 inside, and Node's `http`/`https`/`util`/`fs` taken without an ESM
 * import (NODE_BUILTINS_WITHOUT_FACADE). And an SDK client bundled with the same options sends a
 * request.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import {
  BUNDLING,
  CutoverFunction,
  ESM_REQUIRE_BANNER,
  esbuildOptions,
  NODE_BUILTINS_WITHOUT_FACADE,
} from '../../lib/constructs/cutover-function.js';
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
    // The SDK, Powertools and middy are inside (booleans: a failure must not print the bundle).
    expect(/from\s*"@aws-sdk\//.test(code), 'imports @aws-sdk').toBe(false);
    expect(/from\s*"@middy\/core"/.test(code), 'imports @middy/core').toBe(false);
    expect(code.includes('rollback_duration_seconds'), 'has the handler').toBe(true);
    expect(code.includes('"com.amazonaws.appconfig"'), 'has the AppConfig client').toBe(true);
    // The aliased built-ins are never an ESM import (no facade); others may be.
    for (const m of NODE_BUILTINS_WITHOUT_FACADE) {
      const esmImport = new RegExp(`(from|import)\\s*\\(?"(node:)?${m}"`);
      expect(esmImport.test(code), `ESM import of ${m}`).toBe(false);
      expect(code.includes(`getBuiltinModule("node:${m}")`), `getBuiltinModule of ${m}`).toBe(true);
    }
  });

  it('bundles an AWS SDK client that sends its request', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cutover-sdk-call-'));
    const received: { target?: string; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        received.push({ target: req.headers['x-amz-target'] as string, body });
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        res.end(JSON.stringify({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] }));
      });
    });
    try {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const outfile = join(out, 'index.mjs');
      const entry = fileURLToPath(new URL('../support/bundled-sdk-call.ts', import.meta.url));
      await build(esbuildOptions(entry, outfile, BUNDLING));
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const child = spawn(process.execPath, [outfile], {
        env: { PATH: process.env.PATH, CUTOVER_TEST_ENDPOINT: endpoint },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => {
        stdout += c;
      });
      child.stderr.on('data', (c) => {
        stderr += c;
      });
      const status = await new Promise<number | null>((r) => child.on('close', r));
      expect({ status, stderr, stdout }).toEqual({ status: 0, stderr: '', stdout: '1' });
      expect(received).toHaveLength(1);
      expect(received[0]!.target).toBe('AWSEvents.PutEvents');
      expect(JSON.parse(received[0]!.body)).toEqual({
        Entries: [{ Source: 'cutover.test', DetailType: 'ping', Detail: '{}' }],
      });
    } finally {
      server.close();
      rmSync(out, { recursive: true, force: true });
    }
  });
});
