/**
 * The gateway's routing decision: which upstream (the legacy system or the new service) answers a
 * request, and whether a read is shadow-compared. Pure: no I/O, no clock, no AWS SDK. The router
 * (`gateway-router.ts`) supplies the flags, the health of each service and the request.
 *
 * The decision, per the seed's "smart routing" diagram:
 *
 * 1. Route table (from the spec): method + path prefix -> service + `read` | `write`. The longest
 *    prefix wins (matched on path-segment boundaries); at equal length a route for the exact
 *    method beats an `ANY` route. No match -> the legacy fallback upstream.
 * 2. Flags: `<service>_read` (percentage) and `<service>_write` (mode).
 *    - read: flag disabled -> legacy; `x-canary: true` -> service where the deployment honours it
 *      (`canaryOverride`); otherwise the user's sticky bucket decides (`bucket < percentage ×
 *      100`). 100 % takes everyone, even without a user key.
 *    - write: `legacy` and `shadow` -> legacy (in `shadow` the sync dual-writes: the router never
 *      sends a write twice); `primary` -> service.
 * 3. Health: a service that is not admitted by its circuit breaker is skipped -> legacy.
 * 4. Shadow: a read served by legacy while the service's write mode is `shadow` is also sent to
 *    the service, off the critical path, and the two bodies are compared.
 *
 * Stickiness: a user's bucket is `hash(service name, user key)` mapped onto 0..9,999, so a user's
 * bucket never changes, and raising the percentage only adds users (nobody moves back). The read
 * and write flags of a service use the same hash input, so they share one cohort.
 */

import {
  FlagError,
  INITIAL_SERVICE_FLAGS,
  readFlagName,
  type ServiceFlags,
  serviceFlagsFromValues,
  type WriteMode,
  writeFlagName,
} from './flags.js';
import { CANARY_HEADER } from './forwarding.js';
import { isUnderPrefix } from './request-path.js';

export type { ServiceFlags, WriteMode };

/** Where a request goes. */
export type Target = 'legacy' | 'service';
export type Access = 'read' | 'write';
export type RouteMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'ANY';

/** Flags by service name (the flag model's `FlagState`). A service without an entry is on legacy. */
export type RoutingFlags = Readonly<Record<string, ServiceFlags>>;

/** The part of the spec the router reads (a `MigrationSpec` satisfies it). */
export interface RoutingSpec {
  readonly services: ReadonlyArray<{
    readonly name: string;
    readonly serviceUrl: string;
    readonly legacyUrl: string;
    readonly routes: ReadonlyArray<{
      readonly method: RouteMethod;
      readonly pathPrefix: string;
      readonly access: Access;
    }>;
  }>;
  readonly gateway: {
    readonly userKey: { readonly header?: string; readonly cookie?: string; readonly jwtClaim?: string };
    /** Upstream for paths no route matches. @default - the first service's legacy URL */
    readonly fallbackUrl?: string;
  };
}

/** One compiled route. */
export interface RouteEntry {
  readonly service: string;
  readonly method: RouteMethod;
  readonly pathPrefix: string;
  readonly access: Access;
  readonly serviceUrl: string;
  readonly legacyUrl: string;
}

/** Where the user key of the sticky canary comes from, tried in this order. */
export interface UserKeySource {
  readonly header?: string;
  readonly cookie?: string;
  readonly jwtClaim?: string;
}

/** The compiled route table. Build once per spec with {@link buildRouteTable}. */
export interface RouteTable {
  /** Routes, longest prefix first, exact methods before `ANY` at equal length. */
  readonly routes: readonly RouteEntry[];
  readonly fallbackUrl: string;
  readonly userKey: UserKeySource;
}

/** The request as the router sees it. Header names are lower case (as API Gateway v2 sends them). */
export interface RoutingRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Cookies as `name=value` strings (API Gateway v2 `event.cookies`). @default - the `cookie` header */
  readonly cookies?: readonly string[];
  /** Claims verified by an API Gateway JWT authorizer, preferred over decoding the bearer token. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/**
 * Health of the services, as the router's circuit breakers see it (port).
 */
