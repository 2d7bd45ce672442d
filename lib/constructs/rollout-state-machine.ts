/**
 * One Step Functions state machine per service that runs its phased rollout (DESIGN.md,
 * "Phased rollout"; docs/rollout.md). The definition is generated from the service's rollout
 * plan (`lambdas/domain/rollout.ts`): one flag step per phase and canary percentage, each
 * `SetFlags -> AwaitDeployment (poll) -> Bake (Wait) -> Gate (-> ExtendBake -> Gate)`, a
 * Distributed Map backfill and a validation in phase 1, approvals by task token, and a Catch
 * on every task that rolls the flags back to the last good state and fails with the cause.
 *
 * Exclusivity and order (see docs/rollout.md for the reasoning):
 * - the first task lists the RUNNING executions of its own state machine and proceeds only
 *   when it is the oldest; the state machine has a fixed name so the task's permission needs
 *   no reference to the state machine (which would be circular);
 * - for every service after the first, the same task checks the previous service's flags
 *   (read 100 %, write `primary`) and that no rollout of it is running. The previous state
 *   machine is found by its deterministic name, so the service stacks stay independent.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { type FlagStep, type RolloutPlan, rolloutPlan } from '../../lambdas/domain/rollout.js';
import { migrationPrefix, serviceDlqNames, VALIDATION_CHAINS } from '../spec/names.js';
import { RUNTIME_ENV } from '../spec/runtime.js';
import type { MigrationSpec, ServiceSpec } from '../spec/schema.js';
import { LoggedBucket } from './buckets.js';
import { CutoverFunction, type CutoverFunctionProps, type HandlerName } from './cutover-function.js';
import { cutoverKey, logEncryptionKey } from './encryption.js';
import { acknowledgeWildcards, FullValidation, VALIDATION_WILDCARD_REASONS } from './full-validation.js';

/**
 * The migration's flags as the rollout uses them (`MigrationFlags` satisfies it): the ids its
 * functions are configured with and the grant to create versions and run deployments.
 */
export interface RolloutFlags {
  readonly environmentArn: string;
  readonly profileArn: string;
  /**
   * The longest a gradual flag deployment takes (deployment time + final bake): it bounds the
   * AwaitDeployment loop. @default 12 minutes (MigrationFlags' defaults: 2 min + 10 min bake)
   */
  readonly gradualDeploymentTime?: Duration;
  runtimeEnvironment(): Record<string, string>;
  grantDeploy(grantee: iam.IGrantable): iam.Grant;
}

/** The sync tables (`MigrationTables` satisfies it). */
export interface RolloutTables {
  runtimeEnvironment(entities: readonly string[]): Record<string, string>;
  /** Read/write as the forward sync does (backfill). */
  grantSync(grantee: iam.IGrantable, entities: readonly string[]): void;
  grantRead(grantee: iam.IGrantable, entities: readonly string[]): void;
}

/** How a function reaches the legacy side (network, environment, credentials). */
export interface RolloutLegacyAccess {
  readonly network: Partial<Pick<CutoverFunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'>>;
  readonly environment: Record<string, string>;
  grant(f: CutoverFunction): void;
}

/**
 * Everything is taken from the service stack's `RolloutResources`, plus how to reach the
 * legacy side: `new RolloutStateMachine(this, 'Rollout', { ...this.rollout, legacyAccess })`.
 */
