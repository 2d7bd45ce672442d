/**
 * The service's rollout inside a rehearsal: the rollout state machine of the service stack, as
 * the assembly holds it, run by lib/rehearse/rollout-runner.ts in real time with the template's
 * durations divided by a time scale, against
 *
 * - AppConfig: {@link LocalAppConfig} holding the profile content of the assembly, deploying by
 *   the synthesized strategies (deployment duration and final bake, divided by the time scale);
 *   its data plane ({@link startAppConfigData}) serves what is deployed to the gateway's flag
 *   reader;
 * - CloudWatch: the caller's metrics port (the rehearsal feeds it the EMF its functions print);
 * - the sync engine's backfill, consistency check and full validation over the rehearsal's
 *   databases; the archive into memory; approvals answered "approved" by the rehearsal.
 *
 * It records each state entered, each step's flags deployed, and each rollback with its cause
 * and the moment the flags were restored (the rollback deployment COMPLETE).
 */
import type { ArchiveSourcePort } from '../../lambdas/domain/archive.js';
import {
  effectiveFlags,
  parseFeatureFlagsDocument,
  type StrategyKind,
  serviceFlagsOf,
  withServiceFlags,
} from '../../lambdas/domain/flags.js';
import type { BackfillPort, ConsistencyCheckPort, MetricsPort } from '../../lambdas/domain/rollout.js';
import {
  causeText,
  type Progress,
  type RollbackInput,
  type RollbackResult,
} from '../../lambdas/domain/rollout-tasks.js';
import type { ValidationPort } from '../../lambdas/domain/validation.js';
import { MemoryArchiveStore, type MemoryObjectStore } from '../local/memory-objects.js';
import type { MigrationSpec } from '../spec/schema.js';
import type { AssemblyModel } from './assembly.js';
import { ACCOUNT, type AslDefinition, REGION } from './cfn.js';
import { LocalAppConfig, retrievedForm, type StrategyTiming } from './local-appconfig.js';
import { type FakeAppConfigData, startAppConfigData } from './local-appconfig-data.js';
import {
  type ExecutionOutcome,
  executeStateMachine,
  LocalExecutions,
  type RolloutPorts,
  rolloutTask,
  type TaskKind,
} from './rollout-runner.js';

/** The rollout cannot be run from this assembly. */
export class LocalRolloutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalRolloutError';
  }
}

/** The task each rollout function's handler runs (`CutoverFunction` handler names). */
const HANDLER_TASK: Readonly<Record<string, TaskKind>> = {
  'rollout-start': 'start',
  'rollout-set-flags': 'setFlags',
  'rollout-await-deployment': 'awaitDeployment',
  'rollout-gate': 'gate',
  'rollout-backfill-plan': 'backfillPlan',
  'rollout-backfill-chunk': 'backfillChunk',
  'rollout-request-approval': 'requestApproval',
  'rollout-rollback': 'rollback',
  'rollout-archive': 'archive',
  'validation-plan': 'validationPlan',
  'validation-scan': 'validationScan',
  'validation-compare': 'validationCompare',
  'validation-report': 'validationReport',
};

export interface LocalRolloutOptions {
  readonly model: AssemblyModel;
  readonly spec: MigrationSpec;
  readonly service: string;
  /** The service stack (`cutover-dev-magento-customer`). */
  readonly stack: string;
  /** Template durations (waits, bakes, deployment strategies, the gateway's flag poll) ÷ this. */
  readonly timeScale: number;
  /**
   * The clock of the gateway's flag poll (and the AppConfig Data API) runs this many times
   * faster than real time; 1 polls at the template's interval. @default timeScale
   */
  readonly flagPollTimeScale?: number;
  /** No bake is shorter than this (ms): a gate's window must hold some traffic. */
  readonly minBakeMs: number;
  readonly metrics: MetricsPort;
  readonly consistency: ConsistencyCheckPort;
  readonly backfill: BackfillPort;
  readonly validation: ValidationPort;
  /** The validation's bucket (its Distributed Maps read their work lists there). */
  readonly objects: MemoryObjectStore;
  readonly archiveSource: ArchiveSourcePort;
  /**
   * Called before a step's flags are set (its `SetFlags` task), which waits for it: the
   * rehearsal holds the shadow step until its edits have flowed for a gate window.
   */
  readonly beforeStep?: (step: string) => Promise<void>;
}

