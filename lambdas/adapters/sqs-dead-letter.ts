/**
 * A dead-letter queue written directly: a record that can never succeed (a contract violation)
 * goes there at its first delivery, with why, instead of after `maxReceiveCount` visibility
 * timeouts. The message is the record's body as delivered, so a redrive after a fix replays it.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { captureDeadLetterVariable, functionEnv, RUNTIME_ENV } from '../../lib/spec/runtime.js';

/** Why a record was dead-lettered (masked: no personal data). */
export interface DeadLetterReason {
  /** The error's class, e.g. `ContractError`. */
  readonly error: string;
  /** The error's message, masked. */
  readonly reason: string;
  /** The function that gave up on it. */
  readonly source: string;
}

/** What is kept of a record given up on. */
export interface DeadLetterMessage {
  /** The record as delivered (an SQS body, a stream record's JSON): a redrive replays it. */
  readonly body: string;
  /** Its id where it came from (SQS message id, stream record event id). */
  readonly sourceId: string;
  /** Deliveries so far. @default 1 */
  readonly receiveCount?: number;
}

/** Where records a function gives up on are kept (port). */
export interface DeadLetterPort {
  /** Resolves once the queue has the message (SQS acknowledged it); rejects otherwise. */
  send(message: DeadLetterMessage, why: DeadLetterReason): Promise<void>;
}

/** An SQS record as a {@link DeadLetterMessage}. */
export function sqsDeadLetterMessage(record: SQSRecord): DeadLetterMessage {
  return {
    body: record.body,
    sourceId: record.messageId,
    receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 1),
  };
}

/** The message attributes a dead-lettered record carries (names shared with the docs and tests). */
export const DEAD_LETTER_ATTRIBUTES = {
  error: 'cutover-error',
  reason: 'cutover-reason',
  source: 'cutover-source',
  messageId: 'cutover-source-message-id',
  receiveCount: 'cutover-receive-count',
} as const;

/** {@link DeadLetterPort} on an SQS queue (`sqs:SendMessage` on it). */
export class SqsDeadLetter implements DeadLetterPort {
  constructor(
    private readonly queueUrl: string,
    private readonly client: Pick<SQSClient, 'send'> = new SQSClient({}),
  ) {}

  async send(message: DeadLetterMessage, why: DeadLetterReason): Promise<void> {
    const text = (value: string) => ({ DataType: 'String', StringValue: value.slice(0, 1024) || '-' });
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: message.body,
        MessageAttributes: {
          [DEAD_LETTER_ATTRIBUTES.error]: text(why.error),
          [DEAD_LETTER_ATTRIBUTES.reason]: text(why.reason),
          [DEAD_LETTER_ATTRIBUTES.source]: text(why.source),
          [DEAD_LETTER_ATTRIBUTES.messageId]: text(message.sourceId),
          [DEAD_LETTER_ATTRIBUTES.receiveCount]: {
            DataType: 'Number',
            StringValue: String(message.receiveCount ?? 1),
          },
        },
      }),
    );
  }
}

/**
 * The function's dead-letter queue from `CUTOVER_DLQ_URL` (set by the SyncChannel construct), or
 * undefined when there is none or it is not an SQS URL (local runs and the rehearsal, whose
 * queues are in-process: there the record is redelivered and reaches the DLQ by redrive).
 */
export function deadLetterFromEnv(env: NodeJS.ProcessEnv = functionEnv()): DeadLetterPort | undefined {
  return fromUrl(env[RUNTIME_ENV.deadLetterQueueUrl]);
}

/** The DLQ of an entity's change capture (the pipe's), as {@link deadLetterFromEnv}. */
export function captureDeadLetterFromEnv(
  entity: string,
  env: NodeJS.ProcessEnv = functionEnv(),
): DeadLetterPort | undefined {
  return fromUrl(env[captureDeadLetterVariable(entity)]);
}

function fromUrl(url: string | undefined): DeadLetterPort | undefined {
  return url && /^https:\/\//.test(url) ? new SqsDeadLetter(url) : undefined;
}
