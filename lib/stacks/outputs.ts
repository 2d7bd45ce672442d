/**
 * Writes the stack outputs named in lib/spec/outputs.ts: plain `CfnOutput`s at the stack's root
 * (the key is the logical id, so it never changes with the construct tree) and never exported.
 */
import { Aws, CfnOutput, Stack } from 'aws-cdk-lib';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { dlqName, type serviceQueueNames } from '../spec/names.js';
import {
  PLATFORM_OUTPUT,
  type QueueKind,
  type QueueOutput,
  queueOutputKey,
  SERVICE_OUTPUT,
} from '../spec/outputs.js';

/** One output at the root of `scope`'s stack. */
export function output(scope: Construct, key: string, value: string, description: string): CfnOutput {
  return new CfnOutput(Stack.of(scope), key, { value, description });
}

/** The console URL of a CloudWatch dashboard in the stack's region. */
export function dashboardUrl(dashboardName: string): string {
  return `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${dashboardName}`;
}

const KIND_WORDS: Record<QueueKind, string> = {
  sync: 'sync queue',
  'source-dlq': 'DLQ of an SQS queue (redrive: SQS message move task to the source)',
  'rule-target-dlq': 'DLQ of EventBridge rule targets (redrive: re-publish the events to the bus)',
  'capture-dlq': 'DLQ of a change-capture pipe (redrive: re-read the records by key and publish)',
  'rollback-dlq': 'DLQ of the alarm rollback (answer: cutover rollback <service>)',
};

/**
 * A queue's output: key `Queue<Name>`, value the {@link QueueOutput} as JSON (URL, ARN, name,
 * kind and what the kind needs), so the CLI picks the redrive method from the template.
 */
export function queueOutput(
  scope: Construct,
  env: string,
  queue: sqs.IQueue,
  queueName: string,
  info: Omit<QueueOutput, 'name' | 'url' | 'arn'>,
): CfnOutput {
  const stack = Stack.of(scope);
  const value: QueueOutput = { name: queueName, url: queue.queueUrl, arn: queue.queueArn, ...info };
  return output(
    scope,
    queueOutputKey(env, queueName),
    stack.toJsonString(value),
    `${queueName}: ${KIND_WORDS[info.kind]}`,
  );
}

/** What {@link platformOutputs} reads from the platform stack (PlatformStack satisfies it). */
export interface PlatformOutputSource {
  readonly stage: string;
  readonly platformBus: {
    readonly bus: { readonly eventBusName: string };
    readonly archiveName?: string;
    readonly targetDeadLetterQueue: sqs.IQueue;
  };
  readonly alarmTopic: { readonly topicArn: string };
  readonly notifications?: { readonly topic: { readonly topicArn: string } };
  readonly migrations: Readonly<Record<string, MigrationOutputSource>>;
}

/** The parts of one migration's platform that have outputs (MigrationPlatform satisfies it). */
export interface MigrationOutputSource {
  readonly spec: { readonly name: string };
  readonly gateway: { readonly url: string };
  readonly flags: {
    readonly applicationId: string;
    readonly environmentId: string;
    readonly profileId: string;
    readonly gradualStrategyId: string;
    readonly rollbackStrategyId: string;
  };
  readonly tables: {
    readonly conflictsTable: { readonly tableName: string };
    readonly syncTable: { readonly tableName: string };
    readonly personalDataKey?: { readonly keyArn: string };
  };
  readonly conflictResolverRole?: { readonly roleArn: string };
  readonly dashboard: { readonly dashboard: { readonly dashboardName: string } };
  readonly rollback: { readonly deadLetterQueue: sqs.IQueue };
  readonly debeziumQueue?: sqs.IQueue;
  readonly debeziumDeadLetterQueue?: sqs.IQueue;
}

