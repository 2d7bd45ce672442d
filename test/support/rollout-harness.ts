/**
 * Runs the rollout state machines as synthesized, locally: the `DefinitionString` of each
 * service's `AWS::StepFunctions::StateMachine` is taken from the template, resolved to plain ASL
 * (`asl.ts`) and executed by aws-local-stepfunctions, every Task state bound to the use case of
 * the task Lambda it invokes (`lambdas/domain/rollout-tasks.ts`) with these ports:
 *
 * - AppConfig: {@link FakeAppConfig} (stateful: hosted versions, deployments and their states);
 * - CloudWatch: {@link FakeCloudWatch}, fed by a traffic model that emits the gateway's and the
 *   sync's metrics for the flags deployed at each moment of a virtual clock;
 * - Step Functions ListExecutions: the executions this world runs ({@link FakeExecutions});
 * - the sync engine's backfill and consistency check: {@link FakeSyncTables}, an in-memory
 *   legacy and service table per entity (TODO: bind the sync engine's own implementation);
 * - EventBridge (approval requests), S3 (archive): in-memory recorders.
 *
 * Time: every Wait state is overridden to 0 ms; a Gate stands for its bake by advancing the
 * virtual clock by the step's bake time (the traffic model emits metrics for that interval), so
 * windows, baselines and timeouts are those of the spec. A deployment advances one state
 * (DEPLOYING -> BAKING -> COMPLETE) per AwaitDeployment poll, unless the test makes an
 * environment monitor fire (`alarmOn`). Task states keep the timeouts Step Functions gives them
 * (none unless the definition sets one), not aws-local-stepfunctions' 60 s default.
 */
import os from 'node:os';
import path from 'node:path';
import { App, type CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  type ArchiveSourcePort,
  type ArchiveStorePort,
  type ArchiveTable,
  archiveService,
  type Row,
} from '../../lambdas/domain/archive.js';
import {
  effectiveFlags,
  type FlagDeployment,
  type FlagState,
  initialFlags,
  type ServiceFlags,
  serviceFlagsOf,
  toFeatureFlagsDocument,
} from '../../lambdas/domain/flags.js';
import {
  type ApprovalRequest,
  type BackfillChunk,
  type BackfillPort,
  type ConsistencyCheckPort,
  type ConsistencyReport,
  type ExecutionsPort,
  type RunningExecution,
  rolloutPlan,
} from '../../lambdas/domain/rollout.js';
import {
  type ApprovalInput,
  awaitDeployment,
  copyBackfillChunk,
  type GateInput,
  planBackfill,
  requestApproval,
  rollback,
  runGate,
  setFlags,
  startRollout,
} from '../../lambdas/domain/rollout-tasks.js';
import {
  type CompareItem,
  type GroupResult,
  type PlanInput,
  reportValidation,
  resultKey,
  runPrefix,
  type ValidationPort,
  validationPlanTask,
  validationReportTask,
} from '../../lambdas/domain/validation.js';
import { reconciliationStateMachineName } from '../../lib/constructs/full-validation.js';
import { MigrationFlags } from '../../lib/constructs/migration-flags.js';
import { MigrationTables } from '../../lib/constructs/migration-tables.js';
import { deadLetterQueue } from '../../lib/constructs/queues.js';
import { type RolloutFunctions, RolloutStateMachine } from '../../lib/constructs/rollout-state-machine.js';
import {
  ACCOUNT,
  type AslDefinition,
  type AslState,
  allStates,
  type CfnTemplate,
  definitionOf,
  invokedFunction,
  REGION,
} from '../../lib/rehearse/cfn.js';
import { METRIC, METRICS_NAMESPACE } from '../../lib/spec/metrics.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { FakeAppConfig } from './fake-appconfig.js';
import { FakeCloudWatch } from './fake-cloudwatch.js';
import { InMemoryPublisher } from './in-memory-publisher.js';
import { MemoryObjectStore } from './memory-objects.js';

export const STAGE = 'test';

/** The task a function runs: a rollout task, or one of full validation's. */
export type TaskKind =
  | keyof RolloutFunctions
  | 'validationPlan'
  | 'validationScan'
  | 'validationCompare'
  | 'validationReport';

