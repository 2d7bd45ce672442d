/** Rollout task `AwaitDeployment`: the deployment's state; `ROLLED_BACK` fails the gate. */
import { awaitDeployment } from '../domain/rollout-tasks.js';
import { flagDeploymentsFromEnv } from './flag-deployments.js';
import { taskHandler } from './rollout-runtime.js';

export const handler = taskHandler('await-deployment', (input: Parameters<typeof awaitDeployment>[1]) =>
  awaitDeployment({ flags: flagDeploymentsFromEnv() }, input),
);
