/**
 * Full validation, one item of the `Compare` Distributed Map: one key-range group, both sides'
 * chunk checksums, row diff and repair of the chunks that differ. Emits the progress metrics.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC } from '../../lib/spec/metrics.js';
import type { CompareItem } from '../domain/validation.js';
import { metrics, taskHandler } from './rollout-runtime.js';
import { validationFromEnv } from './sync-ports.js';

export const handler = taskHandler('validation-compare', async (item: CompareItem) => {
  const summary = await (await validationFromEnv()).compare(item);
  metrics.addDimensions({ phase: 'compare' });
  metrics.addMetric(METRIC.validationRows, MetricUnit.Count, summary.rows);
  metrics.addMetric(METRIC.validationItems, MetricUnit.Count, 1);
  return summary;
});