export interface SynthesizedRollout {
  readonly service: string;
  readonly stateMachineName: string;
  readonly stateMachineArn: string;
  readonly template: CfnTemplate;
  readonly definition: AslDefinition;
  /** Function logical id -> the task it runs. */
  readonly tasks: Readonly<Record<string, TaskKind>>;
}

/**
 * One stack per service, as the app deploys them, each with a RolloutStateMachine (bundling
 * skipped). Returns each service's synthesized template and its definition as plain ASL.
 */
export function synthesizeRollouts(
  spec: MigrationSpec,
  options: { nag?: boolean; reconciliation?: boolean } = {},
): Record<string, SynthesizedRollout> {
  // One output directory per process: CDK caches asset fingerprints per directory, so the
  // second synthesis in a process does not fingerprint the project again (seconds each).
  const app = new App({
    outdir: path.join(os.tmpdir(), `cutover-rollout-synth-${process.pid}`),
    context: { 'aws:cdk:bundling-stacks': [] },
  });
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  // The platform's flags and tables, as the platform stack creates them. Stacks are
  // environment-agnostic, as the app's are; the ASL resolver fills in ACCOUNT and REGION.
  const platform = new Stack(app, `Cutover-${spec.name}-platform`);
  const flags = new MigrationFlags(platform, 'Flags', { spec, stage: STAGE });
  const tables = new MigrationTables(platform, 'Tables', { spec, stage: STAGE });
  const bus = new events.EventBus(platform, 'Bus');
  const built = spec.services.map((service) => {
    const stack = new Stack(app, `Cutover-${spec.name}-${service.name}`);
    const rollout = new RolloutStateMachine(stack, 'Rollout', {
      spec,
      service,
      stage: STAGE,
      flags,
      tables,
      bus,
    });
    // The scheduled reconciliation as the service stack schedules it (same FullValidation).
    const reconciliation = options.reconciliation
      ? rollout.validation.scheduleReconciliation(Duration.minutes(15), deadLetterQueue(stack, 'TargetDlq'))
      : undefined;
    return { service, stack, rollout, reconciliation };
  });
  const out: Record<string, SynthesizedRollout> = {};
  for (const { service, stack, rollout, reconciliation } of built) {
    const template = Template.fromStack(stack).toJSON() as CfnTemplate;
    const tasks: Record<string, TaskKind> = {};
    const v = rollout.validation.functions;
    const all: Array<[TaskKind, lambda.Function]> = [
      ...(Object.entries(rollout.functions) as Array<[TaskKind, lambda.Function]>),
      ['validationPlan', v.plan],
      ['validationScan', v.scan],
      ['validationCompare', v.compare],
      ['validationReport', v.report],
    ];
    for (const [kind, fn] of all) {
      tasks[stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)] = kind;
    }
    const smId = stack.getLogicalId(rollout.stateMachine.node.defaultChild as CfnElement);
    const name = rollout.stateMachineName;
    out[service.name] = {
      service: service.name,
      stateMachineName: name,
      // The state machine's own ARN as Step Functions reports it (`$$.StateMachine.Id`).
      stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`,
      template,
      definition: definitionOf(template, smId),
      tasks,
    };
    if (!reconciliation) continue;
    const recName = reconciliationStateMachineName(STAGE, spec.name, service.name);
    out[`${service.name}:reconciliation`] = {
      service: service.name,
      stateMachineName: recName,
      stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${recName}`,
      template,
      definition: definitionOf(template, stack.getLogicalId(reconciliation.node.defaultChild as CfnElement)),
      tasks,
    };
  }
  return out;
}

// --- fakes ------------------------------------------------------------------------------------------

/** Step Functions' execution list as the Start task sees it: the executions of this world. */
export class FakeExecutions implements ExecutionsPort {
  readonly executions: Array<{
    stateMachineArn: string;
    executionArn: string;
    startedAt: number;
    status: string;
  }> = [];
  async listRunning(stateMachineArn: string): Promise<RunningExecution[]> {
    return this.executions
      .filter((e) => e.stateMachineArn === stateMachineArn && e.status === 'RUNNING')
      .map(({ executionArn, startedAt }) => ({ executionArn, startedAt }));
  }
}

