/**
 * Loopback stand-ins for the gateway's tests and benchmark: programmable HTTP upstreams, an
 * AppConfig Data API (enough of it for `@aws-sdk/client-appconfigdata` pointed at it through
 * `endpoint`), a telemetry recorder, and the API Gateway HTTP API event builder (checked against
 * the recorded events in `test/contracts/apigateway/` by `test/integration/gateway-contracts.test.ts`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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

export { type FakeAppConfigData, startAppConfigData } from '../../lib/rehearse/local-appconfig-data.js';

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
  readonly calls: { service: string; target: string; result: CallResult; latencyMs: number }[] = [];
  readonly fallbacks: { service: string; reason: FallbackReason }[] = [];
  readonly shadows: ShadowReport[] = [];
  readonly shadowFailures: { service: string; result: CallResult }[] = [];
  readonly rejected: string[] = [];

  upstreamCall(service: string, target: string, result: CallResult, latencyMs: number): void {
    this.calls.push({ service, target, result, latencyMs });
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

export { apiGatewayEvent, type ClientRequest } from '../../lib/rehearse/apigateway-event.js';
