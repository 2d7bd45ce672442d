/**
 * The operator commands of `cutover` (registered by bin/cutover.ts): status, rollout
 * start|abort|wait, approve, reject, flags get|set, rollback, conflicts list|show|resolve,
 * dlq list|peek|redrive. Every command finds the deployed resources from `--env` and
 * `--migration` through the stack outputs (environment.ts), prints text (colour on a TTY only)
 * or `--json`, and ends with an exit code from errors.ts.
 *
 * This module is the composition root: {@link awsContext} builds the real adapters; tests pass
 * a context whose clients answer with recorded responses.
 */

import type { Command } from 'commander';
import type { MetricQueryReader } from '../../lambdas/adapters/cloudwatch-metrics.js';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import type { FlagDeploymentPort } from '../../lambdas/domain/flags.js';
import type { ConflictStore, EventPublisher } from '../../lambdas/domain/ports.js';
import type { MetricsPort } from '../../lambdas/domain/rollout.js';
import { describeFlags } from '../../lambdas/domain/rollout-tasks.js';
import type { SyncDeps } from '../../lambdas/domain/sync.js';
import { serviceByName } from '../spec/lookup.js';
import { RUNTIME_ENV } from '../spec/runtime.js';
import type { MigrationSpec, ServiceSpec } from '../spec/schema.js';
import type { CaptureSourcePort } from './capture-redrive.js';
import { listConflicts, resolve as resolveConflictCommand, showConflict } from './conflict-ops.js';
import type { ExecutionsPort, MapRunsPort, QueuesPort, StacksPort } from './control-plane.js';
import { findQueue, listDlqs, peekDlq, redriveDlq } from './dlq-ops.js';
import { type DeployedMigration, deployedMigration, deployedService } from './environment.js';
import { CliError, EXIT } from './errors.js';
import { type ProgressStream, progress } from './progress.js';
import {
  abortRollout,
  answerApproval,
  type RolloutDeps,
  type RolloutView,
  requestedFlags,
  rollbackService,
  rolloutView,
  serviceFlags,
  setServiceFlags,
  startRollout,
  waitRollout,
} from './rollout-ops.js';
import { findMigration, findService, loadMigrations } from './specs.js';
import { renderStatus, watchStatus } from './status-view.js';
import { serviceValidations, type ValidationProgress } from './validation-progress.js';

