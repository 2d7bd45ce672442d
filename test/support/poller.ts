/**
 * The legacy-poller handler invoked as the schedule invokes it: a context with a fresh request id
 * and a real deadline (tests and the lag bench; no vitest import, so the bench can use it).
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { PollerEvent, PollerResponse } from '../../lambdas/handlers/legacy-poller.js';
import { fakeContext } from './sqs.js';

/** One invocation whose deadline is `remainingMs` from now. */
export async function invokePoller(event: PollerEvent, remainingMs: number): Promise<PollerResponse> {
  const { handler } = await import('../../lambdas/handlers/legacy-poller.js');
  const deadline = Date.now() + remainingMs;
  const context = {
    ...fakeContext,
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as Context;
  return (handler as unknown as (e: unknown, c: Context) => Promise<PollerResponse>)(event, context);
}