type TableRow = Record<string, string | number>;

/**
 * The legacy and service tables of each entity, in memory: backfill copies legacy rows to the
 * service side, the consistency check compares them, the archive reads the legacy side.
 * `plantMismatch` makes a service record differ from legacy in a way the backfill keeps (as
 * the sync rules keep a service record that is newer).
 */
export class FakeSyncTables implements BackfillPort, ConsistencyCheckPort, ArchiveSourcePort, ValidationPort {
  /** Where the validation's work lists, results and reports go (the world's store). */
  objects = new MemoryObjectStore();
  readonly published = new InMemoryPublisher();
  readonly legacy = new Map<string, Map<string, TableRow>>();
  readonly service = new Map<string, Map<string, TableRow>>();
  private readonly protectedKeys = new Set<string>();
  /** Chunk copies in flight now, and the most seen at once. */
  inFlight = 0;
  maxInFlight = 0;
  readonly copied: BackfillChunk[] = [];

  constructor(
    private readonly spec: MigrationSpec,
    rowsPerEntity = 25,
  ) {
    for (const s of spec.services) {
      for (const e of s.entities) {
        const rows = new Map<string, TableRow>();
        for (let k = 1; k <= rowsPerEntity; k++) {
          rows.set(String(k), Object.fromEntries(e.fields.map((f, i) => [f.name, `${e.name}-${k}-${i}`])));
        }
        this.legacy.set(e.name, rows);
        this.service.set(e.name, new Map());
      }
    }
  }

  plantMismatch(entity: string, key: string): void {
    const row = { ...this.legacy.get(entity)!.get(key)!, planted: 'differs' };
    this.service.get(entity)!.set(key, row);
    this.protectedKeys.add(`${entity}#${key}`);
  }

  async planChunks(entity: string, chunkSize: number): Promise<BackfillChunk[]> {
    const keys = [...this.legacy.get(entity)!.keys()].sort((a, b) => Number(a) - Number(b));
    const chunks: BackfillChunk[] = [];
    for (let i = 0; i < keys.length; i += chunkSize) {
      const part = keys.slice(i, i + chunkSize);
      chunks.push({ entity, from: part[0]!, to: part[part.length - 1]!, keys: part.length });
    }
    return chunks;
  }