export interface ServiceHealth {
  /**
   * Whether a request may go to the service now. In half-open state this takes one of the
   * breaker's probe slots, so it is called only when the flags already chose the service.
   */
  admit(service: string): boolean;
  /** Whether the service is fully healthy (breaker closed). Takes no probe slot (for shadows). */
  isHealthy(service: string): boolean;
}

/** Always healthy (for callers without breakers, and for benchmarks). */
export const ALWAYS_HEALTHY: ServiceHealth = { admit: () => true, isHealthy: () => true };

/** Why the decision came out as it did (a metric dimension and a debugging aid). */
export type DecisionReason =
  | 'no-route'
  | 'flag-disabled'
  | 'canary-header'
  | 'in-cohort'
  | 'not-in-cohort'
  | 'no-user-key'
  | 'write-legacy'
  | 'write-shadow'
  | 'write-primary'
  | 'unhealthy';

export interface RoutingDecision {
  /** The matched route; `undefined` when no route matched (then the target is the fallback). */
  readonly route: RouteEntry | undefined;
  readonly target: Target;
  /** Base URL of the chosen upstream. */
  readonly upstreamUrl: string;
  /** Also send this read to the service and compare (only when the target is legacy). */
  readonly shadow: boolean;
  readonly reason: DecisionReason;
  /** The user's bucket (0..9,999) when one was computed. */
  readonly bucket: number | undefined;
}

/** Buckets per flag group: 1/10,000 resolution (0.01 percentage points). */
export const BUCKETS = 10_000;

/** Compiles the route table of a spec. */
export function buildRouteTable(spec: RoutingSpec): RouteTable {
  const routes: RouteEntry[] = [];
  for (const s of spec.services) {
    for (const r of s.routes) {
      routes.push({
        service: s.name,
        method: r.method,
        pathPrefix: normalisePrefix(r.pathPrefix),
        access: r.access,
        serviceUrl: s.serviceUrl,
        legacyUrl: s.legacyUrl,
      });
    }
  }
  routes.sort(
    (a, b) =>
      b.pathPrefix.length - a.pathPrefix.length || Number(a.method === 'ANY') - Number(b.method === 'ANY'),
  );
  const fallbackUrl = spec.gateway.fallbackUrl ?? spec.services[0]?.legacyUrl;
  if (!fallbackUrl) throw new Error('routing: no services and no gateway.fallbackUrl');
  return { routes, fallbackUrl, userKey: spec.gateway.userKey };
}

