import { Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type CustomerManagedKeyProps, customerManagedKey } from './encryption.js';
import { deadLetterQueue } from './queues.js';

/** Encryption (`CustomerManagedKeyProps`): the bus, its archive and its DLQ; AWS-owned/SQS-managed unless asked. */
export interface PlatformBusProps extends CustomerManagedKeyProps {
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
    // Under a customer-managed key the bus adds the key policy statement EventBridge needs,
    // scoped to this bus (aws:SourceArn and the encryption context name it).
    const key = customerManagedKey(this, props);
    this.bus = new events.EventBus(this, 'Bus', { eventBusName: props.busName, kmsKey: key });
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
      // As `bus.archive()` builds it (same construct path).
      this.archive = new events.Archive(this.bus, 'Archive', {
        sourceEventBus: this.bus,
        description: `Every event on ${props.busName}, for replay`,
        eventPattern: { account: [account] },
        retention,
        ...(props.archiveName ? { archiveName: props.archiveName } : {}),
      });
      this.archiveName = props.archiveName;
      if (key) this.encryptArchive(this.archive, key, props.busName);
    }
    this.targetDeadLetterQueue = deadLetterQueue(
      this,
      'TargetDlq',
      `${props.busName}-targets-dlq`,
      undefined,
      {
        encryptionKey: props.encryptionKey,
        enableEncryptionWithCustomerManagedKey: props.enableEncryptionWithCustomerManagedKey,
      },
    );
  }

  /**
   * Archived events are the bus's events: under the bus's key too. Not through the Archive's
   * `kmsKey` prop: its key policy statement names the bus by its ARN attribute, and the bus
   * names the key, a dependency cycle. The bus has a physical name, so its ARN is built here.
   */
  private encryptArchive(archive: events.Archive, key: kms.IKey, busName: string): void {
    (archive.node.defaultChild as events.CfnArchive).kmsKeyIdentifier = key.keyArn;
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeArchivesThisBus',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'kms:EncryptionContext:aws:events:event-bus:arn': Stack.of(this).formatArn({
              service: 'events',
              resource: 'event-bus',
              resourceName: busName,
            }),
          },
        },
      }),
    );
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