  async copyChunk(chunk: BackfillChunk): Promise<{ copied: number; skipped: number }> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, 2));
      let copied = 0;
      let skipped = 0;
      for (const [k, row] of this.legacy.get(chunk.entity)!) {
        if (Number(k) < Number(chunk.from) || Number(k) > Number(chunk.to)) continue;
        if (this.protectedKeys.has(`${chunk.entity}#${k}`)) {
          skipped++;
          continue;
        }
        this.service.get(chunk.entity)!.set(k, { ...row });
        copied++;
      }
      this.copied.push(chunk);
      return { copied, skipped };
    } finally {
      this.inFlight--;
    }
  }

  async check(entity: string): Promise<ConsistencyReport> {
    const l = this.legacy.get(entity)!;
    const s = this.service.get(entity)!;
    const keys = new Set([...l.keys(), ...s.keys()]);
    const mismatches = [...keys].filter((k) => JSON.stringify(l.get(k)) !== JSON.stringify(s.get(k)));
    return {
      entity,
      legacyCount: l.size,
      serviceCount: s.size,
      mismatches,
      consistency: keys.size ? (keys.size - mismatches.length) / keys.size : 1,
    };
  }

  // Full validation in this model: no scan; one compare item per entity, checked whole.
  async plan(input: PlanInput) {
    await this.objects.put(`${runPrefix(input.run)}plan.json`, JSON.stringify({ entities: input.entities }));
    const key = `${runPrefix(input.run)}scan-items.json`;
    await this.objects.put(key, '[]');
    return { run: input.run, scan: { bucketKey: key, items: 0 } };
  }

  async scan(): Promise<never> {
    throw new Error('the in-memory model plans no scan');
  }

  async planComparison(input: { run: string; repair?: boolean }) {
    const { entities } = JSON.parse(await this.objects.get(`${runPrefix(input.run)}plan.json`)) as {
      entities: string[];
    };
    const layout = { chunkSize: 1, chunksPerGroup: 1, bucketsPerGroup: 1, rowsPerWorker: 2 };
    const items: CompareItem[] = entities.map((entity) => ({
      run: input.run,
      entity,
      group: 'all',
      mode: 'sql',
      layout,
      repair: input.repair ?? false,
      maxReported: 1000,
    }));
    const key = `${runPrefix(input.run)}compare-items.json`;
    await this.objects.put(key, JSON.stringify(items));
    return { run: input.run, compare: { bucketKey: key, items: items.length } };
  }

  async compare(item: CompareItem) {
    const r = await this.check(item.entity);
    const rows = r.legacyCount + r.serviceCount;
    const result: GroupResult = {
      entity: item.entity,
      group: item.group,
      legacyCount: r.legacyCount,
      serviceCount: r.serviceCount,
      chunks: 1,
      chunksDiffering: r.mismatches.length ? [0] : [],
      mismatches: r.mismatches.map((legacyKey) => ({ legacyKey, kind: 'different' as const })),
      mismatchesTotal: r.mismatches.length,
      repaired: 0,
      rows,
      maxRowsHeld: rows,
      ms: 0,
    };
    await this.objects.put(resultKey(item.run, item.entity, item.group), JSON.stringify(result));
    return {
      entity: item.entity,
      group: item.group,
      rows,
      maxRowsHeld: rows,
      ms: 0,
      mismatchesTotal: 0,
      repaired: 0,
    };
  }

  report(input: Parameters<typeof reportValidation>[1]) {
    return reportValidation({ store: this.objects, publisher: this.published }, input);
  }

  async readPage(table: ArchiveTable, after: unknown, limit: number): Promise<Row[]> {
    const entity = this.spec.services
      .flatMap((s) => s.entities)
      .find((e) => 'table' in e.legacy && e.legacy.table === table.table);
    if (!entity) return []; // EAV value tables: none in this model
    const rows = [...this.legacy.get(entity.name)!.entries()]
      .map(([k, r]) => ({ [table.key]: Number(k), ...r }))
      .sort((a, b) => (a[table.key] as number) - (b[table.key] as number));
    return rows
      .filter((r) => after === undefined || (r[table.key] as number) > (after as number))
      .slice(0, limit);
  }
}

export class FakeObjectStore implements ArchiveStorePort {
  readonly objects = new Map<string, { body: Uint8Array; contentType: string; contentEncoding?: string }>();
  async put(key: string, body: Uint8Array, contentType: string, contentEncoding?: string): Promise<void> {
    this.objects.set(key, { body, contentType, ...(contentEncoding ? { contentEncoding } : {}) });
  }
}

// --- traffic ------------------------------------------------------------------------------------------

/** What the gateway and the sync experience under a service's effective flags. */
export interface TrafficConditions {
  /** Error ratio of requests served by the new service. @default 0 */
  readonly serviceErrorRate?: number;
  /** Latency of requests served by the new service (ms). @default 80 */
  readonly serviceLatencyMs?: number;
  /** Latency of requests served by legacy (ms). @default 100 */
  readonly legacyLatencyMs?: number;
  /** Failed share of forward-sync (dual-write) events. @default 0 */
  readonly forwardFailedRate?: number;
  /** No traffic at all (missing data). @default false */
  readonly silent?: boolean;
}

export type TrafficModel = (
  service: string,
  flags: { readPercentage: number; writeMode: string },
) => TrafficConditions;

const REQUESTS_PER_INTERVAL = 10_000;
const LATENCY_SAMPLES = 40;

// --- the world ------------------------------------------------------------------------------------------

export interface ExecutionOutcome {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: Record<string, unknown>;
  readonly error?: string;
  readonly cause?: string;
  readonly executionArn: string;
}