function normalisePrefix(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/**
 * The route of a request: the longest prefix that matches on a segment boundary (`/customers`
 * matches `/customers` and `/customers/42`, not `/customersfoo`). `HEAD` matches `GET` routes.
 * `path` must be in normal form (`normalizeRequestPath`): the router matches and proxies that form.
 */
export function matchRoute(table: RouteTable, method: string, path: string): RouteEntry | undefined {
  const m = method.toUpperCase();
  for (const r of table.routes) {
    if (r.method !== 'ANY' && r.method !== m && !(m === 'HEAD' && r.method === 'GET')) continue;
    if (isUnderPrefix(path, r.pathPrefix)) return r;
  }
  return undefined;
}

/**
 * The user key of the sticky canary: the configured header, else the cookie, else the JWT claim.
 * `undefined` when none is present; such a request is not in the canary (it sees the service
 * only at 100 % or with the override header).
 */
export function userKeyOf(req: RoutingRequest, source: UserKeySource): string | undefined {
  if (source.header) {
    const v = req.headers[source.header];
    if (v) return v;
  }
  if (source.cookie) {
    const v = cookieValue(req, source.cookie);
    if (v) return v;
  }
  if (source.jwtClaim) {
    const claims = req.claims ?? bearerClaims(req.headers['authorization']);
    const v = claims?.[source.jwtClaim];
    if (typeof v === 'string' && v) return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  }
  return undefined;
}

function cookieValue(req: RoutingRequest, name: string): string | undefined {
  const list = req.cookies ?? req.headers['cookie']?.split(';');
  if (!list) return undefined;
  for (const raw of list) {
    const c = raw.trim();
    const eq = c.indexOf('=');
    if (eq > 0 && c.slice(0, eq) === name) {
      const v = c.slice(eq + 1);
      try {
        return decodeURIComponent(v) || undefined;
      } catch {
        return v || undefined;
      }
    }
  }
  return undefined;
}

/**
 * The claims of a `Bearer` JWT, decoded WITHOUT verifying the signature. This is sound here only
 * because the key picks a canary cohort and grants nothing: API Gateway's JWT authorizer (when
 * configured) verifies tokens, and its verified claims are passed as `RoutingRequest.claims` and
 * preferred. A forged token can at most choose its own cohort, like the `x-canary` header.
 */
export function bearerClaims(authorization: string | undefined): Record<string, unknown> | undefined {
  if (!authorization || !/^bearer /i.test(authorization)) return undefined;
  return decodeJwtPayload(authorization.slice(7).trim());
}

/** Decodes a JWT's payload (no verification; see {@link bearerClaims}). `undefined` if malformed. */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0) return undefined;
  try {
    const json = Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8');
    const payload: unknown = JSON.parse(json);
    return payload && typeof payload === 'object' && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * 32-bit hash of `group + "\u0000" + key` (FNV-1a over UTF-8, then murmur3's fmix32 finaliser so
 * the high bits, which pick the bucket, depend on every input bit).
 */
export function stickyHash(group: string, key: string): number {
  let h = 0x811c9dc5;
  h = fnv1a(h, group);
  h = Math.imul(h ^ 0, 0x01000193) >>> 0; // the separator byte 0x00
  h = fnv1a(h, key);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function fnv1a(seed: number, s: string): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
      continue;
    }
    // Hash the UTF-8 bytes, so other implementations (and other languages) agree.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    const bytes =
      c < 0x800
        ? [0xc0 | (c >> 6), 0x80 | (c & 63)]
        : c < 0x10000
          ? [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)]
          : [0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)];
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The user's bucket in a flag group, 0..9,999. Multiply-shift maps the 32-bit hash onto the
 * buckets with a bias below 3 × 10⁻⁶ (modulo would favour the low buckets by as much).
 */
export function bucketOf(group: string, key: string): number {
  return Math.floor((stickyHash(group, key) * BUCKETS) / 2 ** 32);
}

/** Whether a bucket is inside a percentage (0–100, up to two decimals count). */
export function inCohort(bucket: number, percentage: number): boolean {
  return bucket < Math.round(Math.min(100, Math.max(0, percentage)) * (BUCKETS / 100));
}

/** Whether a method is safe to repeat or to send twice (retry on legacy, shadow read). */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** Inputs of {@link decide} besides the table and the request. */
export interface DecisionContext {
  readonly flags: RoutingFlags;
  readonly health: ServiceHealth;
  /**
   * Honour `x-canary: true` (the seed's Istio rule). Off unless asked for: any client can send
   * the header. @default false
   */
  readonly canaryOverride?: boolean;
}

