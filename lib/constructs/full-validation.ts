/**
 * Full validation of a service's entities at any table size (lambdas/domain/validation.ts;
 * docs/sync.md, "Full validation at scale"): an encrypted bucket for the runs' work lists,
 * partial results and reports, the four task Lambdas, and the chain of states that runs it —
 * `Plan -> Scan (Distributed Map) -> PlanCompare -> Compare (Distributed Map) -> Report` — which
 * the rollout's phase 1 embeds (a mismatch fails it) and the scheduled reconciliation state
 * machine runs on its own.
 *
 * Progress while a run is in flight: the Map Runs of the two Distributed Maps (`cutover status`,
 * the console, or `aws stepfunctions describe-map-run`: items pending / running / succeeded /
 * failed), and the workers' metrics `validation_rows_total` and `validation_items_total` (per
 * `service` and `phase`), whose sum per minute is rows/s on the migration dashboard.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import { Construct } from 'constructs';
import { migrationPrefix, VALIDATION_CHAINS } from '../spec/names.js';
import { RUNTIME_ENV } from '../spec/runtime.js';
import type { MigrationSpec, ServiceSpec } from '../spec/schema.js';
import { LoggedBucket } from './buckets.js';
import { CutoverFunction, type HandlerName } from './cutover-function.js';
import { cutoverKey, logEncryptionKey } from './encryption.js';
import type { RolloutLegacyAccess, RolloutTables } from './rollout-state-machine.js';

export interface FullValidationProps {
  readonly spec: MigrationSpec;
  readonly service: ServiceSpec;
  readonly stage: string;
  /** The platform bus: `cutover.validation.completed`, and repair's re-emitted changes. */
  readonly bus: events.IEventBus;
  readonly tables: RolloutTables;
  /** @default - no legacy access (the workers run outside a VPC without credentials) */
  readonly legacyAccess?: RolloutLegacyAccess;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Days the runs' work lists and partial results are kept (`runs/`); reports are kept. @default 7 */
  readonly runRetentionDays?: number;
  /**
   * The migration's flags (`MigrationFlags`): the compare workers read the deployed write mode
   * and refuse a repair once writes are cut over. @default - no guard (tests of the construct)
   */
  readonly flags?: ValidationFlags;
}

/** What the compare workers need of the flags: their ids and the AppConfig Data read. */
export interface ValidationFlags {
  runtimeEnvironment(): Record<string, string>;
  grantRead(grantee: iam.IGrantable): iam.Grant;
}

/** The validation task Lambdas. */
export interface ValidationFunctions {
  readonly plan: CutoverFunction;
  readonly scan: CutoverFunction;
  readonly compare: CutoverFunction;
  readonly report: CutoverFunction;
}

/** How one state machine runs the chain. */
export interface ValidationChainOptions {
  /** Prefix of the state names (unique within the state machine). */
  readonly id: string;
  /** Run ids start with this (the objects of the run sit under `runs/<label>/<execution>/`). */
  readonly label: string;
  /** Where the outcome goes in the state. */
  readonly resultPath: string;
  /** Re-emit the legacy rows that differ (JsonPath to a boolean, or a value). */
  readonly repair: boolean | string;
  /** A mismatch fails the Report task (ValidationFailedError): the rollout's phase 1. */
  readonly failOnMismatch: boolean;
  /** Wraps each task and map (e.g. the rollout's Catch to its rollback). @default - as they are */
  readonly guard?: <T extends sfn.TaskStateBase | sfn.DistributedMap>(state: T) => T;
}

/** Physical name of a service's reconciliation state machine. */
export function reconciliationStateMachineName(stage: string, migration: string, service: string): string {
  return `${migrationPrefix(stage, migration)}-${service}-reconciliation`;
}

export class FullValidation extends Construct {
  /** SSE-KMS, TLS only, `runs/` expiring; reports under `reports/` (`reports/latest.json`). */
  readonly bucket: s3.Bucket;
  readonly functions: ValidationFunctions;
  private readonly props: FullValidationProps;

