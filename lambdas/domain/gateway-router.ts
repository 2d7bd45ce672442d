/**
 * The gateway core: parse nothing, decide, proxy, fall back, shadow, measure. Plain TypeScript over
 * ports, so it runs in the Lambda handler (`lambdas/handlers/gateway.ts`), in a local server, in
 * tests and in the benchmark alike.
 *
 * Ports (implemented by adapters, injected):
 * - {@link FlagSource}: the current flags (AppConfig Data in production).
 * - {@link Upstream}: sends one HTTP request to an upstream (keep-alive HTTP client).
 * - {@link GatewayTelemetry}: metrics and the sampled mismatch log.
 * - {@link Ambient}: the clocks (the wall clock; a monotonic one for latencies), the wait for shadow
 *   reads and the sampling's randomness.
 */
import {
  type CallOutcome,
  type CircuitBreakerOptions,
  type Clock,
  ServiceBreakers,
} from './circuit-breaker.js';
import { type ClientOrigin, publicLocation, upstreamHeaders } from './forwarding.js';
import type { Ambient } from './ports.js';
import {
  isUnderPrefix,
  normalizeQuery,
  normalizeRequestPath,
  type PathRejection,
  RequestPathError,
} from './request-path.js';
import {
  buildRouteTable,
  decide,
  isSafeMethod,
  matchRoute,
  type RouteTable,
  type RoutingDecision,
  type RoutingFlags,
  type RoutingSpec,
  type Target,
} from './routing.js';
import { compareAnswers, compileIgnores, type IgnoreMatcher, type ShadowComparison } from './shadow.js';

// ---------------------------------------------------------------- ports

/** The flags the router routes by, with how fresh they are. */
export interface FlagSnapshot {
  readonly flags: RoutingFlags;
  /** Version label of the flag document, when known. */
  readonly version?: string;
  /** When AppConfig last answered (epoch ms); `undefined` before the first answer. */
  readonly fetchedAt?: number;
  /** True when the last attempt to refresh failed: these are the last good flags. */
  readonly stale: boolean;
  readonly lastError?: string;
}

/** Source of the current flags (port). */
export interface FlagSource {
  /** The flags to use now. Never throws; before any answer, every service is on legacy. */
  snapshot(): FlagSnapshot;
  /** Refreshes the flags when the poll interval has passed. Bounded in time; never throws. */
  refresh(): Promise<void>;
}

export interface UpstreamRequest {
  readonly method: string;
  /** Absolute URL; its path and query are sent exactly as written (the router normalized them). */
  readonly url: string;
  /** Lower-case names, hop-by-hop headers already dropped (the adapter drops them again). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}

export interface UpstreamResponse {
  readonly status: number;
  /** Lower-case names; `set-cookie` may hold several values. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: Uint8Array;
}

export type UpstreamFailure = 'timeout' | 'unreachable' | 'too-large';

/** A call that produced no HTTP answer. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

/** Sends one request to an upstream (port). Rejects with {@link UpstreamError} on no answer. */
export interface Upstream {
  send(req: UpstreamRequest, opts: { readonly timeoutMs: number }): Promise<UpstreamResponse>;
}

/** Outcome of one upstream call (a metric dimension). */
export type CallResult = 'ok' | 'client_error' | 'server_error' | 'timeout' | 'unreachable' | 'too_large';

export type FallbackReason = 'breaker_open' | 'service_failed';

/** What a compared shadow read reports. Never values: paths only. */
export interface ShadowReport {
  readonly service: string;
  readonly method: string;
  /** The matched route prefix (not the request path, which may carry ids or emails). */
  readonly route: string;
  readonly comparison: ShadowComparison;
  /** Whether this mismatch is one of the sampled ones to write to the log. */
  readonly logged: boolean;
}

/** Metrics and logs of the gateway (port). `service` is `-` for unrouted requests. */
export interface GatewayTelemetry {
  /** One upstream call; `shadow` marks the off-path shadow reads (kept out of the canary's figures). */
  upstreamCall(service: string, target: Target | 'shadow', result: CallResult, latencyMs: number): void;
  fallback(service: string, reason: FallbackReason): void;
  shadowCompared(report: ShadowReport): void;
  shadowFailed(service: string, result: CallResult): void;
  /** A request answered 400 without calling any upstream (its path is never reported). */
  requestRejected(reason: PathRejection): void;
}

// ---------------------------------------------------------------- router

/** A request as it reaches the gateway. */
export interface GatewayRequest extends ClientOrigin {
  readonly method: string;
  /** The path as received (API Gateway: `rawPath`); the router normalizes it. */
  readonly path: string;
  /** Raw query string without `?`. */
  readonly query?: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** `name=value` cookies (API Gateway v2 keeps them out of the headers). */
  readonly cookies?: readonly string[];
  /** Verified JWT claims from the API Gateway authorizer. */
  readonly claims?: Readonly<Record<string, unknown>>;
  readonly body?: Uint8Array;
}

export interface GatewayResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** `set-cookie` values. */
  readonly cookies: string[];
  readonly body: Uint8Array;
  /** The decision, for the caller's logs (not sent to the client); none for a refused request. */
  readonly decision?: RoutingDecision;
  /** Who actually answered (legacy after a fallback); none when the gateway refused the request. */
  readonly servedBy?: Target;
}

