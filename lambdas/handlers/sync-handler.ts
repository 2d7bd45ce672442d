/**
 * Forward and reverse sync share one record handler: parse the bus event (SQS body) -> the
 * sync use case -> metrics. A record the contract rejects fails alone (to the DLQ after
 * `maxReceiveCount`); a record that hit a transient failure (database down, lost races) fails
 * alone and is retried by redelivery.
 */
import type { SQSRecord } from 'aws-lambda';
import { entityByName } from '../../lib/spec/schema.js';
import { parseBusEvent } from '../domain/events.js';
import { applyToLegacy, applyToService } from '../domain/sync.js';
import { countConflicts, countEvent, logger, recordLag, statusOf } from './powertools.js';
import { runtime } from './runtime.js';
import { sqsBatchHandler } from './sqs-batch.js';

/**
 * Records of one record key within a batch run one after the other (in delivery order): they
 * would only lose compare-and-set races against each other. Different keys run in parallel.
 */
function serialisedByKey() {
  const tails = new Map<string, Promise<unknown>>();
  return async <T>(key: string, run: () => Promise<T>): Promise<T> => {
    const previous = tails.get(key) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(run);
    tails.set(key, next);
    try {
      return await next;
    } finally {
      if (tails.get(key) === next) tails.delete(key);
    }
  };
}

export function syncHandler(direction: 'forward' | 'reverse') {
  const serialise = serialisedByKey();
  return sqsBatchHandler(`${direction}-sync`, async (record: SQSRecord) => {
    const rt = await runtime();
    let service = 'unknown';
    try {
      const { event } = parseBusEvent(record.body);
      const found = entityByName(rt.spec, event.entity);
      service = found.service.name;
      const apply = direction === 'forward' ? applyToService : applyToLegacy;
      const result = await serialise(`${event.entity}#${event.key}`, () => apply(rt, found.entity, event));
      const status = statusOf(result.decision);
      countEvent(service, direction, status);
      countConflicts(service, result.decision);
      if (status !== 'skipped') {
        recordLag(service, found.entity.consistency, (Date.now() - Date.parse(event.changedAt)) / 1000);
      }
      logger.debug('applied', {
        entity: event.entity,
        key: event.key,
        eventId: event.eventId,
        outcome: result.decision.outcome,
        attempts: result.attempts,
      });
    } catch (e) {
      countEvent(service, direction, 'failed');
      throw e;
    }
  });
}
