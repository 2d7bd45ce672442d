/**
 * The gateway at its edge, through the Lambda handler with API Gateway HTTP API events (the
 * recorded-shape builder) and real node:http servers as the legacy system and the service:
 * what a hostile client can make the upstreams receive. Paths with dot segments (plain, encoded,
 * backslashed, doubled) must never reach another path of an upstream host; forwarding headers
 * are the gateway's own, never the client's; redirects never leak an internal host.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import { GatewayRouter } from '../../lambdas/domain/gateway-router.js';
import { createGatewayHandler } from '../../lambdas/handlers/gateway.js';
import {
  apiGatewayEvent,
  type ClientRequest,
  loopbackUpstreams,
  RecordingTelemetry,
  staticFlags,
} from '../support/gateway-fakes.js';

const up = loopbackUpstreams();

const DOMAIN = 'shop.example.com';

function gateway(canaryOverride: boolean) {
  const telemetry = new RecordingTelemetry();
  const router = new GatewayRouter({
    ...systemAmbient,
    spec: {
      services: [
        {
          name: 'customer',
          serviceUrl: up.service.url,
          legacyUrl: up.legacy.url,
          routes: [
            { method: 'GET', pathPrefix: '/customers', access: 'read' },
            { method: 'ANY', pathPrefix: '/customers', access: 'write' },
          ],
        },
      ],
      gateway: { userKey: { header: 'x-user-id' }, upstreamTimeoutMs: 1_000, shadowIgnore: [] },
    },
    // Reads at 0 %: only the override header can send a read to the service.
    flags: staticFlags({
      customer: { read: { enabled: true, percentage: 0 }, write: { enabled: true, mode: 'legacy' } },
    }),
    upstream: up.client,
    telemetry,
    canaryOverride,
  });
  return { handler: createGatewayHandler(router, { shadowGraceMs: 0 }), telemetry };
}

const send = (h: ReturnType<typeof gateway>['handler'], req: ClientRequest) =>
  h(apiGatewayEvent({ domainName: DOMAIN, ...req }));

beforeEach(() => {
  up.legacy.seen.length = 0;
  up.service.seen.length = 0;
  up.legacy.reply((req) => ({ body: { upstream: 'legacy', path: req.url } }));
  up.service.reply((req) => ({ body: { upstream: 'service', path: req.url } }));
});

/** What an upstream may receive for a `/customers` route: that prefix, in normal form. */
const inNormalForm = (url: string) => {
  const path = url.split('?')[0]!;
  return (
    /^\/customers(\/|$)/.test(path) &&
    !/(^|\/)\.\.?(\/|;|$)/.test(path) &&
    !/%(2e|2f|5c|25)/i.test(path) &&
    !path.includes('\\') &&
    !path.includes('//')
  );
};

describe('Gateway edge: path normalization', () => {
  // Each sent with `x-canary: true`, the route's service chosen by the raw prefix before the fix.
  const escapes = [
    '/customers/../admin',
    '/customers/%2e%2e/admin',
    '/customers/.%2e/admin',
    '/customers/%2e./admin',
    '/customers/%2E%2E/admin',
    '/customers/%2e%2e%2fadmin',
    '/customers/..%2Fadmin',
    '/customers\\..\\admin',
    '/customers/%5c..%5cadmin',
    '/customers%5C..%5Cadmin',
    '/customers//..//admin',
    '/customers/./../admin',
    '/customers/42/../../admin',
    '/customers/..',
    '/customers/%2e%2e',
    '/customers/%252e%252e/admin',
    '/customers/..;/admin',
    '/../customers/42',
    '/customers/%zz',
    '/customers/%2',
    '/customers/%00/x',
  ];

  it.each(escapes)('answers 400 to %s and calls no upstream', async (target) => {
    const { handler, telemetry } = gateway(true);
    const res = await send(handler, { target, headers: [['x-canary', 'true']] });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(String(res.body))).toMatchObject({ message: expect.stringMatching(/path/) });
    expect(up.service.seen).toEqual([]);
    expect(up.legacy.seen).toEqual([]);
    expect(telemetry.rejected).toHaveLength(1);
  });

  const normalized: [sent: string, upstreamSees: string][] = [
    ['/customers//42', '/customers/42'],
    ['/customers/%34%32', '/customers/42'],
    ['/customers/41/../42', '/customers/42'],
    ['/customers/./42/.', '/customers/42/'],
    ['/customers\\42', '/customers/42'],
    ['/customers%2f42?expand=addresses', '/customers/42?expand=addresses'],
    ['/customers/jane%20doe', '/customers/jane%20doe'],
    ['/customers/caf%C3%A9', '/customers/caf%C3%A9'],
    ['/customers/a%23b', '/customers/a%23b'],
  ];

  it.each(normalized)('routes and proxies %s as %s', async (target, expected) => {
    const { handler } = gateway(true);
    const res = await send(handler, { target, headers: [['x-canary', 'true']] });
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['x-cutover-target']).toBe('service');
    expect(up.service.seen.map((r) => r.url)).toEqual([expected]);
    expect(up.service.seen.every((r) => inNormalForm(r.url))).toBe(true);
  });

  it('matches prefixes on segment boundaries: /customersX is not a customer route', async () => {
    const { handler } = gateway(true);
    await send(handler, { target: '/customersX/1', headers: [['x-canary', 'true']] });
    await send(handler, { target: '/customers.json', headers: [['x-canary', 'true']] });
    expect(up.service.seen).toEqual([]);
    expect(up.legacy.seen.map((r) => r.url)).toEqual(['/customersX/1', '/customers.json']);
  });

  it('sends a path that climbs back out of one route to where it lands, never to the first route', async () => {
    const { handler } = gateway(true);
    // Enters the customer route from elsewhere: the same request as /customers/42.
    await send(handler, { target: '/other/../customers/42', headers: [['x-canary', 'true']] });
    expect(up.service.seen.map((r) => r.url)).toEqual(['/customers/42']);
  });
});

