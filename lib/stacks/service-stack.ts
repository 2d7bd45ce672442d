import { Annotations, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { EVENT_SOURCE, serviceDetailType } from '../../lambdas/domain/events.js';
import { pollerTiming } from '../../lambdas/domain/poller-loop.js';
import {
  CutoverFunction,
  type CutoverFunctionProps,
  type HandlerName,
} from '../constructs/cutover-function.js';
import { enableCustomerManagedKeys } from '../constructs/encryption.js';
import { FullValidation } from '../constructs/full-validation.js';
import type { MigrationFlags } from '../constructs/migration-flags.js';
import type { MigrationTables } from '../constructs/migration-tables.js';
import { deadLetterQueue } from '../constructs/queues.js';
import { RolloutStateMachine } from '../constructs/rollout-state-machine.js';
import { ServiceChangeCapture } from '../constructs/service-change-capture.js';
import type { ServiceMonitors } from '../constructs/service-monitors.js';
import { SyncChannel } from '../constructs/sync-channel.js';
import { dlqName, migrationPrefix, opsAlarmName, serviceQueueNames } from '../spec/names.js';
import { RUNTIME_ENV } from '../spec/runtime.js';
import {
  type Consistency,
  legacyEventOf,
  type MigrationSpec,
  type ServiceSpec,
  serviceEventsOf,
} from '../spec/schema.js';
import { serviceOutputs } from './outputs.js';
import type { MigrationPlatform, PlatformStack } from './platform-stack.js';
import { pascal } from './platform-stack.js';

export interface ServiceStackProps extends StackProps {
  readonly platform: PlatformStack;
  readonly spec: MigrationSpec;
  readonly service: ServiceSpec;
  /** Consistency check schedule. @default 15 minutes */
  readonly consistencyCheckInterval?: Duration;
}

/**
 * What the rollout state machine of a service needs (issue 5): everything it reads, writes or
 * watches, as constructs (grant and metric methods included).
 */
export interface RolloutResources {
  readonly stage: string;
  readonly spec: MigrationSpec;
  readonly service: ServiceSpec;
  /** AppConfig ids (`flags.runtimeEnvironment()`), `flags.grantDeploy(role)`. */
  readonly flags: MigrationFlags;
  /** The service's rollback alarms (composite `monitors.rollbackAlarm`) and their metrics. */
  readonly monitors: ServiceMonitors;
  readonly tables: MigrationTables;
  /** The service tables of this service's entities. */
  readonly serviceTables: Readonly<Record<string, dynamodb.ITable>>;
  readonly bus: events.IEventBus;
  /** The sync functions (the backfill reuses the forward sync; validation the consistency check). */
  readonly functions: Readonly<
    Record<
      'forwardSync' | 'reverseSync' | 'legacyPoller' | 'consistencyCheck' | 'serviceCapture',
      CutoverFunction
    >
  >;
  readonly channels: Readonly<Record<'forward' | 'reverse', SyncChannel>>;
  /**
   * How a function reaches the legacy side: network (VPC for the Magento database), environment
   * (credentials secret, RDS Proxy endpoint) and the grant.
   */
  readonly legacyAccess: LegacyAccess;
  /** Defaults for any further function (log retention, migration/stage env). */
  readonly functionDefaults: Pick<CutoverFunctionProps, 'spec' | 'stage' | 'serviceName' | 'logRetention'>;
  /** Full validation (bucket, workers), embedded in the rollout's phase 1. */
  readonly validation: FullValidation;
}

/** How a function reaches the legacy side. */
export interface LegacyAccess {
  readonly network: Partial<Pick<CutoverFunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'>>;
  readonly environment: Record<string, string>;
  grant(f: CutoverFunction): void;
}

/** The strictest consistency among entities: one `strong` entity makes the channel unbatched. */
function strictest(service: ServiceSpec): Consistency {
  return service.entities.some((e) => e.consistency === 'strong') ? 'strong' : 'eventual';
}

/**
 * One service of a migration: the forward channel (legacy changes -> service tables), the
 * reverse channel (service events -> legacy, concurrency capped), change capture of the
 * service tables, the legacy poller and the consistency check on schedules.
 */
export class ServiceStack extends Stack {
  /** Everything the rollout state machine needs. */
  readonly rollout: RolloutResources;
  /** The service's phased rollout (docs/rollout.md). */
  readonly rolloutStateMachine: RolloutStateMachine;
  readonly forward: SyncChannel;
  readonly reverse: SyncChannel;
  readonly captures: readonly ServiceChangeCapture[];
  /** The change-capture pipes' DLQs, by entity. */
  readonly captureDeadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  /** DLQ of the scheduled rules and the channels' rules (delivery failures). */
  readonly targetDeadLetterQueue: sqs.Queue;
  /** Full validation: the rollout's phase 1 and the scheduled reconciliation run it. */
  readonly validation: FullValidation;
  /** The scheduled reconciliation (full validation, no repair unless the input asks). */
  readonly reconciliation: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { platform, spec, service } = props;
    if (platform.settings.customerManagedKeys) enableCustomerManagedKeys(this);
    const stage = platform.stage;
    const shared: MigrationPlatform = platform.migrations[spec.name]!;
    const bus = platform.platformBus.bus;
    const entities = service.entities.map((e) => e.name);
    const names = serviceQueueNames(stage, spec, service);
    this.addStackDependency(platform);

    const defaults = {
      spec,
      stage,
      serviceName: service.name,
      logRetention: platform.logRetention,
    };
    const syncEnv = {
      [RUNTIME_ENV.service]: service.name,
      [RUNTIME_ENV.busName]: bus.eventBusName,
      ...shared.tables.runtimeEnvironment(entities),
    };
    const legacy = this.legacyAccess(shared, spec);
    // Only the functions that query the legacy side (their composition roots load the legacy
    // adapters: lambdas/handlers/runtime.ts) run in its VPC and get its credentials; the
    // others (forward sync, the pipe's enrichment) never fetch the secret.
    const fn = (
      cid: string,
      handler: HandlerName,
      extra: Partial<CutoverFunctionProps> & { queriesLegacy?: boolean } = {},
    ) => {
      const { queriesLegacy, ...rest } = extra;
      const f = new CutoverFunction(this, cid, {
        ...defaults,
        handler,
        timeout: Duration.seconds(spec.sync.functionTimeoutSeconds),
        ...(queriesLegacy ? legacy.network : {}),
        ...rest,
        environment: { ...syncEnv, ...(queriesLegacy ? legacy.environment : {}), ...rest.environment },
      });
      if (queriesLegacy) legacy.grant(f);
      return f;
    };

    // Forward: legacy changes -> service tables. Does not touch the legacy database; a conflict
    // that the service side wins is pushed back as an event on the bus.
    const forwardSync = fn('ForwardSync', 'forward-sync', {
      description: `${service.name}: legacy -> service`,
    });
    shared.tables.grantSync(forwardSync, entities);
    platform.platformBus.grantPublish(forwardSync);

    // Reverse: service events -> legacy database, concurrency capped to protect the monolith.
    const reverseSync = fn('ReverseSync', 'reverse-sync', {
      queriesLegacy: true,
      description: `${service.name}: service -> legacy`,
    });
    shared.tables.grantSync(reverseSync, entities);
    platform.platformBus.grantPublish(reverseSync);

    this.targetDeadLetterQueue = deadLetterQueue(this, 'TargetDlq', dlqName(names.targets));
    Validations.of(this.targetDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: "This queue is itself the dead-letter queue of the stack's EventBridge rule targets.",
    });
    const consistency = strictest(service);
    const eventualWindow = Duration.seconds(spec.sync.eventualBatchingWindowSeconds);
    const channel = (cid: string, direction: 'forward' | 'reverse') =>
      new SyncChannel(this, cid, {
        bus,
        direction,
        service: service.name,
        source: direction === 'forward' ? EVENT_SOURCE.legacy : EVENT_SOURCE.service,
        detailTypes:
          direction === 'forward'
            ? service.entities.map(legacyEventOf)
            : [
                ...new Set(
                  service.entities.flatMap((e) => [...serviceEventsOf(e), serviceDetailType(e.name)]),
                ),
              ],
        handler: direction === 'forward' ? forwardSync : reverseSync,
        consistency,
        batchSize: spec.sync.batchSize,
        maxBatchingWindow: consistency === 'eventual' ? eventualWindow : undefined,
        maxReceiveCount: spec.sync.maxReceiveCount,
        maxConcurrency: direction === 'reverse' ? spec.sync.reverseMaxConcurrency : undefined,
        queueName: direction === 'forward' ? names.forward : names.reverse,
        ruleDeadLetterQueue: this.targetDeadLetterQueue,
        alarmNamePrefix: opsAlarmName(stage, spec.name, service.name, direction),
      });
    this.forward = channel('Forward', 'forward');
    this.reverse = channel('Reverse', 'reverse');
    for (const c of [this.forward, this.reverse]) {
      Validations.of(c.deadLetterQueue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself the dead-letter queue of the sync channel queue.',
      });
    }

    // Service-side change capture: table stream -> pipe (enrichment: contract events) -> bus.
    const serviceCapture = fn('ServiceCapture', 'service-capture', {
      timeout: Duration.seconds(30),
      description: `${service.name}: service table changes -> contract events (pipe enrichment)`,
    });
    shared.tables.grantRead(serviceCapture, entities);
    const captures: ServiceChangeCapture[] = [];
    const captureDlqs: Record<string, sqs.IQueue> = {};
    for (const entity of service.entities) {
      const table = shared.tables.serviceTable(entity.name);
      if (!table.tableStreamArn) {
        Annotations.of(this).addWarningV2(
          'cutover:capture-no-stream',
          `Imported table of "${entity.name}" has no stream ARN (cdk.json importedStreamArns): service-side changes are not captured`,
        );
        continue;
      }
      const capture = new ServiceChangeCapture(this, `${pascal(entity.name)}Capture`, {
        table,
        entity,
        serviceName: service.name,
        contractAlarmName: opsAlarmName(stage, spec.name, service.name, `${entity.name}-version-contract`),
        deadLetterAlarmName: opsAlarmName(stage, spec.name, service.name, `${entity.name}-capture-dlq`),
        bus,
        enrichment: serviceCapture,
        deadLetterQueueName: dlqName(names.capture[entity.name]!),
        pipeName: `${migrationPrefix(stage, spec.name)}-${entity.name.replace(/_/g, '-')}-capture`,
      });
      Validations.of(capture.deadLetterQueue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself the dead-letter queue of the change-capture pipe.',
      });
      // Its contract-violation alarm notifies the alarm topic like every alarm (PlatformStack's aspect).
      captures.push(capture);
      captureDlqs[entity.name] = capture.deadLetterQueue;
    }
    this.captures = captures;
    this.captureDeadLetterQueues = captureDlqs;

    // Scheduled: the watermark poller and the consistency check. One poller invocation per
    // period polls continuously for it (poller-loop.ts): its timeout covers the period, the
    // handover to the next invocation and a safety margin. Two may overlap during a handover
    // (the lease lets only one poll); a third is never needed, and a failed run is not retried
    // late (the next period's invocation starts anyway).
    const pollerTimes = pollerTiming(spec.sync);
    const legacyPoller = fn('LegacyPoller', 'legacy-poller', {
      queriesLegacy: true,
      timeout: Duration.seconds(pollerTimes.timeoutSeconds),
      reservedConcurrentExecutions: 2,
      retryAttempts: 0,
      description: `${service.name}: polls legacy changes every ${spec.sync.pollerIntervalSeconds} s (keyset over updated_at, key)`,
    });
    shared.tables.syncTable.grantReadWriteData(legacyPoller);
    platform.platformBus.grantPublish(legacyPoller);
    const consistencyCheck = fn('ConsistencyCheck', 'consistency-check', {
      queriesLegacy: true,
      timeout: Duration.minutes(5),
      description: `${service.name}: compares counts and checksums of both sides`,
    });
    shared.tables.grantRead(consistencyCheck, entities);
    // A repair run (`{ repair: true }`, by an operator or the rollout) resets sync state, after
    // reading the deployed write mode (refused once writes are cut over).
    shared.tables.syncTable.grantReadWriteData(consistencyCheck);
    for (const [k, v] of Object.entries(shared.flags.runtimeEnvironment()))
      consistencyCheck.addEnvironment(k, v);
    shared.flags.grantRead(consistencyCheck);
    platform.platformBus.grantPublish(consistencyCheck);
    this.schedule(
      'PollerSchedule',
      legacyPoller,
      Duration.minutes(spec.sync.pollerIntervalMinutes),
      events.RuleTargetInput.fromObject({ continuous: true }),
    );
    // The scheduled reconciliation is full validation (bounded workers, any table size); the
    // consistency-check function stays for an operator's on-demand check of a small store.
    this.validation = new FullValidation(this, 'Validation', {
      spec,
      service,
      stage,
      bus,
      tables: shared.tables,
      legacyAccess: legacy,
      logRetention: platform.logRetention,
      flags: shared.flags,
    });
    this.reconciliation = this.validation.scheduleReconciliation(
      props.consistencyCheckInterval ?? Duration.minutes(15),
      this.targetDeadLetterQueue,
    );

    this.rollout = {
      stage,
      spec,
      service,
      flags: shared.flags,
      monitors: shared.monitors[service.name]!,
      tables: shared.tables,
      serviceTables: Object.fromEntries(entities.map((e) => [e, shared.tables.serviceTable(e)])),
      bus,
      functions: { forwardSync, reverseSync, legacyPoller, consistencyCheck, serviceCapture },
      channels: { forward: this.forward, reverse: this.reverse },
      legacyAccess: legacy,
      functionDefaults: defaults,
      validation: this.validation,
    };

    this.rolloutStateMachine = new RolloutStateMachine(this, 'Rollout', {
      ...this.rollout,
      archiveRetention: Duration.days(platform.settings.decommissionArchiveDays),
    });
    serviceOutputs(this, this, names);
  }

  private schedule(
    id: string,
    target: CutoverFunction,
    every: Duration,
    event?: events.RuleTargetInput,
  ): events.Rule {
    return new events.Rule(this, id, {
      schedule: events.Schedule.rate(every),
      targets: [
        new targets.LambdaFunction(target, {
          ...(event ? { event } : {}),
          deadLetterQueue: this.targetDeadLetterQueue,
          retryAttempts: 2,
          maxEventAge: every.toSeconds() > 120 ? every : Duration.minutes(2),
        }),
      ],
    });
  }

  /** The functions that reach the legacy side: network, credentials, environment. */
  private legacyAccess(shared: MigrationPlatform, spec: MigrationSpec): LegacyAccess {
    if (spec.legacy.kind === 'mysql') {
      const db = shared.databaseAccess!;
      return {
        network: db.functionNetwork(),
        environment: db.runtimeEnvironment(),
        grant: (f: CutoverFunction) => {
          db.grantConnect(f);
        },
      };
    }
    const tokenName = spec.legacy.tokenSecretName;
    const token = tokenName
      ? secretsmanager.Secret.fromSecretNameV2(this, 'LegacyToken', tokenName)
      : undefined;
    return {
      network: {},
      environment: token ? { [RUNTIME_ENV.legacySecretArn]: token.secretArn } : {},
      grant: (f: CutoverFunction) => {
        token?.grantRead(f);
      },
    };
  }
}