/** The adapters a command runs on. */
export interface CliContext {
  readonly stacks: StacksPort;
  readonly executions: ExecutionsPort;
  /** The Map Runs of an execution (full validation's progress). */
  readonly mapRuns: MapRunsPort;
  readonly queues: QueuesPort;
  readonly metrics: MetricsPort;
  /** Metric queries outside the gate signals (full validation's rows/s). */
  readonly metricQueries: MetricQueryReader;
  flags(ids: DeployedMigration['flags']): FlagDeploymentPort;
  publisher(busName: string): EventPublisher;
  /**
   * The conflicts table of a deployed migration; personal values are opened with the migration's
   * key (`personalDataKeyArn`), which only the conflict resolver role may decrypt.
   */
  conflicts(table: string, migration?: DeployedMigration): ConflictStore;
  /** The sync engine's dependencies for resolving a conflict (legacy database included). */
  sync(
    d: DeployedMigration,
    serviceTables: Record<string, string>,
    legacy: LegacyAccessOptions,
  ): Promise<SyncDeps & { close(): Promise<void> }>;
  /** A capture DLQ's redrive reads the service tables' streams and items (DynamoDB). */
  captureSource(): Promise<CaptureSourcePort>;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export interface LegacyAccessOptions {
  readonly databaseUrl?: string;
  readonly secretArn?: string;
}

/**
 * The real adapters (credentials and region from the AWS SDK's default chain), loaded when a
 * command runs: `--help` and `plan` load no SDK.
 */
export async function awsContext(): Promise<CliContext> {
  const [
    { CloudFormationClient },
    { AppConfigClient },
    { CloudWatchClient },
    { EventBridgeClient },
    { SFNClient },
    { SQSClient },
    { AppConfigFlagStore },
    { CloudWatchMetrics, CloudWatchQueryReader },
    { documentClient },
    { DynamoConflictStore },
    { EventBridgePublisher },
    { EnvelopeCipher, KmsDataKeys },
    { PersonalDataSealer },
    { KMSClient },
    { CloudFormationStacks, SqsQueues, StepFunctionsControl, StepFunctionsMapRuns },
  ] = await Promise.all([
    import('@aws-sdk/client-cloudformation'),
    import('@aws-sdk/client-appconfig'),
    import('@aws-sdk/client-cloudwatch'),
    import('@aws-sdk/client-eventbridge'),
    import('@aws-sdk/client-sfn'),
    import('@aws-sdk/client-sqs'),
    import('../../lambdas/adapters/appconfig.js'),
    import('../../lambdas/adapters/cloudwatch-metrics.js'),
    import('../../lambdas/adapters/dynamodb-service.js'),
    import('../../lambdas/adapters/dynamodb-sync-state.js'),
    import('../../lambdas/adapters/eventbridge-publisher.js'),
    import('../../lambdas/adapters/field-cipher.js'),
    import('../../lambdas/domain/personal-data.js'),
    import('@aws-sdk/client-kms'),
    import('./control-plane.js'),
  ]);
  const region = process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'];
  const opts = region ? { region } : {};
  const sfn = new SFNClient(opts);
  const cloudwatch = new CloudWatchClient(opts);
  return {
    stacks: new CloudFormationStacks(new CloudFormationClient(opts)),
    executions: new StepFunctionsControl(sfn),
    mapRuns: new StepFunctionsMapRuns(sfn),
    queues: new SqsQueues(new SQSClient(opts)),
    metrics: new CloudWatchMetrics(cloudwatch),
    metricQueries: new CloudWatchQueryReader(cloudwatch),
    flags: (ids) =>
      new AppConfigFlagStore({
        applicationId: ids.applicationId,
        environmentId: ids.environmentId,
        profileId: ids.profileId,
        strategies: { gradual: ids.gradualStrategyId, rollback: ids.rollbackStrategyId },
        client: new AppConfigClient(opts),
      }),
    publisher: (busName) => new EventBridgePublisher({ busName, client: new EventBridgeClient(opts) }),
    conflicts: (table, d) =>
      new DynamoConflictStore(
        documentClient(opts),
        table,
        d?.personalDataKeyArn
          ? new PersonalDataSealer(
              d.spec,
              new EnvelopeCipher(new KmsDataKeys(d.personalDataKeyArn, new KMSClient(opts))),
            )
          : undefined,
      ),
    sync: async (d, serviceTables, legacy) => {
      // The sync engine as the functions build it (lambdas/handlers/runtime.ts), from the outputs.
      const { runtime, closeRuntime } = await import('../../lambdas/handlers/runtime.js');
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        [RUNTIME_ENV.migration]: d.spec.name,
        [RUNTIME_ENV.busName]: d.busName,
        [RUNTIME_ENV.syncTable]: d.syncStateTable,
        [RUNTIME_ENV.conflictsTable]: d.conflictsTable,
        ...(d.personalDataKeyArn ? { [RUNTIME_ENV.personalDataKey]: d.personalDataKeyArn } : {}),
        [RUNTIME_ENV.serviceTables]: JSON.stringify(serviceTables),
        ...(legacy.databaseUrl ? { [RUNTIME_ENV.mysqlUrl]: legacy.databaseUrl } : {}),
        ...(legacy.secretArn ? { [RUNTIME_ENV.legacySecretArn]: legacy.secretArn } : {}),
      };
      return { ...(await runtime(env)), close: closeRuntime };
    },
    captureSource: async () => {
      const [{ DynamoDBClient }, { DynamoDBStreamsClient }, { DynamoCaptureSource }] = await Promise.all([
        import('@aws-sdk/client-dynamodb'),
        import('@aws-sdk/client-dynamodb-streams'),
        import('./capture-redrive.js'),
      ]);
      return new DynamoCaptureSource(new DynamoDBStreamsClient(opts), new DynamoDBClient(opts));
    },
    now: systemAmbient.now,
    sleep: systemAmbient.sleep,
  };
}

interface Common {
  readonly env: string;
  readonly migration?: string;
  readonly json?: boolean;
}

