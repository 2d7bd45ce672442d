/**
 * Rollout task `Gate`: the bake window's metrics (GetMetricData) against the thresholds.
 * Emits `rollout_gate_total{service, verdict}` (pass | extend | fail).
 */
import { METRIC } from '../../lib/spec/metrics.js';
import { CloudWatchMetrics } from '../adapters/cloudwatch-metrics.js';
import { GateFailedError, type GateInput, runGate } from '../domain/rollout-tasks.js';
import { flagDeploymentsFromEnv } from './flag-deployments.js';
import { logger, metrics, taskHandler } from './rollout-runtime.js';
import { consistencyFromEnv } from './sync-ports.js';

const cloudwatch = new CloudWatchMetrics();

export const handler = taskHandler('gate', async (input: GateInput) => {
  const count = (verdict: string) => {
    // `service` is the Powertools service name, set to the migration's service by the stack.
    metrics.addDimension('verdict', verdict);
    metrics.addMetric(METRIC.rolloutGate, 'Count', 1);
  };
  try {
    const progress = await runGate(
      {
        metrics: cloudwatch,
        consistency: await consistencyFromEnv(),
        flags: flagDeploymentsFromEnv(),
        clock: Date.now,
      },
      input,
    );
    logger.info('gate decided', {
      gate: input.gate.id,
      verdict: progress.verdict,
      checks: progress.lastGate?.checks,
    });
    count(progress.verdict);
    return progress;
  } catch (error) {
    if (error instanceof GateFailedError) count('fail');
    throw error;
  }
});
