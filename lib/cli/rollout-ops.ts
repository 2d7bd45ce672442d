/**
 * The rollout operations of the `cutover` CLI, on the ports of control-plane.ts and the flag
 * port (lambdas/adapters/appconfig.ts): where a service's rollout is (`status`), start, abort,
 * wait, approve/reject the pending approval, read and set the flags, roll back.
 *
 * The execution's position is read from its history: the newest state entered names the step
 * (state names are the plan's step ids, lib/constructs/rollout-state-machine.ts).
 */
import {
  deployedDocument,
  effectiveFlags,
  type FlagDeploymentPort,
  FlagError,
  type ServiceFlags,
  serviceFlagProblems,
  serviceFlagsOf,
  WRITE_MODES,
  type WriteMode,
} from '../../lambdas/domain/flags.js';
import type { EventPublisher } from '../../lambdas/domain/ports.js';
import {
  lastSafeFlags,
  ROLLBACK_EVENT,
  RollbackRefusedError,
  restoreServiceFlags,
} from '../../lambdas/domain/rollback.js';
import {
  evaluateGate,
  type FlagStep,
  type GateCheckName,
  type MetricsPort,
  type PhaseName,
  type RolloutSignal,
  rolloutPlan,
} from '../../lambdas/domain/rollout.js';
import { gateSignals, metricMeasurements, setFlags } from '../../lambdas/domain/rollout-tasks.js';
import type { ServiceSpec } from '../spec/schema.js';
import type { ExecutionInfo, ExecutionsPort, HistoryEntry } from './control-plane.js';
import { CliError, EXIT } from './errors.js';

