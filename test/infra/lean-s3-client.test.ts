/**
 * The S3 client the functions bundle (`leanS3Client`, lib/constructs/cutover-function.ts): the
 * installed client's ES build with its schema module's computed keys made literal, so that
 * esbuild drops the schemas of the operations a bundle never sends. The copy differs in that
 * file only, its schemas are the installed ones value for value, a bundle of the functions' S3
 * adapter keeps only the schemas it reaches, and, bundled, that adapter still sends the
 * functions' requests and reads S3's answers, the recorded ones of test/contracts/s3/ included
 * (a listing, paged and by folder, and a NoSuchKey error).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUNDLING,
  esbuildOptions,
  leanS3Client,
  literalSchemaKeys,
  S3_SCHEMAS_MODULE,
} from '../../lib/constructs/cutover-function.js';
import { runBundled } from '../support/bundled-run.js';
import { contract } from '../support/contracts.js';

const root = join(import.meta.dirname, '..', '..');
const installed = join(root, 'node_modules', '@aws-sdk', 'client-s3');
const scratch = mkdtempSync(join(tmpdir(), 'cutover-lean-s3-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function filesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

/** A schema module (an ES module with extensionless imports) bundled on its own and imported. */
async function schemasOf(packageDir: string, name: string): Promise<Record<string, unknown>> {
  const outfile = join(scratch, `${name}.mjs`);
  await build({
    entryPoints: [join(packageDir, S3_SCHEMAS_MODULE)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    absWorkingDir: root,
    logLevel: 'warning',
  });
  return (await import(pathToFileURL(outfile).href)) as Record<string, unknown>;
}

/**
 * A schema value with its thunks (`() => Shape$`) resolved: to the name of the export they
 * return, or to that value's own canonical form; classes by name, maps as entries.
 */
function canonical(value: unknown, names: Map<unknown, string>, depth = 0): unknown {
  if (depth > 40) throw new Error('schema nested too deep');
  if (typeof value === 'function') {
    if (value.prototype) return { class: value.name };
    const target = (value as () => unknown)();
    return names.has(target) ? { ref: names.get(target) } : { thunk: canonical(target, names, depth + 1) };
  }
  if (value instanceof Map)
    return [...value].map(([k, v]) => [canonical(k, names, depth + 1), canonical(v, names, depth + 1)]);
  if (Array.isArray(value)) return value.map((v) => canonical(v, names, depth + 1));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v, names, depth + 1)]));
  return value;
}

function canonicalExports(mod: Record<string, unknown>): Record<string, unknown> {
  const names = new Map(Object.entries(mod).map(([k, v]) => [v, k] as const));
  return Object.fromEntries(Object.entries(mod).map(([k, v]) => [k, canonical(v, names)]));
}

