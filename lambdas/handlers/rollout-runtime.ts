/**
 * What every rollout task Lambda shares: one Logger and one Metrics instance and the middy
 * wrapper. Each task's adapters are composed in its own handler file (or `sync-ports.ts`,
 * `flag-deployments.ts`), so that a task's bundle holds only what it uses. The use cases live in
 * `lambdas/domain/rollout-tasks.ts`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { metricsNamespaceFromEnv } from '../../lib/spec/runtime.js';
import { RolloutError } from '../domain/rollout-tasks.js';

export const logger = new Logger();
export const metrics = new Metrics({
  namespace: metricsNamespaceFromEnv(),
});

/**
 * A task Lambda: the state machine's input in, the use case's result out. A {@link RolloutError}
 * is an expected outcome (a failed gate) and is logged as a warning; the state machine catches
 * it by name and rolls back.
 */
export function taskHandler<I, O>(task: string, run: (input: I) => Promise<O>) {
  return middy(async (event: I): Promise<O> => {
    logger.appendKeys({ task });
    try {
      return await run(event);
    } catch (error) {
      if (error instanceof RolloutError) logger.warn('rollout task failed', { error });
      else logger.error('rollout task errored', { error });
      throw error;
    }
  })
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
}
