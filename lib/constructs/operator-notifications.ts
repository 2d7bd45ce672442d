/**
 * Notifications for the people operating a migration (an environment's optional
 * `notifications` setting, cdk.json): one SNS topic, KMS-encrypted and TLS-only, that email
 * addresses (or an AWS Chatbot Slack channel, subscribed to the `NotificationTopicArn` output)
 * receive, fed by EventBridge rules:
 *
 * - `cutover.approval.requested`: which step of which service waits, until when, and the one
 *   command that approves it (an input transformer writes the message);
 * - `cutover.rollback` / `cutover.rollback.refused`: a service's flags were (or could not be)
 *   rolled back;
 * - `cutover.conflict.parked`: a conflict waits for a person (ids only, never values);
 * - a rollout execution that FAILED, TIMED_OUT or was ABORTED, with its cause (the gate and its
 *   measured value), from Step Functions' status-change events on the default bus;
 * - and the DLQ alarms notify it as well as the alarm topic (PlatformStack's aspect).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ROLLBACK_EVENT, ROLLBACK_REFUSED_EVENT } from '../../lambdas/domain/rollback.js';
import { APPROVAL_EVENT } from '../../lambdas/domain/rollout.js';
import { CONFLICT_PARKED_DETAIL_TYPE, SYNC_EVENT_SOURCE } from '../../lambdas/domain/sync.js';
import { cutoverKey } from './encryption.js';

/** The `notifications` setting of an environment. */
export interface NotificationSettings {
  /** Addresses subscribed by email (each confirms the subscription once). @default - none */
  readonly emails?: readonly string[];
}

export interface OperatorNotificationsProps {
  readonly stage: string;
  readonly settings: NotificationSettings;
  /** The platform bus (approval, rollback and conflict events). */
  readonly bus: events.IEventBus;
  /** Migrations and their entities: a conflict's message names the migration to pass. */
  readonly migrations: readonly { readonly name: string; readonly entities: readonly string[] }[];
  /** Where events a rule fails to deliver go. */
  readonly deadLetterQueue: sqs.IQueue;
}

export class OperatorNotifications extends Construct {
  readonly topic: sns.Topic;
  readonly rules: readonly events.Rule[];

  constructor(scope: Construct, id: string, props: OperatorNotificationsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const key = cutoverKey(this, 'Key', {
      description: `Encrypts the cutover-${props.stage}-notifications topic`,
    });
    // EventBridge and CloudWatch publish to the topic; each needs the key to do so.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeAndCloudWatchPublish',
        principals: [
          new iam.ServicePrincipal('events.amazonaws.com'),
          new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
        ],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: `cutover-${props.stage}-notifications`,
      displayName: `Cutover ${props.stage}`,
      enforceSSL: true,
      masterKey: key,
    });
    for (const email of props.settings.emails ?? []) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    const target = (message: events.RuleTargetInput) =>
      new targets.SnsTopic(this.topic, {
        message,
        deadLetterQueue: props.deadLetterQueue,
        retryAttempts: 185,
        maxEventAge: Duration.hours(24),
      });
    const f = (path: string) => events.EventField.fromPath(path);
    const env = props.stage;
    const rules: events.Rule[] = [];

    rules.push(
      new events.Rule(this, 'ApprovalRequested', {
        eventBus: props.bus,
        description:
          'A rollout step waits for a person: the message carries the approve command and the deadline',
        eventPattern: { source: [APPROVAL_EVENT.source], detailType: [APPROVAL_EVENT.detailType] },
        targets: [
          target(
            events.RuleTargetInput.fromText(
              `Cutover ${env}: ${f('$.detail.migration')}/${f('$.detail.service')} waits for approval of ${f('$.detail.step')} until ${f('$.detail.expiresAt')} (then it fails and rolls back). ` +
                `Approve: npx cutover approve ${f('$.detail.service')} --env ${env} --migration ${f('$.detail.migration')} --by <your name>   ` +
                `Reject: npx cutover reject ${f('$.detail.service')} --env ${env} --migration ${f('$.detail.migration')} --by <your name> --reason <why>`,
            ),
          ),
        ],
      }),
    );
    rules.push(
      new events.Rule(this, 'Rollback', {
        eventBus: props.bus,
        description: "A service's flags were rolled back, or the rollback was refused",
        eventPattern: {
          source: [ROLLBACK_EVENT.source],
          detailType: [ROLLBACK_EVENT.detailType, ROLLBACK_REFUSED_EVENT.detailType],
        },
        targets: [
          target(
            events.RuleTargetInput.fromText(
              // Only fields every rollback event carries (a missing path would print nothing useful).
              `Cutover ${env}: ${f('$.detail-type')} of ${f('$.detail.service')}. ` +
                `See: npx cutover status ${f('$.detail.service')} --env ${env} (flags, gate, DLQs)`,
            ),
          ),
        ],
      }),
    );
    for (const m of props.migrations) {
      rules.push(
        new events.Rule(this, `ConflictParked${m.name.replace(/[^A-Za-z0-9]/g, '')}`, {
          eventBus: props.bus,
          description: `A conflict of ${m.name} waits for a person (ids only: values may be personal data)`,
          eventPattern: {
            source: [SYNC_EVENT_SOURCE],
            detailType: [CONFLICT_PARKED_DETAIL_TYPE],
            detail: { entity: [...m.entities] },
          },
          targets: [
            target(
              events.RuleTargetInput.fromText(
                `Cutover ${env}: conflict ${f('$.detail.conflictId')} parked on ${f('$.detail.entity')} ${f('$.detail.key')} field ${f('$.detail.field')}. ` +
                  `Look: npx cutover conflicts show ${f('$.detail.conflictId')} --env ${env} --migration ${m.name}   ` +
                  `Settle: npx cutover conflicts resolve ${f('$.detail.conflictId')} --keep legacy|service|value=<v> --by <your name> --env ${env} --migration ${m.name}`,
              ),
            ),
          ],
        }),
      );
    }
    // Step Functions reports status changes on the default bus.
    rules.push(
      new events.Rule(this, 'RolloutFailed', {
        description:
          'A rollout execution failed, timed out or was aborted: the cause names the gate and its value',
        eventPattern: {
          source: ['aws.states'],
          detailType: ['Step Functions Execution Status Change'],
          detail: {
            status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
            stateMachineArn: events.Match.wildcard(`arn:*:states:*:*:stateMachine:cutover-${env}-*-rollout`),
          },
        },
        targets: [
          target(
            events.RuleTargetInput.fromText(
              `Cutover ${env}: rollout ${f('$.detail.name')} ${f('$.detail.status')}: ${f('$.detail.error')}: ${f('$.detail.cause')} (${f('$.detail.executionArn')})`,
            ),
          ),
        ],
      }),
    );
    this.rules = rules;
  }
}