/** The routing decision for one request. Pure but for `health.admit`, called at most once. */
export function decide(table: RouteTable, req: RoutingRequest, ctx: DecisionContext): RoutingDecision {
  const method = req.method.toUpperCase();
  const route = matchRoute(table, method, req.path);
  if (!route) {
    return {
      route,
      target: 'legacy',
      upstreamUrl: table.fallbackUrl,
      shadow: false,
      reason: 'no-route',
      bucket: undefined,
    };
  }
  const flags = ctx.flags[route.service] ?? INITIAL_SERVICE_FLAGS;
  const legacy = (reason: DecisionReason, bucket: number | undefined, shadow = false): RoutingDecision => ({
    route,
    target: 'legacy',
    upstreamUrl: route.legacyUrl,
    shadow,
    reason,
    bucket,
  });

  let wanted: DecisionReason;
  let bucket: number | undefined;
  if (route.access === 'read') {
    if (!flags.read.enabled)
      return legacy('flag-disabled', undefined, readShadows(flags, method, ctx, route));
    if (ctx.canaryOverride === true && req.headers[CANARY_HEADER]?.toLowerCase() === 'true') {
      wanted = 'canary-header';
    } else {
      const cohort = cohortOf(table, req, route.service, flags.read.percentage);
      bucket = cohort.bucket;
      if (!cohort.inside) {
        return legacy(cohort.reason, bucket, readShadows(flags, method, ctx, route));
      }
      wanted = cohort.reason;
    }
  } else {
    if (!flags.write.enabled || flags.write.mode === 'legacy') return legacy('write-legacy', undefined);
    if (flags.write.mode === 'shadow') return legacy('write-shadow', undefined);
    // The flag model has no write percentage: `primary` takes every user's writes.
    wanted = 'write-primary';
  }
  if (!ctx.health.admit(route.service)) {
    // A read that cannot reach the service is not shadowed either: the service is failing.
    return legacy('unhealthy', bucket);
  }
  return { route, target: 'service', upstreamUrl: route.serviceUrl, shadow: false, reason: wanted, bucket };
}

function readShadows(flags: ServiceFlags, method: string, ctx: DecisionContext, route: RouteEntry): boolean {
  return (
    flags.write.enabled &&
    flags.write.mode === 'shadow' &&
    (method === 'GET' || method === 'HEAD') &&
    ctx.health.isHealthy(route.service)
  );
}

function cohortOf(
  table: RouteTable,
  req: RoutingRequest,
  service: string,
  percentage: number,
): { inside: boolean; bucket: number | undefined; reason: DecisionReason } {
  if (percentage >= 100) return { inside: true, bucket: undefined, reason: 'in-cohort' };
  if (percentage <= 0) return { inside: false, bucket: undefined, reason: 'not-in-cohort' };
  const key = userKeyOf(req, table.userKey);
  if (key === undefined) return { inside: false, bucket: undefined, reason: 'no-user-key' };
  // The flag group is the service: its read and write flags share one cohort.
  const bucket = bucketOf(service, key);
  return inCohort(bucket, percentage)
    ? { inside: true, bucket, reason: 'in-cohort' }
    : { inside: false, bucket, reason: 'not-in-cohort' };
}

/**
 * The router's flags from what AppConfig Data returns for a `AWS.AppConfig.FeatureFlags` profile.
 * The data plane serves the *retrieved form*, flag values only (`{ customer_read: { enabled,
 * percentage }, customer_write: { enabled, mode } }`), in which a disabled flag is
 * `{ "enabled": false }` without attributes; the stored document with `version`/`flags`/`values`
 * is accepted too. Each service's values are read by the flag model's one reader
 * ({@link serviceFlagsFromValues}): a disabled flag is 0 % / `legacy`. A service absent from the
 * payload stays on legacy.
 *
 * @param services the service names to look up (from the spec)
 * @throws FlagError when an enabled flag breaks the model (the caller keeps its last good flags)
 */
export function routingFlagsFromAppConfig(payload: unknown, services: readonly string[]): RoutingFlags {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new FlagError(['flag payload must be a JSON object']);
  }
  const p = payload as Record<string, unknown>;
  const values = (
    p['version'] === '1' && p['values'] && typeof p['values'] === 'object' ? p['values'] : p
  ) as Record<string, unknown>;
  const out: Record<string, ServiceFlags> = {};
  const problems: string[] = [];
  for (const s of services) {
    const read = values[readFlagName(s)];
    const write = values[writeFlagName(s)];
    if (read === undefined && write === undefined) continue;
    const parsed = serviceFlagsFromValues(read, write, s);
    if (parsed.problems.length) problems.push(...parsed.problems);
    else out[s] = parsed.flags;
  }
  if (problems.length) throw new FlagError(problems);
  return out;
}
