/**
 * The gateway Lambda behind an API Gateway HTTP API (payload format 2.0): event -> request ->
 * {@link GatewayRouter} -> response. Everything interesting is in the router; this file wires the
 * adapters from the environment and translates the event shapes.
 *
 * Environment (names in `RUNTIME_ENV`): the migration name, the stage (whether `x-canary` is
 * honoured by default), the AppConfig application, environment and profile ids, optional upstream
 * overrides, the shadow grace.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { AppConfigDataClient } from '@aws-sdk/client-appconfigdata';
import middy from '@middy/core';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import { functionEnv, metricsNamespaceFromEnv, RUNTIME_ENV, requiredEnv } from '../../lib/spec/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { AppConfigFlagSource } from '../adapters/appconfig-data.js';
import { PowertoolsGatewayTelemetry } from '../adapters/gateway-telemetry.js';
import { systemAmbient } from '../adapters/system-clock.js';
import { HttpUpstream } from '../adapters/upstream.js';
import {
  canaryOverrideFor,
  type GatewayRequest,
  type GatewayResponse,
  GatewayRouter,
  type Upstream,
} from '../domain/gateway-router.js';
import { specFromEnv } from './bundled-spec.js';

export type GatewayEvent = APIGatewayProxyEventV2 | APIGatewayProxyEventV2WithJWTAuthorizer;

/**
 * The API Gateway v2 event as a router request. `rawPath` arrives percent-decoded (an HTTP API
 * decodes it; `test/contracts/apigateway/`): the router normalizes and re-encodes it.
 */
export function toGatewayRequest(event: GatewayEvent): GatewayRequest {
  const authorizer = (event.requestContext as { authorizer?: { jwt?: { claims?: Record<string, unknown> } } })
    .authorizer;
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    sourceIp: event.requestContext.http.sourceIp,
    publicHost: event.requestContext.domainName,
    query: event.rawQueryString || undefined,
    headers: event.headers ?? {},
    cookies: event.cookies,
    claims: authorizer?.jwt?.claims,
    body:
      event.body === undefined
        ? undefined
        : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8'),
  };
}

const TEXT = /^(text\/|application\/(?:[\w.+-]*\+)?(?:json|xml|javascript|x-www-form-urlencoded)\b)/i;

/** The router's response as an API Gateway v2 result (binary bodies base64-encoded). */
export function toLambdaResult(res: GatewayResponse): APIGatewayProxyStructuredResultV2 {
  const encoding = res.headers['content-encoding'];
  // A compressed body is bytes whatever its content type.
  const text =
    (!encoding || encoding === 'identity') && TEXT.test(res.headers['content-type'] ?? 'application/json');
  const body = Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength);
  return {
    statusCode: res.status,
    headers: res.headers,
    ...(res.cookies.length ? { cookies: res.cookies } : {}),
    body: text ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !text,
  };
}

/**
 * The spec the gateway routes by: the bundled migration named by `CUTOVER_MIGRATION`, with the
 * stage's upstream URLs from `CUTOVER_GATEWAY_UPSTREAMS` / `CUTOVER_GATEWAY_FALLBACK_URL`.
 */
export function gatewaySpecFromEnv(env: NodeJS.ProcessEnv = functionEnv()): MigrationSpec {
  const spec = specFromEnv(env);
  const raw = env[RUNTIME_ENV.gatewayUpstreams];
  const overrides = raw
    ? (JSON.parse(raw) as Record<string, { serviceUrl?: string; legacyUrl?: string }>)
    : {};
  const fallbackUrl = env[RUNTIME_ENV.gatewayFallbackUrl];
  return {
    ...spec,
    services: spec.services.map((s) => ({ ...s, ...overrides[s.name] })),
    gateway: { ...spec.gateway, ...(fallbackUrl ? { fallbackUrl } : {}) },
  };
}

/** The Lambda handler around a router: translate, route, give shadows a short grace, respond. */
export function createGatewayHandler(
  router: GatewayRouter,
  opts: { readonly shadowGraceMs: number; readonly telemetry?: PowertoolsGatewayTelemetry },
) {
  let staleReported = 0;
  return async (event: GatewayEvent): Promise<APIGatewayProxyStructuredResultV2> => {
    const res = await router.handle(toGatewayRequest(event));
    const flags = router.flags.snapshot();
    if (flags.stale && opts.telemetry && Date.now() - staleReported > 10_000) {
      staleReported = Date.now();
      opts.telemetry.flagsStale(flags.lastError);
    }
    // A frozen execution environment does no work: let shadow reads that are nearly done finish.
    await router.settleShadows(opts.shadowGraceMs);
    return toLambdaResult(res);
  };
}

const logger = new Logger();
const metrics = new Metrics({ namespace: metricsNamespaceFromEnv() });
let core: ReturnType<typeof createGatewayHandler> | undefined;

/** What a local run (`cutover rehearse`) gives the gateway instead of AWS's. */
export interface GatewayDependencies {
  /** @default - AppConfig Data of the function's region */
  readonly appConfigData?: AppConfigDataClient;
  /** The flag reader's clock (the rehearsal scales it with its time scale). @default Date.now */
  readonly clock?: () => number;
  /**
   * Wraps the HTTP upstream (the rehearsal times its calls by the time its one event loop ran,
   * so that a starved loop is not reported as a service timeout). @default - the HTTP upstream
   */
  readonly upstream?: (http: Upstream) => Upstream;
}

/** The gateway as the Lambda runs it, from the environment: flag reader, router, telemetry. */
export function buildGateway(deps: GatewayDependencies = {}): ReturnType<typeof createGatewayHandler> {
  const spec = gatewaySpecFromEnv();
  const telemetry = new PowertoolsGatewayTelemetry(metrics, logger);
  const flags = new AppConfigFlagSource({
    client: deps.appConfigData ?? new AppConfigDataClient({ maxAttempts: 2 }),
    ...(deps.clock ? { clock: deps.clock } : {}),
    applicationId: requiredEnv(RUNTIME_ENV.appConfigApplicationId),
    environmentId: requiredEnv(RUNTIME_ENV.appConfigEnvironmentId),
    profileId: requiredEnv(RUNTIME_ENV.appConfigProfileId),
    services: spec.services.map((s) => s.name),
    pollIntervalSeconds: spec.gateway.flagPollSeconds,
    onError: (error) => logger.warn('flag poll failed; keeping the last good flags', { error }),
  });
  const router = new GatewayRouter({
    ...systemAmbient,
    spec,
    flags,
    upstream: deps.upstream ? deps.upstream(new HttpUpstream()) : new HttpUpstream(),
    telemetry,
    canaryOverride: canaryOverrideFor(spec.gateway.canaryOverride, functionEnv()[RUNTIME_ENV.stage]),
  });
  return createGatewayHandler(router, {
    shadowGraceMs: Number(functionEnv()[RUNTIME_ENV.gatewayShadowGraceMs] ?? 20),
    telemetry,
  });
}

export const handler = middy(async (event: GatewayEvent) => {
  core ??= buildGateway();
  return core(event);
}).use(injectLambdaContext(logger));
