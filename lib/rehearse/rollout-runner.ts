/**
 * Runs a synthesized rollout (or reconciliation) state machine locally: the definition as
 * CloudFormation would deploy it (lib/rehearse/cfn.ts resolves it to plain ASL), executed by
 * aws-local-stepfunctions, every Task state bound to the use case of the task Lambda it invokes
 * (`lambdas/domain/rollout-tasks.ts`) with the ports given. Shared by the rollout tests
 * (test/support/rollout-harness.ts: a virtual clock, waits at 0 ms) and `cutover rehearse`
 * (real time, waits divided by its time scale).
 *
 * What differs from aws-local-stepfunctions' defaults, to match Step Functions:
 * - a Task state without `TimeoutSeconds` has no timeout (aws-local-stepfunctions gives 60 s);
 * - a Distributed Map with an ItemReader reads its JSON array from the object store and runs
 *   its item processor per item, at most `MaxConcurrency` at once (aws-local-stepfunctions runs
 *   inline Maps only).
 */
import { StateMachine } from 'aws-local-stepfunctions';
import {
  type ArchiveSourcePort,
  type ArchiveStorePort,
  archiveService,
} from '../../lambdas/domain/archive.js';
import type { FlagDeploymentPort } from '../../lambdas/domain/flags.js';
import type { ObjectStore } from '../../lambdas/domain/ports.js';
import type {
  ApprovalRequest,
  BackfillPort,
  ConsistencyCheckPort,
  ExecutionsPort,
  MetricsPort,
  RunningExecution,
} from '../../lambdas/domain/rollout.js';
import {
  type ApprovalInput,
  awaitDeployment,
  type Clock,
  copyBackfillChunk,
  planBackfill,
  requestApproval,
  rollback,
  runGate,
  type Sleep,
  setFlags,
  startRollout,
} from '../../lambdas/domain/rollout-tasks.js';
import {
  type ValidationPort,
  validationPlanTask,
  validationReportTask,
} from '../../lambdas/domain/validation.js';
import type { RolloutFunctions } from '../constructs/rollout-state-machine.js';
import type { MigrationSpec } from '../spec/schema.js';
import { ACCOUNT, type AslDefinition, type AslState, allStates, invokedFunction, REGION } from './cfn.js';

/** The task a function runs: a rollout task, or one of full validation's. */
export type TaskKind =
  | keyof RolloutFunctions
  | 'validationPlan'
  | 'validationScan'
  | 'validationCompare'
  | 'validationReport';

export interface ExecutionOutcome {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: Record<string, unknown>;
  readonly error?: string;
  readonly cause?: string;
  readonly executionArn: string;
}

