/**
 * Full validation, `Report`: the run's results summed into one report in S3
 * (`reports/<run>.json`, `reports/latest.json`) and `cutover.validation.completed` on the bus;
 * with `failOnMismatch` (the rollout's phase 1) a mismatch fails the task (ValidationFailedError).
 * It reads neither side's data: the bucket and the bus only.
 */
import { RUNTIME_ENV, requiredEnv } from '../../lib/spec/runtime.js';
import { EventBridgePublisher } from '../adapters/eventbridge-publisher.js';
import { S3ObjectStore } from '../adapters/s3-objects.js';
import { systemAmbient } from '../adapters/system-clock.js';
import { reportValidation, validationReportTask } from '../domain/validation.js';
import { taskHandler } from './rollout-runtime.js';

let deps: Parameters<typeof reportValidation>[0] | undefined;

export const handler = taskHandler(
  'validation-report',
  async (input: Parameters<typeof validationReportTask>[1]) => {
    deps ??= {
      store: new S3ObjectStore(requiredEnv(RUNTIME_ENV.validationBucket)),
      publisher: new EventBridgePublisher({ busName: requiredEnv(RUNTIME_ENV.busName) }),
      now: systemAmbient.now,
    };
    const d = deps;
    return validationReportTask({ report: (i) => reportValidation(d, i) }, input);
  },
);
