import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
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
