/**
 * The stack outputs an operator or the `cutover` CLI looks up (lib/stacks/outputs.ts writes
 * them, lib/cli/stack-outputs.ts reads them through CloudFormation DescribeStacks). Output keys
 * are stable: they are the outputs' logical ids, and none is exported (an export would tie the
 * stacks together and block renaming). Pure: no CDK, no SDK.
 */

/** Stack names, as lib/app.ts builds them. */
export function platformStackName(env: string): string {
  return `cutover-${env}-platform`;
}

/** The stack of one service of a migration. */
export function serviceStackName(env: string, migration: string, service: string): string {
  return `cutover-${env}-${migration}-${service.replace(/_/g, '-')}`;
}

/** `customer_address` -> `CustomerAddress`, `magento` -> `Magento` (output keys are alphanumeric). */
export function outputPascal(s: string): string {
  return s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

/** Keys of the platform stack's outputs. Per-migration keys start with the migration's name. */
export const PLATFORM_OUTPUT = {
  busName: 'BusName',
  busArchiveName: 'BusArchiveName',
  alarmTopicArn: 'AlarmTopicArn',
  notificationTopicArn: 'NotificationTopicArn',
  gatewayUrl: (migration: string) => `${outputPascal(migration)}GatewayUrl`,
  appConfigApplicationId: (migration: string) => `${outputPascal(migration)}AppConfigApplicationId`,
  appConfigEnvironmentId: (migration: string) => `${outputPascal(migration)}AppConfigEnvironmentId`,
  appConfigProfileId: (migration: string) => `${outputPascal(migration)}AppConfigProfileId`,
  gradualStrategyId: (migration: string) => `${outputPascal(migration)}AppConfigGradualStrategyId`,
  rollbackStrategyId: (migration: string) => `${outputPascal(migration)}AppConfigRollbackStrategyId`,
  conflictsTable: (migration: string) => `${outputPascal(migration)}ConflictsTable`,
  syncStateTable: (migration: string) => `${outputPascal(migration)}SyncStateTable`,
  /** The KMS key that seals personal fields in the sync state and conflicts (specs with `pii`). */
  personalDataKeyArn: (migration: string) => `${outputPascal(migration)}PersonalDataKeyArn`,
  /** The role that may open sealed conflicts: assume it for `conflicts --reveal` and `resolve`. */
  conflictResolverRoleArn: (migration: string) => `${outputPascal(migration)}ConflictResolverRoleArn`,
  dashboardUrl: (migration: string) => `${outputPascal(migration)}DashboardUrl`,
} as const;

/** Keys of a service stack's outputs. */
export const SERVICE_OUTPUT = {
  rolloutStateMachineArn: 'RolloutStateMachineArn',
  validationStateMachineArn: 'ValidationStateMachineArn',
  /** Full validation's bucket: reports under `reports/` (`reports/<run>.json`, `reports/latest.json`). */
  validationBucketName: 'ValidationBucketName',
  /** The service table of an entity. */
  serviceTable: (entity: string) => `${outputPascal(entity)}ServiceTable`,
} as const;

/** Every queue output's key starts with this; its value is a {@link QueueOutput} as JSON. */
export const QUEUE_OUTPUT_PREFIX = 'Queue';

/**
 * What a queue is for, which decides how its messages are redriven:
 * - `sync`: a sync channel's or the Debezium intake's queue (not a DLQ);
 * - `source-dlq`: the DLQ of an SQS source queue: SQS `StartMessageMoveTask` moves its messages
 *   back to the source (the only kind the move task accepts);
 * - `rule-target-dlq`: the DLQ of EventBridge rule targets: each message is the event that was
 *   not delivered; it is re-published to the bus;
 * - `capture-dlq`: the DLQ of a service table's change-capture pipe: each message describes a
 *   failed stream batch; its records are re-read by key from the table and published again;
 * - `rollback-dlq`: the DLQ of the alarm rollback (rule target and function): an alarm whose
 *   rollback did not run; the answer is `cutover rollback <service>`, not a replay.
 */
export type QueueKind = 'sync' | 'source-dlq' | 'rule-target-dlq' | 'capture-dlq' | 'rollback-dlq';

export const QUEUE_KINDS: readonly QueueKind[] = [
  'sync',
  'source-dlq',
  'rule-target-dlq',
  'capture-dlq',
  'rollback-dlq',
];

/** The value of a queue output. */
export interface QueueOutput {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly kind: QueueKind;
  /** `source-dlq`: the queue whose DLQ it is (the move task's destination). */
  readonly source?: string;
  /** `capture-dlq`: the entity whose table the pipe captures. */
  readonly entity?: string;
  /** The service it belongs to (absent for the platform's queues). */
  readonly service?: string;
  /** The migration it belongs to (absent for the bus's own target DLQ). */
  readonly migration?: string;
}

/** Output key of a queue: `Queue` + its name after the environment prefix, in Pascal case. */
export function queueOutputKey(env: string, queueName: string): string {
  const short = queueName.startsWith(`cutover-${env}-`)
    ? queueName.slice(`cutover-${env}-`.length)
    : queueName;
  return `${QUEUE_OUTPUT_PREFIX}${outputPascal(short)}`;
}
