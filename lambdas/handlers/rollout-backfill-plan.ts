/** Rollout task `BackfillPlan`: the key-range chunks of the service's legacy tables. */
import { planBackfill } from '../domain/rollout-tasks.js';
import { taskHandler } from './rollout-runtime.js';
import { backfillFromEnv } from './sync-ports.js';

export const handler = taskHandler('backfill-plan', async (input: Parameters<typeof planBackfill>[1]) =>
  planBackfill({ backfill: await backfillFromEnv() }, input),
);