export type Operator = (request: ApprovalRequest) => Promise<unknown>;

export interface WorldOptions {
  /**
   * The sync engine's side, instead of the in-memory tables: e.g. `SyncEngineBackfill` and
   * `SyncEngineConsistencyCheck` over MariaDB and DynamoDB Local, `MysqlArchiveSource`.
   */
  readonly ports?: {
    readonly backfill?: BackfillPort;
    readonly consistency?: ConsistencyCheckPort;
    readonly archiveSource?: ArchiveSourcePort;
    /** Full validation; its work lists must be in `objects`. */
    readonly validation?: ValidationPort;
  };
  /** The validation bucket the Distributed Maps' ItemReaders read. @default - the in-memory model's */
  readonly objects?: MemoryObjectStore;
  /** Flags deployed at the start, by service. @default - every service at 0 % / legacy */
  readonly initialFlags?: FlagState;
  readonly traffic?: TrafficModel;
  /** Approvals: resolve to approve (the output of send-task-success), reject to reject. @default approve */
  readonly operator?: Operator;
  /** Step ids (`Canary50`) whose deployment an environment monitor rolls back. */
  readonly alarmOn?: readonly string[];
  /** Called during each bake, after the traffic of the bake was recorded (e.g. to change flags). */
  readonly duringBake?: (world: RolloutWorld, service: string, step: string) => void | Promise<void>;
  /** Called when a task state starts and ends (the bench's marks). */
  readonly onTask?: (service: string, state: string, at: 'start' | 'end') => void;
  /** Called when a gate fails (the bench's start mark). */
  readonly onGateFailed?: (service: string) => void;
  /** Called when a rollback has restored the flags (the bench's end mark). */
  readonly onFlagsRestored?: (service: string) => void;
}

export const T0 = Date.parse('2026-11-02T00:00:00.000Z');

export class RolloutWorld {
  now = T0;
  readonly appConfig: FakeAppConfig;
  readonly cloudwatch = new FakeCloudWatch();
  readonly executions = new FakeExecutions();
  readonly sync: FakeSyncTables;
  readonly store = new FakeObjectStore();
  readonly approvals: ApprovalRequest[] = [];
  /** Local handler invocations, in order: `customer:Canary25Gate`. */
  readonly trace: string[] = [];
  private seq = 0;

  constructor(
    readonly spec: MigrationSpec,
    readonly machines: Record<string, SynthesizedRollout>,
    private readonly options: WorldOptions = {},
  ) {
    this.appConfig = new FakeAppConfig(
      toFeatureFlagsDocument(spec, { ...initialFlags(spec), ...options.initialFlags }),
      {
        now: () => this.now,
      },
    );
    this.sync = new FakeSyncTables(spec);
    // Two hours of history on legacy: the baseline of the added-latency check.
    this.advance(2 * 3600_000);
  }

  /** Lets virtual time pass: traffic under the flags deployed now is recorded for the interval. */
  advance(ms: number): void {
    const from = this.now;
    const to = from + ms;
    const doc = this.appConfig.deployed();
    for (const s of this.spec.services) {
      const flags = effectiveFlags(serviceFlagsOf(doc, s.name));
      const c = this.options.traffic?.(s.name, flags) ?? {};
      if (c.silent) continue;
      const toService =
        flags.writeMode === 'primary'
          ? REQUESTS_PER_INTERVAL
          : Math.round((REQUESTS_PER_INTERVAL * flags.readPercentage) / 100);
      const mid = from + ms / 2;
      // Latency samples spread over the interval, so any sub-window of it sees some.
      const latency = (dims: Record<string, string>, v: number) => {
        for (let i = 0; i < LATENCY_SAMPLES; i++) {
          this.cloudwatch.put(
            METRICS_NAMESPACE,
            METRIC.gatewayLatency,
            dims,
            v,
            from + ((i + 0.5) * ms) / LATENCY_SAMPLES,
          );
        }
      };
      if (toService > 0) {
        const errors = Math.round(toService * (c.serviceErrorRate ?? 0));
        const dims = { service: s.name, target: 'service' };
        this.cloudwatch.put(
          METRICS_NAMESPACE,
          METRIC.gatewayRequests,
          { ...dims, outcome: 'success' },
          toService - errors,
          mid,
        );
        this.cloudwatch.put(
          METRICS_NAMESPACE,
          METRIC.gatewayRequests,
          { ...dims, outcome: 'error' },
          errors,
          mid,
        );
        latency(dims, c.serviceLatencyMs ?? 80);
      }
      latency({ service: s.name, target: 'legacy' }, c.legacyLatencyMs ?? 100);
      const events = 1000;
      const failed = Math.round(events * (c.forwardFailedRate ?? 0));
      const fwd = { service: s.name, direction: 'forward' };
      this.cloudwatch.put(
        METRICS_NAMESPACE,
        METRIC.eventProcessing,
        { ...fwd, status: 'applied' },
        events - failed,
        mid,
      );
      this.cloudwatch.put(
        METRICS_NAMESPACE,
        METRIC.eventProcessing,
        { ...fwd, status: 'failed' },
        failed,
        mid,
      );
    }
    this.now = to;
  }

