/**
 * Forward and reverse sync share one record handler: parse the bus event (SQS body) -> the
 * sync use case -> metrics. A record the contract rejects fails alone and goes to the DLQ at its
 * first delivery, with its reason; a record that hit a transient failure (database down, lost
 * races) fails alone and is retried by redelivery (to the DLQ after `maxReceiveCount`).
 */
import type { SQSRecord } from 'aws-lambda';
import { entityByName } from '../../lib/spec/lookup.js';
import type { EntitySpec, MigrationSpec } from '../../lib/spec/schema.js';
import { type Outcome, perTurn } from '../adapters/per-turn.js';
import { ClockSkewError } from '../domain/conflict.js';
import { type ChangeEvent, ContractError, parseBusEvent } from '../domain/events.js';
import { describeError } from '../domain/masking.js';
import type { ApplyResult, SyncDeps } from '../domain/sync.js';
import {
  countBatchFailure,
  countConflicts,
  countEvent,
  countUnstorable,
  logger,
  recordLag,
  statusOf,
} from './powertools.js';
import type { ServiceRuntime } from './service-runtime.js';
import { sqsBatchHandler } from './sqs-batch.js';

/** Applies one event, or a batch of one entity's events (the direction's use cases). */
export interface SyncDirection<D extends ServiceRuntime> {
  readonly name: 'forward' | 'reverse';
  /** The container's runtime (forward: service side only; reverse: with the legacy store). */
  readonly runtime: () => Promise<D>;
  readonly apply: (deps: D, entity: EntitySpec, event: ChangeEvent) => Promise<ApplyResult>;
  readonly applyBatch: (
    deps: D & Pick<SyncDeps, 'onBatchFailed'>,
    entity: EntitySpec,
    events: readonly ChangeEvent[],
  ) => Promise<ReadonlyArray<{ eventId: string; result?: ApplyResult; error?: unknown }>>;
}

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
 * A batched transaction that failed as a whole: its events take the single path (nothing is
 * lost), and the failure is logged (the masked reason, no values) and counted.
 */
function batchFailed(direction: 'forward' | 'reverse', spec: MigrationSpec) {
  return (entity: EntitySpec, error: unknown, events: number): void => {
    countBatchFailure(entityByName(spec, entity.name).service.name);
    logger.warn(`${direction}-sync: batch transaction failed; its events take the single-record path`, {
      entity: entity.name,
      events,
      reason: describeError(error),
    });
  };
}

/**
 * `eventual` entities take the batched path (sync-batch.ts): the records of one entity that a
 * batch (SQS with a batching window) delivers are started together, so the events asked for in
 * the same turn are applied with one set-based compare-and-set; each record still gets its own
 * result or error. `strong` entities are applied one by one, with no wait.
 */
function batchedByEntity<D extends ServiceRuntime>({ name: direction, applyBatch }: SyncDirection<D>) {
  type Call = { readonly deps: D; readonly entity: EntitySpec; readonly event: ChangeEvent };
  const perEntity = new Map<string, (call: Call) => Promise<ApplyResult>>();
  return (deps: D, entity: EntitySpec, event: ChangeEvent): Promise<ApplyResult> => {
    let apply = perEntity.get(entity.name);
    if (!apply) {
      apply = perTurn(async (calls: readonly Call[]) => {
        // The calls of one turn come from one invocation, so from one runtime and spec.
        const events = calls.map((c) => c.event);
        const deps = {
          ...calls[0]!.deps,
          onBatchFailed: batchFailed(direction, calls[0]!.deps.spec),
        };
        const results = new Map(
          (await applyBatch(deps, calls[0]!.entity, events)).map((r) => [r.eventId, r]),
        );
        return events.map((e): Outcome<ApplyResult> => {
          const r = results.get(e.eventId);
          return r?.result
            ? { value: r.result }
            : { error: r?.error ?? new Error(`no result for ${e.eventId}`) };
        });
      });
      perEntity.set(entity.name, apply);
    }
    return apply({ deps, entity, event });
  };
}

/**
 * A record the contract rejects (malformed event, a value of the wrong type) fails the same way
 * at every delivery: it goes to the DLQ at once, with its reason (sqs-batch.ts). Not a change
 * dated ahead of this clock (`ClockSkewError`): by a later delivery the clocks may agree.
 */
const PERMANENT = {
  permanent: (e: unknown) => e instanceof ContractError && !(e instanceof ClockSkewError),
};

/** The SQS handler of one direction; `forward-sync.ts` and `reverse-sync.ts` compose it. */
export function syncHandler<D extends ServiceRuntime>(sync: SyncDirection<D>) {
  const direction = sync.name;
  const serialise = serialisedByKey();
  const batched = batchedByEntity(sync);
  return sqsBatchHandler(
    `${direction}-sync`,
    async (record: SQSRecord) => {
      const rt = await sync.runtime();
      let service = 'unknown';
      try {
        const { event } = parseBusEvent(record.body);
        const found = entityByName(rt.spec, event.entity);
        service = found.service.name;
        const apply = found.entity.consistency === 'eventual' ? batched : sync.apply;
        const result = await serialise(`${event.entity}#${event.key}`, () => apply(rt, found.entity, event));
        const status = statusOf(result.decision);
        countEvent(service, direction, status);
        countConflicts(service, result.decision);
        countUnstorable(service, result.decision);
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
    },
    PERMANENT,
  );
}
