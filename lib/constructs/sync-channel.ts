import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC } from '../spec/metrics.js';
import { dlqName } from '../spec/names.js';
import { RUNTIME_ENV } from '../spec/runtime.js';
import type { Consistency } from '../spec/schema.js';
import type { CustomerManagedKeyProps } from './encryption.js';
import { cutoverMetric } from './metrics.js';
import { deadLetterQueue, dlqNotEmptyAlarm, encryptedQueue, metricDlqDepth } from './queues.js';

/** `forward`: legacy -> service. `reverse`: service -> legacy (writes into the monolith). */
export type SyncDirection = 'forward' | 'reverse';

/** Lambda needs the queue's visibility timeout to cover retries of a whole batch. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** Encryption of the channel's queues (`CustomerManagedKeyProps`): SQS-managed unless asked. */
export interface SyncChannelProps extends CustomerManagedKeyProps {
  readonly bus: events.IEventBus;
  readonly direction: SyncDirection;
  /** The service whose entities travel through the channel (metric dimension `service`). */
  readonly service: string;
  /** Event source to match (`cutover.legacy` or `cutover.service`). */
  readonly source: string;
  /** Detail types the rule matches. */
  readonly detailTypes: readonly string[];
  /** The function that applies the events (its timeout sets the queue's visibility timeout). */
  readonly handler: lambda.IFunction & { readonly timeout?: Duration };
  /**
   * The strictest consistency class of the channel's entities. `strong` means no batching
   * window (each change is applied as soon as it arrives).
   */
  readonly consistency: Consistency;
  /** Records per invocation. @default 10 */
  readonly batchSize?: number;
  /** Batching window for `eventual` channels. Must be absent or zero for `strong`. @default - none */
  readonly maxBatchingWindow?: Duration;
  /** Deliveries before a message goes to the DLQ. @default 5 */
  readonly maxReceiveCount?: number;
  /**
   * Cap on concurrent invocations; required for a channel that writes into the legacy database
   * (the reverse channel). Lambda accepts 2..1000. @default - no cap
   */
  readonly maxConcurrency?: number;
  /** Physical name of the queue; the DLQ is `<name>-dlq`. @default - generated */
  readonly queueName?: string;
  /** Visibility timeout. @default - 6x the handler's timeout */
  readonly visibilityTimeout?: Duration;
  /** DLQ for events the rule fails to deliver to the queue. @default - one is created */
  readonly ruleDeadLetterQueue?: sqs.IQueue;
  /** Alarm when the oldest message is older than this. @default 60 s (strong), 300 s (eventual) */
  readonly oldestMessageAgeThreshold?: Duration;
  /** Prefix of the alarm names. @default - generated names */
  readonly alarmNamePrefix?: string;
}

/**
 * One direction of the two-way sync: an EventBridge rule on the channel's detail types, an
 * encrypted SQS queue with a DLQ, and the sync function consuming it with partial batch
 * responses. Alarms: DLQ depth > 0 and age of the oldest message; on the reverse channel also
 * any service value the legacy database cannot store (parked for a person, see docs/sync.md).
 *
 * The consistency-lag alarm (5 s strong / 300 s eventual) is a service monitor
 * (`ServiceMonitors`), because AppConfig must watch it; {@link metricConsistencyLag} is here.
 */
export class SyncChannel extends Construct {
  readonly rule: events.Rule;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly ruleDeadLetterQueue: sqs.IQueue;
  readonly eventSource: SqsEventSource;
  readonly dlqDepthAlarm: cloudwatch.Alarm;
  readonly oldestMessageAlarm: cloudwatch.Alarm;
  /**
   * Reverse channel only: ALARM when a service value was parked because the legacy column cannot
   * hold it (`unstorable_value_total` > 0 in a minute). The sides differ until a person decides.
   */
  readonly unstorableValuesAlarm?: cloudwatch.Alarm;
  private readonly service: string;
  private readonly direction: SyncDirection;

