/**
 * The API Gateway stand-in against what API Gateway really sends and accepts
 * (`test/contracts/apigateway/`, each file naming its source): the event builder the gateway
 * tests use must produce exactly the recorded events, the handler must accept the recorded events
 * as they are, and its results must have the documented response shape.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import { HttpUpstream } from '../../lambdas/adapters/upstream.js';
import { GatewayRouter } from '../../lambdas/domain/gateway-router.js';
import { createGatewayHandler, toGatewayRequest } from '../../lambdas/handlers/gateway.js';
import {
  apiGatewayEvent,
  type ClientRequest,
  type FakeUpstream,
  RecordingTelemetry,
  startUpstream,
  staticFlags,
} from '../support/gateway-fakes.js';

const DIR = join(import.meta.dirname, '../contracts/apigateway');
const contract = <T = Record<string, unknown>>(file: string): T =>
  JSON.parse(readFileSync(join(DIR, file), 'utf8')) as T;
const recorded = (file: string) => contract<{ source: string; payload: APIGatewayProxyEventV2 }>(file);

const REQUESTS = [
  'request-no-auth.powertools.json',
  'request-jwt-authorizer.powertools.json',
  'request-no-authorizer.aws-lambda-go.json',
  'request-doc-example.json',
];

/** Every leaf path of a JSON value with its type (`headers.accept: string`); arrays as `[]`. */
function shapeOf(value: unknown, at = ''): string[] {
  if (Array.isArray(value)) return value.length ? shapeOf(value[0], `${at}[]`) : [`${at}[]`];
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => shapeOf(v, at ? `${at}.${k}` : k));
  }
  return [`${at}: ${value === null ? 'null' : typeof value}`];
}

/** The request that produced a recorded capture, as the client sent it. */
function clientRequestOf(e: APIGatewayProxyEventV2): ClientRequest {
  const sentByApiGateway = new Set([
    'x-amzn-trace-id',
    'x-forwarded-for',
    'x-forwarded-port',
    'x-forwarded-proto',
  ]);
  const ctx = e.requestContext as APIGatewayProxyEventV2['requestContext'] & {
    authorizer?: Record<string, unknown>;
    authentication?: Record<string, unknown>;
  };
  return {
    method: ctx.http.method,
    target: e.rawQueryString ? `${e.rawPath}?${e.rawQueryString}` : e.rawPath,
    headers: Object.entries(e.headers).filter(([k]) => !sentByApiGateway.has(k)) as [string, string][],
    sourceIp: ctx.http.sourceIp,
    domainName: ctx.domainName,
    routeKey: e.routeKey,
    authorizer: ctx.authorizer,
    authentication: ctx.authentication,
    accountId: ctx.accountId,
    requestId: ctx.requestId,
    timeEpoch: ctx.timeEpoch,
    traceId: e.headers['x-amzn-trace-id'],
  };
}

