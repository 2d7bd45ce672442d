import { Aspects, Duration, type IAspect, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { AlarmRollback } from '../constructs/alarm-rollback.js';
import { CutoverFunction } from '../constructs/cutover-function.js';
import { cutoverKey, enableCustomerManagedKeys } from '../constructs/encryption.js';
import { GatewayApi } from '../constructs/gateway-api.js';
import { LegacyDatabaseAccess } from '../constructs/legacy-database-access.js';
import { MigrationDashboard } from '../constructs/migration-dashboard.js';
import { MigrationFlags } from '../constructs/migration-flags.js';
import { MigrationTables } from '../constructs/migration-tables.js';
import { OperatorNotifications } from '../constructs/operator-notifications.js';
import { PlatformBus } from '../constructs/platform-bus.js';
import { deadLetterQueue, dlqNotEmptyAlarm, encryptedQueue } from '../constructs/queues.js';
import { ServiceMonitors } from '../constructs/service-monitors.js';
import { busName, dlqName, migrationPrefix, rollbackAlarmPrefix, serviceDlqNames } from '../spec/names.js';
import { RUNTIME_ENV } from '../spec/runtime.js';
import type { MigrationSpec } from '../spec/schema.js';
import { platformOutputs } from './outputs.js';
import type { EnvironmentSettings } from './settings.js';

export interface PlatformStackProps extends StackProps {
  readonly stage: string;
  readonly settings: EnvironmentSettings;
  readonly migrations: readonly MigrationSpec[];
}

/**
 * What every service stack of an environment builds on: the platform bus with its archive and,
 * per migration, the tables, the flags (AppConfig) with the services' rollback alarms as
 * monitors, the rollback after deployment, the legacy database access, the Debezium intake and
 * the dashboard.
 */
export class PlatformStack extends Stack {
  readonly stage: string;
  readonly settings: EnvironmentSettings;
  readonly platformBus: PlatformBus;
  /**
   * The SNS topic `cutover-<env>-alarms` (KMS-encrypted, TLS only) that every alarm of the
   * environment notifies (an aspect on the app adds the action, so no alarm is missed).
   */
  readonly alarmTopic: sns.Topic;
  readonly migrations: Readonly<Record<string, MigrationPlatform>>;
  /** The people's notifications, when the environment sets `notifications`. */
  readonly notifications?: OperatorNotifications;

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id, props);
    this.stage = props.stage;
    this.settings = props.settings;
    if (props.settings.customerManagedKeys) enableCustomerManagedKeys(this);
    this.platformBus = new PlatformBus(this, 'Bus', {
      busName: busName(props.stage),
      archiveRetention: Duration.days(props.settings.archiveRetentionDays),
      archiveName: `${busName(props.stage)}-archive`,
    });
    Validations.of(this.platformBus.targetDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of EventBridge rule targets.',
    });
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      topicName: `cutover-${props.stage}-alarms`,
      displayName: `Cutover ${props.stage} alarms`,
      enforceSSL: true,
      masterKey: this.alarmKey(),
    });
    if (props.settings.notifications) {
      this.notifications = new OperatorNotifications(this, 'Notifications', {
        stage: props.stage,
        settings: props.settings.notifications,
        bus: this.platformBus.bus,
        migrations: props.migrations.map((m) => ({
          name: m.name,
          entities: m.services.flatMap((s) => s.entities.map((e) => e.name)),
        })),
        deadLetterQueue: this.platformBus.targetDeadLetterQueue,
      });
    }
    Aspects.of(scope).add(new NotifyAlarmTopic(this.alarmTopic, this.notifications?.topic));
    const migrations: Record<string, MigrationPlatform> = {};
    for (const spec of props.migrations) {
      migrations[spec.name] = new MigrationPlatform(this, pascal(spec.name), { spec, platform: this });
    }
    this.migrations = migrations;
    platformOutputs(this, this, {
      dashboard: (m) => migrationPrefix(props.stage, m),
      queue: {
        busTargetsDlq: `${busName(props.stage)}-targets-dlq`,
        rollbackDlq: (m) => dlqName(`${migrationPrefix(props.stage, m)}-rollback`),
        debezium: (m) => `${migrationPrefix(props.stage, m)}-debezium`,
      },
    });
  }

  /** CloudWatch cannot publish to a topic under the AWS-managed SNS key: a key of our own. */
  private alarmKey(): kms.Key {
    const key = cutoverKey(this, 'AlarmTopicKey', {
      description: `Encrypts the cutover-${this.stage}-alarms topic`,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    return key;
  }

  get logRetention(): logs.RetentionDays {
    return this.settings.logRetentionDays as logs.RetentionDays;
  }
}

/**
 * Every alarm and composite alarm of the app notifies the environment's topic (Control Tower's
 * CT.CLOUDWATCH.PR.1: an alarm without an action is one nobody hears).
 */
class NotifyAlarmTopic implements IAspect {
  constructor(
    private readonly topic: sns.ITopic,
    /** People's notifications: the DLQ alarms notify them too. */
    private readonly people?: sns.ITopic,
  ) {}

  visit(node: IConstruct): void {
    if (node instanceof cloudwatch.Alarm || node instanceof cloudwatch.CompositeAlarm) {
      node.addAlarmAction(new cwActions.SnsAction(this.topic));
    }
    if (this.people && node instanceof cloudwatch.Alarm && isDlqDepth(node)) {
      node.addAlarmAction(new cwActions.SnsAction(this.people));
    }
  }
}

/** A DLQ alarm (lib/constructs/queues.ts `dlqNotEmptyAlarm`): SQS visible messages of a `-dlq` queue. */
function isDlqDepth(alarm: cloudwatch.Alarm): boolean {
  const stat = alarm.metric.toMetricConfig().metricStat;
  return (
    stat?.namespace === 'AWS/SQS' &&
    stat.metricName === 'ApproximateNumberOfMessagesVisible' &&
    (stat.dimensions ?? []).some((d) => d.name === 'QueueName')
  );
}

export function pascal(s: string): string {
  return s
    .split(/[_\-\s]+/)
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

export interface MigrationPlatformProps {
  readonly spec: MigrationSpec;
  readonly platform: PlatformStack;
}

/** The shared part of one migration inside the platform stack. */
export class MigrationPlatform extends Construct {
  readonly spec: MigrationSpec;
  readonly tables: MigrationTables;
  readonly flags: MigrationFlags;
  readonly flagsValidator: CutoverFunction;
  readonly monitors: Readonly<Record<string, ServiceMonitors>>;
  readonly rollback: AlarmRollback;
  readonly dashboard: MigrationDashboard;
  /** How functions reach the legacy MySQL database (mysql legacy only). */
  readonly databaseAccess?: LegacyDatabaseAccess;
  /** The queue Debezium Server's SQS sink writes to (mysql legacy only). */
  readonly debeziumQueue?: sqs.Queue;
  readonly debeziumIngest?: CutoverFunction;
  /** The Debezium intake queue's DLQ (mysql legacy only). */
  readonly debeziumDeadLetterQueue?: sqs.Queue;
  /** The gateway router in front of the migration's routes (lib/constructs/gateway-api.ts). */
  readonly gateway: GatewayApi;
  /**
   * The role an operator assumes to resolve parked conflicts: the sync tables and, alone, the
   * decryption of conflicts' personal values (present when the spec has personal fields).
   */
  readonly conflictResolverRole?: iam.Role;

  constructor(scope: Construct, id: string, props: MigrationPlatformProps) {
    super(scope, id);
    const { spec, platform } = props;
    const stage = platform.stage;
    const settings = platform.settings;
    this.spec = spec;
    const bus = platform.platformBus.bus;

    this.tables = new MigrationTables(this, 'Tables', {
      spec,
      stage,
      protect: settings.protectData,
      importedStreamArns: settings.importedStreamArns,
    });
    if (this.tables.personalDataKey) {
      // The one role that may open parked conflicts' personal values: an operator assumes it to
      // list and resolve conflicts (lambdas/domain/conflict-resolution.ts).
      this.conflictResolverRole = new iam.Role(this, 'ConflictResolverRole', {
        assumedBy: new iam.AccountRootPrincipal(),
        description: `Resolves ${spec.name} (${stage}) conflicts: the only role that may open their personal values`,
      });
      this.tables.grantResolveConflicts(
        this.conflictResolverRole,
        spec.services.flatMap((s) => s.entities.map((e) => e.name)),
      );
    }

    const monitors: Record<string, ServiceMonitors> = {};
    const dlqNames: Record<string, string[]> = {};
    for (const service of spec.services) {
      dlqNames[service.name] = serviceDlqNames(stage, spec, service);
      monitors[service.name] = new ServiceMonitors(this, `${pascal(service.name)}Monitors`, {
        stage,
        migration: spec.name,
        service,
        thresholds: spec.alarms,
        dlqNames: dlqNames[service.name]!,
      });
    }
    this.monitors = monitors;

    this.flagsValidator = new CutoverFunction(this, 'FlagsValidator', {
      handler: 'flags-validator',
      serviceName: 'flags',
      spec,
      stage,
      timeout: Duration.seconds(10),
      logRetention: platform.logRetention,
      description: `Validates ${spec.name} flag versions before AppConfig deploys them`,
    });
    this.flags = new MigrationFlags(this, 'Flags', {
      spec,
      stage,
      monitors: Object.values(monitors).map((m) => m.rollbackAlarm),
      validator: this.flagsValidator,
      gradual: {
        deploymentDuration: Duration.minutes(settings.flagDeploymentMinutes ?? 2),
        finalBakeTime: Duration.minutes(settings.flagBakeMinutes ?? 10),
      },
    });

    this.rollback = new AlarmRollback(this, 'Rollback', {
      spec,
      stage,
      flags: this.flags,
      bus,
      alarmNamePrefix: rollbackAlarmPrefix(stage, spec.name),
      functionProps: { logRetention: platform.logRetention },
      deadLetterQueueName: dlqName(`${migrationPrefix(stage, spec.name)}-rollback`),
    });
    Validations.of(this.rollback.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the rollback rule target and function.',
    });

    if (spec.legacy.kind === 'mysql') {
      const network = settings.networks?.[spec.name] ?? spec.legacy.network;
      // The id stays 'Database' (the class was MagentoDatabaseAccess): logical ids are unchanged.
      this.databaseAccess = new LegacyDatabaseAccess(this, 'Database', {
        migration: spec.name,
        secretName: spec.legacy.secretName,
        rdsProxyEndpoint: spec.legacy.rdsProxyEndpoint,
        tlsCaPem: spec.legacy.tlsCaPem,
        secretKeyArn: spec.legacy.secretKeyArn,
        ...(network ? { network } : { createVpc: settings.createVpc }),
      });
      this.addDebeziumIntake(platform, this.databaseAccess);
      // A resolution writes the chosen value to Magento through the sync engine.
      if (this.conflictResolverRole) this.databaseAccess.grantConnect(this.conflictResolverRole);
    }

    // The router emits the gateway metrics the error-rate and latency monitors watch.
    this.gateway = new GatewayApi(this, 'Gateway', {
      spec,
      stage,
      flags: this.flags,
      accessLogRetention: platform.logRetention,
    });

    this.dashboard = new MigrationDashboard(this, 'Dashboard', {
      spec,
      stage,
      dlqNames,
      rollbackAlarms: Object.values(monitors).map((m) => m.rollbackAlarm),
      rollbackLogGroup: this.rollback.function.functionLogGroup,
    });
  }

  private addDebeziumIntake(platform: PlatformStack, db: LegacyDatabaseAccess): void {
    const entities = this.spec.services.flatMap((s) => s.entities.map((e) => e.name));
    const prefix = migrationPrefix(platform.stage, this.spec.name);
    const fn = new CutoverFunction(this, 'DebeziumIngest', {
      handler: 'debezium-ingest',
      serviceName: 'debezium',
      spec: this.spec,
      stage: platform.stage,
      logRetention: platform.logRetention,
      description: `Translates Debezium change envelopes of ${this.spec.name} to the bus contract`,
      // Reads EAV attribute ids from the Magento database: in its VPC, with its credentials.
      ...db.functionNetwork(),
      environment: {
        [RUNTIME_ENV.busName]: platform.platformBus.bus.eventBusName,
        ...this.tables.runtimeEnvironment(entities),
        ...db.runtimeEnvironment(),
      },
    });
    platform.platformBus.grantPublish(fn);
    db.grantConnect(fn);
    const dlq = deadLetterQueue(this, 'DebeziumDlq', dlqName(`${prefix}-debezium`), `${prefix}-debezium`);
    Validations.of(dlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the Debezium intake queue.',
    });
    const queue = encryptedQueue(this, 'DebeziumQueue', {
      queueName: `${prefix}-debezium`,
      visibilityTimeout: Duration.seconds(fn.timeout!.toSeconds() * 6),
      deadLetterQueue: { queue: dlq, maxReceiveCount: this.spec.sync.maxReceiveCount },
    });
    fn.addEventSource(
      new SqsEventSource(queue, { batchSize: this.spec.sync.batchSize, reportBatchItemFailures: true }),
    );
    dlqNotEmptyAlarm(this, 'DebeziumDlqAlarm', dlq, {
      alarmName: `${prefix}-debezium-dlq-depth`,
      alarmDescription:
        'Debezium envelopes that failed translation (the reason is in the message attributes)',
    });
    Object.assign(this, { debeziumQueue: queue, debeziumIngest: fn, debeziumDeadLetterQueue: dlq });
  }
}
