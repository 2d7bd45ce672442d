/**
 * The two upstreams the gateway routes to in a rehearsal, on loopback: Magento (legacy) answering
 * from MariaDB, and the new service answering from its DynamoDB table. Both serve the entity's
 * route (`GET <prefix>/<key>` reads the record, `PUT <prefix>/<key>` with `{ "value": "…" }`
 * edits it) in the same JSON shape (the spec's field names), so the gateway's shadow reads
 * compare like with like. The service one injects the `service-errors` and `service-latency`
 * faults; requests marked `x-rehearsal-probe` (the rehearsal's routing probes) are never faulted,
 * so that where a probe was served says where the gateway routed it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One side's data access (the rehearsal binds them to MariaDB and DynamoDB). */
export interface UpstreamSide {
  read(key: string): Promise<Record<string, unknown> | undefined>;
  write(key: string, value: string): Promise<void>;
}

export interface ServiceFault {
  /** Share of calls answered 500 (0..1). */
  errorRate: number;
  /** Added to every answer (ms). */
  latencyMs: number;
}

export interface RehearsalUpstreams {
  readonly legacyUrl: string;
  readonly serviceUrl: string;
  /** Calls each upstream received, and the service's injected errors and delayed answers. */
  readonly stats: { legacy: number; service: number; serviceErrors: number; serviceDelayed: number };
  /** The service's injected fault, changed while it runs. */
  readonly serviceFault: ServiceFault;
  close(): Promise<void>;
}

export const PROBE_HEADER = 'x-rehearsal-probe';

async function serve(
  prefix: string,
  side: UpstreamSide,
  onCall: (req: http.IncomingMessage) => { fail: boolean; delayMs: number },
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const { fail, delayMs } = onCall(req);
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        const reply = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (fail) return reply(500, { message: 'injected service error' });
        const url = new URL(req.url ?? '/', 'http://x');
        if (!url.pathname.startsWith(`${prefix}/`)) return reply(404, { message: 'no such route' });
        const key = decodeURIComponent(url.pathname.slice(prefix.length + 1));
        try {
          if (req.method === 'GET') {
            const record = await side.read(key);
            return record ? reply(200, record) : reply(404, { message: 'not found' });
          }
          if (req.method === 'PUT') {
            const { value } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
              value?: unknown;
            };
            if (typeof value !== 'string') return reply(400, { message: 'body.value: a string is required' });
            await side.write(key, value);
            return reply(204, {});
          }
          return reply(405, { message: 'method not allowed' });
        } catch {
          // A lost version race or a database restart: the client sees a server error.
          return reply(503, { message: 'unavailable' });
        }
      })();
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Starts both upstreams for the route `prefix` (`/customers`). */
export async function startUpstreams(
  prefix: string,
  legacy: UpstreamSide,
  service: UpstreamSide,
  random: () => number = Math.random,
): Promise<RehearsalUpstreams> {
  const stats = { legacy: 0, service: 0, serviceErrors: 0, serviceDelayed: 0 };
  const serviceFault: ServiceFault = { errorRate: 0, latencyMs: 0 };
  const servers = await Promise.all([
    serve(prefix, legacy, () => {
      stats.legacy++;
      return { fail: false, delayMs: 0 };
    }),
    serve(prefix, service, (req) => {
      stats.service++;
      if (req.headers[PROBE_HEADER]) return { fail: false, delayMs: 0 };
      const fail = random() < serviceFault.errorRate;
      if (fail) stats.serviceErrors++;
      if (serviceFault.latencyMs > 0) stats.serviceDelayed++;
      return { fail, delayMs: serviceFault.latencyMs };
    }),
  ]);
  const url = (s: http.Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  return {
    legacyUrl: url(servers[0]),
    serviceUrl: url(servers[1]),
    stats,
    serviceFault,
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      );
    },
  };
}