export interface RolloutStateMachineProps {
  readonly spec: MigrationSpec;
  /** The service this state machine rolls out. */
  readonly service: ServiceSpec;
  readonly stage: string;
  readonly flags: RolloutFlags;
  /** The platform bus: approval requests are published on it, and the backfill's push-backs. */
  readonly bus: events.IEventBus;
  /** Sync state and service tables, read by the checks and written by the backfill. */
  readonly tables: RolloutTables;
  /** @default - no legacy access: the legacy readers run outside a VPC without credentials */
  readonly legacyAccess?: RolloutLegacyAccess;
  /**
   * Bucket of the phase-5 archive; objects go under `<migration>/<service>/<execution>/`.
   * @default - a new bucket: SSE-KMS with its own key, TLS only, versioned, object lock for
   * `archiveRetention`, reads only by {@link RolloutStateMachine.archiveReader}, retained
   */
  readonly archiveBucket?: s3.IBucket;
  /** How long the new archive bucket locks, then keeps, an archive. @default Duration.days(2557) (7 years) */
  readonly archiveRetention?: Duration;
  /** DLQs the gates watch. @default - the service's sync DLQs by their deterministic names */
  readonly dlqNames?: readonly string[];
  /** How often a flag deployment is polled. @default Duration.seconds(15) */
  readonly deploymentPollInterval?: Duration;
  /**
   * Time allowed for phase 1's backfill and full validation together (they scale with the data;
   * the execution's timeout adds it to the bakes and approval windows). @default Duration.hours(24)
   */
  readonly dataPhaseAllowance?: Duration;
  /** @default - functionDefaults.logRetention, else logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** The service stack's function defaults; only `logRetention` is used. @default - none */
  readonly functionDefaults?: Pick<CutoverFunctionProps, 'logRetention'>;
  /** Key of the execution log group. @default - the stack's log key (`logEncryptionKey`) */
  readonly logEncryptionKey?: kms.IKey;
  /** Phase 1's full validation (its bucket and workers). @default - a new FullValidation */
  readonly validation?: FullValidation;
}

/** Physical name of a service's rollout state machine (deterministic, see the module doc). */
/**
 * The most AwaitDeployment polls of one flag deployment: twice the deployment time over the
 * poll interval, plus 4 (a deployment AppConfig has not finished by then is stuck; the step
 * fails and the rollout rolls back).
 */
export function awaitDeploymentMaxPolls(deploymentTime: Duration, pollInterval: Duration): number {
  return Math.ceil((2 * deploymentTime.toSeconds()) / pollInterval.toSeconds()) + 4;
}

/**
 * The rollout execution's timeout, from the plan's phases: per flag step the deployment time
 * (twice, as the AwaitDeployment bound), the bake and every bake extension it may take; both
 * approval windows; the backfill and validation allowance; and 10 % (at least one hour) margin.
 */
export function rolloutTimeout(
  plan: RolloutPlan,
  options: { readonly deploymentTime: Duration; readonly dataPhase: Duration },
): Duration {
  const steps = plan.steps.reduce(
    (s, step) =>
      s +
      2 * options.deploymentTime.toSeconds() +
      step.bakeSeconds +
      (step.gate ? plan.maxBakeExtensions * Math.max(60, step.bakeSeconds) : 0),
    0,
  );
  const approvals = 2 * plan.approvalTimeoutSeconds;
  const total = steps + approvals + options.dataPhase.toSeconds();
  return Duration.seconds(Math.ceil(total + Math.max(3600, total * 0.1)));
}

export function rolloutStateMachineName(stage: string, migration: string, service: string): string {
  return `${migrationPrefix(stage, migration)}-${service}-rollout`;
}

/** The rollout task Lambdas, by task. */
export interface RolloutFunctions {
  readonly start: CutoverFunction;
  readonly setFlags: CutoverFunction;
  readonly awaitDeployment: CutoverFunction;
  readonly gate: CutoverFunction;
  readonly backfillPlan: CutoverFunction;
  readonly backfillChunk: CutoverFunction;
  readonly requestApproval: CutoverFunction;
  readonly rollback: CutoverFunction;
  readonly archive: CutoverFunction;
}

/**
 * What every builder of a rollout needs: the service, its plan and names, resolved once from
 * the props.
 */
interface RolloutContext {
  readonly props: RolloutStateMachineProps;
  readonly service: ServiceSpec;
  readonly plan: RolloutPlan;
  /** The state machine's physical name and ARN. */
  readonly name: string;
  readonly ownArn: string;
  /** The service rolled out before this one, and its state machine's ARN. */
  readonly predecessor?: { readonly service: string; readonly arn: string };
  readonly dlqNames: readonly string[];
  readonly retention: logs.RetentionDays;
  readonly entities: readonly string[];
}

/** The definition builders' shared states: the rollback every task falls back to. */
interface DefinitionParts extends RolloutContext {
  readonly functions: RolloutFunctions;
  /** Adds the catch-all that rolls the flags back. */
  readonly guard: <T extends sfn.TaskStateBase | sfn.DistributedMap>(t: T) => T;
  readonly rollback: sfn.IChainable;
  readonly pollInterval: Duration;
  readonly maxPolls: number;
}

