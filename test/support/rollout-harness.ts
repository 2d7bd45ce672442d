/**
 * Runs the rollout state machines as synthesized, locally: the `DefinitionString` of each
 * service's `AWS::StepFunctions::StateMachine` is taken from the template, resolved to plain ASL
 * (lib/rehearse/cfn.ts) and executed by lib/rehearse/rollout-runner.ts (aws-local-stepfunctions;
 * the runner `cutover rehearse` uses too), every Task state bound to the use case of the task
 * Lambda it invokes (`lambdas/domain/rollout-tasks.ts`) with these ports:
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
import { AwsSolutionsChecks } from 'cdk-nag';
import { SignalMetrics } from '../../lambdas/adapters/cloudwatch-metrics.js';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import type { ArchiveSourcePort, ArchiveTable, Row } from '../../lambdas/domain/archive.js';
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
  rolloutPlan,
} from '../../lambdas/domain/rollout.js';
import type { GateInput } from '../../lambdas/domain/rollout-tasks.js';
import {
  type CompareItem,
  type GroupResult,
  type PlanInput,
  reportValidation,
  resultKey,
  runPrefix,
  type ValidationPort,
} from '../../lambdas/domain/validation.js';
import { reconciliationStateMachineName } from '../../lib/constructs/full-validation.js';
import { MigrationFlags } from '../../lib/constructs/migration-flags.js';
import { MigrationTables } from '../../lib/constructs/migration-tables.js';
import { deadLetterQueue } from '../../lib/constructs/queues.js';
import { RolloutStateMachine } from '../../lib/constructs/rollout-state-machine.js';
import { MemoryArchiveStore, MemoryObjectStore } from '../../lib/local/memory-objects.js';
import {
  ACCOUNT,
  type AslDefinition,
  type CfnTemplate,
  definitionOf,
  REGION,
} from '../../lib/rehearse/cfn.js';
import {
  type ExecutionOutcome,
  executeStateMachine,
  LocalExecutions,
  type RolloutPorts,
  rolloutTask,
  type TaskKind,
} from '../../lib/rehearse/rollout-runner.js';
import { METRIC, METRICS_NAMESPACE } from '../../lib/spec/metrics.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { FakeAppConfig } from './fake-appconfig.js';
import { FakeCloudWatch } from './fake-cloudwatch.js';
import { InMemoryPublisher } from './in-memory-publisher.js';

export const STAGE = 'test';

export type { ExecutionOutcome, TaskKind } from '../../lib/rehearse/rollout-runner.js';

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

/** Step Functions' execution list as the Start task sees it (lib/rehearse/rollout-runner.ts). */
export { LocalExecutions as FakeExecutions };

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
    return reportValidation(
      { store: this.objects, publisher: this.published, now: systemAmbient.now },
      input,
    );
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

/** The archive's bucket in memory (lib/local/memory-objects.ts). */
export { MemoryArchiveStore as FakeObjectStore };

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
  /** Steps whose flag deployment AppConfig never finishes (stays DEPLOYING at every poll). */
  readonly stuckOn?: readonly string[];
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
  readonly executions = new LocalExecutions();
  readonly sync: FakeSyncTables;
  readonly store = new MemoryArchiveStore();
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
  async run(
    service: string,
    name = `run-${++this.seq}`,
    input: Record<string, unknown> = {},
  ): Promise<ExecutionOutcome> {
    const m = this.machines[service];
    if (!m) throw new Error(`no state machine for ${service}`);
    const record = {
      stateMachineArn: m.stateMachineArn,
      executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:${m.stateMachineName}:${name}`,
      startedAt: Date.now(),
      status: 'RUNNING',
    };
    this.executions.executions.push(record);
    const outcome = await executeStateMachine({
      definition: m.definition,
      stateMachineName: m.stateMachineName,
      stateMachineArn: m.stateMachineArn,
      executionName: name,
      input,
      tasks: m.tasks,
      waitMs: () => 0,
      objects: this.options.objects ?? this.sync.objects,
      mapConcurrency: this.mapConcurrency,
      onState: (state) => this.trace.push(`${service}:${state}`),
      task: async (kind, taskInput, state) => {
        this.options.onTask?.(service, state, 'start');
        try {
          return await this.task(m.service, kind, taskInput);
        } finally {
          this.options.onTask?.(service, state, 'end');
        }
      },
    });
    record.status = outcome.status;
    return outcome;
  }

  /** The most child executions of a Distributed Map seen running at once (per map state). */
  readonly mapConcurrency: Record<string, number> = {};

  /** The use case of each task Lambda, with this world's ports (and its clock's hooks). */
  private async task(service: string, kind: TaskKind, input: never): Promise<unknown> {
    const ports: RolloutPorts = {
      spec: this.spec,
      flags: this.appConfig,
      executions: this.executions,
      metrics: new SignalMetrics(this.cloudwatch),
      consistency: this.consistency,
      backfill: this.options.ports?.backfill ?? this.sync,
      validation: this.validation,
      archiveSource: this.options.ports?.archiveSource ?? this.sync,
      archiveStore: this.store,
      requestApproval: async (r) => void this.approvals.push(r),
      operator: this.options.operator ?? (async () => ({ approved: true, by: 'test' })),
      clock: () => this.now,
      // An all-at-once, zero-bake deployment moves on each poll.
      sleep: async (ms) => {
        this.now += ms;
        for (const d of this.appConfig.deployments) {
          if (d.state === 'DEPLOYING' || d.state === 'BAKING') this.appConfig.advance(d.id);
        }
      },
    };
    switch (kind) {
      case 'awaitDeployment': {
        const i = input as { step: string; deployment: { id: string } };
        const d = this.appConfig.deployments.find((x) => x.id === i.deployment.id)!;
        if (this.options.stuckOn?.includes(i.step)) {
          // AppConfig does not move this deployment on: only the poll bound ends the wait.
        } else if (d.state === 'DEPLOYING' || d.state === 'BAKING') {
          if (this.options.alarmOn?.includes(i.step)) this.appConfig.monitorAlarm(d.id);
          else this.appConfig.advance(d.id);
        }
        return rolloutTask(ports, kind, input);
      }
      case 'gate': {
        // The bake: virtual time passes (the traffic model records its metrics) before the gate.
        const i = input as GateInput;
        const step = rolloutPlan(this.spec.services.find((s) => s.name === service)!).steps.find(
          (s) => s.gate?.id === i.gate.id,
        )!;
        this.advance(step.bakeSeconds * 1000);
        try {
          await this.options.duringBake?.(this, service, step.id);
          return await rolloutTask(ports, kind, input);
        } catch (e) {
          this.options.onGateFailed?.(service);
          throw e;
        }
      }
      case 'rollback': {
        const result = await rolloutTask(ports, kind, input);
        this.options.onFlagsRestored?.(service);
        return result;
      }
      default:
        return rolloutTask(ports, kind, input);
    }
  }
}
