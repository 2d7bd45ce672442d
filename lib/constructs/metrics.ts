import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRICS_NAMESPACE, type MetricName } from '../spec/metrics.js';

/** A metric the Lambdas emit in the `Cutover` namespace, with its exact dimension set. */
export function cutoverMetric(
  metricName: MetricName,
  dimensionsMap: Record<string, string>,
  props: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap,
    period: Duration.minutes(1),
    ...props,
  });
}

/** An SQS metric by queue name (the monitors watch queues of other stacks by name). */
export function queueMetric(
  queueName: string,
  metricName: 'ApproximateNumberOfMessagesVisible' | 'ApproximateAgeOfOldestMessage',
  props: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/SQS',
    metricName,
    dimensionsMap: { QueueName: queueName },
    statistic: 'Maximum',
    period: Duration.minutes(1),
    ...props,
  });
}
