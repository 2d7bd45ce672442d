import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlagError, type ServiceFlags } from '../../lambdas/domain/flags.js';
import {
  ALWAYS_HEALTHY,
  BUCKETS,
  bucketOf,
  buildRouteTable,
  decide,
  decodeJwtPayload,
  inCohort,
  matchRoute,
  type RoutingFlags,
  type RoutingRequest,
  type RoutingSpec,
  routingFlagsFromAppConfig,
  type ServiceHealth,
  stickyHash,
  userKeyOf,
} from '../../lambdas/domain/routing.js';
import magento from '../../migrations/magento.js';

const spec: RoutingSpec = {
  services: [
    {
      name: 'customer',
      serviceUrl: 'http://customer.svc',
      legacyUrl: 'http://magento',
      routes: [
        { method: 'GET', pathPrefix: '/customers', access: 'read' },
        { method: 'ANY', pathPrefix: '/customers', access: 'write' },
      ],
    },
    {
      name: 'catalog',
      serviceUrl: 'http://catalog.svc',
      legacyUrl: 'http://magento',
      routes: [
        { method: 'GET', pathPrefix: '/products', access: 'read' },
        { method: 'ANY', pathPrefix: '/products', access: 'write' },
        { method: 'GET', pathPrefix: '/products/search/', access: 'write' },
      ],
    },
  ],
  gateway: { userKey: { header: 'x-user-id', cookie: 'uid', jwtClaim: 'sub' } },
};
const table = buildRouteTable(spec);

const flagsOf = (
  read: Partial<ServiceFlags['read']> = {},
  write: Partial<ServiceFlags['write']> = {},
): ServiceFlags => ({
  read: { enabled: true, percentage: 0, ...read },
  write: { enabled: true, mode: 'legacy', ...write },
});

const get = (path: string, headers: Record<string, string> = {}): RoutingRequest => ({
  method: 'GET',
  path,
  headers,
});

const unhealthy: ServiceHealth = { admit: () => false, isHealthy: () => false };

/** A JWT with the given payload and a junk signature (the router does not verify). */
const jwt = (payload: object) =>
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

describe('Function: matchRoute', () => {
  it('picks the longest prefix, on path-segment boundaries', () => {
    expect(matchRoute(table, 'GET', '/customers/42')?.access).toBe('read');
    expect(matchRoute(table, 'GET', '/customers')?.service).toBe('customer');
    expect(matchRoute(table, 'GET', '/customersfoo')).toBeUndefined();
    expect(matchRoute(table, 'GET', '/products/search/x')).toMatchObject({
      pathPrefix: '/products/search',
      access: 'write',
    });
  });

  it('prefers the exact method over ANY at equal length, and HEAD uses GET routes', () => {
    expect(matchRoute(table, 'GET', '/customers/1')?.method).toBe('GET');
    expect(matchRoute(table, 'POST', '/customers/1')).toMatchObject({ method: 'ANY', access: 'write' });
    expect(matchRoute(table, 'HEAD', '/customers/1')?.access).toBe('read');
  });

  it('sends unrouted paths to the fallback upstream (the first legacy URL by default)', () => {
    const d = decide(table, get('/checkout'), { flags: {}, health: ALWAYS_HEALTHY });
    expect(d).toMatchObject({ target: 'legacy', upstreamUrl: 'http://magento', reason: 'no-route' });
  });

  it('compiles the bundled magento spec', () => {
    const t = buildRouteTable(magento);
    expect(matchRoute(t, 'POST', '/coupons/SPRING')?.service).toBe('order');
    expect(matchRoute(t, 'GET', '/stock/sku-1')?.service).toBe('catalog');
  });
});

describe('Function: userKeyOf', () => {
  const src = spec.gateway.userKey;

  it('takes the header first, then the cookie, then the JWT claim', () => {
    const token = `Bearer ${jwt({ sub: 'from-jwt' })}`;
    expect(userKeyOf(get('/', { 'x-user-id': 'h', cookie: 'uid=c', authorization: token }), src)).toBe('h');
    expect(userKeyOf(get('/', { cookie: 'a=1; uid=c%40x', authorization: token }), src)).toBe('c@x');
    expect(userKeyOf({ ...get('/', { authorization: token }), cookies: ['uid=v2'] }, src)).toBe('v2');
    expect(userKeyOf(get('/', { authorization: token }), src)).toBe('from-jwt');
  });

  it('prefers claims verified by the authorizer over decoding the bearer token', () => {
    const req = {
      ...get('/', { authorization: `Bearer ${jwt({ sub: 'unverified' })}` }),
      claims: { sub: 'v' },
    };
    expect(userKeyOf(req, src)).toBe('v');
  });

  it('returns undefined for no key or a malformed token', () => {
    expect(userKeyOf(get('/'), src)).toBeUndefined();
    expect(userKeyOf(get('/', { authorization: 'Bearer not-a-jwt' }), src)).toBeUndefined();
    expect(decodeJwtPayload('a.!!!.c')).toBeUndefined();
    expect(decodeJwtPayload(jwt({ sub: 7 }))).toEqual({ sub: 7 });
  });
});