  constructor(scope: Construct, id: string, props: SyncChannelProps) {
    super(scope, id);
    const batchSize = props.batchSize ?? 10;
    const window = props.maxBatchingWindow;
    if (props.detailTypes.length === 0) throw new Error(`SyncChannel ${id}: detailTypes is empty`);
    if (props.consistency === 'strong' && window && window.toSeconds() > 0) {
      throw new Error(`SyncChannel ${id}: a strong channel cannot have a batching window`);
    }
    if (batchSize > 10 && !(window && window.toSeconds() > 0)) {
      throw new Error(`SyncChannel ${id}: batchSize > 10 needs a batching window (SQS limit)`);
    }
    if (props.maxConcurrency !== undefined && (props.maxConcurrency < 2 || props.maxConcurrency > 1000)) {
      throw new Error(`SyncChannel ${id}: maxConcurrency must be 2..1000`);
    }
    if (props.direction === 'reverse' && props.maxConcurrency === undefined) {
      throw new Error(
        `SyncChannel ${id}: the reverse channel writes into the legacy database and needs maxConcurrency`,
      );
    }
    const fnTimeout = props.handler.timeout ?? Duration.seconds(3);
    const minVisibility = fnTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR;
    const visibility = props.visibilityTimeout ?? Duration.seconds(minVisibility);
    if (visibility.toSeconds() < minVisibility) {
      throw new Error(
        `SyncChannel ${id}: visibilityTimeout ${visibility.toSeconds()} s is below ${VISIBILITY_TIMEOUT_FACTOR}x the function timeout (${minVisibility} s)`,
      );
    }
    this.service = props.service;
    this.direction = props.direction;

    const keyProps: CustomerManagedKeyProps = {
      encryptionKey: props.encryptionKey,
      enableEncryptionWithCustomerManagedKey: props.enableEncryptionWithCustomerManagedKey,
    };
    this.deadLetterQueue = deadLetterQueue(
      this,
      'Dlq',
      props.queueName && dlqName(props.queueName),
      props.queueName,
      keyProps,
    );
    // A record the contract rejects is sent here by the function at its first delivery
    // (lambdas/handlers/sqs-batch.ts), not after maxReceiveCount visibility timeouts.
    this.deadLetterQueue.grantSendMessages(props.handler);
    if (props.handler instanceof lambda.Function) {
      props.handler.addEnvironment(RUNTIME_ENV.deadLetterQueueUrl, this.deadLetterQueue.queueUrl);
    }
    this.queue = encryptedQueue(this, 'Queue', {
      ...keyProps,
      eventBridgeSource: true,
      queueName: props.queueName,
      visibilityTimeout: visibility,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
    this.ruleDeadLetterQueue =
      props.ruleDeadLetterQueue ??
      deadLetterQueue(
        this,
        'RuleDlq',
        props.queueName && dlqName(`${props.queueName}-rule`),
        undefined,
        keyProps,
      );
    this.rule = new events.Rule(this, 'Rule', {
      eventBus: props.bus,
      description: `${props.direction} sync of ${props.service}`,
      eventPattern: { source: [props.source], detailType: [...props.detailTypes] },
      targets: [
        new targets.SqsQueue(this.queue, {
          deadLetterQueue: this.ruleDeadLetterQueue,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
    this.eventSource = new SqsEventSource(this.queue, {
      batchSize,
      maxBatchingWindow: props.consistency === 'strong' ? undefined : window,
      reportBatchItemFailures: true,
      maxConcurrency: props.maxConcurrency,
    });
    props.handler.addEventSource(this.eventSource);

    const name = (kind: string) => props.alarmNamePrefix && `${props.alarmNamePrefix}-${kind}`;
    this.dlqDepthAlarm = dlqNotEmptyAlarm(this, 'DlqDepthAlarm', this.deadLetterQueue, {
      alarmName: name('dlq-depth'),
      alarmDescription: `${props.direction} sync of ${props.service}: messages in the DLQ (redrive after fixing the cause)`,
    });
    const ageThreshold =
      props.oldestMessageAgeThreshold ?? Duration.seconds(props.consistency === 'strong' ? 60 : 300);
    this.oldestMessageAlarm = new cloudwatch.Alarm(this, 'OldestMessageAlarm', {
      alarmName: name('oldest-message'),
      alarmDescription: `${props.direction} sync of ${props.service} is falling behind`,
      metric: this.metricOldestMessageAge(),
      threshold: ageThreshold.toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.direction === 'reverse') {
      this.unstorableValuesAlarm = new cloudwatch.Alarm(this, 'UnstorableValuesAlarm', {
        alarmName: name('unstorable-values'),
        alarmDescription: `${props.service}: a service value the legacy database cannot store was parked in the conflicts table for a person`,
        metric: this.metricUnstorableValues(),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
  }

  /** `unstorable_value_total` of the service (sum per minute). */
  metricUnstorableValues(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return cutoverMetric(METRIC.unstorableValues, { service: this.service }, { statistic: 'Sum', ...props });
  }

  metricDlqDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return metricDlqDepth(this.deadLetterQueue, props);
  }

  metricOldestMessageAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.queue.metricApproximateAgeOfOldestMessage({
      statistic: 'Maximum',
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** `event_processing_total` of this channel, by status (`applied`, `failed`, ...). */
  metricEventsProcessed(status: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return cutoverMetric(
      METRIC.eventProcessing,
      { service: this.service, direction: this.direction, status },
      { statistic: 'Sum', ...props },
    );
  }

  /** `data_consistency_lag_seconds` of the service for one consistency class (maximum). */
  metricConsistencyLag(consistency: Consistency, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return cutoverMetric(
      METRIC.consistencyLag,
      { service: this.service, consistency_type: consistency },
      { statistic: 'Maximum', ...props },
    );
  }

  /** Lets a principal read and redrive the DLQ (an operator's tool). */
  grantRedrive(grantee: iam.IGrantable): iam.Grant {
    this.deadLetterQueue.grantConsumeMessages(grantee);
    return this.queue.grantSendMessages(grantee);
  }
}