/**
 * What the router is built from. Its {@link Ambient} times the breakers and the log budgets,
 * measures the upstream calls' latency (its monotonic clock), bounds the wait for shadow reads
 * and draws the shadow sample.
 */
export interface GatewayRouterOptions extends Ambient {
  readonly spec: RoutingSpec & {
    readonly gateway: {
      readonly upstreamTimeoutMs: number;
      readonly shadowIgnore: readonly string[];
      readonly shadowSampleRate?: number;
      readonly breaker?: CircuitBreakerOptions;
      readonly canaryOverride?: boolean;
    };
  };
  readonly flags: FlagSource;
  readonly upstream: Upstream;
  readonly telemetry: GatewayTelemetry;
  /** @default - the spec's `gateway.breaker`, else the breaker's defaults */
  readonly breaker?: CircuitBreakerOptions;
  /** Share of eligible reads that are shadowed, 0–1. @default - the spec's `gateway.shadowSampleRate` */
  readonly shadowSampleRate?: number;
  /** Sampled mismatch log lines per service per minute. @default 10 */
  readonly mismatchLogsPerMinute?: number;
  /**
   * Honour `x-canary: true`. The Lambda handler passes {@link canaryOverrideFor} of the spec
   * setting and the stage. @default - the spec's `gateway.canaryOverride`, else false
   */
  readonly canaryOverride?: boolean;
}

const UNROUTED = '-';

/**
 * Whether a deployment honours `x-canary: true`: the spec's `gateway.canaryOverride` when set,
 * else only in the `dev` stage. Any client can send the header, so elsewhere it is off unless a
 * spec turns it on on purpose.
 */
export function canaryOverrideFor(setting: boolean | undefined, stage: string | undefined): boolean {
  return setting ?? stage === 'dev';
}

/**
 * Routes, proxies and shadow-compares requests.
 *
 * @example
 * const router = new GatewayRouter({ ...systemAmbient, spec, flags, upstream: new HttpUpstream(), telemetry });
 * const res = await router.handle({ method: 'GET', path: '/customers/42', headers: { 'x-user-id': 'u1' } });
 */
export class GatewayRouter {
  readonly table: RouteTable;
  readonly breakers: ServiceBreakers;
  private readonly opts: GatewayRouterOptions;
  private readonly clock: Clock;
  private readonly ignores: IgnoreMatcher;
  private readonly pending = new Set<Promise<void>>();
  private readonly logBudget = new Map<string, { minute: number; used: number }>();
  private readonly canaryOverride: boolean;
  /** Every upstream base URL: a `Location` naming one of their hosts is made public. */
  private readonly internalBases: readonly string[];

  constructor(opts: GatewayRouterOptions) {
    this.opts = opts;
    this.clock = opts.now;
    this.table = buildRouteTable(opts.spec);
    this.canaryOverride = opts.canaryOverride ?? opts.spec.gateway.canaryOverride ?? false;
    this.internalBases = [
      ...new Set([...this.table.routes.flatMap((r) => [r.serviceUrl, r.legacyUrl]), this.table.fallbackUrl]),
    ];
    this.breakers = new ServiceBreakers(opts.breaker ?? opts.spec.gateway.breaker ?? {}, this.clock);
    this.ignores = compileIgnores(opts.spec.gateway.shadowIgnore);
  }

  /** The flag source the router reads. */
  get flags(): FlagSource {
    return this.opts.flags;
  }

  /** Shadow reads still in flight. */
  get pendingShadows(): number {
    return this.pending.size;
  }

