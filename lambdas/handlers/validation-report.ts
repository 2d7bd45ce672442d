/**
 * Full validation, `Report`: the run's results summed into one report in S3
 * (`reports/<run>.json`, `reports/latest.json`) and `cutover.validation.completed` on the bus;
 * with `failOnMismatch` (the rollout's phase 1) a mismatch fails the task (ValidationFailedError).
 */
import { validationReportTask } from '../domain/validation.js';
import { taskHandler, validationFromEnv } from './rollout-runtime.js';

export const handler = taskHandler(
  'validation-report',
  async (input: Parameters<typeof validationReportTask>[1]) =>
    validationReportTask(await validationFromEnv(), input),
);
