/**
 * API Gateway HTTP API events (payload format 2.0) built from a client request, as recorded in
 * `test/contracts/apigateway/` (test/integration/gateway-contracts.test.ts checks them): what the
 * gateway handler receives in its tests, its benchmark and `cutover rehearse`.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

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