  constructor(scope: Construct, id: string, props: FullValidationProps) {
    super(scope, id);
    this.props = props;
    const { spec, service } = props;
    const entities = service.entities.map((e) => e.name);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.bucket = this.createBucket(props.runRetentionDays ?? 7);
    const env = {
      [RUNTIME_ENV.service]: service.name,
      [RUNTIME_ENV.busName]: props.bus.eventBusName,
      [RUNTIME_ENV.validationBucket]: this.bucket.bucketName,
      ...props.tables.runtimeEnvironment(entities),
    };
    const fn = (fid: string, handler: HandlerName, memorySize: number, legacy: boolean) => {
      const f = new CutoverFunction(this, fid, {
        handler,
        serviceName: service.name,
        spec,
        stage: props.stage,
        timeout: Duration.minutes(15),
        memorySize,
        logRetention: retention,
        description: `cutover ${handler} (${spec.name}/${service.name})`,
        ...(legacy ? props.legacyAccess?.network : {}),
        environment: { ...env, ...(legacy ? props.legacyAccess?.environment : {}) },
      });
      if (legacy) props.legacyAccess?.grant(f);
      return f;
    };
    // Workers hold up to `validationRowsPerWorker` rows (100,000 by default: tens of MB).
    this.functions = {
      plan: fn('PlanFunction', 'validation-plan', 512, true),
      scan: fn('ScanFunction', 'validation-scan', 1024, true),
      compare: fn('CompareFunction', 'validation-compare', 1024, true),
      report: fn('ReportFunction', 'validation-report', 512, false),
    };
    const f = this.functions;
    // Work lists and parts under runs/, reports under reports/: object actions on those
    // prefixes only, and ListBucket limited to runs/.
    const objects = (actions: string[], prefix: 'runs' | 'reports') =>
      new iam.PolicyStatement({ actions, resources: [this.bucket.arnForObjects(`${prefix}/*`)] });
    const list = new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': ['runs/*'] } },
    });
    for (const g of [f.plan, f.compare]) {
      g.addToRolePolicy(objects(['s3:GetObject', 's3:PutObject'], 'runs'));
      g.addToRolePolicy(list);
    }
    f.scan.addToRolePolicy(objects(['s3:PutObject'], 'runs'));
    f.report.addToRolePolicy(objects(['s3:GetObject'], 'runs'));
    f.report.addToRolePolicy(list);
    f.report.addToRolePolicy(objects(['s3:PutObject'], 'reports'));
    // SSE-KMS: writers need a data key, readers the decryption.
    for (const g of [f.plan, f.scan, f.compare, f.report]) {
      this.bucket.encryptionKey!.grant(g, 'kms:Decrypt', 'kms:GenerateDataKey');
    }
    this.node.addValidation({
      validate: () => {
        for (const node of this.node.findAll()) if (node instanceof iam.CfnPolicy) acknowledgeWildcards(node);
        return [];
      },
    });
    props.tables.grantRead(f.plan, entities);
    props.tables.grantRead(f.scan, entities);
    // Repair re-baselines sync state and re-emits changes, after reading the write mode.
    props.tables.grantSync(f.compare, entities);
    if (props.flags) {
      for (const [k, v] of Object.entries(props.flags.runtimeEnvironment())) f.compare.addEnvironment(k, v);
      props.flags.grantRead(f.compare);
    }
    props.bus.grantPutEventsTo(f.compare);
    props.bus.grantPutEventsTo(f.report);
  }

  /**
   * The states of one run, in `scope` (the state machine's construct): returns the first and
   * the last state. Settings (rows per worker, chunk size, concurrency) come from the spec.
   */
  chain(
    scope: Construct,
    o: ValidationChainOptions,
  ): { start: sfn.IChainable; end: sfn.INextable & sfn.IChainable } {
    const sync = this.props.spec.sync;
    const entities = this.props.service.entities.map((e) => e.name);
    const guard = o.guard ?? (<T>(s: T) => s);
    const run = sfn.JsonPath.format('{}/{}', o.label, sfn.JsonPath.stringAt('$$.Execution.Name'));
    const invoke = (
      sid: string,
      f: CutoverFunction,
      payload: Record<string, unknown>,
      resultPath: string,
      comment: string,
    ) =>
      guard(
        new tasks.LambdaInvoke(scope, `${o.id}${sid}`, {
          lambdaFunction: f,
          payloadResponseOnly: true,
          payload: sfn.TaskInput.fromObject(payload),
          resultPath,
          comment,
        }),
      );
    const worker = (sid: string, f: CutoverFunction, comment: string) => {
      const t = new tasks.LambdaInvoke(scope, `${o.id}${sid}`, {
        lambdaFunction: f,
        payloadResponseOnly: true,
        comment,
      });
      // A worker's parts carry its attempt; only a completed attempt's parts count: retry is safe.
      t.addRetry({
        errors: ['States.TaskFailed'],
        maxAttempts: 2,
        interval: Duration.seconds(5),
        backoffRate: 2,
      });
      return t;
    };
    const map = (sid: string, key: string, label: string, comment: string, resultPath: string) =>
      guard(
        new sfn.DistributedMap(scope, `${o.id}${sid}`, {
          comment,
          itemReader: new sfn.S3JsonItemReader({ bucket: this.bucket, key: sfn.JsonPath.stringAt(key) }),
          maxConcurrency: sync.validationConcurrency,
          mapExecutionType: sfn.StateMachineType.STANDARD,
          resultPath,
          label,
        }),
      );

    const plan = invoke(
      'Plan',
      this.functions.plan,
      {
        step: 'plan',
        run,
        entities,
        rowsPerWorker: sync.validationRowsPerWorker,
        chunkSize: sync.validationChunkSize,
        startedAt: sfn.JsonPath.stringAt('$$.State.EnteredTime'),
      },
      `${o.resultPath}Plan`,
      'Legacy key bounds -> key-range groups; scan workers (one per rowsPerWorker rows)',
    );
    const scan = map(
      'Scan',
      `${o.resultPath}Plan.scan.bucketKey`,
      `${o.id}Scan`,
      'Each item: a share of the service table (or the legacy listing) into per-group parts',
      `${o.resultPath}Scan`,
    );
    scan.itemProcessor(worker('ScanPart', this.functions.scan, 'Parallel-scan segments -> parts by group'));
    const planCompare = invoke(
      'PlanCompare',
      this.functions.plan,
      {
        step: 'compare',
        run: sfn.JsonPath.stringAt(`${o.resultPath}Plan.run`),
        repair: typeof o.repair === 'string' ? sfn.JsonPath.stringAt(o.repair) : o.repair,
      },
      `${o.resultPath}Compare`,
      'Every group either side has rows in',
    );
    const compare = map(
      'Compare',
      `${o.resultPath}Compare.compare.bucketKey`,
      `${o.id}Compare`,
      'Each item: one key-range group, SQL checksums vs the scan parts, row diff and repair of differing chunks',
      sfn.JsonPath.DISCARD,
    );
    compare.itemProcessor(
      worker('CompareGroup', this.functions.compare, 'Chunk checksums, row diff, repair'),
    );
    const report = invoke(
      'Report',
      this.functions.report,
      {
        run: sfn.JsonPath.stringAt(`${o.resultPath}Plan.run`),
        entities,
        startedAt: sfn.JsonPath.stringAt(`${o.resultPath}Plan.startedAt`),
        scanStats: sfn.JsonPath.listAt(`${o.resultPath}Scan`),
        failOnMismatch: o.failOnMismatch,
      },
      o.resultPath,
      'One report to S3 and cutover.validation.completed on the bus',
    );
    plan.next(scan).next(planCompare).next(compare).next(report);
    return { start: plan, end: report };
  }

  /**
   * The scheduled reconciliation: a state machine that runs the chain (input `{ repair? }`,
   * default no repair) and a rule that starts it every `every`; a start that still fails after
   * the rule's retries (throttled, not permitted) lands in `deadLetterQueue` instead of being lost.
   * A run that takes longer than `timeout` fails (States.Timeout; the next scheduled run starts
   * anyway) — the same allowance the rollout gives its backfill and validation.
   */
  scheduleReconciliation(
    every: Duration,
    deadLetterQueue: sqs.IQueue,
    timeout: Duration = Duration.hours(24),
  ): sfn.StateMachine {
    const name = reconciliationStateMachineName(
      this.props.stage,
      this.props.spec.name,
      this.props.service.name,
    );
    const hasRepair = new sfn.Choice(this, 'RepairGiven')
      .when(
        sfn.Condition.isPresent('$.repair'),
        new sfn.Pass(this, 'KeepRepair', { parameters: { 'repair.$': '$.repair' } }),
      )
      .otherwise(new sfn.Pass(this, 'NoRepair', { parameters: { repair: false } }));
    const { start, end } = this.chain(this, {
      ...VALIDATION_CHAINS.reconcile,
      resultPath: '$.validation',
      repair: '$.repair',
      failOnMismatch: false,
    });
    end.next(new sfn.Succeed(this, 'Reported', { comment: 'The report is in S3 and on the bus' }));
    hasRepair.afterwards().next(start);
    // Execution data is left out of the log (counts and object keys only are in it anyway).
    const logGroup = new logs.LogGroup(this, 'ReconciliationLogs', {
      retention: this.props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: logEncryptionKey(this),
    });
    const machine = new sfn.StateMachine(this, 'Reconciliation', {
      stateMachineName: name,
      comment: `Full reconciliation of ${this.props.spec.name}/${this.props.service.name}: both sides compared in bounded workers, report to S3 and the bus`,
      definitionBody: sfn.DefinitionBody.fromChainable(hasRepair),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    this.grantItemReads(machine);
    new events.Rule(this, 'ReconciliationSchedule', {
      schedule: events.Schedule.rate(every),
      targets: [
        new targets.SfnStateMachine(machine, {
          input: events.RuleTargetInput.fromObject({ repair: false }),
          deadLetterQueue,
          retryAttempts: 2,
          maxEventAge: every.toSeconds() > 120 ? every : Duration.minutes(2),
        }),
      ],
    });
    return machine;
  }

  /**
   * The work lists and parts hold rows of both sides: a `LoggedBucket` (SSE-KMS with a key of
   * its own, versioned, access logs, no ACLs); `runs/` expire, reports stay.
   */
  private createBucket(runRetentionDays: number): s3.Bucket {
    const key = cutoverKey(this, 'BucketKey', {
      description: `Encrypts the full-validation work lists and reports of ${this.props.spec.name}/${this.props.service.name}`,
    });
    return new LoggedBucket(this, 'Store', {
      encryptionKey: key,
      expiration: { days: runRetentionDays, prefix: 'runs/' },
      noncurrentDays: runRetentionDays,
      accessLogPrefix: 'validation/',
      purpose: 'full validation',
    }).bucket;
  }

  /** A state machine that runs this validation's Distributed Maps reads their work lists. */
  grantItemReads(machine: sfn.StateMachine): void {
    this.bucket.encryptionKey!.grant(machine, 'kms:Decrypt');
  }
}

/** The wildcards of full validation's policies, with the reason AWS leaves no way around them. */
export const VALIDATION_WILDCARD_REASONS: ReadonlyArray<[RegExp, string]> = [
  [
    /^Resource::<[A-Za-z0-9]+Bucket[A-Za-z0-9]*\.Arn>\/(runs|reports)\/\*$/,
    'Full validation writes and reads objects under the runs/ and reports/ prefixes of its own bucket; their names carry the run and the worker.',
  ],
  [
    /^Resource::arn:<AWS::Partition>:s3:::<[A-Za-z0-9]+Bucket[A-Za-z0-9]*>\/\*$/,
    "A Distributed Map's ItemReader reads its work list from the validation bucket; the list's key carries the run.",
  ],
  [
    /^Resource::\*$/,
    'Actions without resource-level permissions: CloudWatch Logs delivery and X-Ray (the state machine).',
  ],
  [
    /^Resource::<[A-Za-z0-9]+Function[A-Za-z0-9]*\.Arn>:\*$/,
    'lambda:InvokeFunction on the versions and aliases of a function this state machine invokes (generated by LambdaInvoke).',
  ],
  [
    /^Resource::arn:<AWS::Partition>:states:.+:execution:.+:\*$/,
    'The Distributed Map starts, describes and stops its own child executions, whose names are generated.',
  ],
];

/** Acknowledges the findings of `policy` that match a reason (any other still fails cdk-nag). */
export function acknowledgeWildcards(
  policy: iam.CfnPolicy,
  reasons: ReadonlyArray<[RegExp, string]> = VALIDATION_WILDCARD_REASONS,
): void {
  const doc = Stack.of(policy).resolve(policy.policyDocument) as {
    Statement?: Array<{ Action?: string | string[]; Resource?: unknown }>;
  };
  const findings = new Set<string>();
  for (const st of doc.Statement ?? []) {
    for (const a of [st.Action ?? []].flat()) if (a.includes('*')) findings.add(`Action::${a}`);
    for (const r of [st.Resource ?? []].flat()) {
      const flat = flattenCfnReference(r);
      if (flat.includes('*')) findings.add(`Resource::${flat}`);
    }
  }
  for (const f of findings) {
    const reason = reasons.find(([re]) => re.test(f))?.[1];
    if (reason) Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[${f}]`, reason });
  }
}