export interface RollbackRecord {
  /** When the Rollback task started (epoch ms). */
  readonly startedAt: number;
  /** The failure the state machine caught, as the operator reads it. */
  readonly cause: string;
  /** When the last good flags were deployed (the rollback deployment COMPLETE), epoch ms. */
  flagsRestoredAt?: number;
  /** The read percentage deployed when the rollback began, and the one it restores. */
  readonly readPercentage: { readonly from: number; readonly to: number };
}

/** The rollout of one service, run locally in real (scaled) time. */
export class LocalRollout {
  readonly appConfig: LocalAppConfig;
  /** States entered, in order, with when (epoch ms). */
  readonly trace: { state: string; at: number }[] = [];
  /** Step id (`Canary25`) -> when its flags were deployed (the deployment COMPLETE). */
  readonly deployed = new Map<string, number>();
  readonly rollbacks: RollbackRecord[] = [];
  /** The gates decided (passed or extended), in order, with what they measured. */
  readonly gates: NonNullable<Progress['lastGate']>[] = [];
  readonly archive = new MemoryArchiveStore();
  private readonly executions = new LocalExecutions();
  private readonly t0 = Date.now();
  private data?: FakeAppConfigData;

  constructor(private readonly o: LocalRolloutOptions) {
    const content = o.model.appConfig.contents.find((c) => {
      const flags = (c.content as { flags?: Record<string, unknown> } | undefined)?.flags;
      return flags !== undefined && `${o.service}_read` in flags;
    });
    if (!content) throw new LocalRolloutError(`no AppConfig profile content has the flag ${o.service}_read`);
    const strategy = (kind: StrategyKind): StrategyTiming => {
      const s = o.model.appConfig.strategies.find((x) => x.name.endsWith(`-${o.spec.name}-${kind}`));
      if (!s) throw new LocalRolloutError(`no ${kind} deployment strategy of ${o.spec.name} in the assembly`);
      return {
        deployMs: (s.deploymentDurationMinutes * 60_000) / o.timeScale,
        bakeMs: (s.finalBakeTimeMinutes * 60_000) / o.timeScale,
      };
    };
    // The services before this one in the spec are rolled out first (the Start task refuses a
    // rollout whose predecessor is not at read 100 % / write primary): rehearsing this one
    // alone, they are taken as done.
    let initial = parseFeatureFlagsDocument(content.content);
    const at = o.spec.services.findIndex((s) => s.name === o.service);
    for (const before of o.spec.services.slice(0, Math.max(0, at))) {
      initial = withServiceFlags(initial, before.name, {
        read: { enabled: true, percentage: 100 },
        write: { enabled: true, mode: 'primary' },
      });
    }
    this.appConfig = new LocalAppConfig(initial, {
      strategies: { gradual: strategy('gradual'), rollback: strategy('rollback') },
      rollbackDelayMs: 0,
    });
  }

  /**
   * The clock of the gateway's flag reader and of the AppConfig Data API: time since the start
   * runs `flagPollTimeScale` (by default `timeScale`) times faster, so the spec's flag poll
   * interval is scaled like the rest.
   */
  readonly scaledClock = (): number =>
    this.t0 + (Date.now() - this.t0) * (this.o.flagPollTimeScale ?? this.o.timeScale);

  /** The AppConfig Data API serving what is deployed (for the gateway's flag reader). */
  async dataPlane(): Promise<FakeAppConfigData> {
    this.data ??= await startAppConfigData(this.scaledClock, () => ({
      version: String(this.appConfig.deployedVersion()),
      body: JSON.stringify(retrievedForm(this.appConfig.deployed())),
    }));
    return this.data;
  }

  async close(): Promise<void> {
    await this.data?.close();
  }

