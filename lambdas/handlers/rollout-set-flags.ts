/** Rollout task `SetFlags`: a hosted version changing only this service's flags, deployed gradually. */
import { type SetFlagsInput, setFlags } from '../domain/rollout-tasks.js';
import { flagDeploymentsFromEnv } from './flag-deployments.js';
import { taskHandler } from './rollout-runtime.js';

export const handler = taskHandler('set-flags', (input: SetFlagsInput) =>
  setFlags({ flags: flagDeploymentsFromEnv() }, input),
);