export class RolloutStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: RolloutFunctions;
  /** Every execution event (level ALL), KMS-encrypted. */
  readonly logGroup: logs.LogGroup;
  readonly plan: RolloutPlan;
  /** The physical name ({@link rolloutStateMachineName}). */
  readonly stateMachineName: string;
  /** Where phase 5 archives the legacy tables. */
  readonly archiveBucket: s3.IBucket;
  /** Phase 1's full validation (Distributed Maps over key-range groups). */
  readonly validation: FullValidation;
  /** The one role that may read the archive (when the bucket was created here). */
  readonly archiveReader?: iam.IRole;

  constructor(scope: Construct, id: string, props: RolloutStateMachineProps) {
    super(scope, id);
    const ctx = rolloutContext(this, id, props);
    this.plan = ctx.plan;
    this.stateMachineName = ctx.name;
    const created = props.archiveBucket
      ? undefined
      : this.createArchiveBucket(
          migrationPrefix(props.stage, props.spec.name),
          ctx.service.name,
          props.archiveRetention ?? Duration.days(2557),
        );
    this.archiveBucket = props.archiveBucket ?? created!.bucket;
    this.archiveReader = created?.reader;
    this.functions = this.createFunctions(ctx);
    this.grantTasks(ctx);
    const parts = this.definitionParts(ctx);
    const start = this.startTask(parts);
    const phase1 = this.readOnlyPhase(parts, this.laterPhases(parts));
    this.validation = phase1.validation;
    this.logGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      retention: ctx.retention,
      encryptionKey: props.logEncryptionKey ?? logEncryptionKey(this),
    });
    this.stateMachine = this.createStateMachine(ctx, start.next(phase1.head));
    this.validation.grantItemReads(this.stateMachine);
    this.acknowledgeUnavoidableWildcards();
  }

  /** The nine task functions; the legacy readers in the database's network, with its access. */
  private createFunctions(ctx: RolloutContext): RolloutFunctions {
    const { props, service } = ctx;
    const flagEnv = { [RUNTIME_ENV.service]: service.name, ...props.flags.runtimeEnvironment() };
    const legacyEnv = {
      [RUNTIME_ENV.busName]: props.bus.eventBusName,
      ...props.tables.runtimeEnvironment(ctx.entities),
      ...props.legacyAccess?.environment,
    };
    const fn = (
      fid: string,
      handler: HandlerName,
      opts: { timeout?: Duration; legacy?: boolean; environment?: Record<string, string> } = {},
    ) => {
      const f = new CutoverFunction(this, fid, {
        handler,
        serviceName: service.name,
        spec: props.spec,
        stage: props.stage,
        timeout: opts.timeout ?? Duration.seconds(30),
        logRetention: ctx.retention,
        description: `cutover ${handler} (${props.spec.name}/${service.name})`,
        ...(opts.legacy ? props.legacyAccess?.network : {}),
        environment: { ...flagEnv, ...(opts.legacy ? legacyEnv : {}), ...opts.environment },
      });
      if (opts.legacy) props.legacyAccess?.grant(f);
      return f;
    };
    return {
      start: fn('StartFunction', 'rollout-start'),
      setFlags: fn('SetFlagsFunction', 'rollout-set-flags'),
      awaitDeployment: fn('AwaitDeploymentFunction', 'rollout-await-deployment'),
      gate: fn('GateFunction', 'rollout-gate', { timeout: Duration.minutes(5), legacy: true }),
      backfillPlan: fn('BackfillPlanFunction', 'rollout-backfill-plan', {
        timeout: Duration.minutes(5),
        legacy: true,
      }),
      backfillChunk: fn('BackfillChunkFunction', 'rollout-backfill-chunk', {
        timeout: Duration.minutes(15),
        legacy: true,
      }),
      requestApproval: fn('RequestApprovalFunction', 'rollout-request-approval', {
        environment: { [RUNTIME_ENV.busName]: props.bus.eventBusName },
      }),
      // Polls its zero-bake deployment to COMPLETE: seconds, bounded at 2 minutes.
      rollback: fn('RollbackFunction', 'rollout-rollback', { timeout: Duration.minutes(3) }),
      archive: fn('ArchiveFunction', 'rollout-archive', {
        timeout: Duration.minutes(15),
        legacy: true,
        environment: { [RUNTIME_ENV.archiveBucket]: this.archiveBucket.bucketName },
      }),
    };
  }

  /** Least privilege, per task. */
  private grantTasks(ctx: RolloutContext): void {
    const { props } = ctx;
    const functions = this.functions;
    // Deploying: SetFlags and Rollback. Reading deployments: Start, AwaitDeployment, Gate.
    props.flags.grantDeploy(functions.setFlags);
    props.flags.grantDeploy(functions.rollback);
    const readDeployments = [
      new iam.PolicyStatement({
        actions: ['appconfig:ListDeployments'],
        resources: [props.flags.environmentArn],
      }),
      new iam.PolicyStatement({
        actions: ['appconfig:GetDeployment'],
        resources: [`${props.flags.environmentArn}/deployment/*`],
      }),
      new iam.PolicyStatement({
        actions: ['appconfig:ListHostedConfigurationVersions'],
        resources: [props.flags.profileArn],
      }),
      new iam.PolicyStatement({
        actions: ['appconfig:GetHostedConfigurationVersion'],
        resources: [`${props.flags.profileArn}/hostedconfigurationversion/*`],
      }),
    ];
    for (const f of [functions.start, functions.awaitDeployment, functions.gate]) {
      for (const st of readDeployments) f.addToRolePolicy(st);
    }
    functions.start.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:ListExecutions'],
        resources: [ctx.ownArn, ...(ctx.predecessor ? [ctx.predecessor.arn] : [])],
      }),
    );
    props.tables.grantSync(functions.backfillChunk, ctx.entities);
    props.bus.grantPutEventsTo(functions.backfillChunk);
    for (const f of [functions.backfillPlan, functions.gate]) {
      props.tables.grantRead(f, ctx.entities);
    }
    props.bus.grantPutEventsTo(functions.requestApproval);
    // PutObject only (grantPut would add s3:Abort*): each archive object is one PUT.
    functions.archive.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.archiveBucket.arnForObjects(`${props.spec.name}/${ctx.service.name}/*`)],
      }),
    );
    // SSE-KMS PutObject needs a data key only (grantEncrypt would add kms:ReEncrypt*).
    this.archiveBucket.encryptionKey?.grant(functions.archive, 'kms:GenerateDataKey');
    // GetMetricData supports no resource-level permissions.
    functions.gate.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
    );
  }

  /** The rollback every task falls back to (and its two ends), and the polling bounds. */
  private definitionParts(ctx: RolloutContext): DefinitionParts {
    const { props, service } = ctx;
    const pollInterval = props.deploymentPollInterval ?? Duration.seconds(15);
    const deploymentTime = props.flags.gradualDeploymentTime ?? Duration.minutes(12);
    const rollback = new tasks.LambdaInvoke(this, 'Rollback', {
      lambdaFunction: this.functions.rollback,
      payloadResponseOnly: true,
      comment: 'Flags back to the last good state (rollback strategy: all at once, zero bake)',
      payload: sfn.TaskInput.fromObject({
        service: service.name,
        lastGood: sfn.JsonPath.objectAt('$.progress.lastGood'),
        error: sfn.JsonPath.objectAt('$.error'),
      }),
      resultPath: '$.rollback',
    });
    rollback.addCatch(
      new sfn.Fail(this, 'RollbackFailed', {
        comment: 'The flags could not be restored: restore them by hand (docs/rollout.md)',
        errorPath: '$.rollbackError.Error',
        causePath: '$.rollbackError.Cause',
      }),
      { resultPath: '$.rollbackError' },
    );
    rollback.next(
      new sfn.Fail(this, 'RolledBack', {
        comment: 'A gate or task failed; the flags are back at the last good state',
        errorPath: '$.rollback.error',
        causePath: '$.rollback.cause',
      }),
    );
    const guard = <T extends sfn.TaskStateBase | sfn.DistributedMap>(t: T): T => {
      t.addCatch(rollback, { errors: ['States.ALL'], resultPath: '$.error' });
      return t;
    };
    return {
      ...ctx,
      functions: this.functions,
      guard,
      rollback,
      pollInterval,
      maxPolls: awaitDeploymentMaxPolls(deploymentTime, pollInterval),
    };
  }

  /** A task invoking `f` with `payload`, its result at `resultPath`, rolled back on error. */
  private invoke(
    d: DefinitionParts,
    sid: string,
    f: CutoverFunction,
    payload: Record<string, unknown>,
    resultPath: string,
    comment?: string,
  ): tasks.LambdaInvoke {
    return d.guard(
      new tasks.LambdaInvoke(this, sid, {
        lambdaFunction: f,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject(payload),
        resultPath,
        ...(comment ? { comment } : {}),
      }),
    );
  }

  /** The first task: this execution is the only one, and the previous service has completed. */
  private startTask(d: DefinitionParts): tasks.LambdaInvoke {
    const start = new tasks.LambdaInvoke(this, 'Start', {
      lambdaFunction: d.functions.start,
      payloadResponseOnly: true,
      comment: 'One execution per service; the previous service must have completed',
      payload: sfn.TaskInput.fromObject({
        service: d.service.name,
        execution: {
          arn: sfn.JsonPath.stringAt('$$.Execution.Id'),
          startTime: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
          stateMachineArn: sfn.JsonPath.stringAt('$$.StateMachine.Id'),
        },
        ...(d.predecessor
          ? { predecessor: { service: d.predecessor.service, stateMachineArn: d.predecessor.arn } }
          : {}),
      }),
      resultPath: '$.progress',
    });
    // Nothing has changed yet, and another execution may own the flags: no rollback.
    start.addCatch(
      new sfn.Fail(this, 'NotStarted', { errorPath: '$.error.Error', causePath: '$.error.Cause' }),
      { resultPath: '$.error' },
    );
    return start;
  }

  /** An operator's approval by task token; a timeout rolls back with a cause that says so. */
  private approval(d: DefinitionParts, step: 'cutover-writes' | 'decommission'): tasks.LambdaInvoke {
    const { props, service, plan } = d;
    const approvalWindow =
      plan.approvalTimeoutSeconds % 3600 === 0
        ? `${plan.approvalTimeoutSeconds / 3600} h`
        : `${plan.approvalTimeoutSeconds} s`;
    const sid = step === 'decommission' ? 'Decommission' : 'Cutover';
    const task = new tasks.LambdaInvoke(this, `Approve${sid}`, {
      lambdaFunction: d.functions.requestApproval,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      comment:
        'Publishes cutover.approval.requested with the task token; waits for send-task-success/failure',
      payload: sfn.TaskInput.fromObject({
        migration: props.spec.name,
        service: service.name,
        step,
        executionArn: sfn.JsonPath.stringAt('$$.Execution.Id'),
        taskToken: sfn.JsonPath.taskToken,
        timeoutSeconds: plan.approvalTimeoutSeconds,
      }),
      taskTimeout: sfn.Timeout.duration(Duration.seconds(plan.approvalTimeoutSeconds)),
      resultPath: `$.approvals.${sid.toLowerCase()}`,
    });
    // Named, so the execution's cause says what timed out (a timeout has no cause of its own).
    task.addCatch(
      new sfn.Pass(this, `Approve${sid}TimedOut`, {
        parameters: {
          Error: 'ApprovalTimedOut',
          Cause: `nobody approved ${step} of ${props.spec.name}/${service.name} within ${approvalWindow} (send-task-success with the token of the cutover.approval.requested event)`,
        },
        resultPath: '$.error',
      }).next(d.rollback),
      { errors: ['States.Timeout'], resultPath: '$.error' },
    );
    return d.guard(task);
  }

  /** SetFlags -> AwaitDeployment (poll) [-> Bake -> Gate (-> ExtendBake -> Gate)] -> `after`. */
  private flagStep(d: DefinitionParts, step: FlagStep, after: sfn.IChainable): sfn.IChainable {
    const { service, functions, maxPolls } = d;
    const setFlags = this.invoke(
      d,
      `${step.id}SetFlags`,
      functions.setFlags,
      { service: service.name, step: step.id, flags: step.flags },
      '$.deployment',
      `${step.phase}: ${JSON.stringify(step.flags)}`,
    );
    const awaitDeployment = this.invoke(
      d,
      `${step.id}AwaitDeployment`,
      functions.awaitDeployment,
      {
        service: service.name,
        step: step.id,
        deployment: sfn.JsonPath.objectAt('$.deployment'),
        maxPolls,
      },
      '$.deployment',
      `ROLLED_BACK (an environment monitor fired) fails the gate; more than ${maxPolls} polls fail the step`,
    );
    const poll = new sfn.Wait(this, `${step.id}PollWait`, { time: sfn.WaitTime.duration(d.pollInterval) });
    const deployed = new sfn.Choice(this, `${step.id}Deployed`);
    poll.next(awaitDeployment);
    setFlags
      .next(awaitDeployment)
      .next(
        deployed
          .when(sfn.Condition.booleanEquals('$.deployment.done', true), this.gateOrNext(d, step, after))
          .otherwise(poll),
      );
    return setFlags;
  }

  /** After a flag deployment: the step's gate after its bake, or straight on without a gate. */
  private gateOrNext(d: DefinitionParts, step: FlagStep, after: sfn.IChainable): sfn.IChainable {
    const { service, plan } = d;
    if (!step.gate) {
      return new sfn.Pass(this, `${step.id}Good`, {
        comment: 'Deployed without a gate: the last good state moves on',
        result: sfn.Result.fromObject(step.flags),
        resultPath: '$.progress.lastGood',
      }).next(after);
    }
    const bake = new sfn.Wait(this, `${step.id}Bake`, {
      comment: `Bake ${step.bakeSeconds / 60} min before gate ${step.gate.id}`,
      time: sfn.WaitTime.duration(Duration.seconds(step.bakeSeconds)),
    });
    const extend = new sfn.Wait(this, `${step.id}ExtendBake`, {
      comment: 'Missing data: bake once more (bounded by maxBakeExtensions)',
      time: sfn.WaitTime.duration(Duration.seconds(Math.max(60, step.bakeSeconds))),
    });
    const gate = this.invoke(
      d,
      `${step.id}Gate`,
      d.functions.gate,
      {
        service: service.name,
        gate: step.gate,
        flags: step.flags,
        progress: sfn.JsonPath.objectAt('$.progress'),
        deployment: sfn.JsonPath.objectAt('$.deployment'),
        entities: plan.entities,
        dlqNames: d.dlqNames,
        onMissingData: plan.onMissingData,
        maxBakeExtensions: plan.maxBakeExtensions,
      },
      '$.progress',
      `Gate ${step.gate.id}: ${step.gate.checks.map((c) => `${c.check} ${c.comparator} ${c.threshold}`).join(', ')}`,
    );
    const verdict = new sfn.Choice(this, `${step.id}GateVerdict`)
      .when(sfn.Condition.stringEquals('$.progress.verdict', 'extend'), extend)
      .otherwise(after);
    extend.next(gate);
    bake.next(gate).next(verdict);
    return bake;
  }

  /**
   * Phases 2 to 5, built back to front (each step chains to the next): the flag steps after
   * read-only, the approval before cutting writes over, then the decommission approval and the
   * archive. Returns the first of them.
   */
  private laterPhases(d: DefinitionParts): sfn.IChainable {
    const archive = this.invoke(
      d,
      'Archive',
      d.functions.archive,
      {
        migration: d.props.spec.name,
        service: d.service.name,
        executionName: sfn.JsonPath.stringAt('$$.Execution.Name'),
      },
      '$.archive',
      'Legacy tables to S3 as gzip NDJSON with a SHA-256 manifest; nothing is dropped',
    );
    const done = new sfn.Succeed(this, 'Done', {
      comment: 'Rolled out; legacy tables archived (not dropped)',
    });
    archive.next(done);
    let next: sfn.IChainable = this.approval(d, 'decommission').next(archive);
    const steps = [...d.plan.steps].reverse();
    for (const step of steps) {
      if (step.id === 'ReadOnly') continue;
      let head = this.flagStep(d, step, next);
      if (step.approvalBefore) head = this.approval(d, 'cutover-writes').next(head);
      next = head;
    }
    return next;
  }

  /**
   * Phase 1: flags read-only, backfill (a Distributed Map over key ranges), full validation
   * (the props' or a new one), then `next`. Returns its first state and the validation.
   */
  private readOnlyPhase(
    d: DefinitionParts,
    next: sfn.IChainable,
  ): { head: sfn.IChainable; validation: FullValidation } {
    const { props, plan } = d;
    const readOnly = plan.steps.find((s) => s.id === 'ReadOnly')!;
    const backfillPlan = this.invoke(
      d,
      'BackfillPlan',
      d.functions.backfillPlan,
      { entities: plan.entities, chunkSize: plan.backfill.chunkSize },
      '$.backfill',
      'Key ranges of the legacy tables',
    );
    const chunk = new tasks.LambdaInvoke(this, 'BackfillChunk', {
      lambdaFunction: d.functions.backfillChunk,
      payloadResponseOnly: true,
      comment: 'Copies one key range through the sync rules (safe while live sync runs)',
      payload: sfn.TaskInput.fromObject({ chunk: sfn.JsonPath.objectAt('$.chunk') }),
    });
    // Copies are compare-and-set through the sync rules: retrying a chunk is safe.
    chunk.addRetry({
      errors: ['States.TaskFailed'],
      maxAttempts: 2,
      interval: Duration.seconds(5),
      backoffRate: 2,
    });
    const backfill = d.guard(
      new sfn.DistributedMap(this, 'Backfill', {
        comment: 'One child execution per key-range chunk',
        itemsPath: '$.backfill.chunks',
        itemSelector: { 'chunk.$': '$$.Map.Item.Value' },
        maxConcurrency: plan.backfill.concurrency,
        mapExecutionType: sfn.StateMachineType.STANDARD,
        resultPath: sfn.JsonPath.DISCARD,
        label: 'Backfill',
      }),
    );
    backfill.itemProcessor(chunk);
    // Full validation: equal counts and zero mismatches, in workers of bounded size.
    const validation =
      props.validation ??
      new FullValidation(this, 'Validation', {
        spec: props.spec,
        service: d.service,
        stage: props.stage,
        bus: props.bus,
        tables: props.tables,
        ...(props.legacyAccess ? { legacyAccess: props.legacyAccess } : {}),
        logRetention: d.retention,
      });
    const validate = validation.chain(this, {
      ...VALIDATION_CHAINS.rollout,
      resultPath: '$.validation',
      repair: false,
      failOnMismatch: true,
      guard: d.guard,
    });
    const phase1 = this.flagStep(d, readOnly, backfillPlan);
    backfillPlan.next(backfill).next(validate.start);
    validate.end.next(
      new sfn.Pass(this, 'ReadOnlyValidated', {
        result: sfn.Result.fromObject(readOnly.flags),
        resultPath: '$.progress.lastGood',
      }).next(next),
    );
    return { head: phase1, validation };
  }

  /** The STANDARD state machine: named, bounded in time, traced, every event logged. */
  private createStateMachine(ctx: RolloutContext, definition: sfn.IChainable): sfn.StateMachine {
    const { props, service, plan } = ctx;
    return new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: ctx.name,
      comment: `Phased rollout of ${props.spec.name}/${service.name}: read-only sync, shadow writes, switch reads (${service.rollout.canarySteps.join('/')} %), cutover writes, decommission`,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      // Past this the execution fails with States.Timeout (flags stay at the last state set;
      // docs/rollout.md says what to do): no execution runs on for a year.
      timeout: rolloutTimeout(plan, {
        deploymentTime: props.flags.gradualDeploymentTime ?? Duration.minutes(12),
        dataPhase: props.dataPhaseAllowance ?? Duration.hours(24),
      }),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
  }

  /**
   * Wildcards that cannot be avoided, acknowledged one by one with their reason; any other
   * wildcard (a grant added later included) still fails cdk-nag. Runs once cross-stack
   * references are resolved (the findings name the imports).
   */
  private acknowledgeUnavoidableWildcards(): void {
    this.node.addValidation({
      validate: () => {
        for (const node of this.node.findAll()) {
          if (node instanceof iam.CfnPolicy) acknowledgeWildcards(node, WILDCARD_REASONS);
        }
        return [];
      },
    });
  }

  /**
   * The decommission archive, which may be the last copy of the legacy data: SSE-KMS with a key
   * of its own, TLS only, versioned, S3 Object Lock (governance mode) for the archive retention,
   * then expired; reads denied to everyone but the archive reader role (the bucket policy names
   * it); object events to EventBridge; server access logs in a bucket of their own.
   */
  private createArchiveBucket(prefix: string, service: string, retention: Duration): ArchiveBucket {
    const stack = Stack.of(this);
    const scope = new Construct(this, 'Decommission');
    const key = cutoverKey(scope, 'Key', {
      description: `Encrypts the decommission archive of ${prefix}-${service}`,
    });
    const days = Math.max(1, Math.round(retention.toDays()));
    const { bucket } = new LoggedBucket(scope, 'Store', {
      encryptionKey: key,
      // Locked for `days`, expired the day after.
      expiration: { days: days + 1 },
      lockDays: days,
      accessLogPrefix: 'archive/',
      purpose: 'decommission archive',
    });
    const reader = new iam.Role(scope, 'Reader', {
      roleName: `${prefix}-${service}-archive-reader`,
      assumedBy: new iam.AccountPrincipal(stack.account),
      description: `The only principal that may read the decommission archive of ${prefix}-${service}`,
    });
    // Named actions only (grantRead would add s3:GetObject*, s3:List*, s3:GetBucket*).
    reader.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [bucket.arnForObjects('*')],
      }),
    );
    reader.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket', 's3:ListBucketVersions'],
        resources: [bucket.bucketArn],
      }),
    );
    key.grant(reader, 'kms:Decrypt');
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ReadsOnlyByTheArchiveReader',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectAttributes', 's3:RestoreObject'],
        resources: [bucket.arnForObjects('*')],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': reader.roleArn } },
      }),
    );
    return { bucket, reader };
  }
}