  private get validation(): ValidationPort {
    return this.options.ports?.validation ?? this.sync;
  }

  private get consistency(): ConsistencyCheckPort {
    return this.options.ports?.consistency ?? this.sync;
  }

  /** A service's flags in the deployed document (what the gateway serves now). */
  deployedFlags(service: string): ServiceFlags {
    return serviceFlagsOf(this.appConfig.deployed(), service);
  }

  /** Each deployment of the flag profile with the service's flags it deployed (oldest first). */
  deploymentHistory(service: string): Array<{ deployment: FlagDeployment; flags: ServiceFlags }> {
    return this.appConfig.deployments.map((d) => ({
      deployment: { ...d },
      flags: serviceFlagsOf(this.appConfig.versions.get(d.version)!, service),
    }));
  }

  /** Starts an execution of a service's synthesized state machine; resolves when it ends. */
  run(
    service: string,
    name = `run-${++this.seq}`,
    input: Record<string, unknown> = {},
  ): Promise<ExecutionOutcome> {
    const m = this.machines[service];
    if (!m) throw new Error(`no state machine for ${service}`);
    const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${m.stateMachineName}:${name}`;
    const record = {
      stateMachineArn: m.stateMachineArn,
      executionArn,
      startedAt: Date.now(),
      status: 'RUNNING',
    };
    this.executions.executions.push(record);
    const { definition, maps } = withLocalDistributedMaps(withStepFunctionsTaskTimeouts(m.definition));
    const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
    const waits: Record<string, number> = {};
    const handlers: Record<string, (input: unknown) => Promise<never>> = {};
    // A Distributed Map with an ItemReader: its items from the store, its processor run per item.
    for (const [stateName, state] of Object.entries(maps)) {
      handlers[stateName] = async (input: unknown) => {
        this.trace.push(`${service}:${stateName}`);
        return (await this.runItems(state, input, {
          taskResourceLocalHandlers: handlers,
          waitTimeOverrides: waits,
        })) as never;
      };
    }
    for (const [stateName, state] of allStates(m.definition)) {
      if (maps[stateName]) continue;
      if (state.Type === 'Wait') waits[stateName] = 0;
      if (state.Type !== 'Task') continue;
      const fn = invokedFunction(state);
      const kind = fn ? m.tasks[fn] : undefined;
      if (!kind) throw new Error(`task ${stateName} invokes no rollout function (${state.Resource})`);
      handlers[stateName] = async (input: unknown) => {
        this.trace.push(`${service}:${stateName}`);
        this.options.onTask?.(service, stateName, 'start');
        try {
          return (await this.task(m.service, kind, input as never)) as never;
        } finally {
          this.options.onTask?.(service, stateName, 'end');
        }
      };
    }
    const execution = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits },
      context: {
        Execution: { Id: executionArn, Name: name },
        StateMachine: { Id: m.stateMachineArn, Name: m.stateMachineName },
        Task: { Token: `token-${name}` },
        // (Not filled in by aws-local-stepfunctions: the time the execution started stands in.)
        State: { EnteredTime: new Date().toISOString(), Name: '', RetryCount: 0 },
      },
    });
    return execution.result.then(
      (output) => {
        record.status = 'SUCCEEDED';
        return { status: 'SUCCEEDED' as const, output: output as Record<string, unknown>, executionArn };
      },
      (e: unknown) => {
        record.status = 'FAILED';
        const failure = (e as { cause?: { name?: string; message?: string } }).cause ?? (e as Error);
        return { status: 'FAILED' as const, error: failure.name, cause: failure.message, executionArn };
      },
    );
  }

  /** The most child executions of a Distributed Map seen running at once (per map state). */
  readonly mapConcurrency: Record<string, number> = {};

  /**
   * A Distributed Map's ItemReader and item processor, as Step Functions runs them: the JSON
   * array at `Parameters.Key` (resolved on the state's input) read from the bucket, one child
   * execution of the processor per item, at most `MaxConcurrency` at once; the results in item
   * order. (aws-local-stepfunctions runs inline Maps only.)
   */
  private async runItems(
    state: AslState,
    input: unknown,
    overrides: {
      taskResourceLocalHandlers: Record<string, unknown>;
      waitTimeOverrides: Record<string, number>;
    },
  ): Promise<unknown[]> {
    const reader = state['ItemReader'] as {
      Parameters: Record<string, string>;
      ReaderConfig?: { InputType?: string };
    };
    if (reader.ReaderConfig?.InputType !== 'JSON') throw new Error('only JSON item readers are run locally');
    const key = resolvePath(input, reader.Parameters['Key.$']!) as string;
    const store = this.options.objects ?? this.sync.objects;
    const items = JSON.parse(await store.get(key)) as unknown[];
    const processor = new StateMachine(state.ItemProcessor as never, {
      validationOptions: { noValidate: true },
    });
    const limit = (state['MaxConcurrency'] as number | undefined) || 1000;
    const out = new Array<unknown>(items.length);
    let next = 0;
    let running = 0;
    const name = String(state['Label'] ?? 'map');
    await Promise.all(
      Array.from({ length: Math.min(limit, items.length) }, async () => {
        while (next < items.length) {
          const i = next++;
          running++;
          this.mapConcurrency[name] = Math.max(this.mapConcurrency[name] ?? 0, running);
          try {
            out[i] = await processor.run(items[i] as never, { overrides: overrides as never }).result;
          } finally {
            running--;
          }
        }
      }),
    );
    return out;
  }

  /** The use case of each task Lambda, with this world's ports. */
  private async task(service: string, kind: TaskKind, input: never): Promise<unknown> {
    const flags = this.appConfig;
    const clock = () => this.now;
    switch (kind) {
      case 'start':
        return startRollout({ flags, executions: this.executions }, input);
      case 'setFlags':
        return setFlags({ flags }, input);
      case 'awaitDeployment': {
        const i = input as Parameters<typeof awaitDeployment>[1];
        const d = this.appConfig.deployments.find((x) => x.id === i.deployment.id)!;
        if (d.state === 'DEPLOYING' || d.state === 'BAKING') {
          if (this.options.alarmOn?.includes(i.step)) this.appConfig.monitorAlarm(d.id);
          else this.appConfig.advance(d.id);
        }
        return awaitDeployment({ flags }, i);
      }
      case 'gate': {
        const i = input as GateInput;
        const step = rolloutPlan(this.spec.services.find((s) => s.name === service)!).steps.find(
          (s) => s.gate?.id === i.gate.id,
        )!;
        this.advance(step.bakeSeconds * 1000);
        try {
          await this.options.duringBake?.(this, service, step.id);
          return await runGate({ metrics: this.cloudwatch, consistency: this.consistency, flags, clock }, i);
        } catch (e) {
          this.options.onGateFailed?.(service);
          throw e;
        }
      }
      case 'backfillPlan':
        return planBackfill({ backfill: this.options.ports?.backfill ?? this.sync }, input);
      case 'backfillChunk':
        return copyBackfillChunk({ backfill: this.options.ports?.backfill ?? this.sync }, input);
      case 'validationPlan':
        return validationPlanTask(this.validation, input);
      case 'validationScan':
        return this.validation.scan(input);
      case 'validationCompare':
        return this.validation.compare(input);
      case 'validationReport':
        return validationReportTask(this.validation, input);
      case 'requestApproval': {
        // waitForTaskToken: the task's output is what the operator sends back.
        const payload = (input as { Payload: ApprovalInput }).Payload;
        await requestApproval(
          { approvals: { requestApproval: async (r) => void this.approvals.push(r) }, clock },
          payload,
        );
        const request = this.approvals[this.approvals.length - 1]!;
        return (this.options.operator ?? (async () => ({ approved: true, by: 'test' })))(request);
      }
      case 'rollback': {
        const result = await rollback(
          {
            flags,
            clock,
            // An all-at-once, zero-bake deployment moves on each poll.
            sleep: async (ms) => {
              this.now += ms;
              for (const d of this.appConfig.deployments) {
                if (d.state === 'DEPLOYING' || d.state === 'BAKING') this.appConfig.advance(d.id);
              }
            },
          },
          input,
        );
        this.options.onFlagsRestored?.(service);
        return result;
      }
      case 'archive': {
        const i = input as { service: string; executionName: string };
        return archiveService(this.spec, i.service, {
          source: this.options.ports?.archiveSource ?? this.sync,
          store: this.store,
          now: clock,
          runId: i.executionName,
        });
      }
    }
  }
}

/** The value at a plain JSONPath (`$.a.b`) of `input`. */
function resolvePath(input: unknown, path: string): unknown {
  if (!/^\$(\.[A-Za-z0-9_]+)*$/.test(path)) throw new Error(`unsupported path ${path}`);
  return path
    .split('.')
    .slice(1)
    .reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], input);
}

/**
 * The longest timer Node runs (2^31 - 1 ms, 24.8 days; a longer one fires at once): a local
 * Task state's timeout when Step Functions would give it none.
 */
const NO_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * The definition with the task timeouts Step Functions applies: a Task state without
 * `TimeoutSeconds` (or `TimeoutSecondsPath`) has none there (a Lambda task ends when the function
 * times out; https://docs.aws.amazon.com/step-functions/latest/dg/sfn-stuck-execution.html), but
 * aws-local-stepfunctions gives it 60 s, so a backfill chunk or a validation worker slower than a
 * minute on a loaded machine would fail with States.Timeout and roll the rollout back.
 */
function withStepFunctionsTaskTimeouts(def: AslDefinition): AslDefinition {
  const copy = structuredClone(def);
  for (const [, state] of allStates(copy)) {
    if (state.Type !== 'Task' || 'TimeoutSeconds' in state || 'TimeoutSecondsPath' in state) continue;
    (state as { TimeoutSeconds?: number }).TimeoutSeconds = NO_TIMEOUT_SECONDS;
  }
  return copy;
}

/**
 * The definition with each Distributed Map that has an ItemReader replaced by a Task state of the
 * same name (same Next/End, ResultPath, Retry, Catch), which the world runs itself.
 */
function withLocalDistributedMaps(def: AslDefinition): {
  definition: AslDefinition;
  maps: Record<string, AslState>;
} {
  const maps: Record<string, AslState> = {};
  const States: Record<string, AslState> = {};
  for (const [name, state] of Object.entries(def.States)) {
    if (state.Type === 'Map' && state['ItemReader']) {
      maps[name] = state;
      const {
        Type: _t,
        ItemReader: _r,
        ItemProcessor: _p,
        MaxConcurrency: _m,
        Label: _l,
        ItemSelector: _s,
        ...rest
      } = state;
      States[name] = {
        ...rest,
        Type: 'Task',
        Resource: `arn:aws:states:${REGION}:${ACCOUNT}:activity:${name}`,
        // A Map state has no timeout: it runs as long as its items take.
        TimeoutSeconds: NO_TIMEOUT_SECONDS,
      };
    } else States[name] = state;
  }
  return { definition: { ...def, States }, maps };
}