  /**
   * Waits for the shadow reads in flight, at most `maxWaitMs`. The Lambda handler calls this
   * with a small grace before returning, because a frozen execution environment does no work.
   */
  async settleShadows(maxWaitMs: number): Promise<void> {
    if (this.pending.size === 0) return;
    const settled = new AbortController();
    await Promise.race([Promise.allSettled([...this.pending]), this.opts.sleep(maxWaitMs, settled.signal)]);
    settled.abort();
  }

  async handle(req: GatewayRequest): Promise<GatewayResponse> {
    const method = req.method.toUpperCase();
    // One normal form, routed and proxied alike: nothing downstream can reinterpret it.
    let path: string;
    let query: string | undefined;
    try {
      path = this.normalPath(method, req.path);
      query = req.query ? normalizeQuery(req.query) : undefined;
    } catch (e) {
      if (!(e instanceof RequestPathError)) throw e;
      this.opts.telemetry.requestRejected(e.reason);
      return badRequest(e);
    }
    await this.opts.flags.refresh();
    const flags = this.opts.flags.snapshot().flags;
    const decision = decide(
      this.table,
      { ...req, method, path },
      { flags, health: this.breakers, canaryOverride: this.canaryOverride },
    );
    const service = decision.route?.service ?? UNROUTED;
    // Take the breaker permit now, before any await, so concurrent requests keep their own.
    const permit = decision.target === 'service' ? this.breakers.takePermit(service) : undefined;
    if (decision.reason === 'unhealthy') this.opts.telemetry.fallback(service, 'breaker_open');

    const headers = upstreamHeaders(req.headers, req.cookies, req);
    const upstreamReq = (baseUrl: string): UpstreamRequest => ({
      method,
      url: joinUrl(baseUrl, path, query),
      headers,
      body: req.body,
    });

    const shadow =
      decision.shadow && decision.route && this.sampled()
        ? this.call(service, 'shadow', upstreamReq(decision.route.serviceUrl))
        : undefined;

    let served: Target = decision.target;
    let result = await this.call(service, decision.target, upstreamReq(decision.upstreamUrl));
    if (permit) {
      this.breakers.record(service, permit, outcomeOf(result));
      const failed = result.error !== undefined || result.res!.status >= 500;
      // Reads are safe to repeat on legacy; a write is never sent twice (it may have landed).
      if (failed && (decision.route!.access === 'read' || isSafeMethod(method))) {
        this.opts.telemetry.fallback(service, 'service_failed');
        served = 'legacy';
        result = await this.call(service, 'legacy', upstreamReq(decision.route!.legacyUrl));
      }
    }
    if (shadow) this.track(this.compareShadow(decision, method, result, shadow));
    return toResponse(result, decision, served, (location) =>
      publicLocation(location, this.internalBases, req.publicHost),
    );
  }

  /**
   * The request path in normal form. Resolving dot segments must not carry a request out of the
   * route its path names before them (`/customers/../admin` would be routed by its result, yet
   * reads like a customer request to anything that matched the raw path): that is refused.
   */
  private normalPath(method: string, raw: string): string {
    const { path, beforeDotSegments } = normalizeRequestPath(raw);
    if (beforeDotSegments !== undefined) {
      const named = matchRoute(this.table, method, beforeDotSegments);
      if (named && !isUnderPrefix(path, named.pathPrefix)) {
        throw new RequestPathError('escapes-route', `request path leaves the route ${named.pathPrefix}`);
      }
    }
    return path;
  }

  private async call(service: string, target: Target | 'shadow', req: UpstreamRequest): Promise<CallRecord> {
    const started = this.opts.monotonic();
    try {
      const res = await this.opts.upstream.send(req, { timeoutMs: this.opts.spec.gateway.upstreamTimeoutMs });
      const latencyMs = this.opts.monotonic() - started;
      this.opts.telemetry.upstreamCall(service, target, resultOf(res.status), latencyMs);
      return { res, latencyMs };
    } catch (e) {
      const latencyMs = this.opts.monotonic() - started;
      const error =
        e instanceof UpstreamError ? e : new UpstreamError('unreachable', String(e), { cause: e });
      this.opts.telemetry.upstreamCall(service, target, failureResult(error.kind), latencyMs);
      return { error, latencyMs };
    }
  }

