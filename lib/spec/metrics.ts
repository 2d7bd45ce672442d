/**
 * The metric contract between the Lambdas (which emit EMF through Powertools) and the alarms
 * and dashboards of the stacks. One list, so that an alarm never watches a name nobody emits.
 *
 * Namespace: {@link METRICS_NAMESPACE} (`Cutover`). Dimension sets are exact: CloudWatch
 * treats `{service, direction, status}` and `{service, direction}` as different metrics.
 */
export { METRICS_NAMESPACE } from './runtime.js';

export const METRIC = {
  /** Count. Dimensions `{ service, direction, status }`. */
  eventProcessing: 'event_processing_total',
  /** Count of Debezium tombstones skipped by the Debezium intake. Dimensions `{ service: 'debezium' }`. */
  debeziumTombstones: 'debezium_tombstones_total',
  /** Seconds from `changedAt` to applied. Dimensions `{ service, consistency_type }`. */
  consistencyLag: 'data_consistency_lag_seconds',
  /** Count. Dimensions `{ service, winner }`. */
  conflictResolution: 'conflict_resolution_total',
  /**
   * Count: service writes that did not bump the item's version (the service-side contract).
   * Dimensions `{ service, entity }`.
   */
  serviceContractViolation: 'service_contract_violation_total',
  /**
   * Count of service values the legacy database cannot store (parked for a person instead of
   * written). Dimensions `{ service }`.
   */
  unstorableValues: 'unstorable_value_total',
  /**
   * Count of batched reverse-sync transactions that failed as a whole (their events then took the
   * single-record path). Dimensions `{ service }`.
   */
  syncBatchFailures: 'sync_batch_failure_total',
  /** Seconds from the alarm's state change to the rollback deployment started. `{ service }`. */
  rollbackDuration: 'rollback_duration_seconds',
  /** Count (the gateway router). Dimensions `{ service, target, outcome }`. */
  gatewayRequests: 'gateway_requests_total',
  /** Milliseconds (the gateway router). Dimensions `{ service, target }`. */
  gatewayLatency: 'gateway_latency_ms',
  /** Count of rows a full-validation worker read (progress: rows/s). Dimensions `{ service, phase }`. */
  validationRows: 'validation_rows_total',
  /** Count of full-validation work items done (progress: items done). Dimensions `{ service, phase }`. */
  validationItems: 'validation_items_total',
  /** Count of rollout gate verdicts. Dimensions `{ service, verdict }` (pass | extend | fail). */
  rolloutGate: 'rollout_gate_total',
  /** Count (the gateway's telemetry, lambdas/adapters/gateway-telemetry.ts): fallback responses. */
  gatewayFallback: 'gateway_fallback_total',
  /** Count (the gateway's telemetry): shadow reads compared. */
  gatewayShadowCompared: 'gateway_shadow_compared_total',
  /** Count (the gateway's telemetry): shadow reads that differed. */
  gatewayShadowMismatch: 'gateway_shadow_mismatch_total',
  /** Count (the gateway's telemetry): flag polls that left the flags stale. */
  gatewayFlagsStale: 'gateway_flags_stale_total',
  /** Count (the gateway's telemetry): requests the gateway rejected. */
  gatewayRejected: 'gateway_rejected_total',
} as const;

/** A metric name the functions emit: a value of {@link METRIC}, never a string of its own. */
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** `phase` values of the full-validation metrics: the scan map's and the compare map's items. */
export const VALIDATION_PHASES = ['scan', 'compare'] as const;

/** `direction` values of `event_processing_total`. */
export const SYNC_DIRECTIONS = ['forward', 'reverse', 'capture', 'poll'] as const;
/** `status` values of `event_processing_total`: `failed` counts toward the sync error rate. */
export const PROCESSING_STATUSES = ['applied', 'skipped', 'conflict', 'failed'] as const;
/** `winner` values of `conflict_resolution_total`. */
export const CONFLICT_WINNERS = ['legacy', 'service', 'admin', 'merged'] as const;
/** `target` and `outcome` values of the gateway metrics; `error` = 5xx or timeout. */
export const GATEWAY_TARGETS = ['legacy', 'service'] as const;
export const GATEWAY_OUTCOMES = ['success', 'error'] as const;