describe('Function: bucketOf', () => {
  it('hashes the UTF-8 bytes with FNV-1a and the fmix32 finaliser (stable across releases)', () => {
    // Reference: byte-wise FNV-1a over group, 0x00, key; then murmur3 fmix32.
    const reference = (group: string, key: string) => {
      let h = 0x811c9dc5;
      for (const b of Buffer.concat([Buffer.from(group), Buffer.from([0]), Buffer.from(key)])) {
        h = Math.imul(h ^ b, 0x01000193);
      }
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      return h >>> 0;
    };
    for (const key of ['u1', 'jöhn@example.com', '😀-user', 'ключ', '']) {
      expect(stickyHash('customer', key)).toBe(reference('customer', key));
    }
    // Pinned: a change here would reshuffle every cohort in production.
    expect(bucketOf('customer', 'u1')).toBe(Math.floor((reference('customer', 'u1') * BUCKETS) / 2 ** 32));
  });

  it('puts the share of 100,000 users a percentage asks for in the cohort, within ±1 %', () => {
    const n = 100_000;
    const buckets = Array.from({ length: n }, (_, i) => bucketOf('customer', `user-${i}`));
    for (const pct of [1, 10, 25, 50, 75, 99.5]) {
      const inside = buckets.filter((b) => inCohort(b, pct)).length;
      expect(Math.abs((inside / n) * 100 - pct)).toBeLessThanOrEqual(1);
    }
  });

  it('draws independent cohorts per service (the flag group is part of the hash)', () => {
    const n = 100_000;
    let both = 0;
    for (let i = 0; i < n; i++) {
      if (inCohort(bucketOf('customer', `user-${i}`), 50) && inCohort(bucketOf('catalog', `user-${i}`), 50))
        both++;
    }
    expect(Math.abs((both / n) * 100 - 25)).toBeLessThanOrEqual(1);
  });
});

