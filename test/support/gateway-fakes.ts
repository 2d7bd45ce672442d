/**
 * Loopback stand-ins for the gateway's tests and benchmark: programmable HTTP upstreams, an
 * AppConfig Data API (enough of it for `@aws-sdk/client-appconfigdata` pointed at it through
 * `endpoint`), a telemetry recorder, and the API Gateway HTTP API event builder (checked against
 * the recorded events in `test/contracts/apigateway/` by `test/integration/gateway-contracts.test.ts`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppConfigDataClient } from '@aws-sdk/client-appconfigdata';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll } from 'vitest';
import { HttpUpstream } from '../../lambdas/adapters/upstream.js';
import type {
  CallResult,
  FallbackReason,
  FlagSource,
  GatewayTelemetry,
  ShadowReport,
} from '../../lambdas/domain/gateway-router.js';
import type { RoutingFlags } from '../../lambdas/domain/routing.js';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export type UpstreamReply =
  | { status?: number; headers?: Record<string, string | string[]>; body?: string | object }
  | 'hang';

export interface FakeUpstream {
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Replaces the reply (default: 200 with a JSON echo naming this upstream). */
  reply(fn: (req: SeenRequest) => UpstreamReply): void;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 that records each request and answers as told. */
export async function startUpstream(name: string): Promise<FakeUpstream> {
  const seen: SeenRequest[] = [];
  let handler: (req: SeenRequest) => UpstreamReply = (req) => ({ body: { upstream: name, path: req.url } });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(r);
      const reply = handler(r);
      if (reply === 'hang') return;
      const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
      res.writeHead(reply.status ?? 200, {
        'content-type': typeof reply.body === 'string' ? 'text/plain' : 'application/json',
        ...reply.headers,
      });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    reply: (fn) => {
      handler = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A legacy and a service upstream and the gateway's keep-alive client to them. */
export interface LoopbackUpstreams {
  legacy: FakeUpstream;
  service: FakeUpstream;
  client: HttpUpstream;
}

/**
 * Starts {@link LoopbackUpstreams} before the calling test file's tests and stops them after;
 * the returned object is filled in by then.
 */
export function loopbackUpstreams(): LoopbackUpstreams {
  const up = {} as LoopbackUpstreams;
  beforeAll(async () => {
    [up.legacy, up.service] = await Promise.all([startUpstream('legacy'), startUpstream('service')]);
    up.client = new HttpUpstream();
  });
  afterAll(async () => {
    up.client.close();
    await Promise.all([up.legacy.close(), up.service.close()]);
  });
  return up;
}

export interface FakeAppConfigData {
  readonly url: string;
  /** A client pointed at this server (fake credentials, one attempt). */
  readonly client: AppConfigDataClient;
  /** Deploys a flag payload (the values-only form AppConfig Data serves); returns its version label. */
  deploy(payload: unknown): string;
  /** Deploys an earlier version again, as an AppConfig rollback does (same version label). */
  redeploy(version: string): void;
  /** Makes every call fail with this HTTP status (500, 503), never answer (`hang`), or succeed again (`undefined`). */
  failWith(status: number | 'hang' | undefined): void;
  readonly stats: { sessions: number; polls: number; tooEarly: number; contentServed: number };
  close(): Promise<void>;
}

/**
 * The AppConfig Data API on loopback: sessions, single-use tokens, per-session "unchanged" empty
 * answers, and AppConfig's rule that a session may not poll before its interval ("Request too
 * early", enforced on the injected clock, minimum 15 s as in AWS).
 */
export async function startAppConfigData(clock: () => number): Promise<FakeAppConfigData> {
  let deployed = { version: '0', body: '' };
  let failStatus: number | 'hang' | undefined;
  let next = 0;
  const tokens = new Map<string, { session: number; notBefore: number; intervalS: number; seen?: string }>();
  const stats = { sessions: 0, polls: 0, tooEarly: 0, contentServed: 0 };
  const error = (res: http.ServerResponse, status: number, type: string, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
    res.end(JSON.stringify({ Message: message }));
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failStatus === 'hang') return;
      if (failStatus) return error(res, failStatus, 'InternalServerException', 'injected failure');
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'POST' && url.pathname === '/configurationsessions') {
        const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        const intervalS = input.RequiredMinimumPollIntervalInSeconds ?? 60;
        if (intervalS < 15) return error(res, 400, 'BadRequestException', 'interval below 15 s');
        stats.sessions++;
        const token = `t${++next}`;
        tokens.set(token, { session: stats.sessions, notBefore: 0, intervalS });
        res.writeHead(201, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ InitialConfigurationToken: token }));
      }
      if (req.method === 'GET' && url.pathname === '/configuration') {
        const token = url.searchParams.get('configuration_token') ?? '';
        const s = tokens.get(token);
        if (!s) return error(res, 400, 'BadRequestException', 'Invalid or used token');
        if (clock() < s.notBefore) {
          stats.tooEarly++;
          return error(res, 400, 'BadRequestException', 'Request too early');
        }
        tokens.delete(token);
        stats.polls++;
        const nextToken = `t${++next}`;
        const changed = s.seen !== deployed.version;
        tokens.set(nextToken, {
          ...s,
          seen: deployed.version,
          notBefore: clock() + s.intervalS * 1000,
        });
        if (changed) stats.contentServed++;
        res.writeHead(200, {
          'content-type': 'application/json',
          'next-poll-configuration-token': nextToken,
          'next-poll-interval-in-seconds': String(s.intervalS),
          ...(changed ? { 'version-label': deployed.version } : {}),
        });
        return res.end(changed ? deployed.body : '');
      }
      error(res, 404, 'ResourceNotFoundException', 'no such route');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new AppConfigDataClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  let version = 0;
  const versions = new Map<string, string>();
  return {
    url,
    client,
    stats,
    deploy: (payload) => {
      deployed = { version: String(++version), body: JSON.stringify(payload) };
      versions.set(deployed.version, deployed.body);
      return deployed.version;
    },
    redeploy: (v) => {
      const body = versions.get(v);
      if (body === undefined) throw new Error(`no version ${v}`);
      deployed = { version: v, body };
    },
    failWith: (status) => {
      failStatus = status;
    },
    close: () =>
      new Promise<void>((resolve) => {
        client.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Flag values in the form AppConfig Data serves for one service: an enabled flag with its
 * attribute, a disabled one as `{ enabled: false }` alone (test/contracts/appconfig/
 * feature-flags-retrieved.json), whatever attribute is passed for it.
 */
export function flagValues(
  service: string,
  read: { enabled?: boolean; percentage: number },
  write: { enabled?: boolean; mode: 'legacy' | 'shadow' | 'primary' },
): Record<string, Record<string, unknown>> {
  return {
    [`${service}_read`]:
      (read.enabled ?? true) ? { enabled: true, percentage: read.percentage } : { enabled: false },
    [`${service}_write`]: (write.enabled ?? true) ? { enabled: true, mode: write.mode } : { enabled: false },
  };
}

/** Flags that never change (for tests about anything but the flag reader). */
export function staticFlags(flags: RoutingFlags): FlagSource {
  return { snapshot: () => ({ flags, stale: false }), refresh: async () => {} };
}

/** Records what the router reports. */
export class RecordingTelemetry implements GatewayTelemetry {
  readonly calls: { service: string; target: string; result: CallResult }[] = [];
  readonly fallbacks: { service: string; reason: FallbackReason }[] = [];
  readonly shadows: ShadowReport[] = [];
  readonly shadowFailures: { service: string; result: CallResult }[] = [];
  readonly rejected: string[] = [];

  upstreamCall(service: string, target: string, result: CallResult): void {
    this.calls.push({ service, target, result });
  }
  fallback(service: string, reason: FallbackReason): void {
    this.fallbacks.push({ service, reason });
  }
  shadowCompared(report: ShadowReport): void {
    this.shadows.push(report);
  }
  shadowFailed(service: string, result: CallResult): void {
    this.shadowFailures.push({ service, result });
  }
  requestRejected(reason: string): void {
    this.rejected.push(reason);
  }
  get mismatches(): number {
    return this.shadows.filter((s) => !s.comparison.equal).length;
  }
}

// ---------------------------------------------------------------- API Gateway HTTP API events

/** A request as the client puts it on the wire, before API Gateway turns it into an event. */
export interface ClientRequest {
  /** @default 'GET' */
  readonly method?: string;
  /** The request-target as sent: path and query string, percent-encoding as the client wrote it. */
  readonly target: string;
  /** Header lines as sent: names in any case, a name may repeat. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** A string is sent as UTF-8 text; bytes arrive base64-encoded. */
  readonly body?: string | Uint8Array;
  /** @default '198.51.100.7' */
  readonly sourceIp?: string;
  /** @default 'abc123defg.execute-api.eu-west-1.amazonaws.com' */
  readonly domainName?: string;
  /** The route that matched (the gateway's API has only `$default`). @default '$default' */
  readonly routeKey?: string;
  /** `requestContext.authorizer` as the route's authorizer fills it. @default - none */
  readonly authorizer?: Record<string, unknown>;
  /** `requestContext.authentication` (mutual TLS). @default - none */
  readonly authentication?: Record<string, unknown>;
  readonly accountId?: string;
  readonly requestId?: string;
  /** @default Date.now() */
  readonly timeEpoch?: number;
  /** The `x-amzn-trace-id` API Gateway adds. @default - derived from the request id */
  readonly traceId?: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `17/Jun/2024:15:52:39 +0000`, the form of `requestContext.time`. */
function apiGatewayTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function decodeOrKeep(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // not recorded what API Gateway does here (test/contracts/apigateway)
  }
}

let eventCounter = 0;

/**
 * The event an API Gateway HTTP API (payload format 2.0, Lambda proxy integration) hands the
 * function for a client request, as recorded in `test/contracts/apigateway/`:
 * - `rawPath` is percent-decoded (observed), `rawQueryString` is as sent, and
 *   `requestContext.http.path` equals `rawPath`;
 * - header names are lower case, repeated headers are joined with commas, the `cookie` headers
 *   leave `headers` for the `cookies` array (one `name=value` per element);
 * - API Gateway adds `x-amzn-trace-id`, `x-forwarded-for` (the source IP), `x-forwarded-port`
 *   and `x-forwarded-proto`;
 * - optional members (`cookies`, `queryStringParameters`, `body`, `authorizer`, `authentication`)
 *   are absent when empty.
 */
export function apiGatewayEvent(req: ClientRequest): APIGatewayProxyEventV2 {
  const n = ++eventCounter;
  const method = (req.method ?? 'GET').toUpperCase();
  const domainName = req.domainName ?? 'abc123defg.execute-api.eu-west-1.amazonaws.com';
  const sourceIp = req.sourceIp ?? '198.51.100.7';
  const requestId = req.requestId ?? `Rq${String(n).padStart(10, '0')}=`;
  const timeEpoch = req.timeEpoch ?? Date.now();
  const routeKey = req.routeKey ?? '$default';
  const q = req.target.indexOf('?');
  const sentPath = q < 0 ? req.target : req.target.slice(0, q);
  const rawQueryString = q < 0 ? '' : req.target.slice(q + 1);
  const rawPath = decodeOrKeep(sentPath);

  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of req.headers ?? []) {
    const k = name.toLowerCase();
    if (k === 'cookie') {
      for (const c of value.split(';')) if (c.trim()) cookies.push(c.trim());
      continue;
    }
    headers[k] = headers[k] === undefined ? value : `${headers[k]},${value}`;
  }
  headers['host'] ??= domainName;
  headers['x-amzn-trace-id'] =
    req.traceId ?? `Root=1-${Math.floor(timeEpoch / 1000).toString(16)}-${String(n).padStart(24, '0')}`;
  headers['x-forwarded-for'] = headers['x-forwarded-for']
    ? `${headers['x-forwarded-for']}, ${sourceIp}`
    : sourceIp;
  headers['x-forwarded-port'] = '443';
  headers['x-forwarded-proto'] = 'https';

  const query: Record<string, string> = {};
  for (const pair of rawQueryString.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const k = decodeOrKeep((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    const v = eq < 0 ? '' : decodeOrKeep(pair.slice(eq + 1).replace(/\+/g, ' '));
    query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  }

  const body =
    req.body === undefined
      ? undefined
      : typeof req.body === 'string'
        ? { body: req.body, isBase64Encoded: false }
        : { body: Buffer.from(req.body).toString('base64'), isBase64Encoded: true };

  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: req.accountId ?? '123456789012',
      apiId: domainName.split('.')[0]!,
      ...(req.authentication ? { authentication: req.authentication } : {}),
      ...(req.authorizer ? { authorizer: req.authorizer } : {}),
      domainName,
      domainPrefix: domainName.split('.')[0]!,
      http: {
        method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey,
      stage: '$default',
      time: apiGatewayTime(timeEpoch),
      timeEpoch,
    },
    ...(body ? { body: body.body } : {}),
    isBase64Encoded: body?.isBase64Encoded ?? false,
  } as APIGatewayProxyEventV2;
}
