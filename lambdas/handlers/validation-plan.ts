/**
 * Full validation, `Plan` and `PlanCompare` (lambdas/domain/validation.ts): the scan map's work
 * list, then, once the scan is done, the compare map's. Input `{ step: 'plan', … }` or
 * `{ step: 'compare', … }`.
 */
import { type ValidationPlanTask, validationPlanTask } from '../domain/validation.js';
import { taskHandler } from './rollout-runtime.js';
import { validationFromEnv } from './sync-ports.js';

export const handler = taskHandler('validation-plan', async (task: ValidationPlanTask) =>
  validationPlanTask(await validationFromEnv(), task),
);
