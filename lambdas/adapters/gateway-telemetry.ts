/**
 * The gateway's metrics (CloudWatch EMF through Powertools) and its sampled mismatch log.
 *
 * | metric | unit | dimensions |
 * | --- | --- | --- |
 * | `gateway_requests_total` | Count | `service`, `target` (`legacy`, `service`, `shadow`), `outcome` (`success`, `error` = 5xx, timeout or no answer) |
 * | `gateway_latency_ms` | Milliseconds | `service`, `target` (CloudWatch gives p50/p95/p99) |
 * | `gateway_fallback_total` | Count | `service`, `reason` (`breaker_open`, `service_failed`) |
 * | `gateway_shadow_compared_total` | Count | `service` |
 * | `gateway_shadow_mismatch_total` | Count | `service` (mismatch rate = mismatch / compared) |
 * | `gateway_rejected_total` | Count | `reason` (a refused request path: `escapes-route`, `malformed-encoding`, …) |
 *
 * Shadow reads carry `target: shadow`, so they never count toward the canary's error rate or
 * p95 (the gates read `target: service`). Unrouted requests have `service: -`.
 *
 * The mismatch log holds paths and kinds, never values, and path segments that look like an
 * email address or a long number are masked. Log lines name the migrated service
 * `migrationService`: Powertools' own `service` key (the function's) would overwrite `service`.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type GATEWAY_OUTCOMES, METRIC, type MetricName } from '../../lib/spec/metrics.js';
import type { CallResult, FallbackReason, GatewayTelemetry, ShadowReport } from '../domain/gateway-router.js';
import type { PathRejection } from '../domain/request-path.js';
import type { Target } from '../domain/routing.js';
import { maskPathForLog } from '../domain/shadow.js';

/** `success` for any HTTP answer below 500; everything else is an `error`. */
export function outcomeOf(result: CallResult): (typeof GATEWAY_OUTCOMES)[number] {
  return result === 'ok' || result === 'client_error' ? 'success' : 'error';
}

export class PowertoolsGatewayTelemetry implements GatewayTelemetry {
  constructor(
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  upstreamCall(service: string, target: Target | 'shadow', result: CallResult, latencyMs: number): void {
    this.emit(METRIC.gatewayRequests, MetricUnit.Count, 1, { service, target, outcome: outcomeOf(result) });
    this.emit(METRIC.gatewayLatency, MetricUnit.Milliseconds, latencyMs, { service, target });
    if (result !== 'ok' && result !== 'client_error') {
      this.logger.warn('upstream call failed', {
        migrationService: service,
        target,
        result,
        latencyMs: Math.round(latencyMs),
      });
    }
  }

  fallback(service: string, reason: FallbackReason): void {
    this.emit(METRIC.gatewayFallback, MetricUnit.Count, 1, { service, reason });
  }

  shadowCompared(report: ShadowReport): void {
    this.emit(METRIC.gatewayShadowCompared, MetricUnit.Count, 1, { service: report.service });
    if (report.comparison.equal) return;
    this.emit(METRIC.gatewayShadowMismatch, MetricUnit.Count, 1, { service: report.service });
    if (report.logged) {
      this.logger.warn('shadow mismatch', {
        migrationService: report.service,
        method: report.method,
        route: report.route,
        mismatches: report.comparison.mismatches.map((m) => ({ path: maskPathForLog(m.path), kind: m.kind })),
        truncated: report.comparison.truncated,
      });
    }
  }

  shadowFailed(service: string, result: CallResult): void {
    this.logger.debug('shadow read failed', { migrationService: service, result });
  }

  /** Counts a refused request path and logs the reason only (the path may carry personal data). */
  requestRejected(reason: PathRejection): void {
    this.emit(METRIC.gatewayRejected, MetricUnit.Count, 1, { reason });
    this.logger.debug('request path refused', { reason });
  }

  /** Counts a request routed on stale flags (AppConfig failing; the last good flags in force). */
  flagsStale(error: string | undefined): void {
    this.emit(METRIC.gatewayFlagsStale, MetricUnit.Count, 1, {});
    this.logger.warn('routing on the last good flags', { error });
  }

  private emit(
    name: MetricName,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
    dimensions: Record<string, string>,
  ): void {
    // One EMF document per metric: each metric has its own dimension set, and the Powertools
    // default `service` dimension (the function name) would clash with ours.
    const m = this.metrics.singleMetric();
    m.clearDefaultDimensions();
    m.addDimensions(dimensions);
    m.addMetric(name, unit, value);
  }
}
