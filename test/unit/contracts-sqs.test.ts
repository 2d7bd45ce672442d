/**
 * The dead-letter adapter (lambdas/adapters/sqs-dead-letter.ts) against SQS's SendMessage as the
 * AWS docs describe it (test/contracts/sqs/send-message.json, sources and what is not recorded
 * named there): the real SDK client sends the AWS JSON 1.0 request the developer guide shows,
 * with the record's body unchanged and the reason as message attributes, and reads a response
 * with the API reference's elements; an error answer rejects (the record is then redelivered).
 */
import { createHash } from 'node:crypto';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_ATTRIBUTES,
  deadLetterFromEnv,
  SqsDeadLetter,
  sqsDeadLetterMessage,
} from '../../lambdas/adapters/sqs-dead-letter.js';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import { contract } from '../support/contracts.js';
import { sqsEvent } from '../support/sqs.js';

interface Recorded {
  readonly target: string;
  readonly input: { QueueUrl: string; MessageBody: string };
  readonly output: Record<string, string>;
}
const recorded = contract<Recorded>('sqs/send-message.json');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

interface Seen {
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** A real SQS client whose HTTP layer answers SendMessage as documented (nothing leaves the process). */
function documentedSqs(status = 200) {
  const seen: Seen[] = [];
  const client = new SQSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: { headers: Record<string, string>; body?: unknown }) => {
        const raw =
          request.body instanceof Uint8Array ? new TextDecoder().decode(request.body) : String(request.body);
        const body = JSON.parse(raw) as Record<string, unknown>;
        seen.push({ headers: request.headers, body });
        const answer =
          status === 200
            ? {
                MD5OfMessageAttributes: '0'.repeat(32),
                MD5OfMessageBody: md5(String(body['MessageBody'])),
                MessageId: recorded.output['MessageId'],
              }
            : {
                __type: 'com.amazonaws.sqs#QueueDoesNotExist',
                message: 'The specified queue does not exist.',
              };
        return {
          response: {
            statusCode: status,
            headers: { 'content-type': 'application/x-amz-json-1.0' },
            body: new TextEncoder().encode(JSON.stringify(answer)),
          },
        };
      },
    },
  });
  return { client, seen };
}

const record = (body: string): SQSRecord => ({ ...sqsEvent([body], 3).Records[0]! });

describe('Contract: SQS SendMessage (the dead-letter adapter)', () => {
  it('sends the documented AWS JSON request: the record body unchanged, the reason as attributes', async () => {
    const sqs = documentedSqs();
    const dlq = new SqsDeadLetter(recorded.input.QueueUrl, sqs.client);
    const r = record(recorded.input.MessageBody);
    await dlq.send(sqsDeadLetterMessage(r), {
      error: 'ContractError',
      reason: 'invalid event: detail.data.websiteId: expected number',
      source: 'forward-sync',
    });
    expect(sqs.seen).toHaveLength(1);
    const { headers, body } = sqs.seen[0]!;
    expect(headers['x-amz-target']).toBe(recorded.target);
    expect(headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(body['QueueUrl']).toBe(recorded.input.QueueUrl);
    expect(body['MessageBody']).toBe(r.body);
    expect(body['MessageAttributes']).toEqual({
      [DEAD_LETTER_ATTRIBUTES.error]: { DataType: 'String', StringValue: 'ContractError' },
      [DEAD_LETTER_ATTRIBUTES.reason]: {
        DataType: 'String',
        StringValue: 'invalid event: detail.data.websiteId: expected number',
      },
      [DEAD_LETTER_ATTRIBUTES.source]: { DataType: 'String', StringValue: 'forward-sync' },
      [DEAD_LETTER_ATTRIBUTES.messageId]: { DataType: 'String', StringValue: r.messageId },
      [DEAD_LETTER_ATTRIBUTES.receiveCount]: { DataType: 'Number', StringValue: '3' },
    });
    // The attribute shape is the recorded input's.
    const [name, value] = Object.entries(
      (recorded.input as unknown as { MessageAttributes: Record<string, unknown> }).MessageAttributes,
    )[0]!;
    expect((body['MessageAttributes'] as Record<string, unknown>)[name]).toEqual(value);
  });

  it('an error answer rejects, so the caller does not acknowledge the record', async () => {
    const dlq = new SqsDeadLetter(recorded.input.QueueUrl, documentedSqs(400).client);
    await expect(
      dlq.send(sqsDeadLetterMessage(record('x')), { error: 'ContractError', reason: 'r', source: 's' }),
    ).rejects.toMatchObject({
      name: 'QueueDoesNotExist',
    });
  });

  it("is configured from CUTOVER_DLQ_URL, and only with an SQS URL (the rehearsal's in-process queues have none)", () => {
    expect(deadLetterFromEnv({ [RUNTIME_ENV.deadLetterQueueUrl]: recorded.input.QueueUrl })).toBeInstanceOf(
      SqsDeadLetter,
    );
    expect(
      deadLetterFromEnv({ [RUNTIME_ENV.deadLetterQueueUrl]: 'cutover-dev-magento-customer-forward-dlq' }),
    ).toBeUndefined();
    expect(deadLetterFromEnv({})).toBeUndefined();
  });
});
