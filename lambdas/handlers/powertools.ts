/**
 * Logger and Metrics, created once and imported by every handler.
 *
 * Metrics follow lib/spec/metrics.ts (namespace `Cutover`). Powertools always adds a `service`
 * dimension from `serviceName`; ours is the migration's service (customer, catalog, …), so
 * there is one single-metric Metrics per migration service, and each data point carries exactly
 * the dimension set its alarm watches.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC, METRICS_NAMESPACE } from '../../lib/spec/metrics.js';
import type { Decision } from '../domain/conflict.js';

export const logger = new Logger({ serviceName: 'cutover-sync' });

const byService = new Map<string, Metrics>();

function metricsFor(service: string): Metrics {
  let m = byService.get(service);
  if (!m) {
    m = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service, singleMetric: true });
    byService.set(service, m);
  }
  return m;
}

export type Direction = 'forward' | 'reverse' | 'capture' | 'poll';
export type ProcessingStatus = 'applied' | 'skipped' | 'conflict' | 'failed';

/** `event_processing_total{service,direction,status}`. */
export function countEvent(service: string, direction: Direction, status: ProcessingStatus, n = 1): void {
  if (n <= 0) return;
  const m = metricsFor(service);
  m.addDimensions({ direction, status });
  m.addMetric(METRIC.eventProcessing, MetricUnit.Count, n);
}

/**
 * `debezium_tombstones_total{service="debezium"}`: tombstones the Debezium intake skipped. A
 * tombstone names no table, so it belongs to no migration service.
 */
export function countTombstone(): void {
  metricsFor('debezium').addMetric(METRIC.debeziumTombstones, MetricUnit.Count, 1);
}

/** `data_consistency_lag_seconds{service,consistency_type}`: apply time minus changedAt. */
export function recordLag(service: string, consistencyType: string, seconds: number): void {
  const m = metricsFor(service);
  m.addDimensions({ consistency_type: consistencyType });
  m.addMetric(METRIC.consistencyLag, MetricUnit.Seconds, Math.max(0, seconds));
}

/** `conflict_resolution_total{service,winner}` for each true conflict of a decision. */
export function countConflicts(service: string, decision: Decision): void {
  for (const c of decision.conflicts) {
    const m = metricsFor(service);
    m.addDimensions({ winner: c.winner });
    m.addMetric(METRIC.conflictResolution, MetricUnit.Count, 1);
  }
}

/**
 * `service_contract_violation_total{service,entity}`: a service write captured from the table's
 * stream that did not bump the item's version (lambdas/domain/capture.ts).
 */
export function countContractViolation(service: string, entity: string): void {
  const m = metricsFor(service);
  m.addDimensions({ entity });
  m.addMetric(METRIC.serviceContractViolation, MetricUnit.Count, 1);
}

/** `unstorable_value_total{service}`: values parked because the legacy column cannot hold them. */
export function countUnstorable(service: string, decision: Decision): void {
  const n = decision.parked.filter((p) => p.reason !== undefined).length;
  if (!n) return;
  metricsFor(service).addMetric(METRIC.unstorableValues, MetricUnit.Count, n);
}

/** `sync_batch_failure_total{service}`: a batched transaction failed as a whole (sync-batch.ts). */
export function countBatchFailure(service: string): void {
  metricsFor(service).addMetric(METRIC.syncBatchFailures, MetricUnit.Count, 1);
}

/** The processing status a decision counts as (a parked value waits for a person: a conflict). */
export function statusOf(decision: Decision): ProcessingStatus {
  if (decision.conflicts.length || decision.parked.length) return 'conflict';
  return decision.outcome === 'skip-duplicate' || decision.outcome === 'skip-stale' ? 'skipped' : 'applied';
}
