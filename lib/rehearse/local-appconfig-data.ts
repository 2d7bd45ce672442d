/**
 * The AppConfig Data API on loopback, enough of it for `@aws-sdk/client-appconfigdata` pointed at
 * it through `endpoint`: what the gateway's flag reader (lambdas/adapters/appconfig-data.ts)
 * talks to in the gateway tests and in `cutover rehearse` (there it serves what the local
 * AppConfig control plane, lib/rehearse/local-appconfig.ts, has deployed).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppConfigDataClient } from '@aws-sdk/client-appconfigdata';

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
export async function startAppConfigData(
  clock: () => number,
  /** What is deployed now (its version label and body), asked at each poll. @default - `deploy` sets it */
  source?: () => { readonly version: string; readonly body: string },
): Promise<FakeAppConfigData> {
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
        if (source) deployed = source();
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
