/** Rollout task `Validate`: the full consistency check; phase 1 needs zero mismatches. */
import { validateSync } from '../domain/rollout-tasks.js';
import { consistencyFromEnv, taskHandler } from './rollout-runtime.js';

export const handler = taskHandler('validate', async (input: Parameters<typeof validateSync>[1]) =>
  validateSync({ consistency: await consistencyFromEnv() }, input),
);
