/**
 * The tests that synthesize bundles: a CutoverFunction built with the local esbuild (no
 * Docker) through aws-lambda-nodejs's CLI arguments is an ESM bundle with the createRequire
 * banner, the AWS SDK v3 inside, and Node's `http`/`https`/`util`/`fs` taken without an ESM
 * import (NODE_BUILTINS_WITHOUT_FACADE). And an SDK client bundled with the same options sends a
 * request, signed with the credentials in the environment, the only ones a bundle's default
 * credential chain takes (lambdas/bundle-shims/credential-provider-node.mjs). A synthesized
 * MySQL handler takes the bundles' mysql2 (`leanMysql2`: its error-code table as data) and S3
 * client (`leanS3Client`: the schemas of its commands only).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  CutoverFunction,
  ESM_REQUIRE_BANNER,
  NODE_BUILTINS_WITHOUT_FACADE,
} from '../../lib/constructs/cutover-function.js';
import { magento } from '../../migrations/index.js';
import { type BundledRun, runBundled } from '../support/bundled-run.js';

/** One CutoverFunction of the magento spec synthesized alone (bundled): its stack and its code. */
function synthOne(
  stackId: string,
  id: string,
  handler: string,
  serviceName: string,
): { stack: Stack; code: string } {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, stackId);
  new CutoverFunction(stack, id, { handler, serviceName, spec: magento, stage: 'dev' });
  const assembly = app.synth();
  const assets = readdirSync(assembly.directory).filter((d) => d.startsWith('asset.'));
  expect(assets).toHaveLength(1);
  return { stack, code: readFileSync(join(assembly.directory, assets[0]!, 'index.mjs'), 'utf8') };
}

describe('Construct: CutoverFunction bundling', () => {
  it('bundles a handler locally into an ESM module with the require banner', () => {
    const { stack, code } = synthOne('Bundled', 'Rollback', 'rollback', 'rollback');
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler' });
    expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(code).toMatch(/export\s*\{[^}]*handler/);
    // The SDK, Powertools and middy are inside (booleans: a failure must not print the bundle).
    expect(/from\s*"@aws-sdk\//.test(code), 'imports @aws-sdk').toBe(false);
    expect(/from\s*"@middy\/core"/.test(code), 'imports @middy/core').toBe(false);
    expect(code.includes('rollback_duration_seconds'), 'has the handler').toBe(true);
    expect(code.includes('"com.amazonaws.appconfig"'), 'has the AppConfig client').toBe(true);
    // The aliased built-ins are never an ESM import (no facade); others may be. The SDK's
    // http and https are there, through getBuiltinModule (util no longer is: only the credential
    // chain's links that the bundles leave out used it).
    for (const m of NODE_BUILTINS_WITHOUT_FACADE) {
      const esmImport = new RegExp(`(from|import)\\s*\\(?"(node:)?${m}"`);
      expect(esmImport.test(code), `ESM import of ${m}`).toBe(false);
    }
    for (const m of ['http', 'https', 'fs']) {
      expect(code.includes(`getBuiltinModule("node:${m}")`), `getBuiltinModule of ${m}`).toBe(true);
    }
  });

  it("bundles a MySQL handler with the lean mysql2, the lean S3 client and the SDK's credential chain cut to its environment link", () => {
    const { code } = synthOne('BundledMysql', 'Compare', 'validation-compare', 'validation');
    // mysql2's error-code table as data (leanMysql2), not as its ~4,000 statements.
    expect(/EE_CANTCREATEFILE\\?",1\],\[\\?"EE_READ"/.test(code), 'error table as JSON').toBe(true);
    expect(/\.EE_CANTCREATEFILE=1\b/.test(code), 'error table as statements').toBe(false);
    // The default chain's environment link only: none of its other links.
    expect(code.includes('Unable to find environment variable credentials'), 'fromEnv').toBe(true);
    expect(code.includes('defaultProvider::fromSSO'), 'the SSO link').toBe(false);
    expect(code.includes('defaultProvider::fromIni'), 'the ini link').toBe(false);
    // The S3 client's schemas for its commands only (leanS3Client), not for every S3 operation.
    expect(code.includes('"ListObjectsV2Output"'), "a command's schema").toBe(true);
    expect(code.includes('"GetBucketAnalyticsConfigurationOutput"'), 'an unused schema').toBe(false);
  });

  it('bundles an AWS SDK client that sends its request', async () => {
    const r = await sendBundled({});
    expect(r.child).toEqual({ status: 0, stderr: '', stdout: '1' });
    expect(r.received).toHaveLength(1);
    expect(r.received[0]!.target).toBe('AWSEvents.PutEvents');
    expect(JSON.parse(r.received[0]!.body)).toEqual({
      Entries: [{ Source: 'cutover.test', DetailType: 'ping', Detail: '{}' }],
    });
  });

  it("signs a bundled client's request with the credentials Lambda puts in the environment", async () => {
    const r = await sendBundled({
      CUTOVER_TEST_CREDENTIALS: 'default-chain',
      AWS_ACCESS_KEY_ID: 'AKIDFROMENVIRONMENT',
      AWS_SECRET_ACCESS_KEY: 'secret-from-environment',
      AWS_SESSION_TOKEN: 'session-from-environment',
    });
    expect(r.child).toEqual({ status: 0, stderr: '', stdout: '1' });
    expect(r.received).toHaveLength(1);
    expect(r.received[0]!.authorization).toContain('Credential=AKIDFROMENVIRONMENT/');
    expect(r.received[0]!.securityToken).toBe('session-from-environment');
  });

  it('takes no credentials from anywhere but the environment (the chain is cut to its first link)', async () => {
    // A shared credentials file the SDK's full default chain would read (its ini link).
    const home = mkdtempSync(join(tmpdir(), 'cutover-home-'));
    try {
      mkdirSync(join(home, '.aws'));
      writeFileSync(
        join(home, '.aws', 'credentials'),
        '[default]\naws_access_key_id = AKIDFROMINIFILE\naws_secret_access_key = secret-from-ini\n',
      );
      const r = await sendBundled({ CUTOVER_TEST_CREDENTIALS: 'default-chain', HOME: home });
      expect(r.received).toHaveLength(0);
      expect(r.child.status).not.toBe(0);
      expect(r.child.stderr).toContain('Unable to find environment variable credentials');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

interface Received {
  readonly target?: string;
  readonly authorization?: string;
  readonly securityToken?: string;
  readonly body: string;
}

/**
 * Bundles test/support/bundled-sdk-call.ts with the functions' options and runs it in a fresh
 * Node process with `env` (and PATH, nothing else) against a local HTTP server standing in for
 * EventBridge: what the process printed and what the server received.
 */
async function sendBundled(env: Record<string, string>): Promise<{
  child: BundledRun;
  received: Received[];
}> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push({
        target: req.headers['x-amz-target'] as string,
        authorization: req.headers.authorization,
        securityToken: req.headers['x-amz-security-token'] as string | undefined,
        body,
      });
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      res.end(JSON.stringify({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] }));
    });
  });
  try {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const entry = fileURLToPath(new URL('../support/bundled-sdk-call.ts', import.meta.url));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const child = await runBundled(entry, { CUTOVER_TEST_ENDPOINT: endpoint, ...env });
    return { child, received };
  } finally {
    server.close();
  }
}
