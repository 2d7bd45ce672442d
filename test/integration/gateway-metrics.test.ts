/**
 * What the gateway writes to CloudWatch: EMF documents (Powertools Metrics) and the sampled
 * mismatch log, captured from stdout while real loopback upstreams answer.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { PowertoolsGatewayTelemetry } from '../../lambdas/adapters/gateway-telemetry.js';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import { GatewayRouter } from '../../lambdas/domain/gateway-router.js';
import { loopbackUpstreams, staticFlags } from '../support/gateway-fakes.js';

const up = loopbackUpstreams();

/** Runs `fn` with stdout and stderr captured; returns the JSON lines written. */
async function captureOutput(fn: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const capture = ((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write;
  const [out, err] = [process.stdout.write, process.stderr.write];
  process.stdout.write = capture;
  process.stderr.write = capture;
  try {
    await fn();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

type Emf = {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
};

const metricDocs = (docs: Record<string, unknown>[], name: string) =>
  docs.filter((d) =>
    (d as unknown as Emf)._aws?.CloudWatchMetrics?.[0]?.Metrics.some((m) => m.Name === name),
  );

describe('Gateway telemetry: EMF and the mismatch log', () => {
  it('emits request, latency and shadow metrics with their dimension sets, and logs no values', async () => {
    up.legacy.reply(() => ({
      body: { id: 1, email: 'jane@example.com', byEmail: { 'jane@example.com': 1 } },
    }));
    up.service.reply(() => ({
      body: { id: 1, email: 'jane@example.com', byEmail: { 'jane@example.com': 2 } },
    }));
    const telemetry = new PowertoolsGatewayTelemetry(
      new Metrics({ namespace: 'Cutover' }),
      new Logger({ serviceName: 'gateway' }),
    );
    const router = new GatewayRouter({
      ...systemAmbient,
      spec: {
        services: [
          {
            name: 'customer',
            serviceUrl: up.service.url,
            legacyUrl: up.legacy.url,
            routes: [{ method: 'GET', pathPrefix: '/customers', access: 'read' }],
          },
        ],
        gateway: { userKey: { header: 'x-user-id' }, upstreamTimeoutMs: 1000, shadowIgnore: [] },
      },
      flags: staticFlags({
        customer: { read: { enabled: true, percentage: 0 }, write: { enabled: true, mode: 'shadow' } },
      }),
      upstream: up.client,
      telemetry,
    });
    const docs = await captureOutput(async () => {
      await router.handle({
        method: 'GET',
        path: '/customers/jane@example.com',
        headers: { 'x-user-id': 'u' },
      });
      await router.settleShadows(2_000);
    });

    const requests = metricDocs(docs, 'gateway_requests_total');
    expect(requests.map((d) => [d['target'], d['outcome']]).sort()).toEqual([
      ['legacy', 'success'],
      ['shadow', 'success'],
    ]);
    for (const d of requests) {
      expect((d as unknown as Emf)._aws.CloudWatchMetrics[0]).toMatchObject({
        Namespace: 'Cutover',
        Dimensions: [['service', 'target', 'outcome']],
      });
      expect(d['service']).toBe('customer');
    }
    const latency = metricDocs(docs, 'gateway_latency_ms');
    expect(latency).toHaveLength(2);
    expect((latency[0] as unknown as Emf)._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
      ['service', 'target'],
    ]);
    expect(metricDocs(docs, 'gateway_shadow_compared_total')).toHaveLength(1);
    const mismatch = metricDocs(docs, 'gateway_shadow_mismatch_total');
    expect(mismatch).toHaveLength(1);
    expect((mismatch[0] as unknown as Emf)._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);

    const log = docs.find((d) => d['message'] === 'shadow mismatch');
    expect(log).toMatchObject({
      migrationService: 'customer',
      route: '/customers',
      mismatches: [{ path: 'byEmail.<email>.com', kind: 'changed' }],
    });
    expect(JSON.stringify(docs)).not.toContain('jane@example');
  });
});
