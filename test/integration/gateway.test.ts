/**
 * The gateway end to end on loopback: real node:http servers as the legacy system and the
 * service, the real keep-alive upstream client, and the real AppConfig Data flag reader talking to
 * a loopback AppConfig Data API. Time for flags and breakers is an injected clock; upstream
 * timeouts are real (short) timers.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppConfigFlagSource } from '../../lambdas/adapters/appconfig-data.js';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import { HttpUpstream } from '../../lambdas/adapters/upstream.js';
import { GatewayRouter } from '../../lambdas/domain/gateway-router.js';
import { createGatewayHandler, toLambdaResult } from '../../lambdas/handlers/gateway.js';
import {
  apiGatewayEvent,
  type FakeAppConfigData,
  type FakeUpstream,
  flagValues,
  RecordingTelemetry,
  startAppConfigData,
  startUpstream,
} from '../support/gateway-fakes.js';

const clock = { now: 1_700_000_000_000 };
const now = () => clock.now;
let legacy: FakeUpstream;
let service: FakeUpstream;
let appconfig: FakeAppConfigData;
let upstream: HttpUpstream;

beforeAll(async () => {
  [legacy, service, appconfig] = await Promise.all([
    startUpstream('legacy'),
    startUpstream('service'),
    startAppConfigData(now),
  ]);
  upstream = new HttpUpstream();
});

afterAll(async () => {
  upstream.close();
  await Promise.all([legacy.close(), service.close(), appconfig.close()]);
});

function gatewaySpec() {
  return {
    services: [
      {
        name: 'customer',
        serviceUrl: service.url,
        legacyUrl: legacy.url,
        routes: [
          { method: 'GET' as const, pathPrefix: '/customers', access: 'read' as const },
          { method: 'ANY' as const, pathPrefix: '/customers', access: 'write' as const },
        ],
      },
    ],
    gateway: {
      userKey: { header: 'x-user-id' },
      upstreamTimeoutMs: 500,
      shadowIgnore: ['updatedAt'],
      breaker: { minRequests: 4, errorRateThreshold: 0.5, openMs: 5_000, halfOpenSuccesses: 2 },
    },
  };
}

let telemetry: RecordingTelemetry;
let flags: AppConfigFlagSource;
let router: GatewayRouter;

beforeEach(() => {
  clock.now += 60_000; // every test starts with fresh sessions and breakers
  legacy.seen.length = 0;
  service.seen.length = 0;
  legacy.reply((req) => ({ body: { upstream: 'legacy', path: req.url } }));
  service.reply((req) => ({ body: { upstream: 'service', path: req.url } }));
  appconfig.failWith(undefined);
  telemetry = new RecordingTelemetry();
  flags = new AppConfigFlagSource({
    client: appconfig.client,
    applicationId: 'app',
    environmentId: 'env',
    profileId: 'flags',
    services: ['customer'],
    pollIntervalSeconds: 5,
    clock: now,
  });
  router = new GatewayRouter({ ...systemAmbient, spec: gatewaySpec(), flags, upstream, telemetry, now });
});

afterEach(async () => {
  await router.settleShadows(1_000);
});

const deploy = (read: number, mode: 'legacy' | 'shadow' | 'primary', readEnabled = true) =>
  appconfig.deploy(flagValues('customer', { percentage: read, enabled: readEnabled }, { mode }));

const read = (user?: string, extra: Record<string, string> = {}) =>
  router.handle({
    method: 'GET',
    path: '/customers/42',
    query: 'expand=addresses',
    headers: { ...(user ? { 'x-user-id': user } : {}), ...extra },
  });

const bodyOf = (r: { body: Uint8Array }) => JSON.parse(Buffer.from(r.body).toString('utf8'));

describe('Gateway: routing by flags', () => {
  it('routes reads by the sticky percentage, and moves no user back as it grows', async () => {
    deploy(0, 'legacy');
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const at = async () => {
      const targets = new Map<string, string>();
      for (const u of users) targets.set(u, (await read(u)).servedBy ?? 'none');
      return targets;
    };
    const p0 = await at();
    expect([...p0.values()].every((t) => t === 'legacy')).toBe(true);

    deploy(30, 'legacy');
    clock.now += 5_000;
    const p30 = await at();
    const share30 = [...p30.values()].filter((t) => t === 'service').length / users.length;
    expect(share30).toBeGreaterThan(0.2);
    expect(share30).toBeLessThan(0.4);
    expect(await at()).toEqual(p30); // sticky

    deploy(60, 'legacy');
    clock.now += 5_000;
    const p60 = await at();
    for (const u of users) if (p30.get(u) === 'service') expect(p60.get(u)).toBe('service');
    expect(service.seen.length).toBe(
      [...p30.values(), ...p30.values(), ...p60.values()].filter((t) => t === 'service').length,
    );
    // The request reached the service as sent: path and query string.
    expect(service.seen[0]?.url).toBe('/customers/42?expand=addresses');
  });

  it('measures an upstream call on the monotonic clock it is given, not on the wall clock', async () => {
    deploy(0, 'legacy');
    // Each reading of the monotonic clock is 42 ms after the one before; the wall clock stands.
    let ticks = 0;
    router = new GatewayRouter({
      ...systemAmbient,
      spec: gatewaySpec(),
      flags,
      upstream,
      telemetry,
      now,
      monotonic: () => 42 * ticks++,
    });
    const r = await read('someone');
    expect(r.servedBy).toBe('legacy');
    expect(telemetry.calls).toEqual([{ service: 'customer', target: 'legacy', result: 'ok', latencyMs: 42 }]);
  });

  it('sends x-canary: true to the service at 0 % where the override is on', async () => {
    deploy(0, 'legacy');
    router = new GatewayRouter({
      spec: gatewaySpec(),
      flags,
      upstream,
      telemetry,
      ...systemAmbient,
      now,
      canaryOverride: true,
    });
    const r = await read('someone', { 'x-canary': 'true' });
    expect(r.servedBy).toBe('service');
    expect(bodyOf(r).upstream).toBe('service');
    expect((await read('someone')).servedBy).toBe('legacy');
  });

  it('routes every write to legacy until the write mode is primary, and never sends a write twice', async () => {
    const post = () =>
      router.handle({
        method: 'POST',
        path: '/customers',
        headers: { 'x-user-id': 'u1', 'content-type': 'application/json' },
        body: Buffer.from('{"email":"jane@example.com"}'),
      });
    for (const mode of ['legacy', 'shadow'] as const) {
      deploy(100, mode);
      clock.now += 5_000;
      await post();
    }
    await router.settleShadows(1_000);
    expect(legacy.seen.map((r) => r.method)).toEqual(['POST', 'POST']);
    expect(legacy.seen[0]?.body).toBe('{"email":"jane@example.com"}');
    expect(service.seen).toHaveLength(0);

    deploy(100, 'primary');
    clock.now += 5_000;
    await post();
    expect(service.seen.map((r) => r.method)).toEqual(['POST']);
    expect(legacy.seen).toHaveLength(2);
  });
});

describe('Gateway: health fallback', () => {
  it('answers a read from legacy when the service fails or times out, then stops asking it', async () => {
    deploy(100, 'legacy');
    service.reply(() => ({ status: 503, body: { message: 'down' } }));
    const r1 = await read('u1');
    expect(r1.status).toBe(200);
    expect(bodyOf(r1).upstream).toBe('legacy');
    expect(r1.servedBy).toBe('legacy');

    service.reply(() => 'hang');
    const r2 = await read('u2');
    expect(bodyOf(r2).upstream).toBe('legacy');
    expect(telemetry.calls).toContainEqual(
      expect.objectContaining({ service: 'customer', target: 'service', result: 'timeout' }),
    );

    await read('u3');
    await read('u4'); // 4 failures of 4: the breaker opens
    const before = service.seen.length;
    const r5 = await read('u5');
    expect(r5.decision?.reason).toBe('unhealthy');
    expect(service.seen.length).toBe(before);
    expect(telemetry.fallbacks.map((f) => f.reason)).toEqual([
      'service_failed',
      'service_failed',
      'service_failed',
      'service_failed',
      'breaker_open',
    ]);
  });

  it('recovers through half-open probes once the service is healthy again', async () => {
    deploy(100, 'legacy');
    service.reply(() => ({ status: 500, body: {} }));
    for (let i = 0; i < 4; i++) await read(`u${i}`);
    expect(router.breakers.of('customer').state).toBe('open');

    service.reply((req) => ({ body: { upstream: 'service', path: req.url } }));
    clock.now += 5_000;
    expect((await read('p1')).servedBy).toBe('service'); // probe 1
    expect(router.breakers.of('customer').state).toBe('half-open');
    expect((await read('p2')).servedBy).toBe('service'); // probe 2 closes it
    expect(router.breakers.of('customer').state).toBe('closed');
    expect((await read('p3')).servedBy).toBe('service');
  });

  it('does not retry a failed write on legacy: the client sees the error', async () => {
    deploy(100, 'primary');
    service.reply(() => 'hang');
    const r = await router.handle({
      method: 'PUT',
      path: '/customers/42',
      headers: {},
      body: Buffer.from('{}'),
    });
    expect(r.status).toBe(504);
    service.reply(() => ({ status: 500, body: { message: 'boom' } }));
    const r2 = await router.handle({
      method: 'POST',
      path: '/customers',
      headers: {},
      body: Buffer.from('{}'),
    });
    expect(r2.status).toBe(500);
    expect(legacy.seen).toHaveLength(0);
    expect(service.seen.map((s) => s.method)).toEqual(['PUT', 'POST']);
  });
});

describe('Gateway: shadow reads', () => {
  it('returns the legacy answer and counts a planted mismatch, ignoring configured fields', async () => {
    deploy(0, 'shadow');
    legacy.reply(() => ({ body: { id: 42, email: 'jane@example.com', group: 1, updatedAt: '2026-01-01' } }));
    service.reply(() => ({ body: { id: 42, email: 'jane@example.com', group: 1, updatedAt: '2026-02-02' } }));
    const r1 = await read('u1');
    expect(bodyOf(r1).updatedAt).toBe('2026-01-01');
    await router.settleShadows(1_000);
    expect(telemetry.shadows).toHaveLength(1);
    expect(telemetry.mismatches).toBe(0);

    service.reply(() => ({ body: { id: 42, email: 'jane@example.com', group: 2, updatedAt: 'x' } })); // planted
    const r2 = await read('u2');
    expect(bodyOf(r2).group).toBe(1);
    await router.settleShadows(1_000);
    expect(telemetry.mismatches).toBe(1);
    const report = telemetry.shadows[1]!;
    expect(report).toMatchObject({ service: 'customer', route: '/customers', logged: true });
    expect(report.comparison.mismatches).toEqual([{ path: 'group', kind: 'changed' }]);
    expect(JSON.stringify(report)).not.toContain('jane@example.com');
    expect(service.seen.every((s) => s.method === 'GET')).toBe(true);
  });
});

describe('Gateway: flags from AppConfig Data', () => {
  it('keeps the last good flags while AppConfig fails, reports staleness, and recovers', async () => {
    deploy(100, 'legacy');
    expect((await read('u1')).servedBy).toBe('service');

    appconfig.failWith(500);
    for (let i = 0; i < 4; i++) {
      clock.now += 5_000;
      expect((await read('u1')).servedBy).toBe('service');
    }
    expect(flags.snapshot()).toMatchObject({
      stale: true,
      lastError: expect.stringContaining('injected failure'),
    });

    appconfig.failWith(undefined);
    deploy(0, 'legacy');
    clock.now += 5_000;
    expect((await read('u1')).servedBy).toBe('legacy');
    expect(flags.snapshot().stale).toBe(false);
  });

  it('holds a request at most refreshTimeoutMs when AppConfig hangs, and polls once per interval', async () => {
    const quick = new AppConfigFlagSource({
      client: appconfig.client,
      applicationId: 'app',
      environmentId: 'env',
      profileId: 'flags',
      services: ['customer'],
      pollIntervalSeconds: 5,
      refreshTimeoutMs: 50,
      callTimeoutMs: 300,
      clock: now,
    });
    deploy(100, 'legacy');
    await quick.refresh();
    // On a loaded machine the first poll (new sessions) may outlast the 50 ms bound: it finishes
    // in the background, which is the behaviour under test; wait for it (bounded).
    for (let i = 0; i < 100 && !quick.snapshot().flags['customer']; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(quick.snapshot().flags['customer']?.read.percentage).toBe(100);
    appconfig.failWith('hang');
    clock.now += 5_000;
    await quick.refresh(); // returns after 50 ms; the poll goes on in the background
    expect(quick.snapshot().flags['customer']?.read.percentage).toBe(100);
    // The call's own 300 ms deadline aborts it (bounded wait, for a loaded machine).
    for (let i = 0; i < 100 && !quick.snapshot().stale; i++) await new Promise((r) => setTimeout(r, 50));
    expect(quick.snapshot()).toMatchObject({ stale: true, lastError: expect.stringMatching(/abort/i) });
    appconfig.failWith(undefined);
    const polls = quick.calls.getLatest;
    for (let i = 0; i < 20; i++) {
      clock.now += 1_000;
      await quick.refresh();
    }
    expect(quick.calls.getLatest - polls).toBe(4);
    expect(quick.snapshot().stale).toBe(false);
  });

  it('rejects a bad flag payload and keeps the last good flags', async () => {
    deploy(100, 'legacy');
    await read('u1');
    appconfig.deploy({ customer_read: { enabled: true, percentage: 250 } });
    clock.now += 5_000;
    expect((await read('u1')).servedBy).toBe('service');
    expect(flags.snapshot().lastError).toMatch(/percentage/);
  });

  it('routes everything to legacy before the first answer', async () => {
    appconfig.failWith(503);
    expect((await read('u1', { 'x-canary': 'true' })).servedBy).toBe('legacy');
    expect(flags.snapshot()).toMatchObject({ flags: {}, stale: true });
  });

  it('sees every flag change within one poll interval, without polling any session too early', async () => {
    // A 1 s interval needs ⌈15/1⌉+1 sessions. The deployed version moves at random among three,
    // as rollbacks do: a session whose last answer was the version deployed again answers
    // "unchanged" (empty), and the reader must still switch to that version.
    const fast = new AppConfigFlagSource({
      client: appconfig.client,
      applicationId: 'app',
      environmentId: 'env',
      profileId: 'flags',
      services: ['customer'],
      pollIntervalSeconds: 1,
      clock: now,
    });
    const pct: Record<string, number> = {};
    for (const p of [10, 50, 90]) pct[deploy(p, 'legacy')] = p;
    const labels = Object.keys(pct);
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const before = { ...appconfig.stats };
    let deployed = labels[2]!;
    for (let step = 0; step < 90; step++) {
      if (random() < 0.3) {
        deployed = labels[Math.floor(random() * labels.length)]!;
        appconfig.redeploy(deployed);
      }
      clock.now += 1_000;
      await fast.refresh();
      expect(fast.snapshot().flags['customer']?.read.percentage).toBe(pct[deployed]);
    }
    expect(appconfig.stats.tooEarly).toBe(before.tooEarly);
    expect(appconfig.stats.polls - before.polls).toBe(90);
    expect(appconfig.stats.sessions - before.sessions).toBeLessThanOrEqual(16);
  });
});

describe('Handler: API Gateway v2 events', () => {
  it('translates the event, proxies cookies and headers, and encodes binary bodies', async () => {
    deploy(0, 'legacy');
    legacy.reply(() => ({
      status: 201,
      headers: {
        'content-type': 'application/octet-stream',
        'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
        'x-custom': 'yes',
        connection: 'keep-alive',
      },
      body: 'raw-bytes',
    }));
    const handler = createGatewayHandler(router, { shadowGraceMs: 0 });
    const event = apiGatewayEvent({
      method: 'POST',
      target: '/customers/7?q=1',
      domainName: 'api.example.com',
      headers: [
        ['X-User-Id', 'u1'],
        ['Cookie', 'session=abc; theme=dark'],
        ['Connection', 'close'],
        ['X-Trace', 't1'],
      ],
      body: Buffer.from('{"a":1}'),
    });
    const result = await handler(event);
    expect(result).toMatchObject({
      statusCode: 201,
      cookies: ['a=1; Path=/', 'b=2; Path=/'],
      isBase64Encoded: true,
      body: Buffer.from('raw-bytes').toString('base64'),
    });
    expect(result.headers).toMatchObject({ 'x-custom': 'yes', 'x-cutover-target': 'legacy' });
    expect(result.headers).not.toHaveProperty('connection');
    const seen = legacy.seen.at(-1)!;
    expect(seen).toMatchObject({ method: 'POST', url: '/customers/7?q=1', body: '{"a":1}' });
    expect(seen.headers).toMatchObject({
      cookie: 'session=abc; theme=dark',
      'x-trace': 't1',
      'x-forwarded-host': 'api.example.com',
      connection: 'keep-alive', // our agent's own, not the client's "close"
    });
    const json = await read('u1');
    expect(toLambdaResult({ ...json, headers: { 'content-type': 'application/json' } })).toMatchObject({
      isBase64Encoded: false,
    });
    // A compressed JSON body is bytes: base64, not a UTF-8 string.
    const gz = toLambdaResult({
      ...json,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: Uint8Array.from([0x1f, 0x8b, 0xff, 0x00]),
    });
    expect(gz).toMatchObject({
      isBase64Encoded: true,
      body: Buffer.from([0x1f, 0x8b, 0xff, 0x00]).toString('base64'),
    });
  });
});
