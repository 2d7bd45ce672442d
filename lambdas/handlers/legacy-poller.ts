/**
 * Legacy change capture by watermark and snapshots (lambdas/domain/poller.ts) for the entities
 * of this function's service (`CUTOVER_SERVICE`; every entity of the migration when unset), or
 * the ones named in the event.
 *
 * - `{ "continuous": true }` (the schedule's input): polls every `pollerIntervalSeconds` for the
 *   schedule's period, hands over to the next scheduled invocation, and stops a safety margin
 *   before the function's deadline (lambdas/domain/poller-loop.ts).
 * - anything else (an operator's `{ "entities": [...] }`): one pass.
 *
 * Either way under the service's poller lease (`lease#poller#<service>` in the sync table): a
 * second invocation never polls at the same time. An entity that fails is logged and reported;
 * the others are still polled. When no entity could be polled at all, the invocation fails so
 * that the schedule's retry and the function's error alarm see it.
 */
import { randomUUID } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { functionEnv, RUNTIME_ENV, requiredEnv } from '../../lib/spec/runtime.js';
import { DynamoPollerLease } from '../adapters/dynamodb-lease.js';
import { describeError } from '../domain/masking.js';
import { pollerTiming, runPoller, type StopReason } from '../domain/poller-loop.js';
import { countEvent, logger } from './powertools.js';
import { runtime } from './runtime.js';

export interface PollerEvent {
  readonly entities?: readonly string[];
  /** Poll for the schedule's period (the schedule sets it); otherwise one pass. */
  readonly continuous?: boolean;
}

export interface PollerResponse {
  readonly entities: Record<
    string,
    { polls: number; published: number; chunksChanged: number; failures: number; error?: string }
  >;
  readonly ticks: number;
  readonly stoppedBy: StopReason;
  /** How long the invocation waited for the lease (ms). */
  readonly waitedMs: number;
}

export const handler = middy(
  async (event: PollerEvent | undefined, context: Context): Promise<PollerResponse> => {
    const rt = await runtime();
    const service = functionEnv()[RUNTIME_ENV.service];
    const syncTable = requiredEnv(RUNTIME_ENV.syncTable);
    const services = rt.spec.services.filter((s) => !service || s.name === service);
    const serviceOf = new Map(services.flatMap((s) => s.entities.map((e) => [e.name, s.name] as const)));
    const entities = services
      .flatMap((s) => s.entities)
      .filter((e) => !event?.entities || event.entities.includes(e.name));
    const now = rt.now ?? Date.now;
    // One log line per entity and reason, not one per tick.
    const logged = new Set<string>();
    const result = await runPoller(
      {
        ...rt,
        lease: new DynamoPollerLease(rt.dynamo, syncTable, `poller#${service ?? rt.spec.name}`),
        onPolled: (entity, r) => countEvent(serviceOf.get(entity.name)!, 'poll', 'applied', r.published),
        onError: (entity, e) => {
          countEvent(serviceOf.get(entity.name)!, 'poll', 'failed');
          const reason = describeError(e);
          if (logged.has(`${entity.name}\n${reason}`)) return;
          logged.add(`${entity.name}\n${reason}`);
          logger.error('legacy-poller: entity failed', { entity: entity.name, reason });
        },
      },
      {
        entities,
        owner: `${context.awsRequestId}/${randomUUID()}`,
        deadline: now() + context.getRemainingTimeInMillis(),
        continuous: event?.continuous === true,
        timing: pollerTiming(rt.spec.sync),
      },
    );
    const out: PollerResponse['entities'] = {};
    for (const [name, t] of Object.entries(result.entities)) {
      out[name] = {
        polls: t.polls,
        published: t.published,
        chunksChanged: t.chunksChanged,
        failures: t.failures,
        ...(t.failures && !t.polls ? { error: describeError(t.lastError) } : {}),
      };
    }
    if (result.stoppedBy === 'lease-busy') {
      for (const name of Object.keys(out)) {
        out[name]!.error =
          `another invocation holds the poller lease${result.busyHolder ? ` (${result.busyHolder})` : ''}`;
      }
    }
    const failed = Object.entries(out).filter(([, r]) => r.error);
    if (failed.length === Object.keys(out).length && failed.length > 0 && result.stoppedBy !== 'lease-busy') {
      // Nothing could be polled: fail the invocation so the schedule's retry/alarm sees it.
      throw new Error(`every entity failed: ${failed.map(([n, r]) => `${n}: ${r.error}`).join('; ')}`);
    }
    logger.info('legacy-poller: done', {
      stoppedBy: result.stoppedBy,
      ticks: result.ticks,
      waitedMs: result.waitedMs,
    });
    return { entities: out, ticks: result.ticks, stoppedBy: result.stoppedBy, waitedMs: result.waitedMs };
  },
).use(injectLambdaContext(logger));
