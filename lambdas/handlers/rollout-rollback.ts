/**
 * Rollout task `Rollback`: the service's flags back to the last good state with the zero-bake
 * strategy; records `rollback_duration_seconds` and returns the cause the execution fails with.
 */
import { METRIC } from '../../lib/spec/metrics.js';
import { systemAmbient } from '../adapters/system-clock.js';
import { type RollbackInput, rollback } from '../domain/rollout-tasks.js';
import { flagDeploymentsFromEnv } from './flag-deployments.js';
import { logger, metrics, taskHandler } from './rollout-runtime.js';

export const handler = taskHandler('rollback', async (input: RollbackInput) => {
  const result = await rollback(
    { flags: flagDeploymentsFromEnv(), clock: systemAmbient.now, sleep: systemAmbient.sleep },
    input,
  );
  // `service` is the Powertools service name, set to the migration's service by the stack; the
  // key is reserved, so the line names the service as `rolledBackService`, as the alarm rollback's.
  metrics.addMetric(METRIC.rollbackDuration, 'Seconds', result.durationSeconds);
  logger.warn('rolled back', { rolledBackService: input.service, ...result });
  return result;
});
