/**
 * The throughput preflight uses to estimate backfill and full-validation time. Measured by
 * `npm run bench -- sync` and recorded in BENCHMARKS.md (section `sync`, 2-core machine, DynamoDB
 * Local): update these when BENCHMARKS.md changes. Real AWS is usually faster; treat the
 * estimates as an order of magnitude.
 */
export const MEASURED_RATES = {
  /** forward-sync handler, single-record path (`strong` entities): events/s. */
  forwardSingleRecordPerSecond: 224,
  /** forward-sync batched path (`eventual` entities): events/s. */
  forwardBatchedPerSecond: 496,
  /** consistency check, end to end (counts, chunk checksums, diff): rows/s. */
  consistencyCheckRowsPerSecond: 55_193,
} as const;