/** The service, its plan and its names, from the props (an unknown service is an error). */
function rolloutContext(scope: Construct, id: string, props: RolloutStateMachineProps): RolloutContext {
  const index = props.spec.services.findIndex((s) => s.name === props.service.name);
  if (index < 0) {
    throw new Error(`${id}: no service "${props.service.name}" in migration "${props.spec.name}"`);
  }
  const service: ServiceSpec = props.spec.services[index]!;
  const stack = Stack.of(scope);
  const name = rolloutStateMachineName(props.stage, props.spec.name, service.name);
  const predecessor = index > 0 ? props.spec.services[index - 1]!.name : undefined;
  return {
    props,
    service,
    plan: rolloutPlan(service),
    name,
    ownArn: stateMachineArn(stack, name),
    ...(predecessor
      ? {
          predecessor: {
            service: predecessor,
            arn: stateMachineArn(stack, rolloutStateMachineName(props.stage, props.spec.name, predecessor)),
          },
        }
      : {}),
    dlqNames: props.dlqNames ?? serviceDlqNames(props.stage, props.spec, service),
    retention: props.logRetention ?? props.functionDefaults?.logRetention ?? logs.RetentionDays.ONE_MONTH,
    entities: service.entities.map((e) => e.name),
  };
}

interface ArchiveBucket {
  readonly bucket: s3.Bucket;
  readonly reader: iam.Role;
}