/** Step Functions' execution list as the Start task sees it: the executions run here. */
export class LocalExecutions implements ExecutionsPort {
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

/** The ports the rollout's task use cases act on. */
export interface RolloutPorts {
  readonly spec: MigrationSpec;
  readonly flags: FlagDeploymentPort;
  readonly executions: ExecutionsPort;
  readonly metrics: MetricsPort;
  readonly consistency: ConsistencyCheckPort;
  readonly backfill: BackfillPort;
  readonly validation: ValidationPort;
  readonly archiveSource: ArchiveSourcePort;
  readonly archiveStore: ArchiveStorePort;
  /** Where an approval request goes (EventBridge in AWS). */
  readonly requestApproval: (request: ApprovalRequest) => Promise<void>;
  /** The operator's answer to an approval (the output of send-task-success); rejects to reject. */
  readonly operator: (request: ApprovalRequest) => Promise<unknown>;
  readonly clock: Clock;
  /** The rollback's wait between deployment polls. */
  readonly sleep: Sleep;
}

/** Runs the use case of a task Lambda of the rollout with these ports. */
export async function rolloutTask(ports: RolloutPorts, kind: TaskKind, input: never): Promise<unknown> {
  const { flags, clock } = ports;
  switch (kind) {
    case 'start':
      return startRollout({ flags, executions: ports.executions }, input);
    case 'setFlags':
      return setFlags({ flags }, input);
    case 'awaitDeployment':
      return awaitDeployment({ flags }, input);
    case 'gate':
      return runGate({ metrics: ports.metrics, consistency: ports.consistency, flags, clock }, input);
    case 'backfillPlan':
      return planBackfill({ backfill: ports.backfill }, input);
    case 'backfillChunk':
      return copyBackfillChunk({ backfill: ports.backfill }, input);
    case 'validationPlan':
      return validationPlanTask(ports.validation, input);
    case 'validationScan':
      return ports.validation.scan(input);
    case 'validationCompare':
      return ports.validation.compare(input);
    case 'validationReport':
      return validationReportTask(ports.validation, input);
    case 'requestApproval': {
      // waitForTaskToken: the task's output is what the operator sends back.
      const payload = (input as { Payload: ApprovalInput }).Payload;
      let request: ApprovalRequest | undefined;
      await requestApproval(
        {
          approvals: {
            requestApproval: async (r) => {
              request = r;
              await ports.requestApproval(r);
            },
          },
          clock,
        },
        payload,
      );
      return ports.operator(request!);
    }
    case 'rollback':
      return rollback({ flags, clock, sleep: ports.sleep }, input);
    case 'archive': {
      const i = input as { service: string; executionName: string };
      return archiveService(ports.spec, i.service, {
        source: ports.archiveSource,
        store: ports.archiveStore,
        now: clock,
        runId: i.executionName,
      });
    }
  }
}

export interface ExecuteOptions {
  readonly definition: AslDefinition;
  readonly stateMachineName: string;
  readonly stateMachineArn: string;
  readonly executionName: string;
  readonly input?: Record<string, unknown>;
  /** Function logical id -> the task it runs. */
  readonly tasks: Readonly<Record<string, TaskKind>>;
  /** Runs a task (its use case with the caller's ports). */
  readonly task: (kind: TaskKind, input: never, state: string) => Promise<unknown>;
  /** How long a Wait state waits here (ms). */
  readonly waitMs: (state: string, seconds: number | undefined) => number;
  /** The bucket the Distributed Maps' ItemReaders read. */
  readonly objects: ObjectStore;
  /** Called as each Task (or Distributed Map) state starts. */
  readonly onState?: (state: string) => void;
  /** The most child executions of a Distributed Map seen running at once (per map label). */
  readonly mapConcurrency?: Record<string, number>;
  /** Aborts the execution (it ends FAILED with `ExecutionAbortedError`). */
  readonly signal?: AbortSignal;
}

/** Executes a state machine definition; resolves when the execution ends. */
export async function executeStateMachine(o: ExecuteOptions): Promise<ExecutionOutcome> {
  const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${o.stateMachineName}:${o.executionName}`;
  const { definition, maps } = withLocalDistributedMaps(withStepFunctionsTaskTimeouts(o.definition));
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  const waits: Record<string, number> = {};
  const handlers: Record<string, (input: unknown) => Promise<never>> = {};
  const overrides = { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits };
  for (const [stateName, state] of Object.entries(maps)) {
    handlers[stateName] = async (input: unknown) => {
      o.onState?.(stateName);
      return (await runItems(state, input, overrides, o.objects, o.mapConcurrency ?? {})) as never;
    };
  }
  for (const [stateName, state] of allStates(o.definition)) {
    if (maps[stateName]) continue;
    if (state.Type === 'Wait') waits[stateName] = o.waitMs(stateName, state['Seconds'] as number | undefined);
    if (state.Type !== 'Task') continue;
    const fn = invokedFunction(state);
    const kind = fn ? o.tasks[fn] : undefined;
    if (!kind) throw new Error(`task ${stateName} invokes no rollout function (${state.Resource})`);
    handlers[stateName] = async (input: unknown) => {
      o.onState?.(stateName);
      return (await o.task(kind, input as never, stateName)) as never;
    };
  }
  const execution = machine.run((o.input ?? {}) as never, {
    overrides,
    context: {
      Execution: { Id: executionArn, Name: o.executionName },
      StateMachine: { Id: o.stateMachineArn, Name: o.stateMachineName },
      Task: { Token: `token-${o.executionName}` },
      // (Not filled in by aws-local-stepfunctions: the time the execution started stands in.)
      State: { EnteredTime: new Date().toISOString(), Name: '', RetryCount: 0 },
    },
  });
  o.signal?.addEventListener('abort', () => execution.abort(), { once: true });
  return execution.result.then(
    (output) => ({ status: 'SUCCEEDED' as const, output: output as Record<string, unknown>, executionArn }),
    (e: unknown) => {
      const failure = (e as { cause?: { name?: string; message?: string } }).cause ?? (e as Error);
      return { status: 'FAILED' as const, error: failure.name, cause: failure.message, executionArn };
    },
  );
}

/**
 * A Distributed Map's ItemReader and item processor, as Step Functions runs them: the JSON
 * array at `Parameters.Key` (resolved on the state's input) read from the bucket, one child
 * execution of the processor per item, at most `MaxConcurrency` at once; the results in item
 * order.
 */
async function runItems(
  state: AslState,
  input: unknown,
  overrides: {
    taskResourceLocalHandlers: Record<string, unknown>;
    waitTimeOverrides: Record<string, number>;
  },
  store: ObjectStore,
  mapConcurrency: Record<string, number>,
): Promise<unknown[]> {
  const reader = state['ItemReader'] as {
    Parameters: Record<string, string>;
    ReaderConfig?: { InputType?: string };
  };
  if (reader.ReaderConfig?.InputType !== 'JSON') throw new Error('only JSON item readers are run locally');
  const key = resolvePath(input, reader.Parameters['Key.$']!) as string;
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
        mapConcurrency[name] = Math.max(mapConcurrency[name] ?? 0, running);
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
 * same name (same Next/End, ResultPath, Retry, Catch), which the runner runs itself.
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