describe("leanS3Client: the bundles' S3 client", () => {
  const lean = leanS3Client();

  it("is the installed client's ES build with only its schema module changed (and a stamp)", () => {
    const copied = filesOf(lean);
    const changed = copied.filter((f) => {
      try {
        return !readFileSync(join(installed, f)).equals(readFileSync(join(lean, f)));
      } catch {
        return true;
      }
    });
    expect(changed).toEqual(['.cutover-stamp', S3_SCHEMAS_MODULE]);
    expect(readFileSync(join(lean, S3_SCHEMAS_MODULE), 'utf8')).toBe(
      literalSchemaKeys(readFileSync(join(installed, S3_SCHEMAS_MODULE), 'utf8')),
    );
    const esBuild = filesOf(installed).filter((f) => f === 'package.json' || f.startsWith('dist-es/'));
    expect(copied.filter((f) => f !== '.cutover-stamp')).toEqual(esBuild);
  });

  it('has the same schemas as the installed client, value for value', async () => {
    const own = canonicalExports(await schemasOf(installed, 'installed'));
    const copy = canonicalExports(await schemasOf(lean, 'lean'));
    expect(Object.keys(own).length).toBeGreaterThan(400);
    expect(copy).toEqual(own);
    // The http bindings are among what the keys name: PutObject's Content-Type header.
    expect(JSON.stringify(copy['PutObjectRequest$'])).toContain('"httpHeader":"Content-Type"');
  });

  it('writes only computed keys over string constants, and never __proto__, as literals', () => {
    const source = [
      'const _h = "http";',
      'const _p = "__proto__";',
      'let _l = "mutable";',
      'export var A$ = [{ [_h]: ["GET", "/", 200] }, { [_p]: 1 }, { [_l]: 2 }, { [_x]: 3 }];',
      'const t = c ? [_h] : [];',
    ].join('\n');
    expect(literalSchemaKeys(source).split('\n').slice(3)).toEqual([
      'export var A$ = [{ "http": ["GET", "/", 200] }, { [_p]: 1 }, { [_l]: 2 }, { [_x]: 3 }];',
      'const t = c ? [_h] : [];',
    ]);
  });

  it("keeps in a bundle only the schemas the functions' S3 commands reach", async () => {
    const outfile = join(scratch, 'adapter', 'index.mjs');
    const result = await build({
      ...esbuildOptions(join(root, 'lambdas', 'adapters', 's3-objects.ts'), outfile, BUNDLING),
      metafile: true,
    });
    const inputs = (result.metafile as Metafile).outputs[
      Object.keys((result.metafile as Metafile).outputs).find((o) => o.endsWith('index.mjs'))!
    ]!.inputs;
    const schemas = Object.entries(inputs).filter(([input]) => input.endsWith(S3_SCHEMAS_MODULE));
    expect(schemas.map(([input]) => input)).toEqual([
      '.cutover/bundling/node_modules/@aws-sdk/client-s3/dist-es/schemas/schemas_0.js',
    ]);
    // All ~485 schemas were ~69 KiB of the bundle; the three commands' shapes and S3's errors
    // are ~12 KiB.
    expect(schemas[0]![1].bytesInOutput).toBeLessThan(20 * 1024);
    const code = readFileSync(outfile, 'utf8');
    expect(code.includes('"ListObjectsV2Output"'), "ListObjectsV2's output schema").toBe(true);
    expect(code.includes('"GetBucketAnalyticsConfigurationOutput"'), 'an unused schema').toBe(false);
  });

  it("sends the validation functions' requests and reads S3's recorded answers", async () => {
    const truncated = contract<Recorded>('s3/list-objects-v2-truncated.json');
    const byFolder = contract<Recorded>('s3/list-objects-v2-delimiter.json');
    const noSuchKey = contract<Recorded>('s3/no-such-key-error.json');
    const received: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
    const stored = new Map<string, string>();
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const url = new URL(req.url!, 'http://s3.test');
        const answer = (r: Recorded) => {
          res.writeHead(r.status, r.headers);
          res.end(r.body);
        };
        if (req.method === 'PUT') {
          stored.set(url.pathname, body);
          res.writeHead(200, { etag: '"70ee1738b6b21e2c8a43f3a5ab0eee71"' });
          res.end();
        } else if (url.searchParams.get('list-type') === '2') {
          const firstPage = !url.searchParams.has('continuation-token') && !url.searchParams.has('delimiter');
          answer(firstPage ? truncated : byFolder);
        } else if (stored.has(url.pathname)) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(stored.get(url.pathname));
        } else answer(noSuchKey);
      });
    });
    try {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const run = await runBundled(join(root, 'test', 'support', 'bundled-s3-call.ts'), {
        CUTOVER_TEST_ENDPOINT: endpoint,
      });
      expect(run).toMatchObject({ status: 0, stderr: '' });
      expect(JSON.parse(run.stdout)).toEqual({
        got: '{"chunks":2}',
        // Paged: the recorded truncated page, then (with its token) the recorded second one.
        keys: ['happyface.jpg', 'photos/2006/'],
        folders: ['photos/2006/February/', 'photos/2006/January/'],
        error: {
          noSuchKey: true,
          name: 'NoSuchKey',
          message: 'The resource you requested does not exist',
          fault: 'client',
          status: 404,
          requestId: '4442587FB7D0A2F9',
          resource: '/mybucket/myfoto.jpg',
        },
      });
      const sent = received.map((r) => {
        const url = new URL(r.url, 'http://s3.test');
        return { method: r.method, path: url.pathname, query: Object.fromEntries(url.searchParams) };
      });
      expect(sent).toEqual([
        { method: 'PUT', path: '/cutover-validation/runs/r-1/plan.json', query: { 'x-id': 'PutObject' } },
        { method: 'GET', path: '/cutover-validation/runs/r-1/plan.json', query: { 'x-id': 'GetObject' } },
        { method: 'GET', path: '/cutover-validation/', query: { 'list-type': '2', prefix: 'runs/' } },
        {
          method: 'GET',
          path: '/cutover-validation/',
          query: {
            'list-type': '2',
            prefix: 'runs/',
            'continuation-token': '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=',
          },
        },
        {
          method: 'GET',
          path: '/cutover-validation/',
          query: { 'list-type': '2', prefix: 'runs/', delimiter: '/' },
        },
        { method: 'GET', path: '/cutover-validation/runs/missing.json', query: { 'x-id': 'GetObject' } },
      ]);
      const put = received[0]!;
      expect(put.headers['content-type']).toBe('application/json');
      expect(put.body).toBe('{"chunks":2}');
      // The flexible-checksums middleware's CRC32 of the body, big-endian, base64.
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32('{"chunks":2}'));
      expect(put.headers['x-amz-checksum-crc32']).toBe(crc.toString('base64'));
      expect(put.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=test\/\d{8}\/us-east-1\/s3\//);
    } finally {
      server.close();
    }
  });
});

interface Recorded {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}
