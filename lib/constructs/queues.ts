import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  acknowledgeControl,
  allowEventBridgeDelivery,
  type CustomerManagedKeyProps,
  customerManagedKey,
} from './encryption.js';

/** How long a DLQ keeps messages for inspection and redrive (SQS maximum). */
export const DLQ_RETENTION = Duration.days(14);

/** A queue's settings and its encryption: SQS-managed unless a customer-managed key is asked for. */
export type EncryptedQueueProps = Omit<sqs.QueueProps, 'encryption' | 'encryptionMasterKey' | 'enforceSSL'> &
  CustomerManagedKeyProps & {
    /**
     * EventBridge rules deliver to this queue (as a target or a target's DLQ): under a
     * customer-managed key, the key policy lets EventBridge of this account use the key.
     * @default false
     */
    readonly eventBridgeSource?: boolean;
  };

/**
 * The one queue shape: TLS enforced, and encrypted with SQS-managed keys (EventBridge and Pipes
 * can deliver to it without a key policy) or, when the props or the stack ask for it
 * (`CustomerManagedKeyProps`), with a customer-managed key.
 */
export function encryptedQueue(scope: Construct, id: string, props: EncryptedQueueProps = {}): sqs.Queue {
  const {
    encryptionKey: _k,
    enableEncryptionWithCustomerManagedKey: _e,
    eventBridgeSource,
    ...queueProps
  } = props;
  const key = customerManagedKey(scope, props);
  if (key && eventBridgeSource) allowEventBridgeDelivery(key);
  return new sqs.Queue(scope, id, {
    ...queueProps,
    ...(key
      ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
    enforceSSL: true,
  });
}

/**
 * A dead-letter queue (14 days). With `sourceQueueName` (the SQS queue it serves, by its
 * physical name), its redrive allow policy admits that queue only (Control Tower's
 * CT.SQS.PR.1 reads a redrive allow policy as "this is a DLQ"); the ARN is built from the name,
 * because a reference to the source queue would be circular (the source names this queue).
 * Without one (the DLQ of EventBridge targets, Lambda asynchronous invocations or a Pipe, which
 * are not SQS redrives), the control is acknowledged on this queue with its reason, and under a
 * customer-managed key EventBridge may use the key to deliver to it. `keyProps` chooses the
 * encryption as for {@link encryptedQueue}.
 */
export function deadLetterQueue(
  scope: Construct,
  id: string,
  queueName?: string,
  sourceQueueName?: string,
  keyProps: CustomerManagedKeyProps = {},
): sqs.Queue {
  const queue = encryptedQueue(scope, id, {
    ...keyProps,
    // Not an SQS redrive: EventBridge (rule targets) may deliver to it.
    eventBridgeSource: !sourceQueueName,
    queueName,
    retentionPeriod: DLQ_RETENTION,
    redriveAllowPolicy: sourceQueueName
      ? {
          redrivePermission: sqs.RedrivePermission.BY_QUEUE,
          sourceQueues: [
            sqs.Queue.fromQueueArn(
              scope,
              `${id}Source`,
              Stack.of(scope).formatArn({ service: 'sqs', resource: sourceQueueName }),
            ),
          ],
        }
      : undefined,
  });
  if (!sourceQueueName) {
    acknowledgeControl(
      queue,
      'sqs_dlq_check',
      'A dead-letter queue of EventBridge rule targets, Lambda asynchronous invocations or a Pipe: it has no dead-letter queue of its own and no SQS source queue for a redrive allow policy to name; its depth alarms.',
    );
  }
  return queue;
}

/** The depth of a dead-letter queue: the most messages visible in each minute. */
export function metricDlqDepth(dlq: sqs.IQueue, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return dlq.metricApproximateNumberOfMessagesVisible({
    statistic: 'Maximum',
    period: Duration.minutes(1),
    ...props,
  });
}

/**
 * The one DLQ alarm: in ALARM as soon as a dead-letter queue holds a message (a record was
 * given up on and waits for a person); no data (an idle queue) is OK.
 */
export function dlqNotEmptyAlarm(
  scope: Construct,
  id: string,
  dlq: sqs.IQueue,
  props: { readonly alarmName?: string; readonly alarmDescription: string },
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    ...props,
    metric: metricDlqDepth(dlq),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}
