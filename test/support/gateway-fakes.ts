/**
 * Loopback stand-ins for the gateway's tests and benchmark: programmable HTTP upstreams, an
 * AppConfig Data API (enough of it for `@aws-sdk/client-appconfigdata` pointed at it through
 * `endpoint`), and a telemetry recorder.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppConfigDataClient } from '@aws-sdk/client-appconfigdata';
import type {
  CallResult,
  FallbackReason,
  GatewayTelemetry,
  ShadowReport,
} from '../../lambdas/domain/gateway-router.js';

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

/** Records what the router reports. */
export class RecordingTelemetry implements GatewayTelemetry {
  readonly calls: { service: string; target: string; result: CallResult }[] = [];
  readonly fallbacks: { service: string; reason: FallbackReason }[] = [];
  readonly shadows: ShadowReport[] = [];
  readonly shadowFailures: { service: string; result: CallResult }[] = [];

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
  get mismatches(): number {
    return this.shadows.filter((s) => !s.comparison.equal).length;
  }
}
