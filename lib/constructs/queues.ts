import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** How long a DLQ keeps messages for inspection and redrive (SQS maximum). */
export const DLQ_RETENTION = Duration.days(14);

/**
 * The one queue shape: SQS-managed encryption (EventBridge and Pipes can deliver to it without
 * a key policy), TLS enforced, and long retention for dead-letter queues.
 */
export function encryptedQueue(
  scope: Construct,
  id: string,
  props: Omit<sqs.QueueProps, 'encryption' | 'enforceSSL'> = {},
): sqs.Queue {
  return new sqs.Queue(scope, id, {
    ...props,
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });
}

/** A dead-letter queue (14 days). */
export function deadLetterQueue(scope: Construct, id: string, queueName?: string): sqs.Queue {
  return encryptedQueue(scope, id, { queueName, retentionPeriod: DLQ_RETENTION });
}
