/**
 * Scheduled legacy change capture by watermark and snapshots (lambdas/domain/poller.ts), for
 * every entity of the migration or the ones named in the event (`{ entities: [...] }`).
 * An entity that fails is logged and reported; the others are still polled.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { describeError } from '../domain/masking.js';
import { pollEntity } from '../domain/poller.js';
import { countEvent, logger } from './powertools.js';
import { runtime } from './runtime.js';

export interface PollerEvent {
  readonly entities?: readonly string[];
}

export interface PollerResponse {
  readonly entities: Record<string, { published?: number; chunksChanged?: number; error?: string }>;
}

export const handler = middy(async (event: PollerEvent | undefined): Promise<PollerResponse> => {
  const rt = await runtime();
  const out: PollerResponse['entities'] = {};
  for (const service of rt.spec.services) {
    for (const entity of service.entities) {
      if (event?.entities && !event.entities.includes(entity.name)) continue;
      try {
        const r = await pollEntity(rt, entity);
        out[entity.name] = { published: r.published, chunksChanged: r.chunksChanged };
        countEvent(service.name, 'poll', 'applied', r.published);
      } catch (e) {
        out[entity.name] = { error: describeError(e) };
        countEvent(service.name, 'poll', 'failed');
        logger.error('legacy-poller: entity failed', { entity: entity.name, reason: describeError(e) });
      }
    }
  }
  const failed = Object.entries(out).filter(([, r]) => r.error);
  if (failed.length === Object.keys(out).length && failed.length > 0) {
    // Nothing could be polled: fail the invocation so the schedule's retry/alarm sees it.
    throw new Error(`every entity failed: ${failed.map(([n, r]) => `${n}: ${r.error}`).join('; ')}`);
  }
  return { entities: out };
}).use(injectLambdaContext(logger));