function stateMachineArn(stack: Stack, name: string): string {
  return stack.formatArn({
    service: 'states',
    resource: 'stateMachine',
    resourceName: name,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** The wildcards of the rollout's policies that AWS leaves no way around, with the reason. */
const WILDCARD_REASONS: ReadonlyArray<[RegExp, string]> = [
  [
    /^Resource::\*$/,
    'Actions without resource-level permissions: cloudwatch:GetMetricData (the gate), CloudWatch Logs delivery and X-Ray (the state machine).',
  ],
  [
    /\/(deployment|hostedconfigurationversion)\/\*$/,
    'AppConfig deployment and hosted-version numbers are assigned at run time; the ARN names the application, environment and profile.',
  ],
  [
    /^Resource::<[A-Za-z0-9]+Function[A-Za-z0-9]*\.Arn>:\*$/,
    'lambda:InvokeFunction on the versions and aliases of a function this state machine invokes (generated by LambdaInvoke).',
  ],
  [
    /^Resource::arn:<AWS::Partition>:states:.+:execution:.+:\*$/,
    'The Distributed Map starts, describes and stops its own child executions, whose names are generated.',
  ],
  [
    /^Resource::<[A-Za-z0-9]+DecommissionStoreBucket[A-Za-z0-9]*\.Arn>\/[a-z0-9_]+\/[a-z0-9_]+\/\*$/,
    "The archive writes new objects under this migration's and service's prefix; their names carry the execution.",
  ],
  ...VALIDATION_WILDCARD_REASONS,
  [
    /^Resource::<[A-Za-z0-9]+DecommissionStoreBucket[A-Za-z0-9]*\.Arn>\/\*$/,
    'The archive reader reads any archive object of this bucket (one bucket per service); object names carry the execution.',
  ],
];