describe('Adapter: HttpUpstream', () => {
  it('sends the path and query byte for byte, without a URL parser resolving them again', async () => {
    // The router only ever hands it normal forms; this is the second line: nothing in between
    // re-interprets what the router matched.
    await up.client.send(
      { method: 'GET', url: `${up.service.url}/a/%2e%2e/b/./c?x=%2F`, headers: {} },
      { timeoutMs: 1_000 },
    );
    expect(up.service.seen.map((r) => r.url)).toEqual(['/a/%2e%2e/b/./c?x=%2F']);
  });
});

describe('Gateway edge: forwarded headers', () => {
  it("replaces the client's forwarding headers with its own and drops hop-by-hop and x-canary", async () => {
    const { handler } = gateway(true);
    await send(handler, {
      target: '/customers/42',
      sourceIp: '203.0.113.9',
      headers: [
        ['X-Canary', 'true'],
        ['X-Forwarded-Host', 'evil.example'],
        ['X-Forwarded-For', '10.0.0.1'],
        ['X-Forwarded-Proto', 'http'],
        ['X-Forwarded-Port', '80'],
        ['X-Forwarded-Prefix', '/admin'],
        ['Forwarded', 'for=10.0.0.1;host=evil.example;proto=http'],
        ['X-Real-IP', '10.0.0.1'],
        ['X-Original-URL', '/admin'],
        ['Connection', 'close, X-Secret-Hop'],
        ['X-Secret-Hop', 'named in Connection'],
        ['Keep-Alive', 'timeout=5'],
        ['TE', 'trailers'],
        ['Upgrade', 'websocket'],
        ['Proxy-Authorization', 'Basic c2VjcmV0'],
        ['Proxy-Foo', 'bar'],
        ['Host', 'evil.example'],
        ['X-Trace', 't1'],
        ['Cookie', 'session=abc; theme=dark'],
      ],
    });
    expect(up.service.seen).toHaveLength(1);
    const h = up.service.seen[0]!.headers;
    expect(h).toMatchObject({
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-host': DOMAIN,
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
      host: new URL(up.service.url).host,
      connection: 'keep-alive', // the gateway's own connection, not the client's
      'x-trace': 't1',
      cookie: 'session=abc; theme=dark',
    });
    for (const name of [
      'x-canary',
      'x-forwarded-prefix',
      'forwarded',
      'x-real-ip',
      'x-original-url',
      'x-secret-hop',
      'keep-alive',
      'te',
      'upgrade',
      'proxy-authorization',
      'proxy-foo',
    ]) {
      expect(h, name).not.toHaveProperty(name);
    }
  });

  it('ignores x-canary when the override is off, and never forwards it', async () => {
    const { handler } = gateway(false);
    const res = await send(handler, { target: '/customers/42', headers: [['x-canary', 'true']] });
    expect(res.headers?.['x-cutover-target']).toBe('legacy');
    expect(up.service.seen).toEqual([]);
    expect(up.legacy.seen[0]?.headers).not.toHaveProperty('x-canary');
  });
});

describe('Gateway edge: redirects', () => {
  it('rewrites a Location naming an upstream to the public host, and leaves others alone', async () => {
    const { handler } = gateway(true);
    const replies: Record<string, string> = {
      '/customers/1': `${up.service.url}/customers/2?x=1`,
      '/customers/3': '/customers/4',
      '/customers/5': 'https://payments.example/checkout',
      '/customers/6': `${up.legacy.url}/login`,
      '/customers/7': `//${new URL(up.service.url).host}/customers/8`,
    };
    up.service.reply((req) => ({ status: 302, headers: { location: replies[req.url]! }, body: '' }));
    const location = async (path: string) =>
      (await send(handler, { target: path, headers: [['x-canary', 'true']] })).headers?.['location'];

    expect(await location('/customers/1')).toBe(`https://${DOMAIN}/customers/2?x=1`);
    expect(await location('/customers/3')).toBe('/customers/4');
    expect(await location('/customers/5')).toBe('https://payments.example/checkout');
    expect(await location('/customers/6')).toBe(`https://${DOMAIN}/login`);
    expect(await location('/customers/7')).toBe(`https://${DOMAIN}/customers/8`);
  });
});