  private async compareShadow(
    decision: RoutingDecision,
    method: string,
    primary: CallRecord,
    shadowCall: Promise<CallRecord>,
  ): Promise<void> {
    const service = decision.route!.service;
    const shadow = await shadowCall;
    // Shadow reads feed the breaker too (they only happen while it is closed).
    this.breakers.record(service, 'call', outcomeOf(shadow));
    if (shadow.error) {
      this.opts.telemetry.shadowFailed(service, failureResult(shadow.error.kind));
      return;
    }
    if (!primary.res) return; // legacy failed: nothing to compare against
    const comparison = compareAnswers(
      {
        status: primary.res.status,
        contentType: header(primary.res, 'content-type'),
        body: primary.res.body,
      },
      {
        status: shadow.res!.status,
        contentType: header(shadow.res!, 'content-type'),
        body: shadow.res!.body,
      },
      this.ignores,
    );
    this.opts.telemetry.shadowCompared({
      service,
      method,
      route: decision.route!.pathPrefix,
      comparison,
      logged: !comparison.equal && this.takeLogBudget(service),
    });
  }

  private track(p: Promise<void>): void {
    const guarded = p.catch(() => undefined);
    this.pending.add(guarded);
    void guarded.finally(() => this.pending.delete(guarded));
  }

  private sampled(): boolean {
    const rate = this.opts.shadowSampleRate ?? this.opts.spec.gateway.shadowSampleRate ?? 1;
    return rate >= 1 || (rate > 0 && this.opts.random() < rate);
  }

  private takeLogBudget(service: string): boolean {
    const minute = Math.floor(this.clock() / 60_000);
    const limit = this.opts.mismatchLogsPerMinute ?? 10;
    const b = this.logBudget.get(service);
    if (!b || b.minute !== minute) {
      this.logBudget.set(service, { minute, used: 1 });
      return limit > 0;
    }
    if (b.used >= limit) return false;
    b.used++;
    return true;
  }
}

interface CallRecord {
  readonly res?: UpstreamResponse;
  readonly error?: UpstreamError;
  readonly latencyMs: number;
}

function outcomeOf(r: CallRecord): CallOutcome {
  return { ok: r.error === undefined && r.res!.status < 500, latencyMs: r.latencyMs };
}

function resultOf(status: number): CallResult {
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  return 'ok';
}

function failureResult(kind: UpstreamFailure): CallResult {
  return kind === 'too-large' ? 'too_large' : kind;
}

function header(res: UpstreamResponse, name: string): string | undefined {
  const v = res.headers[name];
  return typeof v === 'string' ? v : v?.[0];
}

/** Joins an upstream base URL (which may carry a path) with the request path and query. */
export function joinUrl(base: string, path: string, query?: string): string {
  const b = base.endsWith('/') ? base.slice(0, -1) : base;
  return `${b}${path.startsWith('/') ? path : `/${path}`}${query ? `?${query}` : ''}`;
}

function badRequest(e: RequestPathError): GatewayResponse {
  return {
    status: 400,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    // The reason, never the path: it may carry ids or email addresses.
    body: Buffer.from(JSON.stringify({ message: `bad request path: ${e.reason}` })),
  };
}

const STATUS_TEXT: Record<UpstreamFailure, { status: number; message: string }> = {
  timeout: { status: 504, message: 'upstream timed out' },
  unreachable: { status: 502, message: 'upstream unreachable' },
  'too-large': { status: 502, message: 'upstream response too large' },
};

function toResponse(
  r: CallRecord,
  decision: RoutingDecision,
  servedBy: Target,
  publicUrl: (location: string) => string,
): GatewayResponse {
  if (r.error) {
    const { status, message } = STATUS_TEXT[r.error.kind];
    return {
      status,
      headers: { 'content-type': 'application/json', 'x-cutover-target': servedBy },
      cookies: [],
      body: Buffer.from(JSON.stringify({ message })),
      decision,
      servedBy,
    };
  }
  const headers: Record<string, string> = {};
  let cookies: string[] = [];
  for (const [k, v] of Object.entries(r.res!.headers)) {
    if (k === 'set-cookie') cookies = typeof v === 'string' ? [v] : [...v];
    else headers[k] = typeof v === 'string' ? v : v.join(', ');
  }
  for (const k of ['location', 'content-location']) {
    if (headers[k] !== undefined) headers[k] = publicUrl(headers[k]);
  }
  headers['x-cutover-target'] = servedBy;
  return { status: r.res!.status, headers, cookies, body: r.res!.body, decision, servedBy };
}
