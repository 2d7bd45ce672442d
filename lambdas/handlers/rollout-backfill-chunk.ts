/** Rollout task `BackfillChunk` (one Distributed Map child): copies one key range through the sync rules. */
import { copyBackfillChunk } from '../domain/rollout-tasks.js';
import { taskHandler } from './rollout-runtime.js';
import { backfillFromEnv } from './sync-ports.js';

export const handler = taskHandler('backfill-chunk', async (input: Parameters<typeof copyBackfillChunk>[1]) =>
  copyBackfillChunk({ backfill: await backfillFromEnv() }, input),
);
