/** Rollout task `Gate`: the bake window's metrics (GetMetricData) against the thresholds. */
import { CloudWatchMetrics } from '../adapters/cloudwatch-metrics.js';
import { type GateInput, runGate } from '../domain/rollout-tasks.js';
import { consistencyFromEnv, logger, metrics, taskHandler } from './rollout-runtime.js';

const cloudwatch = new CloudWatchMetrics();

export const handler = taskHandler('gate', async (input: GateInput) => {
  const progress = await runGate(
    { metrics: cloudwatch, consistency: await consistencyFromEnv(), clock: Date.now },
    input,
  );
  logger.info('gate decided', {
    gate: input.gate.id,
    verdict: progress.verdict,
    checks: progress.lastGate?.checks,
  });
  metrics.addDimensions({ service: input.service });
  metrics.addMetric('rollout_gate_total', 'Count', 1);
  return progress;
});
