import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC } from '../spec/metrics.js';
import { RUNTIME_ENV } from '../spec/runtime.js';
import type { MigrationSpec } from '../spec/schema.js';
import { CutoverFunction, type CutoverFunctionProps } from './cutover-function.js';
import { cutoverMetric } from './metrics.js';
import type { MigrationFlags } from './migration-flags.js';
import { deadLetterQueue, dlqNotEmptyAlarm } from './queues.js';

export interface AlarmRollbackProps {
  /** The migration whose rollback alarms this watches (compiled into the function). */
  readonly spec: MigrationSpec;
  readonly stage: string;
  readonly flags: MigrationFlags;
  /** The platform bus: the rollback announces itself there (`cutover.rollback`). */
  readonly bus: events.IEventBus;
  /** Alarm names that trigger a rollback start with this (`...-rollback-<service>`). */
  readonly alarmNamePrefix: string;
  /** Extra settings of the rollback function (log retention, ...). @default - defaults */
  readonly functionProps?: Partial<Pick<CutoverFunctionProps, 'logRetention' | 'timeout'>>;
  /** Name of the DLQ for rollbacks that failed after every retry. @default - generated */
  readonly deadLetterQueueName?: string;
}

/**
 * Rollback after a deployment. AppConfig watches its monitors only while a deployment runs
 * and bakes; afterwards an alarm would go unanswered. This rule on the default bus (where
 * CloudWatch publishes `CloudWatch Alarm State Change`) sends every transition of a
 * migration's rollback alarm to `ALARM` to the rollback Lambda, which stops a deployment in
 * progress, deploys the service's last safe flags with the zero-bake strategy, publishes
 * `cutover.rollback` on the platform bus and records `rollback_duration_seconds`.
 *
 * Failed deliveries and failed invocations (after retries) land in {@link deadLetterQueue}.
 */
export class AlarmRollback extends Construct {
  readonly rule: events.Rule;
  readonly function: CutoverFunction;
  readonly deadLetterQueue: sqs.Queue;
  readonly dlqDepthAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AlarmRollbackProps) {
    super(scope, id);
    if (!props.alarmNamePrefix) throw new Error('AlarmRollback: alarmNamePrefix must not be empty');
    this.deadLetterQueue = deadLetterQueue(this, 'Dlq', props.deadLetterQueueName);
    this.function = new CutoverFunction(this, 'Function', {
      handler: 'rollback',
      serviceName: 'rollback',
      spec: props.spec,
      stage: props.stage,
      // Up to 30 s for a stopped deployment to settle and 30 s for the rollback to complete.
      timeout: props.functionProps?.timeout ?? Duration.minutes(2),
      logRetention: props.functionProps?.logRetention,
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 2,
      description: `Rolls ${props.spec.name} services back when their rollback alarm fires`,
      environment: {
        ...props.flags.runtimeEnvironment(),
        [RUNTIME_ENV.busName]: props.bus.eventBusName,
      },
    });
    // Lambda sends failed asynchronous invocations with the function's role: under a
    // customer-managed key that needs the key as well as sqs:SendMessage.
    this.deadLetterQueue.encryptionMasterKey?.grant(this.function, 'kms:GenerateDataKey', 'kms:Decrypt');
    props.flags.grantDeploy(this.function);
    props.bus.grantPutEventsTo(this.function);
    this.rule = new events.Rule(this, 'Rule', {
      description: `Alarms of ${props.spec.name} (${props.stage}) in ALARM -> rollback`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: {
          alarmName: events.Match.prefix(props.alarmNamePrefix),
          state: { value: ['ALARM'] },
        },
      },
      targets: [
        new targets.LambdaFunction(this.function, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });
    this.dlqDepthAlarm = dlqNotEmptyAlarm(this, 'DlqDepthAlarm', this.deadLetterQueue, {
      alarmDescription: 'A rollback failed after every retry: roll back by hand (see docs/infrastructure.md)',
    });
  }

  /** `rollback_duration_seconds` of one service. */
  metricRollbackDuration(service: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return cutoverMetric(METRIC.rollbackDuration, { service }, { statistic: 'Maximum', ...props });
  }
}
