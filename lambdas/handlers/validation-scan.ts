/**
 * Full validation, one item of the `Scan` Distributed Map: a share of the service table (or the
 * legacy listing) into per-group parts. Emits the progress metrics (rows, items) per item.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC } from '../../lib/spec/metrics.js';
import type { ScanItem } from '../domain/validation.js';
import { metrics, taskHandler } from './rollout-runtime.js';
import { validationFromEnv } from './sync-ports.js';

export const handler = taskHandler('validation-scan', async (item: ScanItem) => {
  const stats = await (await validationFromEnv()).scan(item);
  metrics.addDimensions({ phase: 'scan' });
  metrics.addMetric(METRIC.validationRows, MetricUnit.Count, stats.rows);
  metrics.addMetric(METRIC.validationItems, MetricUnit.Count, 1);
  return stats;
});