describe('Contract: API Gateway HTTP API events (payload format 2.0)', () => {
  it.each([
    'request-no-auth.powertools.json',
    'request-jwt-authorizer.powertools.json',
    'request-no-authorizer.aws-lambda-go.json',
  ])('the event builder reproduces the captured event %s exactly', (file) => {
    const { source, payload } = recorded(file);
    expect(source).toMatch(/^https:\/\//);
    expect(apiGatewayEvent(clientRequestOf(payload))).toEqual(payload);
  });

  it('the event builder decodes rawPath as deployed HTTP APIs were observed to, and keeps the query as sent', () => {
    const { observations } = contract<{
      observations: { source: string; sent: string; rawPath: string }[];
    }>('rawpath-decoding.observed.json');
    expect(observations.length).toBeGreaterThan(0);
    for (const o of observations) {
      expect(o.source).toMatch(/^https:\/\//);
      expect(apiGatewayEvent({ target: o.sent }).rawPath).toBe(o.rawPath);
    }
    expect(apiGatewayEvent({ target: '/a?q=%2F%20x' }).rawQueryString).toBe('q=%2F%20x');
  });

  it('the event builder joins repeated headers and query values with commas and moves cookies out of the headers, as documented', () => {
    const doc = recorded('request-doc-example.json').payload;
    const built = apiGatewayEvent({
      method: 'POST',
      target: `${doc.rawPath}?${doc.rawQueryString}`,
      headers: [
        ['Header1', 'value1'],
        ['Header2', 'value1'],
        ['Header2', 'value2'],
        ['Cookie', 'cookie1; cookie2'],
      ],
      body: 'Hello from Lambda',
    });
    expect(built).toMatchObject({
      rawPath: doc.rawPath,
      rawQueryString: doc.rawQueryString,
      cookies: doc.cookies,
      queryStringParameters: doc.queryStringParameters,
      body: doc.body,
      isBase64Encoded: false,
    });
    const lower = Object.fromEntries(Object.entries(doc.headers).map(([k, v]) => [k.toLowerCase(), v]));
    expect(built.headers).toMatchObject(lower);
    expect(built.headers).not.toHaveProperty('cookie');
  });

  it('the event builder produces no field a recorded or documented event lacks', () => {
    const known = new Set(REQUESTS.flatMap((f) => shapeOf(recorded(f).payload)));
    const built = apiGatewayEvent({
      method: 'POST',
      target: '/customers/42?expand=addresses',
      headers: [
        ['Cookie', 'session=abc'],
        ['User-Agent', 'agent'],
        ['Accept', '*/*'],
      ],
      body: '{"a":1}',
      authorizer: { jwt: { claims: { claim1: 'value1' }, scopes: ['scope1'] } },
    });
    const unknown = shapeOf(built).filter(
      // Header names and query keys are the request's own; their values are strings.
      (p) =>
        !known.has(p) &&
        !/^(headers|queryStringParameters)\.[^.]+: string$/.test(p) &&
        !/^requestContext\.authorizer\.jwt\.claims\.[^.]+: string$/.test(p),
    );
    expect(unknown).toEqual([]);
  });
});

describe('Contract: the gateway handler accepts the recorded events unchanged', () => {
  let service: FakeUpstream;
  let upstream: HttpUpstream;
  let handler: ReturnType<typeof createGatewayHandler>;

  beforeAll(async () => {
    service = await startUpstream('service');
    upstream = new HttpUpstream();
    const router = new GatewayRouter({
      ...systemAmbient,
      spec: {
        services: [
          {
            name: 'svc',
            serviceUrl: service.url,
            legacyUrl: 'http://127.0.0.1:9', // never called: every route is the service's
            routes: ['/', '/lambda', '/cognito', '/my'].map((pathPrefix) => ({
              method: 'ANY' as const,
              pathPrefix,
              access: 'write' as const,
            })),
          },
        ],
        gateway: { userKey: { jwtClaim: 'sub' }, upstreamTimeoutMs: 1_000, shadowIgnore: [] },
      },
      flags: staticFlags({
        svc: { read: { enabled: true, percentage: 100 }, write: { enabled: true, mode: 'primary' } },
      }),
      upstream,
      telemetry: new RecordingTelemetry(),
    });
    handler = createGatewayHandler(router, { shadowGraceMs: 0 });
  });
  afterAll(async () => {
    upstream.close();
    await service.close();
  });

  it.each(REQUESTS)(
    'proxies %s as recorded, with the source IP and public host of the event',
    async (file) => {
      const { payload } = recorded(file);
      const pristine = structuredClone(payload);
      service.seen.length = 0;
      const result = await handler(payload);
      expect(payload).toEqual(pristine); // accepted as is, not mutated

      expect(result.statusCode).toBe(200);
      expect(service.seen).toHaveLength(1);
      const seen = service.seen[0]!;
      expect(seen.method).toBe(payload.requestContext.http.method);
      expect(seen.url).toBe(
        payload.rawQueryString ? `${payload.rawPath}?${payload.rawQueryString}` : payload.rawPath,
      );
      expect(seen.headers).toMatchObject({
        'x-forwarded-for': payload.requestContext.http.sourceIp,
        'x-forwarded-host': payload.requestContext.domainName,
        'x-forwarded-proto': 'https',
      });
      if (payload.cookies) expect(seen.headers['cookie']).toBe(payload.cookies.join('; '));
      expect(seen.body).toBe(payload.body ?? '');
    },
  );

  it('reads the JWT authorizer claims of a recorded event as verified claims', () => {
    const { payload } = recorded('request-jwt-authorizer.powertools.json');
    expect(toGatewayRequest(payload).claims?.['sub']).toBe('d2f50444-0041-7036-aea2-a955fca33d37');
  });

  it('answers in the documented response format', async () => {
    const { fields } = contract<{ fields: Record<string, string> }>('response-format.doc.json');
    service.reply(() => ({
      status: 201,
      headers: { 'set-cookie': ['a=1; Path=/', 'b=2; Path=/'], 'x-custom': ['1', '2'] },
      body: { ok: true },
    }));
    const result = await handler(recorded('request-doc-example.json').payload);
    const typeOf = (v: unknown) =>
      Array.isArray(v)
        ? `${typeof v[0]}[]`
        : v && typeof v === 'object'
          ? `Record<string, ${[...new Set(Object.values(v).map((x) => typeof x))].join(' | ')}>`
          : typeof v;
    for (const [k, v] of Object.entries(result)) {
      expect(Object.keys(fields), k).toContain(k);
      expect(typeOf(v), k).toBe(fields[k]);
    }
    expect(result).toMatchObject({ statusCode: 201, cookies: ['a=1; Path=/', 'b=2; Path=/'] });
  });
});
