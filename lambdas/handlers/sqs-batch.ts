/**
 * The shape shared by the SQS-driven handlers: middy + Powertools Logger, and a BatchProcessor
 * with partial batch responses, so that one bad record fails alone (its reason logged, masked)
 * while the rest of the batch is applied; SQS redelivers only the failed records and moves a
 * record to the DLQ after `maxReceiveCount`.
 *
 * A record that fails with a permanent error (`permanent`: a contract violation, which no
 * redelivery can fix) does not wait for that: it is sent to the function's DLQ at once with its
 * reason (message attributes), and only once SQS has it, reported as processed so that it is
 * deleted from the queue. If the DLQ cannot be written, the record fails as any other and is
 * redelivered: it is never acknowledged before it is kept somewhere.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type DeadLetterPort, deadLetterFromEnv, sqsDeadLetterMessage } from '../adapters/sqs-dead-letter.js';
import { describeError } from '../domain/masking.js';
import { logger } from './powertools.js';

export type RecordHandler = (record: SQSRecord) => Promise<void>;

export interface SqsBatchOptions {
  /** Errors no redelivery can fix: their records go to the DLQ at the first delivery. @default none */
  readonly permanent?: (error: unknown) => boolean;
  /** Called when a record was dead-lettered (e.g. to count it). */
  readonly onDeadLettered?: (record: SQSRecord, error: unknown) => void;
}

let deadLetterOverride: DeadLetterPort | null | undefined;
let fromEnv: DeadLetterPort | null | undefined;

/**
 * Replaces the dead-letter queue of the SQS handlers (tests; `null`: none, records are
 * redelivered); `undefined` restores the one from `CUTOVER_DLQ_URL`.
 */
export function configureDeadLetter(port: DeadLetterPort | null | undefined): void {
  deadLetterOverride = port;
}

function deadLetter(): DeadLetterPort | undefined {
  if (deadLetterOverride !== undefined) return deadLetterOverride ?? undefined;
  fromEnv ??= deadLetterFromEnv() ?? null;
  return fromEnv ?? undefined;
}

/** A middy handler processing each SQS record with `onRecord`, reporting failures per record. */
export function sqsBatchHandler(name: string, onRecord: RecordHandler, options: SqsBatchOptions = {}) {
  const processor = new BatchProcessor(EventType.SQS);
  const guarded = async (record: SQSRecord) => {
    try {
      await onRecord(record);
    } catch (e) {
      const reason = describeError(e);
      const dlq = options.permanent?.(e) ? deadLetter() : undefined;
      if (dlq) {
        try {
          await dlq.send(sqsDeadLetterMessage(record), {
            error: (e as Error)?.name ?? 'Error',
            reason,
            source: name,
          });
          logger.warn(`${name}: record sent to the DLQ (permanent error)`, {
            messageId: record.messageId,
            reason,
          });
          options.onDeadLettered?.(record, e);
          return;
        } catch (sendError) {
          logger.error(`${name}: the DLQ could not be written; the record is left for redelivery`, {
            messageId: record.messageId,
            reason: describeError(sendError),
          });
        }
      }
      logger.warn(`${name}: record failed`, {
        messageId: record.messageId,
        receiveCount: record.attributes?.ApproximateReceiveCount,
        reason,
      });
      throw e;
    }
  };
  return middy(
    async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
      processPartialResponse(event, guarded, processor, { context, throwOnFullBatchFailure: false }),
  ).use(injectLambdaContext(logger));
}