  /** How long the bake of a step (`Shadow`, `Canary10`) lasts here (ms), from the definition. */
  bakeMs(step: string): number {
    const def = this.definition();
    const seconds = Number(def.definition.States[`${step}Bake`]?.['Seconds'] ?? 0);
    return this.waitMs(`${step}Bake`, seconds);
  }

  private waitMs(state: string, seconds: number | undefined): number {
    const ms = ((seconds ?? 0) * 1000) / this.o.timeScale;
    return /Bake$/.test(state) ? Math.max(this.o.minBakeMs, ms) : ms;
  }

  private definition(): { smId: string; definition: AslDefinition } {
    const { model, stack } = this.o;
    const smId = Object.keys(model.stateMachines).find((id) => id.startsWith(`${stack}/Rollout`));
    if (!smId) throw new LocalRolloutError(`${stack} has no rollout state machine`);
    return { smId, definition: model.stateMachines[smId]! };
  }

  /** Runs one execution of the service's rollout state machine to its end. */
  async run(executionName = 'rehearsal', signal?: AbortSignal): Promise<ExecutionOutcome> {
    const { model, stack } = this.o;
    const { smId, definition } = this.definition();
    const logicalId = smId.split('/')[1]!;
    const tasks: Record<string, TaskKind> = {};
    for (const f of Object.values(model.functions)) {
      const kind = HANDLER_TASK[f.handler];
      if (f.stack === stack && kind) tasks[f.id.split('/')[1]!] = kind;
    }
    const stateMachineArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${logicalId}`;
    const record = {
      stateMachineArn,
      executionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`,
      startedAt: Date.now(),
      status: 'RUNNING',
    };
    this.executions.executions.push(record);
    const ports: RolloutPorts = {
      spec: this.o.spec,
      flags: this.appConfig,
      executions: this.executions,
      metrics: this.o.metrics,
      consistency: this.o.consistency,
      backfill: this.o.backfill,
      validation: this.o.validation,
      archiveSource: this.o.archiveSource,
      archiveStore: this.archive,
      requestApproval: async () => {},
      // The rehearsal stands in for the operator: every approval is given.
      operator: async () => ({ approved: true, by: 'rehearsal' }),
      clock: Date.now,
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(5, ms / this.o.timeScale))),
    };
    const outcome = await executeStateMachine({
      definition,
      stateMachineName: logicalId,
      stateMachineArn,
      executionName,
      tasks,
      objects: this.o.objects,
      ...(signal ? { signal } : {}),
      waitMs: (state, seconds) => this.waitMs(state, seconds),
      onState: (state) => this.trace.push({ state, at: Date.now() }),
      task: async (kind, input) => {
        if (kind === 'setFlags') await this.o.beforeStep?.((input as { step: string }).step);
        if (kind !== 'rollback') {
          const out = await rolloutTask(ports, kind, input);
          const gate = kind === 'gate' ? (out as Progress).lastGate : undefined;
          if (gate) this.gates.push(gate);
          if (kind === 'awaitDeployment') {
            const i = input as { step: string };
            const d = out as { state?: string };
            if (d.state === 'COMPLETE' && !this.deployed.has(i.step)) this.deployed.set(i.step, Date.now());
          }
          return out;
        }
        const i = input as RollbackInput;
        const rb: RollbackRecord = {
          startedAt: Date.now(),
          cause: causeText(i.error),
          readPercentage: {
            from: effectiveFlags(serviceFlagsOf(this.appConfig.deployed(), this.o.service)).readPercentage,
            to: effectiveFlags(i.lastGood).readPercentage,
          },
        };
        this.rollbacks.push(rb);
        const result = (await rolloutTask(ports, kind, input)) as RollbackResult;
        const d = result.deploymentId
          ? this.appConfig.deployments.find((x) => x.id === result.deploymentId)
          : undefined;
        rb.flagsRestoredAt = d?.completedAt ? Date.parse(d.completedAt) : Date.now();
        return result;
      },
    });
    record.status = outcome.status;
    return outcome;
  }
}