describe('Function: decide', () => {
  it('routes reads by the sticky percentage, through the routing decision end to end', () => {
    const n = 100_000;
    for (const pct of [10, 25, 50]) {
      const flags: RoutingFlags = { customer: flagsOf({ percentage: pct }) };
      let toService = 0;
      for (let i = 0; i < n; i++) {
        const d = decide(table, get('/customers/1', { 'x-user-id': `u${i}` }), {
          flags,
          health: ALWAYS_HEALTHY,
        });
        if (d.target === 'service') toService++;
      }
      expect(Math.abs((toService / n) * 100 - pct)).toBeLessThanOrEqual(1);
    }
  });

  it('never moves a user back to legacy when the percentage grows (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.constantFrom('customer', 'catalog'),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (key, service, a, b) => {
          const [lo, hi] = a <= b ? [a / 100, b / 100] : [b / 100, a / 100];
          const path = service === 'customer' ? '/customers/1' : '/products/1';
          const at = (pct: number) =>
            decide(table, get(path, { 'x-user-id': key }), {
              flags: { [service]: flagsOf({ percentage: pct }) },
              health: ALWAYS_HEALTHY,
            }).target;
          return at(lo) === 'legacy' || at(hi) === 'service';
        },
      ),
      { seed: 20261125, numRuns: 2000 },
    );
  });

  it('reports the same bucket for a user whether the request reads or writes (one cohort)', () => {
    for (let i = 0; i < 200; i++) {
      const key = `k${i}`;
      const r = decide(table, get('/customers/1', { 'x-user-id': key }), {
        flags: { customer: flagsOf({ percentage: 50 }) },
        health: ALWAYS_HEALTHY,
      });
      expect(r.bucket).toBe(bucketOf('customer', key));
    }
  });

  it('honours x-canary: true only where enabled, and never against a disabled flag or an unhealthy service', () => {
    const req = get('/customers/1', { 'x-user-id': 'u', 'x-canary': 'true' });
    const at0 = { customer: flagsOf({ percentage: 0 }) };
    const on = { health: ALWAYS_HEALTHY, canaryOverride: true };
    expect(decide(table, req, { flags: at0, ...on })).toMatchObject({
      target: 'service',
      upstreamUrl: 'http://customer.svc',
      reason: 'canary-header',
    });
    expect(decide(table, req, { flags: at0, ...on, health: unhealthy })).toMatchObject({
      target: 'legacy',
      reason: 'unhealthy',
    });
    expect(
      decide(table, req, { flags: { customer: flagsOf({ enabled: false, percentage: 100 }) }, ...on }),
    ).toMatchObject({ target: 'legacy', reason: 'flag-disabled' });
    // Off by default: any client can send the header.
    expect(decide(table, req, { flags: at0, health: ALWAYS_HEALTHY }).target).toBe('legacy');
    expect(decide(table, req, { flags: at0, ...on, canaryOverride: false }).target).toBe('legacy');
  });

  it('keeps requests without a user key out of the canary, except at 100 %', () => {
    const anon = get('/customers/1');
    expect(
      decide(table, anon, { flags: { customer: flagsOf({ percentage: 99 }) }, health: ALWAYS_HEALTHY }),
    ).toMatchObject({ target: 'legacy', reason: 'no-user-key' });
    expect(
      decide(table, anon, { flags: { customer: flagsOf({ percentage: 100 }) }, health: ALWAYS_HEALTHY })
        .target,
    ).toBe('service');
  });

  it('routes writes by mode: legacy and shadow to legacy (never shadowed), primary to the service if healthy', () => {
    const post: RoutingRequest = { method: 'POST', path: '/customers', headers: { 'x-user-id': 'u' } };
    const at = (mode: 'legacy' | 'shadow' | 'primary', health = ALWAYS_HEALTHY) =>
      decide(table, post, { flags: { customer: flagsOf({ percentage: 100 }, { mode }) }, health });
    expect(at('legacy')).toMatchObject({ target: 'legacy', shadow: false, reason: 'write-legacy' });
    expect(at('shadow')).toMatchObject({ target: 'legacy', shadow: false, reason: 'write-shadow' });
    expect(at('primary')).toMatchObject({ target: 'service', shadow: false, reason: 'write-primary' });
    expect(at('primary', unhealthy)).toMatchObject({ target: 'legacy', reason: 'unhealthy' });
    const disabled = decide(table, post, {
      flags: { customer: flagsOf({}, { enabled: false, mode: 'primary' }) },
      health: ALWAYS_HEALTHY,
    });
    expect(disabled.target).toBe('legacy');
  });

  it('shadows legacy-served reads while writes are in shadow mode, and only then', () => {
    const shadowMode = { customer: flagsOf({ percentage: 50 }, { mode: 'shadow' }) };
    const users = Array.from({ length: 100 }, (_, i) => `s${i}`);
    for (const u of users) {
      const d = decide(table, get('/customers/1', { 'x-user-id': u }), {
        flags: shadowMode,
        health: ALWAYS_HEALTHY,
      });
      expect(d.shadow).toBe(d.target === 'legacy');
    }
    const healthyButHalfOpen: ServiceHealth = { admit: () => true, isHealthy: () => false };
    expect(decide(table, get('/customers/1'), { flags: shadowMode, health: healthyButHalfOpen }).shadow).toBe(
      false,
    );
    expect(
      decide(table, get('/customers/1'), {
        flags: { customer: flagsOf({ percentage: 0 }, { mode: 'primary' }) },
        health: ALWAYS_HEALTHY,
      }).shadow,
    ).toBe(false);
    // The read flag's kill switch does not stop the comparison of legacy answers.
    expect(
      decide(table, get('/customers/1'), {
        flags: { customer: flagsOf({ enabled: false }, { mode: 'shadow' }) },
        health: ALWAYS_HEALTHY,
      }).shadow,
    ).toBe(true);
  });

  it('asks the breaker at most once, and only when the flags chose the service', () => {
    let asked = 0;
    const health: ServiceHealth = {
      admit: () => {
        asked++;
        return true;
      },
      isHealthy: () => true,
    };
    decide(table, get('/customers/1', { 'x-user-id': 'u' }), { flags: { customer: flagsOf() }, health });
    expect(asked).toBe(0);
    decide(table, get('/customers/1', { 'x-user-id': 'u' }), {
      flags: { customer: flagsOf({ percentage: 100 }) },
      health,
    });
    expect(asked).toBe(1);
  });
});

describe('Function: routingFlagsFromAppConfig', () => {
  const services = ['customer', 'catalog'];

  it('reads the values-only payload AppConfig Data serves, and the stored document', () => {
    const values = {
      customer_read: { enabled: true, percentage: 25 },
      customer_write: { enabled: true, mode: 'shadow' },
    };
    const expected = { customer: { read: values.customer_read, write: values.customer_write } };
    expect(routingFlagsFromAppConfig(values, services)).toEqual(expected);
    expect(routingFlagsFromAppConfig({ version: '1', flags: {}, values }, services)).toEqual(expected);
  });

  it('rejects values that break the flag model', () => {
    expect(() =>
      routingFlagsFromAppConfig({ customer_read: { enabled: true, percentage: 140 } }, services),
    ).toThrow(FlagError);
    expect(() =>
      routingFlagsFromAppConfig({ customer_write: { enabled: true, mode: 'both' } }, services),
    ).toThrow(/mode/);
    expect(() => routingFlagsFromAppConfig([], services)).toThrow(FlagError);
  });
});
