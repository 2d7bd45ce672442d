/** Rollout task `Start`: one execution per service, services in the spec's order. */
import { StepFunctionsExecutions } from '../adapters/sfn-executions.js';
import { type StartInput, startRollout } from '../domain/rollout-tasks.js';
import { flagDeploymentsFromEnv } from './flag-deployments.js';
import { taskHandler } from './rollout-runtime.js';

const executions = new StepFunctionsExecutions();

export const handler = taskHandler('start', (input: StartInput) =>
  startRollout({ flags: flagDeploymentsFromEnv(), executions }, input),
);