export interface RolloutDeps {
  readonly executions: ExecutionsPort;
  readonly flags: FlagDeploymentPort;
  readonly metrics: MetricsPort;
  readonly publisher?: EventPublisher;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

/** Where an execution is. */
export interface Position {
  /** The newest state entered. */
  readonly state?: string;
  readonly enteredAt?: Date;
  readonly phase?: PhaseName | 'starting' | 'rolling-back' | 'done';
  readonly step?: FlagStep;
  /** Baking before the step's gate (`bake`) or an extension for missing data (`extension`). */
  readonly baking?: 'bake' | 'extension';
  /** Waiting for a person: `cutover-writes` or `decommission`. */
  readonly approval?: 'cutover-writes' | 'decommission';
}

/** The position of an execution from its state names (see the module doc). */
export function positionOf(service: ServiceSpec, history: readonly HistoryEntry[]): Position {
  const entered = history.find((e) => e.stateEntered);
  if (!entered) return {};
  const state = entered.stateEntered!;
  const plan = rolloutPlan(service);
  const base = { state, enteredAt: entered.timestamp };
  if (state === 'Start') return { ...base, phase: 'starting' };
  if (state.startsWith('Rollback') || state === 'RolledBack') return { ...base, phase: 'rolling-back' };
  if (state === 'Done') return { ...base, phase: 'done' };
  if (state === 'ApproveDecommission' || state.startsWith('ApproveDecommission'))
    return { ...base, phase: 'decommission', approval: 'decommission' };
  if (state === 'Archive') return { ...base, phase: 'decommission' };
  const cutover = plan.steps.find((s) => s.id === 'Cutover')!;
  if (state.startsWith('ApproveCutover'))
    return { ...base, phase: 'cutover-writes', step: cutover, approval: 'cutover-writes' };
  if (state.startsWith('Backfill') || state.startsWith('Validat') || state.startsWith('ReadOnly')) {
    return { ...base, phase: 'read-only-sync', step: plan.steps[0]! };
  }
  // Longest id first: Canary100 before Canary10.
  const step = [...plan.steps].sort((a, b) => b.id.length - a.id.length).find((s) => state.startsWith(s.id));
  if (!step) return base;
  const rest = state.slice(step.id.length);
  return {
    ...base,
    phase: step.phase,
    step,
    ...(rest === 'Bake'
      ? { baking: 'bake' as const }
      : rest === 'ExtendBake'
        ? { baking: 'extension' as const }
        : {}),
  };
}

/** The newest execution of the state machine, or undefined when it never ran. */
export async function latestExecution(
  deps: Pick<RolloutDeps, 'executions'>,
  stateMachineArn: string,
): Promise<ExecutionInfo | undefined> {
  const [e] = await deps.executions.list(stateMachineArn, 1);
  return e ? deps.executions.describe(e.executionArn) : undefined;
}

export interface GateView {
  readonly gate: string;
  readonly bakeSeconds: number;
  readonly elapsedSeconds: number;
  readonly leftSeconds: number;
  readonly checks: readonly {
    readonly check: GateCheckName;
    readonly comparator: string;
    readonly threshold: number;
    readonly measured?: number;
    readonly outcome: 'pass' | 'fail' | 'missing' | 'at-gate';
  }[];
}

export interface RolloutView {
  readonly service: string;
  readonly execution?: Pick<
    ExecutionInfo,
    'executionArn' | 'name' | 'status' | 'startDate' | 'stopDate' | 'error' | 'cause'
  >;
  readonly position: Omit<Position, 'step'> & { readonly step?: string };
  readonly flags: { readonly readPercentage: number; readonly writeMode: WriteMode };
  readonly gate?: GateView;
  /** Seconds of replication lag (max over the last 5 minutes), by consistency class. */
  readonly syncLagSeconds: Readonly<Record<string, number | undefined>>;
}

/** Checks the gate decides from other sources than metric values (the status shows them as `at-gate`). */
const AT_GATE: ReadonlySet<GateCheckName> = new Set(['consistency', 'addedWriteLatencyMs']);

/** A service's rollout: execution, position, flags, the gate being baked with its values so far, sync lag. */
export async function rolloutView(
  deps: RolloutDeps,
  service: ServiceSpec,
  stateMachineArn: string,
  dlqNames: readonly string[],
): Promise<RolloutView> {
  const execution = await latestExecution(deps, stateMachineArn);
  const history = execution ? await deps.executions.history(execution.executionArn, 200) : [];
  const position = execution?.status === 'RUNNING' ? positionOf(service, history) : {};
  const { document } = await deployedDocument(deps.flags);
  const flags = effectiveFlags(serviceFlagsOf(document, service.name));
  const now = deps.now();
  let gate: GateView | undefined;
  if (position.baking && position.step?.gate && position.enteredAt) {
    const bake =
      position.baking === 'bake' ? position.step.bakeSeconds : Math.max(60, position.step.bakeSeconds);
    const start = position.enteredAt.getTime();
    const signals = gateSignals(service.name, position.step.gate, dlqNames);
    const values: Record<string, number | undefined> = Object.keys(signals).length
      ? await deps.metrics.measure(signals, { start, end: now })
      : {};
    const names = new Set(position.step.gate.checks.map((c) => c.check));
    const measured = metricMeasurements(values, names, dlqNames.length);
    const verdict = evaluateGate(position.step.gate, measured, {
      onMissingData: 'fail',
      maxBakeExtensions: 0,
      extensionsUsed: 0,
    });
    const elapsed = Math.max(0, Math.round((now - start) / 1000));
    gate = {
      gate: position.step.gate.id,
      bakeSeconds: bake,
      elapsedSeconds: elapsed,
      leftSeconds: Math.max(0, bake - elapsed),
      checks: verdict.checks.map((c) => ({
        check: c.check,
        comparator: c.comparator,
        threshold: c.threshold,
        ...(c.measured !== undefined ? { measured: c.measured } : {}),
        outcome: AT_GATE.has(c.check) ? 'at-gate' : c.outcome,
      })),
    };
  }
  const { step, ...rest } = position;
  return {
    service: service.name,
    ...(execution
      ? {
          execution: {
            executionArn: execution.executionArn,
            name: execution.name,
            status: execution.status,
            startDate: execution.startDate,
            ...(execution.stopDate ? { stopDate: execution.stopDate } : {}),
            ...(execution.error ? { error: execution.error } : {}),
            ...(execution.cause ? { cause: execution.cause } : {}),
          },
        }
      : {}),
    position: { ...rest, ...(step ? { step: step.id } : {}) },
    flags,
    ...(gate ? { gate } : {}),
    syncLagSeconds: await syncLag(deps, service, now),
  };
}

async function syncLag(
  deps: Pick<RolloutDeps, 'metrics'>,
  service: ServiceSpec,
  now: number,
): Promise<Record<string, number | undefined>> {
  const classes = [...new Set(service.entities.map((e) => e.consistency))];
  const signals: Record<string, RolloutSignal> = Object.fromEntries(
    classes.map((c) => [c, { kind: 'syncLag', service: service.name, consistencyType: c }]),
  );
  return deps.metrics.measure(signals, { start: now - 5 * 60_000, end: now });
}

// --- start / abort / wait ---------------------------------------------------------------------

/** Starts a rollout; refuses while one runs (the state machine would refuse it too, later). */
export async function startRollout(
  deps: RolloutDeps,
  service: ServiceSpec,
  stateMachineArn: string,
  by: string,
): Promise<string> {
  const latest = await latestExecution(deps, stateMachineArn);
  if (latest?.status === 'RUNNING') {
    throw new CliError(
      `a rollout of ${service.name} is already running: ${latest.executionArn}`,
      EXIT.failed,
    );
  }
  const stamp = new Date(deps.now()).toISOString().replace(/[-:.]/g, '').slice(0, 15);
  const name = `${service.name.replace(/_/g, '-')}-${stamp}`.slice(0, 80);
  return deps.executions.start(stateMachineArn, name, JSON.stringify({ startedBy: by }));
}

/**
 * Stops the running rollout, then restores the service's last safe flags through the rollback
 * engine (a stopped execution runs none of its own Catch states).
 */
export async function abortRollout(
  deps: RolloutDeps,
  service: ServiceSpec,
  stateMachineArn: string,
  by: string,
  reason: string,
): Promise<{ executionArn: string; rollback: RollbackOutcome }> {
  const latest = await latestExecution(deps, stateMachineArn);
  if (latest?.status !== 'RUNNING')
    throw new CliError(`no rollout of ${service.name} is running`, EXIT.failed);
  await deps.executions.stop(
    latest.executionArn,
    'Aborted',
    `aborted by ${by}${reason ? `: ${reason}` : ''}`.slice(0, 32768),
  );
  return {
    executionArn: latest.executionArn,
    rollback: await rollbackService(deps, service, by, `abort: ${reason || 'no reason given'}`),
  };
}

export type WaitOutcome =
  | { readonly outcome: 'cut-over'; readonly executionArn: string; readonly state: string }
  | {
      readonly outcome: 'failed';
      readonly executionArn: string;
      readonly status: string;
      readonly cause: string;
    }
  | { readonly outcome: 'timeout'; readonly executionArn: string; readonly state?: string };

/** States from which the service is cut over (writes primary, cutover gate passed). */
const CUT_OVER_STATES = new Set(['ApproveDecommission', 'Archive', 'Done']);

/**
 * Waits until the newest rollout has cut the service over (its cutover gate passed: the
 * execution waits for the decommission approval, archives, or succeeded) or failed.
 */
export async function waitRollout(
  deps: RolloutDeps,
  service: ServiceSpec,
  stateMachineArn: string,
  options: { readonly timeoutMs: number; readonly pollMs: number; readonly onPoll?: (p: Position) => void },
): Promise<WaitOutcome> {
  const until = deps.now() + options.timeoutMs;
  for (;;) {
    const e = await latestExecution(deps, stateMachineArn);
    if (!e)
      throw new CliError(
        `${service.name} has no rollout: start one with cutover rollout start ${service.name}`,
        EXIT.failed,
      );
    if (e.status === 'SUCCEEDED') return { outcome: 'cut-over', executionArn: e.executionArn, state: 'Done' };
    if (e.status !== 'RUNNING') {
      return {
        outcome: 'failed',
        executionArn: e.executionArn,
        status: e.status,
        cause: e.cause ?? e.error ?? e.status,
      };
    }
    const p = positionOf(service, await deps.executions.history(e.executionArn, 50));
    options.onPoll?.(p);
    if (p.state && CUT_OVER_STATES.has(p.state))
      return { outcome: 'cut-over', executionArn: e.executionArn, state: p.state };
    if (deps.now() >= until)
      return { outcome: 'timeout', executionArn: e.executionArn, ...(p.state ? { state: p.state } : {}) };
    await deps.sleep(options.pollMs);
  }
}

// --- approvals -------------------------------------------------------------------------------------

export interface PendingApproval {
  readonly executionArn: string;
  readonly step: string;
  readonly taskToken: string;
  readonly requestedAt: Date;
  readonly expiresAt?: Date;
}

/**
 * The approval the running rollout waits for: the newest `TaskScheduled` of the approval task
 * (`lambda:invoke.waitForTaskToken`) with no outcome after it. Its parameters are the state's
 * payload, which carries the task token (`$$.Task.Token`).
 */
export function pendingApprovalIn(
  executionArn: string,
  history: readonly HistoryEntry[],
): PendingApproval | undefined {
  // An outcome names the event before it; for a `.waitForTaskToken` task AWS records
  // TaskScheduled ← TaskStarted ← TaskSubmitted ← outcome (the recorded history in
  // test/contracts/stepfunctions), so the chain is walked back to the scheduled task.
  const byId = new Map(history.map((e) => [e.id, e]));
  const ended = new Set<number>();
  for (const e of history) {
    if (!/^Task(Succeeded|Failed|TimedOut)$/.test(e.type)) continue;
    let prev = e.previousEventId === undefined ? undefined : byId.get(e.previousEventId);
    while (prev && (prev.type === 'TaskStarted' || prev.type === 'TaskSubmitted')) {
      prev = prev.previousEventId === undefined ? undefined : byId.get(prev.previousEventId);
    }
    if (prev) ended.add(prev.id);
    else if (e.previousEventId !== undefined) ended.add(e.previousEventId);
  }
  for (const e of history) {
    if (e.type !== 'TaskScheduled' || e.task?.resource !== 'invoke.waitForTaskToken') continue;
    if (ended.has(e.id)) return undefined;
    let payload: { taskToken?: unknown; step?: unknown; timeoutSeconds?: unknown } | undefined;
    try {
      payload = (JSON.parse(e.task.parameters ?? '{}') as { Payload?: typeof payload }).Payload;
    } catch {
      payload = undefined;
    }
    if (typeof payload?.taskToken !== 'string') return undefined;
    const timeout = typeof payload.timeoutSeconds === 'number' ? payload.timeoutSeconds : undefined;
    return {
      executionArn,
      step: String(payload.step ?? 'unknown'),
      taskToken: payload.taskToken,
      requestedAt: e.timestamp,
      ...(timeout ? { expiresAt: new Date(e.timestamp.getTime() + timeout * 1000) } : {}),
    };
  }
  return undefined;
}

/** Finds the pending approval of the running rollout. @throws CliError when there is none */
export async function pendingApproval(
  deps: RolloutDeps,
  service: ServiceSpec,
  stateMachineArn: string,
): Promise<PendingApproval> {
  const e = await latestExecution(deps, stateMachineArn);
  if (e?.status !== 'RUNNING') throw new CliError(`no rollout of ${service.name} is running`, EXIT.failed);
  const pending = pendingApprovalIn(e.executionArn, await deps.executions.history(e.executionArn, 1000));
  if (!pending)
    throw new CliError(`the rollout of ${service.name} is not waiting for an approval`, EXIT.failed);
  return pending;
}

/** Approves (send-task-success) or rejects (send-task-failure: the rollout rolls back) the pending step. */
export async function answerApproval(
  deps: RolloutDeps,
  service: ServiceSpec,
  stateMachineArn: string,
  answer: { readonly approve: boolean; readonly by: string; readonly reason?: string },
): Promise<PendingApproval> {
  if (!answer.by.trim()) throw new CliError('--by: name who answers');
  const pending = await pendingApproval(deps, service, stateMachineArn);
  const at = new Date(deps.now()).toISOString();
  if (answer.approve) {
    await deps.executions.sendTaskSuccess(
      pending.taskToken,
      JSON.stringify({
        approved: true,
        by: answer.by,
        at,
        ...(answer.reason ? { reason: answer.reason } : {}),
      }),
    );
  } else {
    await deps.executions.sendTaskFailure(
      pending.taskToken,
      'Rejected',
      `${pending.step} of ${service.name} rejected by ${answer.by} at ${at}${answer.reason ? `: ${answer.reason}` : ''}`,
    );
  }
  return pending;
}

// --- flags and rollback ------------------------------------------------------------------------------

/** The flags deployed for a service now, and a deployment in progress if any. */
export async function serviceFlags(deps: Pick<RolloutDeps, 'flags'>, service: string) {
  const { version, document } = await deployedDocument(deps.flags);
  const active = await deps.flags.activeDeployment();
  return {
    service,
    version,
    flags: serviceFlagsOf(document, service),
    ...(active ? { deploying: { id: active.id, state: active.state, version: active.version } } : {}),
  };
}

/** The flags `--read`/`--write` ask for, from the current ones; checked against the flag constraints. */
export function requestedFlags(current: ServiceFlags, read?: string, write?: string): ServiceFlags {
  if (read === undefined && write === undefined)
    throw new CliError('give --read <0-100> and/or --write <legacy|shadow|primary>');
  const next: ServiceFlags = {
    read: read === undefined ? current.read : { enabled: true, percentage: Number(read) },
    write: write === undefined ? current.write : { enabled: true, mode: write as WriteMode },
  };
  if (write !== undefined && !WRITE_MODES.includes(write as WriteMode)) {
    throw new CliError(`--write ${write}: one of ${WRITE_MODES.join(', ')}`);
  }
  const problems = serviceFlagProblems(next);
  if (read !== undefined && !/^\d+$/.test(read)) problems.unshift(`--read ${read}: a whole number 0-100`);
  if (problems.length) throw new CliError(`flags refused: ${problems.join('; ')}`);
  return next;
}

/**
 * Deploys new flags for a service with the gradual strategy (the environment's monitors watch
 * it; the flags validator checks the version). Refused while a deployment is in progress.
 */
export async function setServiceFlags(
  deps: Pick<RolloutDeps, 'flags'>,
  service: string,
  flags: ServiceFlags,
  by: string,
) {
  try {
    return await setFlags({ flags: deps.flags }, { service, step: `set by ${by}`, flags });
  } catch (e) {
    if (e instanceof FlagError) throw new CliError(`flags refused: ${e.message}`);
    if ((e as Error).name === 'DeploymentInProgressError')
      throw new CliError((e as Error).message, EXIT.failed);
    throw e;
  }
}

export interface RollbackOutcome {
  readonly action: 'deploy' | 'none';
  readonly flags: ServiceFlags;
  readonly deploymentId?: string;
  readonly reason?: string;
}

/**
 * Rolls a service's flags back to its last safe state with the one rollback engine
 * (lambdas/domain/rollback.ts: zero-bake `rollback` strategy) and announces `cutover.rollback`.
 */
export async function rollbackService(
  deps: RolloutDeps,
  service: ServiceSpec,
  by: string,
  why: string,
): Promise<RollbackOutcome> {
  const decision = await lastSafeFlags(deps.flags, service.name);
  if (decision.action === 'undetermined') {
    throw new CliError(new RollbackRefusedError(service.name, decision.reason).message, EXIT.failed);
  }
  const restored = await restoreServiceFlags(
    service.name,
    decision.safe,
    `rollback ${service.name} by ${by}: ${why}`.slice(0, 1024),
    {
      port: deps.flags,
      now: deps.now,
      sleep: deps.sleep,
    },
  );
  const outcome: RollbackOutcome = {
    action: restored.deploymentId ? 'deploy' : 'none',
    flags: decision.safe,
    ...(restored.deploymentId ? { deploymentId: restored.deploymentId } : {}),
    ...(decision.action === 'none' ? { reason: decision.reason } : {}),
  };
  await deps.publisher?.publish([
    {
      Source: ROLLBACK_EVENT.source,
      DetailType: ROLLBACK_EVENT.detailType,
      Detail: JSON.stringify({
        service: service.name,
        by,
        reason: why,
        action: outcome.action,
        flags: outcome.flags,
      }),
    },
  ]);
  return outcome;
}
