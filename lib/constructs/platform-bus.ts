import { Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { deadLetterQueue } from './queues.js';

export interface PlatformBusProps {
  /** Physical name of the bus, e.g. `cutover-staging`. */
  readonly busName: string;
  /** How long the archive keeps events for replay. @default Duration.days(7) */
  readonly archiveRetention?: Duration;
  /** Physical name of the archive (the replay commands name it). @default - generated */
  readonly archiveName?: string;
  /** Keep no archive (tests only: replay is how a lost sync is recovered). @default false */
  readonly disableArchive?: boolean;
}

/**
 * The platform bus of one environment (it stands in for the seeds' Dapr pub/sub): a custom
 * EventBridge bus, an archive of every event for replay, a dead-letter queue for rule targets in
 * this stack, and a resource policy that admits `PutEvents` from this account only.
 */
export class PlatformBus extends Construct {
  readonly bus: events.EventBus;
  readonly archive?: events.Archive;
  /** The archive's physical name, when one was given. */
  readonly archiveName?: string;
  /** The bus's resource policy: `PutEvents` from this account only. */
  readonly policy: events.CfnEventBusPolicy;
  /** For targets of rules created in the same stack as the bus. */
  readonly targetDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: PlatformBusProps) {
    super(scope, id);
    if (props.disableArchive && props.archiveRetention) {
      throw new Error('PlatformBus: archiveRetention conflicts with disableArchive');
    }
    const retention = props.archiveRetention ?? Duration.days(7);
    if (!props.disableArchive && retention.toMilliseconds() < Duration.days(1).toMilliseconds()) {
      throw new Error('PlatformBus: archiveRetention must be at least one day');
    }
    const account = Stack.of(this).account;
    this.bus = new events.EventBus(this, 'Bus', { eventBusName: props.busName });
    // The statement form of the policy (the principal/action properties are deprecated).
    this.policy = new events.CfnEventBusPolicy(this, 'Policy', {
      eventBusName: this.bus.eventBusName,
      statementId: 'PutEventsFromThisAccountOnly',
      statement: new iam.PolicyStatement({
        sid: 'PutEventsFromThisAccountOnly',
        principals: [new iam.AccountPrincipal(account)],
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
      }).toStatementJson(),
    });
    if (!props.disableArchive) {
      this.archive = this.bus.archive('Archive', {
        description: `Every event on ${props.busName}, for replay`,
        eventPattern: { account: [account] },
        retention,
        ...(props.archiveName ? { archiveName: props.archiveName } : {}),
      });
      this.archiveName = props.archiveName;
    }
    this.targetDeadLetterQueue = deadLetterQueue(this, 'TargetDlq', `${props.busName}-targets-dlq`);
  }

  /** Lets a principal put events on the bus. */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.bus.grantPutEventsTo(grantee);
  }

  /** Messages that rule targets in this stack failed to take. */
  metricTargetDlqDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.targetDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
      statistic: 'Maximum',
      ...props,
    });
  }
}
