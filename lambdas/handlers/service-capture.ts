/**
 * Service-side change capture: the EventBridge Pipe's enrichment. Input: a batch of DynamoDB
 * stream records of the service tables. Output: one bus entry per change, `{ 'detail-type',
 * source, detail }` (the pipe target maps `$.detail-type`, `$.source` and `$.detail`); writes
 * made by the sync are dropped (echo suppression). See lambdas/domain/capture.ts.
 *
 * A service write that did not bump the item's version (the contract the forward sync's
 * compare-and-set and the echo check rely on) is published all the same, counted as
 * `service_contract_violation_total{service, entity}` (alarmed by the ServiceChangeCapture
 * construct) and logged with its reason, without values.
 *
 * A record that cannot be described by the contract is counted as failed, logged (masked) and
 * sent to its entity's capture DLQ (the pipe's, `CUTOVER_CAPTURE_DLQ_URL_<ENTITY>`) with its
 * reason, where the DLQ's alarm shows it; it does not block the shard. Only if it cannot be kept
 * there (no DLQ, SQS refused) does the batch fail, so the pipe retries it and, after its retries,
 * puts it in the same DLQ: a record is never dropped.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { entityByName } from '../../lib/spec/lookup.js';
import { serviceTablesFromEnv } from '../../lib/spec/runtime.js';
import type { EntitySpec, MigrationSpec } from '../../lib/spec/schema.js';
import { type RawStreamRecord, tableNameOf, toServiceStreamRecord } from '../adapters/dynamodb-stream.js';
import { captureDeadLetterFromEnv, type DeadLetterPort } from '../adapters/sqs-dead-letter.js';
import {
  type CapturedEvent,
  captureServiceChange,
  serviceDetailTypeOf,
  versionViolation,
} from '../domain/capture.js';
import { EVENT_SOURCE } from '../domain/events.js';
import { describeError } from '../domain/masking.js';
import { specFromEnv } from './bundled-spec.js';
import { countContractViolation, countEvent, logger } from './powertools.js';

/** This function's service tables, by table name (from the spec and `CUTOVER_SERVICE_TABLES`). */
function tablesFromEnv(): {
  spec: MigrationSpec;
  byTable: Map<string, { entity: EntitySpec; service: string }>;
} {
  const spec = specFromEnv();
  const byTable = new Map<string, { entity: EntitySpec; service: string }>();
  for (const [entity, table] of Object.entries(serviceTablesFromEnv())) {
    const found = entityByName(spec, entity);
    byTable.set(table, { entity: found.entity, service: found.service.name });
  }
  return { spec, byTable };
}

export async function captureBatch(records: readonly RawStreamRecord[]): Promise<CapturedEvent[]> {
  const { spec, byTable } = tablesFromEnv();
  const out: CapturedEvent[] = [];
  for (const raw of records) {
    let service = 'unknown';
    try {
      const rec = toServiceStreamRecord(raw);
      const target = byTable.get(rec.tableName);
      if (!target) throw new Error(`table ${rec.tableName} is not a service table of ${spec.name}`);
      service = target.service;
      const event = captureServiceChange(target.entity, rec);
      if (!event) {
        countEvent(service, 'capture', 'skipped');
        continue;
      }
      const violation = versionViolation(target.entity, rec);
      if (violation) {
        countContractViolation(service, target.entity.name);
        logger.warn('service-capture: a service write broke the version contract; published anyway', {
          entity: target.entity.name,
          table: rec.tableName,
          reason: violation,
          oldVersion: rec.oldImage?.[target.entity.target.versionAttribute],
          newVersion: rec.newImage?.[target.entity.target.versionAttribute],
        });
      }
      out.push({
        'detail-type': serviceDetailTypeOf(target.entity),
        source: EVENT_SOURCE.service,
        detail: event,
      });
      countEvent(service, 'capture', 'applied');
    } catch (e) {
      countEvent(service, 'capture', 'failed');
      await deadLetter(raw, e, byTable);
    }
  }
  return out;
}

let deadLetterOverride: DeadLetterPort | null | undefined;

/**
 * Replaces the capture DLQs (tests; `null`: none); `undefined` restores those of the
 * environment (`CUTOVER_CAPTURE_DLQ_URL_<ENTITY>`).
 */
export function configureCaptureDeadLetter(port: DeadLetterPort | null | undefined): void {
  deadLetterOverride = port;
}

/** Keeps an untranslatable record in its entity's capture DLQ, or fails the batch (see above). */
async function deadLetter(
  raw: RawStreamRecord,
  error: unknown,
  byTable: ReadonlyMap<string, { entity: EntitySpec }>,
): Promise<void> {
  const reason = describeError(error);
  let entity: string | undefined;
  try {
    entity = byTable.get(tableNameOf(raw.eventSourceARN))?.entity.name;
  } catch {
    entity = undefined;
  }
  const dlq =
    deadLetterOverride !== undefined
      ? (deadLetterOverride ?? undefined)
      : entity
        ? captureDeadLetterFromEnv(entity)
        : undefined;
  const where = { entity: entity ?? 'unknown', eventId: raw.eventID, reason };
  if (dlq) {
    try {
      await dlq.send(
        { body: JSON.stringify(raw), sourceId: raw.eventID ?? '' },
        { error: (error as Error)?.name ?? 'Error', reason, source: 'service-capture' },
      );
      logger.error('service-capture: record cannot be translated; sent to the capture DLQ', where);
      return;
    } catch (sendError) {
      logger.error('service-capture: the capture DLQ could not be written', {
        ...where,
        dlqError: describeError(sendError),
      });
    }
  }
  logger.error('service-capture: record cannot be translated and is not kept; the batch is retried', where);
  throw error;
}

export const handler = middy(async (records: RawStreamRecord[]) =>
  captureBatch(Array.isArray(records) ? records : []),
).use(injectLambdaContext(logger));
