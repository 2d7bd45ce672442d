/**
 * The shape shared by the SQS-driven handlers: middy + Powertools Logger, and a BatchProcessor
 * with partial batch responses, so that one bad record fails alone (its reason logged, masked)
 * while the rest of the batch is applied; SQS redelivers only the failed records and moves a
 * record to the DLQ after `maxReceiveCount`.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describeError } from '../domain/masking.js';
import { logger } from './powertools.js';

export type RecordHandler = (record: SQSRecord) => Promise<void>;

/** A middy handler processing each SQS record with `onRecord`, reporting failures per record. */
export function sqsBatchHandler(name: string, onRecord: RecordHandler) {
  const processor = new BatchProcessor(EventType.SQS);
  const guarded = async (record: SQSRecord) => {
    try {
      await onRecord(record);
    } catch (e) {
      logger.warn(`${name}: record failed`, {
        messageId: record.messageId,
        receiveCount: record.attributes?.ApproximateReceiveCount,
        reason: describeError(e),
      });
      throw e;
    }
  };
  return middy(
    async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
      processPartialResponse(event, guarded, processor, { context, throwOnFullBatchFailure: false }),
  ).use(injectLambdaContext(logger));
}