/** The migration named by `--migration`, or the one that has `service`. */
function pickMigration(
  specs: readonly MigrationSpec[],
  migration: string | undefined,
  service?: string,
): MigrationSpec {
  if (migration) return findMigration(specs, migration);
  if (service) {
    const having = specs.filter((s) => serviceByName(s, service) !== undefined);
    if (having.length === 1) return having[0]!;
    if (having.length > 1)
      throw new CliError(`several migrations have a service "${service}": give --migration`);
    throw new CliError(
      `no migration has a service "${service}" (${specs.map((s) => `${s.name}: ${s.services.map((x) => x.name).join(', ')}`).join('; ')})`,
    );
  }
  if (specs.length === 1) return specs[0]!;
  throw new CliError(`give --migration (${specs.map((s) => s.name).join(', ')})`);
}

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`${name} must be a positive whole number`);
  return n;
};

/** `90s`, `2m`, `1h`, or seconds. */
function durationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(v.trim());
  if (!m) throw new CliError(`"${v}" is not a duration (e.g. 90s, 30m, 2h)`);
  return Number(m[1]) * ({ s: 1000, m: 60_000, h: 3_600_000 } as const)[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

/**
 * Adds the operator commands. `context` is built when a command runs (never at start-up:
 * `--help` needs no AWS).
 */
export function registerOperatorCommands(
  program: Command,
  print: (text: string) => void,
  context: () => CliContext | Promise<CliContext> = awsContext,
  stdin: NodeJS.ReadStream = process.stdin,
  /** Where long commands show progress (a live line on a terminal, plain lines elsewhere). */
  progressStream: ProgressStream = process.stderr,
): void {
  const common = (c: Command) =>
    c
      .option(
        '--env <env>',
        'environment (cdk.json), e.g. dev, staging, prod',
        process.env['CUTOVER_ENV'] ?? 'dev',
      )
      .option('--migration <name>', 'migration (spec name); default: the one that has the service')
      .option('--json', 'print JSON');
  const out = (json: boolean | undefined, value: unknown, text: () => string) =>
    print(json ? JSON.stringify(value, null, 2) : text());

  async function target(o: Common, serviceName?: string) {
    const specs = await loadMigrations();
    const spec = pickMigration(specs, o.migration, serviceName);
    const service = serviceName ? findService(spec, serviceName) : undefined;
    const ctx = await context();
    const migration = await deployedMigration(ctx.stacks, o.env, spec);
    const deps: RolloutDeps = {
      executions: ctx.executions,
      flags: ctx.flags(migration.flags),
      metrics: ctx.metrics,
      publisher: ctx.publisher(migration.busName),
      now: ctx.now,
      sleep: ctx.sleep,
    };
    return { spec, service, ctx, migration, deps };
  }

  // --- status -----------------------------------------------------------------------------------
  common(
    program
      .command('status')
      .description(
        'per service: phase, read %, write mode, the gate being baked (values vs thresholds, time left), full validation in progress (items, rows/s, report), DLQ depths, open conflicts, sync lag',
      )
      .argument('[service]', 'one service only')
      .option('--watch', 'refresh until q or Ctrl-C')
      .option('--interval <seconds>', 'refresh interval of --watch', positiveInt('--interval'), 10),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  cutover status --env staging --migration magento\n  cutover status customer --env prod --watch\n  cutover status --env prod --migration magento --json',
    )
    .action(async (serviceName: string | undefined, o: Common & { watch?: boolean; interval: number }) => {
      const { spec, ctx, migration, deps } = await target(o, serviceName);
      const services = serviceName ? [findService(spec, serviceName)] : spec.services;
      const collect = () => migrationStatus(ctx, deps, migration, services);
      if (o.watch && !o.json) {
        await watchStatus(collect, {
          intervalMs: o.interval * 1000,
          stdin,
          stdout: process.stdout,
          sleep: ctx.sleep,
        });
        return;
      }
      const status = await collect();
      out(o.json, status, () =>
        renderStatus(status, {
          colour: Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'],
          now: ctx.now(),
        }),
      );
    });

  // --- rollout start|abort|wait ------------------------------------------------------------------
  const rollout = program
    .command('rollout')
    .description("start, abort or wait for a service's phased rollout");
  common(
    rollout
      .command('start')
      .argument('<service>')
      .requiredOption('--by <name>', 'who starts it (recorded in the input)'),
  )
    .description('start the rollout state machine of a service')
    .addHelpText('after', '\nExample:\n  cutover rollout start customer --env staging --by jane')
    .action(async (name: string, o: Common & { by: string }) => {
      const { service, deps, ...t } = await target(o, name);
      const arn = (await deployedService(t.ctx.stacks, o.env, t.spec, service!)).rolloutStateMachineArn;
      const executionArn = await startRollout(deps, service!, arn, o.by);
      out(
        o.json,
        { executionArn },
        () => `started ${executionArn}\nfollow it: cutover status ${name} --env ${o.env} --watch`,
      );
    });
  common(
    rollout
      .command('abort')
      .argument('<service>')
      .requiredOption('--by <name>', 'who aborts it')
      .option('--reason <text>', 'why (recorded in the execution and the rollback)', ''),
  )
    .description('stop the running rollout and roll the flags back to the last safe state (zero bake)')
    .addHelpText(
      'after',
      '\nExample:\n  cutover rollout abort customer --env prod --by jane --reason "checkout errors"',
    )
    .action(async (name: string, o: Common & { by: string; reason: string }) => {
      const { service, deps, ...t } = await target(o, name);
      const arn = (await deployedService(t.ctx.stacks, o.env, t.spec, service!)).rolloutStateMachineArn;
      const r = await abortRollout(deps, service!, arn, o.by, o.reason);
      out(
        o.json,
        r,
        () =>
          `stopped ${r.executionArn}\nflags ${r.rollback.action === 'deploy' ? 'rolled back to' : 'already at'} ${describeFlags(r.rollback.flags)}`,
      );
    });
  common(
    rollout
      .command('wait')
      .argument('<service>')
      .option('--timeout <duration>', 'give up after (exit 4), e.g. 90m, 2h', durationMs, 24 * 3_600_000)
      .option('--poll <duration>', 'how often to look', durationMs, 30_000),
  )
    .description(
      'wait until the service is cut over (exit 0) or its rollout failed or rolled back (exit 1, with the cause)',
    )
    .addHelpText(
      'after',
      '\nExample (CI):\n  cutover rollout wait customer --env staging --timeout 3h && ./promote.sh',
    )
    .action(async (name: string, o: Common & { timeout: number; poll: number }) => {
      const { service, deps, ...t } = await target(o, name);
      const arn = (await deployedService(t.ctx.stacks, o.env, t.spec, service!)).rolloutStateMachineArn;
      // Progress on stderr, also with --json (stdout stays the one JSON document).
      const line = progress({ stream: progressStream });
      let r: Awaited<ReturnType<typeof waitRollout>>;
      try {
        r = await waitRollout(deps, service!, arn, {
          timeoutMs: o.timeout,
          pollMs: o.poll,
          onPoll: (p) => line.update(`${name}: ${p.phase ?? '?'} ${p.state ?? ''}`.trimEnd()),
        });
      } finally {
        line.stop();
      }
      out(o.json, r, () =>
        r.outcome === 'cut-over'
          ? `${name} is cut over (${r.state})`
          : r.outcome === 'failed'
            ? `${name}: rollout ${r.status}: ${r.cause}`
            : `${name}: still running at ${r.state ?? '?'} after the timeout`,
      );
      process.exitCode =
        r.outcome === 'cut-over' ? EXIT.ok : r.outcome === 'failed' ? EXIT.failed : EXIT.timeout;
    });

  // --- approve / reject ----------------------------------------------------------------------------
  for (const approve of [true, false]) {
    const verb = approve ? 'approve' : 'reject';
    common(
      program
        .command(verb)
        .argument('<service>')
        .requiredOption('--by <name>', `who ${approve ? 'approves' : 'rejects'} (recorded)`)
        .option('--reason <text>', 'why (recorded)'),
    )
      .description(
        approve
          ? 'approve the step the rollout waits for (cutover-writes or decommission): finds its task token in the execution history'
          : 'reject the step the rollout waits for: the rollout fails and rolls the flags back',
      )
      .addHelpText(
        'after',
        `\nExample:\n  cutover ${verb} customer --env prod --by jane${approve ? '' : ' --reason "wait for the sale to end"'}`,
      )
      .action(async (name: string, o: Common & { by: string; reason?: string }) => {
        const { service, deps, ...t } = await target(o, name);
        const arn = (await deployedService(t.ctx.stacks, o.env, t.spec, service!)).rolloutStateMachineArn;
        const p = await answerApproval(deps, service!, arn, {
          approve,
          by: o.by,
          ...(o.reason ? { reason: o.reason } : {}),
        });
        const { taskToken: _hidden, ...shown } = p;
        out(
          o.json,
          { ...shown, answer: verb, by: o.by },
          () => `${verb}d ${p.step} of ${name} (${p.executionArn})`,
        );
      });
  }

  // --- flags get|set, rollback ----------------------------------------------------------------------
  const flags = program.command('flags').description("read or set a service's flags (AppConfig)");
  common(flags.command('get').argument('<service>'))
    .description('the flags deployed for the service now')
    .addHelpText('after', '\nExample:\n  cutover flags get customer --env staging')
    .action(async (name: string, o: Common) => {
      const { deps } = await target(o, name);
      const f = await serviceFlags(deps, name);
      out(
        o.json,
        f,
        () =>
          `${name}: ${describeFlags(f.flags)} (version ${f.version})${f.deploying ? `; deployment ${f.deploying.id} ${f.deploying.state}` : ''}`,
      );
    });
  common(
    flags
      .command('set')
      .argument('<service>')
      .option('--read <percentage>', 'share of reads to the service, 0-100')
      .option('--write <mode>', 'legacy | shadow | primary')
      .requiredOption('--by <name>', 'who sets them (in the version description)'),
  )
    .description('deploy new flags with the gradual strategy (monitors watch it; the validator checks it)')
    .addHelpText(
      'after',
      '\nExamples:\n  cutover flags set customer --env staging --read 25 --by jane\n  cutover flags set customer --env staging --write shadow --by jane',
    )
    .action(async (name: string, o: Common & { read?: string; write?: string; by: string }) => {
      const { deps } = await target(o, name);
      const current = await serviceFlags(deps, name);
      const next = requestedFlags(current.flags, o.read, o.write);
      const d = await setServiceFlags(deps, name, next, o.by);
      out(
        o.json,
        { service: name, flags: next, deployment: d },
        () => `${name}: deploying ${describeFlags(next)} (deployment ${d.id}, version ${d.version})`,
      );
    });
  common(
    program
      .command('rollback')
      .argument('<service>')
      .requiredOption('--by <name>', 'who rolls back')
      .option('--reason <text>', 'why', 'by hand'),
  )
    .description(
      "restore the service's last safe flags now (zero-bake rollback strategy, the same engine as the alarm rollback)",
    )
    .addHelpText(
      'after',
      '\nExample:\n  cutover rollback customer --env prod --by jane --reason "5xx on /customer"',
    )
    .action(async (name: string, o: Common & { by: string; reason: string }) => {
      const { service, deps } = await target(o, name);
      const r = await rollbackService(deps, service!, o.by, o.reason);
      out(o.json, r, () =>
        r.action === 'deploy'
          ? `${name}: rolled back to ${describeFlags(r.flags)} (deployment ${r.deploymentId})`
          : `${name}: nothing to do (${r.reason})`,
      );
    });

  // --- conflicts ---------------------------------------------------------------------------------------
  const conflicts = program
    .command('conflicts')
    .description('conflicts the admin policy parked for a person');
  common(
    conflicts
      .command('list')
      .option('--entity <name>')
      .option('--limit <n>', 'at most', positiveInt('--limit'), 100)
      .option('--reveal', 'show personal values'),
  )
    .description('open conflicts (personal values withheld unless --reveal)')
    .addHelpText(
      'after',
      '\nExample:\n  cutover conflicts list --env prod --migration magento --entity product',
    )
    .action(async (o: Common & { entity?: string; limit: number; reveal?: boolean }) => {
      const { spec, ctx, migration } = await target(o);
      // Sealed personal values are opened only to reveal them (the resolver role's key grant).
      const store = ctx.conflicts(migration.conflictsTable, o.reveal ? migration : undefined);
      const list = await listConflicts(store, spec, {
        ...(o.entity ? { entity: o.entity } : {}),
        limit: o.limit,
        reveal: Boolean(o.reveal),
      });
      out(o.json, list, () =>
        list.length
          ? list
              .map(
                (c) =>
                  `${c.conflictId}  ${c.entity}/${c.key}.${c.field}  legacy ${c.legacy}  service ${c.service}  ${c.status}  parked ${c.parkedAt}`,
              )
              .join('\n')
          : 'no open conflicts',
      );
    });
  common(conflicts.command('show').argument('<id>').option('--reveal', 'show personal values'))
    .description('one conflict, with its resolution if any')
    .action(async (id: string, o: Common & { reveal?: boolean }) => {
      const { spec, ctx, migration } = await target(o);
      const store = ctx.conflicts(migration.conflictsTable, o.reveal ? migration : undefined);
      const c = await showConflict(store, spec, id, Boolean(o.reveal));
      out(o.json, c, () =>
        Object.entries(c)
          .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
          .join('\n'),
      );
    });
  common(
    conflicts
      .command('resolve')
      .argument('<id>')
      .requiredOption('--keep <choice>', 'legacy | service | value=<value>')
      .requiredOption('--by <name>', 'who decides (recorded)')
      .option('--database-url <url>', 'the legacy MySQL database (mysql://…); default: --secret-arn')
      .option('--secret-arn <arn>', "the legacy database's Secrets Manager secret")
      .option('--reveal', 'show personal values'),
  )
    .description('settle a conflict on both sides through the sync engine')
    .addHelpText(
      'after',
      '\nExample:\n  cutover conflicts resolve 3f2a… --keep service --by jane --env prod --migration magento --secret-arn arn:aws:secretsmanager:…',
    )
    .action(
      async (
        id: string,
        o: Common & { keep: string; by: string; databaseUrl?: string; secretArn?: string; reveal?: boolean },
      ) => {
        const { spec, ctx, migration } = await target(o);
        const tables: Record<string, string> = {};
        for (const s of spec.services)
          Object.assign(tables, (await deployedService(ctx.stacks, o.env, spec, s)).serviceTables);
        const deps = await ctx.sync(migration, tables, {
          ...(o.databaseUrl ? { databaseUrl: o.databaseUrl } : {}),
          ...(o.secretArn ? { secretArn: o.secretArn } : {}),
        });
        try {
          const r = await resolveConflictCommand(deps, id, o.keep, o.by, Boolean(o.reveal));
          out(
            o.json,
            r,
            () =>
              `${id}: ${r.outcome} (${r.conflict.entity}/${r.conflict.key}.${r.conflict.field} = ${r.conflict.resolution?.value ?? '?'})`,
          );
        } finally {
          await deps.close();
        }
      },
    );

  // --- dlq ---------------------------------------------------------------------------------------------
  const dlq = program.command('dlq').description('dead-letter queues: depth, peek, redrive by kind');
  const queuesOf = async (o: Common) => {
    const { spec, ctx, migration } = await target(o);
    const all = [...migration.platformQueues];
    for (const s of spec.services) all.push(...(await deployedService(ctx.stacks, o.env, spec, s)).queues);
    return { ctx, migration, all };
  };
  common(dlq.command('list'))
    .description('every DLQ of the migration with its kind and depth')
    .addHelpText('after', '\nExample:\n  cutover dlq list --env prod --migration magento')
    .action(async (o: Common) => {
      const { ctx, all } = await queuesOf(o);
      const list = await listDlqs(ctx, all);
      out(o.json, list, () =>
        list
          .map(
            (q) =>
              `${String(q.depth.visible).padStart(6)}  ${q.name}  (${q.kind}${q.service ? `, ${q.service}` : ''})`,
          )
          .join('\n'),
      );
    });
  common(
    dlq.command('peek').argument('<queue>').option('--max <n>', 'messages (1-10)', positiveInt('--max'), 5),
  )
    .description('look at messages without removing them (masked)')
    .action(async (name: string, o: Common & { max: number }) => {
      const { ctx, all } = await queuesOf(o);
      const msgs = await peekDlq(ctx, findQueue(all, name, o.env), o.max);
      out(o.json, msgs, () =>
        msgs.length
          ? msgs
              .map(
                (m) =>
                  `${m.messageId}  received ${m.receiveCount ?? '?'}×  ${m.reason ?? ''}\n  ${m.preview}`,
              )
              .join('\n')
          : 'empty',
      );
    });
  common(
    dlq
      .command('redrive')
      .argument('<queue>')
      .option('--wait <duration>', 'how long to follow a move task', durationMs, 300_000),
  )
    .description('redrive a DLQ the way its kind allows; prints the depth before and after')
    .addHelpText(
      'after',
      '\nKinds: source-dlq → SQS move task to the source queue; rule-target-dlq → events re-published to the bus;\ncapture-dlq → the keys of each failed stream batch re-read and their current items published\n(a batch past the 24-hour stream retention is left: run the reconciliation with repair);\nrollback-dlq is not replayed (the command says what to do).\n\nExample:\n  cutover dlq redrive magento-customer-forward-dlq --env prod --migration magento',
    )
    .action(async (name: string, o: Common & { wait: number }) => {
      const { ctx, migration, all } = await queuesOf(o);
      const queue = findQueue(all, name, o.env);
      const line = progress({ stream: progressStream });
      let r: Awaited<ReturnType<typeof redriveDlq>>;
      try {
        r = await redriveDlq(
          {
            queues: ctx.queues,
            bus: ctx.publisher(migration.busName),
            now: ctx.now,
            sleep: ctx.sleep,
            ...(queue.kind === 'capture-dlq'
              ? { capture: { source: await ctx.captureSource(), spec: migration.spec } }
              : {}),
            onProgress: (t) => line.update(t),
          },
          queue,
          { waitMs: o.wait, pollMs: 5000 },
        );
      } finally {
        line.stop();
      }
      out(
        o.json,
        r,
        () =>
          `${r.queue} (${r.kind}, ${r.method}): ${r.before} before, ${r.after} after; ${r.redriven} redriven, ${r.left} left${r.notes.length ? `\n  ${r.notes.join('\n  ')}` : ''}`,
      );
      if (r.after > 0 || r.left > 0) process.exitCode = EXIT.failed;
    });
}

export interface ServiceStatus extends RolloutView {
  readonly dlqs: readonly { readonly name: string; readonly kind: string; readonly depth: number }[];
  readonly openConflicts: number;
  /** Full validations the service's rollout or reconciliation execution is running. */
  readonly validations: readonly ValidationProgress[];
}

export interface MigrationStatus {
  readonly env: string;
  readonly migration: string;
  readonly dashboardUrl: string;
  readonly services: readonly ServiceStatus[];
  readonly platformDlqs: readonly { readonly name: string; readonly kind: string; readonly depth: number }[];
  readonly at: string;
}

/** Everything `status` shows, for each service. */
export async function migrationStatus(
  ctx: CliContext,
  deps: RolloutDeps,
  migration: DeployedMigration,
  services: readonly ServiceSpec[],
): Promise<MigrationStatus> {
  // Counted, not shown: no key needed.
  const conflicts = ctx.conflicts(migration.conflictsTable);
  const out: ServiceStatus[] = [];
  for (const service of services) {
    const deployed = await deployedService(ctx.stacks, migration.env, migration.spec, service);
    const dlqs = await listDlqs(ctx, deployed.queues);
    const view = await rolloutView(
      deps,
      service,
      deployed.rolloutStateMachineArn,
      dlqs.map((q) => q.name),
    );
    const reconciliation = (await deps.executions.list(deployed.validationStateMachineArn, 1))[0];
    const validations = await serviceValidations(ctx, service.name, deployed.validationBucket, [
      { source: 'rollout', ...(view.execution ? { execution: view.execution } : {}) },
      { source: 'reconcile', ...(reconciliation ? { execution: reconciliation } : {}) },
    ]);
    let open = 0;
    for (const e of service.entities)
      open += (await listConflicts(conflicts, migration.spec, { entity: e.name, limit: 1000, reveal: false }))
        .length;
    out.push({
      ...view,
      dlqs: dlqs.map((q) => ({ name: q.name, kind: q.kind, depth: q.depth.visible })),
      openConflicts: open,
      validations,
    });
  }
  const platform = await listDlqs(ctx, migration.platformQueues);
  return {
    env: migration.env,
    migration: migration.spec.name,
    dashboardUrl: migration.dashboardUrl,
    services: out,
    platformDlqs: platform.map((q) => ({ name: q.name, kind: q.kind, depth: q.depth.visible })),
    at: new Date(ctx.now()).toISOString(),
  };
}
