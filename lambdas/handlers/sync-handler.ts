/**
 * Forward and reverse sync share one record handler: parse the bus event (SQS body) -> the
 * sync use case -> metrics. A record the contract rejects fails alone (to the DLQ after
 * `maxReceiveCount`); a record that hit a transient failure (database down, lost races) fails
 * alone and is retried by redelivery.
 */
import type { SQSRecord } from 'aws-lambda';
import { type EntitySpec, entityByName } from '../../lib/spec/schema.js';
import { type ChangeEvent, parseBusEvent } from '../domain/events.js';
import { type ApplyResult, applyToLegacy, applyToService, type SyncDeps } from '../domain/sync.js';
import { applyBatchToLegacy, applyBatchToService } from '../domain/sync-batch.js';
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

/**
 * `eventual` entities take the batched path (sync-batch.ts): the records of one entity that a
 * batch (SQS with a batching window) delivers are started together, so the events asked for in
 * the same turn are applied with one set-based compare-and-set; each record still gets its own
 * result or error. `strong` entities are applied one by one, with no wait.
 */
function batchedByEntity(direction: 'forward' | 'reverse') {
  const applyBatch = direction === 'forward' ? applyBatchToService : applyBatchToLegacy;
  type Waiting = { event: ChangeEvent; resolve: (r: ApplyResult) => void; reject: (e: unknown) => void };
  const queues = new Map<string, Waiting[]>();
  return (deps: SyncDeps, entity: EntitySpec, event: ChangeEvent): Promise<ApplyResult> =>
    new Promise((resolve, reject) => {
      let queue = queues.get(entity.name);
      if (!queue) {
        const q: Waiting[] = [];
        queue = q;
        queues.set(entity.name, q);
        setImmediate(async () => {
          queues.delete(entity.name);
          try {
            const results = new Map(
              (
                await applyBatch(
                  deps,
                  entity,
                  q.map((x) => x.event),
                )
              ).map((r) => [r.eventId, r]),
            );
            for (const x of q) {
              const r = results.get(x.event.eventId);
              if (r?.result) x.resolve(r.result);
              else x.reject(r?.error ?? new Error(`no result for event ${x.event.eventId}`));
            }
          } catch (e) {
            for (const x of q) x.reject(e);
          }
        });
      }
      queue.push({ event, resolve, reject });
    });
}

export function syncHandler(direction: 'forward' | 'reverse') {
  const serialise = serialisedByKey();
  const batched = batchedByEntity(direction);
  return sqsBatchHandler(`${direction}-sync`, async (record: SQSRecord) => {
    const rt = await runtime();
    let service = 'unknown';
    try {
      const { event } = parseBusEvent(record.body);
      const found = entityByName(rt.spec, event.entity);
      service = found.service.name;
      const apply =
        found.entity.consistency === 'eventual'
          ? batched
          : direction === 'forward'
            ? applyToService
            : applyToLegacy;
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
