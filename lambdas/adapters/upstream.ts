/**
 * The gateway's HTTP client to the upstreams (legacy and services): node:http/https with
 * keep-alive agents (a warm Lambda reuses its connections: no TCP/TLS handshake per request),
 * one deadline per call covering connect, headers and body, hop-by-hop headers dropped both ways
 * (the list is the domain's, `forwarding.ts`), the request path sent byte for byte as the router
 * normalized it, and the response buffered (API Gateway's Lambda integration needs the whole body anyway).
 */
import http from 'node:http';
import https from 'node:https';
import { withoutHopByHop } from '../domain/forwarding.js';
import {
  type Upstream,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
} from '../domain/gateway-router.js';

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
    // The path and query exactly as the router wrote them: re-serialising the parsed URL would
    // apply the WHATWG parser's own rules (dot segments, backslashes) a second time.
    const pathStart = req.url.indexOf('/', req.url.indexOf('//') + 2);
    const path = pathStart < 0 ? '/' : req.url.slice(pathStart);
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
          path,
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

function responseHeaders(res: http.IncomingMessage): Record<string, string | string[]> {
  return withoutHopByHop(res.headers);
}
