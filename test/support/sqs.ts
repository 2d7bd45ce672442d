/**
 * SQS deliveries as the Lambda service makes them: EventBridge envelopes in SQS records, and a
 * handler invocation with a Lambda context. Used by the integration tests and the bench (no test
 * framework imports here).
 */
import { randomUUID } from 'node:crypto';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { BusEvent } from '../../lambdas/domain/ports.js';

export const fakeContext = {
  functionName: 'cutover-test',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:cutover-test',
  memoryLimitInMB: '512',
  awsRequestId: 'req-test',
  logGroupName: '/aws/lambda/cutover-test',
  logStreamName: 'test',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 30_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
} as unknown as Context;

/** The EventBridge envelope a rule target (SQS) receives. */
export function busEnvelope(entry: BusEvent): string {
  return JSON.stringify({
    version: '0',
    id: randomUUID(),
    'detail-type': entry.DetailType,
    source: entry.Source,
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: JSON.parse(entry.Detail),
  });
}

/** An SQS event carrying raw bodies (strings) or bus entries. */
export function sqsEvent(bodies: readonly (string | BusEvent)[], receiveCount = 1): SQSEvent {
  return {
    Records: bodies.map((b, i) => ({
      messageId: `m-${i}-${randomUUID().slice(0, 8)}`,
      receiptHandle: 'rh',
      body: typeof b === 'string' ? b : busEnvelope(b),
      attributes: {
        ApproximateReceiveCount: String(receiveCount),
        SentTimestamp: String(Date.now()),
        SenderId: 'test',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:cutover-test',
      awsRegion: 'us-east-1',
    })),
  };
}

type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** Invokes an SQS handler; returns the failed message ids and the records by index. */
export async function invokeSqs(handler: unknown, event: SQSEvent): Promise<{ failedIndexes: number[] }> {
  const res = await (handler as SqsHandler)(event, fakeContext);
  const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
  return { failedIndexes: event.Records.flatMap((r, i) => (failed.has(r.messageId) ? [i] : [])) };
}