/** The platform stack's outputs (PLATFORM_OUTPUT, and a queue output per queue and DLQ). */
export function platformOutputs(
  stack: Construct,
  p: PlatformOutputSource,
  names: { readonly dashboard: (migration: string) => string; readonly queue: QueueNames },
): void {
  const env = p.stage;
  output(stack, PLATFORM_OUTPUT.busName, p.platformBus.bus.eventBusName, 'The platform event bus');
  if (p.platformBus.archiveName) {
    output(stack, PLATFORM_OUTPUT.busArchiveName, p.platformBus.archiveName, "The bus's archive (replay)");
  }
  output(stack, PLATFORM_OUTPUT.alarmTopicArn, p.alarmTopic.topicArn, 'SNS topic every alarm notifies');
  if (p.notifications) {
    output(
      stack,
      PLATFORM_OUTPUT.notificationTopicArn,
      p.notifications.topic.topicArn,
      'SNS topic for people: approvals, rollbacks, parked conflicts, failed rollouts, DLQ alarms (subscribe email or AWS Chatbot)',
    );
  }
  const busTargets = names.queue.busTargetsDlq;
  queueOutput(stack, env, p.platformBus.targetDeadLetterQueue, busTargets, { kind: 'rule-target-dlq' });
  for (const m of Object.values(p.migrations)) {
    const name = m.spec.name;
    output(stack, PLATFORM_OUTPUT.gatewayUrl(name), m.gateway.url, `${name}: gateway router URL`);
    output(
      stack,
      PLATFORM_OUTPUT.appConfigApplicationId(name),
      m.flags.applicationId,
      `${name}: AppConfig application id`,
    );
    output(
      stack,
      PLATFORM_OUTPUT.appConfigEnvironmentId(name),
      m.flags.environmentId,
      `${name}: AppConfig environment id`,
    );
    output(
      stack,
      PLATFORM_OUTPUT.appConfigProfileId(name),
      m.flags.profileId,
      `${name}: AppConfig feature-flag profile id`,
    );
    output(
      stack,
      PLATFORM_OUTPUT.gradualStrategyId(name),
      m.flags.gradualStrategyId,
      `${name}: AppConfig gradual deployment strategy id`,
    );
    output(
      stack,
      PLATFORM_OUTPUT.rollbackStrategyId(name),
      m.flags.rollbackStrategyId,
      `${name}: AppConfig zero-bake rollback strategy id`,
    );
    output(
      stack,
      PLATFORM_OUTPUT.conflictsTable(name),
      m.tables.conflictsTable.tableName,
      `${name}: parked conflicts table`,
    );
    output(
      stack,
      PLATFORM_OUTPUT.syncStateTable(name),
      m.tables.syncTable.tableName,
      `${name}: sync state table`,
    );
    if (m.tables.personalDataKey) {
      output(
        stack,
        PLATFORM_OUTPUT.personalDataKeyArn(name),
        m.tables.personalDataKey.keyArn,
        `${name}: KMS key sealing personal fields in the sync state and conflicts`,
      );
    }
    if (m.conflictResolverRole) {
      output(
        stack,
        PLATFORM_OUTPUT.conflictResolverRoleArn(name),
        m.conflictResolverRole.roleArn,
        `${name}: role that may open sealed conflicts (assume it to reveal or resolve)`,
      );
    }
    output(
      stack,
      PLATFORM_OUTPUT.dashboardUrl(name),
      dashboardUrl(names.dashboard(name)),
      `${name}: CloudWatch dashboard`,
    );
    queueOutput(stack, env, m.rollback.deadLetterQueue, names.queue.rollbackDlq(name), {
      kind: 'rollback-dlq',
      migration: name,
    });
    if (m.debeziumQueue && m.debeziumDeadLetterQueue) {
      const intake = names.queue.debezium(name);
      queueOutput(stack, env, m.debeziumQueue, intake, { kind: 'sync', migration: name });
      queueOutput(stack, env, m.debeziumDeadLetterQueue, dlqName(intake), {
        kind: 'source-dlq',
        source: intake,
        migration: name,
      });
    }
  }
}

/** Physical queue names the outputs carry (the stacks name their queues with lib/spec/names.ts). */
export interface QueueNames {
  readonly busTargetsDlq: string;
  readonly rollbackDlq: (migration: string) => string;
  readonly debezium: (migration: string) => string;
}

/** What {@link serviceOutputs} reads from a service stack (ServiceStack satisfies it). */
export interface ServiceOutputSource {
  readonly rolloutStateMachine: { readonly stateMachine: { readonly stateMachineArn: string } };
  readonly reconciliation: { readonly stateMachineArn: string };
  readonly validation: { readonly bucket: { readonly bucketName: string } };
  readonly forward: SyncChannelOutputSource;
  readonly reverse: SyncChannelOutputSource;
  readonly targetDeadLetterQueue: sqs.IQueue;
  /** The change-capture pipes' DLQs, by entity. */
  readonly captureDeadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  readonly rollout: {
    readonly stage: string;
    readonly spec: { readonly name: string };
    readonly service: { readonly name: string };
    readonly serviceTables: Readonly<Record<string, { readonly tableName: string }>>;
  };
}

interface SyncChannelOutputSource {
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
}

/** A service stack's outputs (SERVICE_OUTPUT, and a queue output per queue and DLQ). */
export function serviceOutputs(
  stack: Construct,
  s: ServiceOutputSource,
  names: ReturnType<typeof serviceQueueNames>,
): void {
  const { stage: env, spec, service } = s.rollout;
  const who = { migration: spec.name, service: service.name };
  output(
    stack,
    SERVICE_OUTPUT.rolloutStateMachineArn,
    s.rolloutStateMachine.stateMachine.stateMachineArn,
    `${spec.name}/${service.name}: rollout state machine`,
  );
  output(
    stack,
    SERVICE_OUTPUT.validationStateMachineArn,
    s.reconciliation.stateMachineArn,
    `${spec.name}/${service.name}: full validation (scheduled reconciliation) state machine`,
  );
  output(
    stack,
    SERVICE_OUTPUT.validationBucketName,
    s.validation.bucket.bucketName,
    `${spec.name}/${service.name}: full validation's bucket (reports/<run>.json, reports/latest.json)`,
  );
  for (const [entity, table] of Object.entries(s.rollout.serviceTables)) {
    output(
      stack,
      SERVICE_OUTPUT.serviceTable(entity),
      table.tableName,
      `${spec.name}/${service.name}: service table of ${entity}`,
    );
  }
  for (const [channel, queueName] of [
    [s.forward, names.forward],
    [s.reverse, names.reverse],
  ] as const) {
    queueOutput(stack, env, channel.queue, queueName, { kind: 'sync', ...who });
    queueOutput(stack, env, channel.deadLetterQueue, dlqName(queueName), {
      kind: 'source-dlq',
      source: queueName,
      ...who,
    });
  }
  queueOutput(stack, env, s.targetDeadLetterQueue, dlqName(names.targets), {
    kind: 'rule-target-dlq',
    ...who,
  });
  for (const [entity, dlq] of Object.entries(s.captureDeadLetterQueues)) {
    queueOutput(stack, env, dlq, dlqName(names.capture[entity]!), { kind: 'capture-dlq', entity, ...who });
  }
}
