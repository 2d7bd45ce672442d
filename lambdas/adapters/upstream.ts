/**
 * The gateway's HTTP client to the upstreams (legacy and services): node:http/https with
 * keep-alive agents (a warm Lambda reuses its connections: no TCP/TLS handshake per request),
 * one deadline per call covering connect, headers and body, hop-by-hop headers dropped both ways,
 * and the response buffered (API Gateway's Lambda integration needs the whole body anyway).
 */
import http from 'node:http';
import https from 'node:https';
import {
  type Upstream,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
} from '../domain/gateway-router.js';

/** Headers that belong to one connection, not to the message (RFC 9110 §7.6.1), plus `host`. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

export interface HttpUpstreamOptions {
  /** Sockets per upstream host. @default 64 */
  readonly maxSockets?: number;
  /** Idle sockets kept per host. @default 16 */
  readonly maxFreeSockets?: number;
  /**
   * Close idle sockets after this long (ms); below the upstream's own idle timeout, so the gateway
   * never writes to a socket the server is closing. @default 4_000
   */
  readonly idleTimeoutMs?: number;
  /**
   * Largest response body (bytes). A Lambda response is at most 6 MB and binary bodies grow by a
   * third in base64. @default 4_500_000
   */
  readonly maxResponseBytes?: number;
}

/** The keep-alive HTTP client behind the {@link Upstream} port. */
export class HttpUpstream implements Upstream {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly maxResponseBytes: number;

  constructor(options: HttpUpstreamOptions = {}) {
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets ?? 64,
      maxFreeSockets: options.maxFreeSockets ?? 16,
      timeout: options.idleTimeoutMs ?? 4_000,
      scheduling: 'lifo' as const,
    };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
    this.maxResponseBytes = options.maxResponseBytes ?? 4_500_000;
  }

  send(req: UpstreamRequest, opts: { readonly timeoutMs: number }): Promise<UpstreamResponse> {
    const deadline = performance.now() + opts.timeoutMs;
    return this.attempt(req, deadline, false);
  }

  private attempt(req: UpstreamRequest, deadline: number, isRetry: boolean): Promise<UpstreamResponse> {
    const url = new URL(req.url);
    const isHttps = url.protocol === 'https:';
    const headers = withoutHopByHop(req.headers);
    const body = req.body && req.body.byteLength > 0 ? req.body : undefined;
    if (body) headers['content-length'] = String(body.byteLength);

    return new Promise<UpstreamResponse>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        settled = true;
        clearTimeout(timer);
      };
      const request = (isHttps ? https : http).request(
        {
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port || (isHttps ? 443 : 80),
          path: `${url.pathname}${url.search}`,
          method: req.method,
          headers,
          agent: isHttps ? this.httpsAgent : this.httpAgent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > this.maxResponseBytes) {
              fail(new UpstreamError('too-large', `response over ${this.maxResponseBytes} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => {
            if (settled) return;
            finish();
            resolve({
              status: res.statusCode ?? 502,
              headers: responseHeaders(res),
              body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size),
            });
          });
          res.on('error', (e) => fail(new UpstreamError('unreachable', e.message, { cause: e })));
        },
      );
      const fail = (e: UpstreamError) => {
        if (settled) return;
        finish();
        request.destroy();
        reject(e);
      };
      timer = setTimeout(
        () => fail(new UpstreamError('timeout', 'no complete answer before the deadline')),
        Math.max(0, deadline - performance.now()),
      );
      request.on('error', (e: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed while idle: a safe request is sent once more on
        // a fresh connection.
        if (!settled && !isRetry && request.reusedSocket && e.code === 'ECONNRESET' && isSafe(req.method)) {
          finish();
          resolve(this.attempt(req, deadline, true));
          return;
        }
        fail(new UpstreamError('unreachable', e.message, { cause: e }));
      });
      request.end(body);
    });
  }

  /** Closes the pooled connections (tests, shutdown). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function isSafe(method: string): boolean {
  // Only safe methods: a write is never sent twice, even an idempotent-by-spec PUT or DELETE.
  return ['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase());
}

/** Drops hop-by-hop headers, including those the `connection` header names. */
export function withoutHopByHop(
  headers: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const named = new Set(
    (headers['connection'] ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (v === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = v;
  }
  return out;
}

function responseHeaders(res: http.IncomingMessage): Record<string, string | string[]> {
  const named = new Set(
    String(res.headers['connection'] ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || named.has(k)) continue;
    out[k] = v;
  }
  return out;
}
