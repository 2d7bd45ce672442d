/**
 * The use cases behind the rollout state machine's task states, one function per task, each
 * taking its ports and the task's input (as the state machine passes it) and returning the
 * task's result. The handlers in `lambdas/handlers/rollout-*.ts` wire the real adapters to
 * them; the tests bind them, with fakes, to the synthesized definition run locally.
 *
 * A task that finds a failed gate throws a {@link RolloutError} subclass whose message is the
 * operator-facing cause; the state machine catches it, runs {@link rollback} and fails the
 * execution with that cause.
 */
import {
  deployedDocument,
  type FlagDeploymentPort,
  type ServiceFlags,
  sameFlags,
  serviceFlagsOf,
  withServiceFlags,
} from './flags.js';
import { restoreServiceFlags } from './rollback.js';
import {
  type ApprovalPort,
  type BackfillChunk,
  type BackfillPort,
  type ConsistencyCheckPort,
  type ExecutionsPort,
  evaluateGate,
  exclusiveRollout,
  type GatePlan,
  type GateResult,
  type Measurements,
  type MetricsPort,
  predecessorDone,
  type RolloutSignal,
} from './rollout.js';

/** Base of the errors that fail a rollout. The message is the execution's cause. */
export class RolloutError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RolloutError';
  }
}
/** Another execution of the same service's state machine is running. */
export class RolloutBusyError extends RolloutError {
  constructor(message: string) {
    super(message);
    this.name = 'RolloutBusyError';
  }
}
/** The previous service of the migration has not completed its rollout. */
export class PredecessorNotDoneError extends RolloutError {
  constructor(message: string) {
    super(message);
    this.name = 'PredecessorNotDoneError';
  }
}
/** A flag deployment is in progress that this rollout did not start. */
export class DeploymentInProgressError extends RolloutError {
  constructor(message: string) {
    super(message);
    this.name = 'DeploymentInProgressError';
  }
}
/** AppConfig rolled the deployment back (an environment monitor's alarm fired). */
export class DeploymentRolledBackError extends RolloutError {
  constructor(message: string) {
    super(message);
    this.name = 'DeploymentRolledBackError';
  }
}
/** A flag deployment did not finish within the polls its strategy's time allows. */
export class DeploymentWaitExceededError extends RolloutError {
  constructor(message: string) {
    super(message);
    this.name = 'DeploymentWaitExceededError';
  }
}

export class GateFailedError extends RolloutError {
  constructor(message: string) {
    super(message);
    this.name = 'GateFailedError';
  }
}
export class ValidationFailedError extends RolloutError {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationFailedError';
  }
}
export class RollbackFailedError extends RolloutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RollbackFailedError';
  }
}

export type Clock = () => number;
export type Sleep = (ms: number) => Promise<void>;

/** What the state machine keeps between tasks. */
export interface Progress {
  /** The service's flags as of the last passed gate (or as found at the start). */
  readonly lastGood: ServiceFlags;
  /** Bake extensions used by the current gate. */
  readonly extensions: number;
  readonly verdict: 'pass' | 'extend';
  readonly lastGate?: Pick<GateResult, 'gate' | 'verdict' | 'checks'>;
}

// --- Start: one execution per service, services in order -------------------------------------

export interface StartInput {
  readonly service: string;
  readonly execution: { readonly arn: string; readonly startTime: string; readonly stateMachineArn: string };
  /** The previous service in the spec's order, if any. */
  readonly predecessor?: { readonly service: string; readonly stateMachineArn: string };
}

export async function startRollout(
  ports: { flags: FlagDeploymentPort; executions: ExecutionsPort },
  input: StartInput,
): Promise<Progress> {
  const me = { executionArn: input.execution.arn, startedAt: Date.parse(input.execution.startTime) };
  const running = await ports.executions.listRunning(input.execution.stateMachineArn);
  const lock = exclusiveRollout(me, running);
  if (!lock.ok) {
    throw new RolloutBusyError(
      `another rollout of "${input.service}" is running: ${lock.holder.executionArn} (started ${new Date(lock.holder.startedAt).toISOString()})`,
    );
  }
  const { document } = await deployedDocument(ports.flags);
  if (input.predecessor) {
    const p = input.predecessor;
    const pRunning = await ports.executions.listRunning(p.stateMachineArn);
    const done = predecessorDone(p.service, safeFlags(p.service), pRunning.length);
    if (!done.ok) throw new PredecessorNotDoneError(`"${input.service}" cannot start: ${done.reason}`);
  }
  return { lastGood: serviceFlagsOf(document, input.service), extensions: 0, verdict: 'pass' };

  function safeFlags(service: string): ServiceFlags | undefined {
    try {
      return serviceFlagsOf(document, service);
    } catch {
      return undefined;
    }
  }
}

// --- SetFlags / AwaitDeployment ------------------------------------------------------------------

export interface SetFlagsInput {
  readonly service: string;
  readonly step: string;
  readonly flags: ServiceFlags;
}

export interface DeploymentRef {
  readonly id: string;
  readonly version: number;
  readonly state: string;
  readonly done: boolean;
  readonly startedAt: string;
  readonly completedAt?: string;
  /** AwaitDeployment polls of this deployment so far (the loop's bound counts them). */
  readonly polls?: number;
}

export function describeFlags(f: ServiceFlags): string {
  return `read ${f.read.enabled ? f.read.percentage : 0} %, write ${f.write.enabled ? f.write.mode : 'legacy'}`;
}

/**
 * A new hosted version in which only this service's flags differ from the deployed document,
 * deployed with the gradual strategy. Refuses while another deployment runs (AppConfig would
 * too) rather than stopping somebody else's change.
 */
export async function setFlags(
  ports: { flags: FlagDeploymentPort },
  input: SetFlagsInput,
): Promise<DeploymentRef> {
  const active = await ports.flags.activeDeployment();
  if (active) {
    throw new DeploymentInProgressError(
      `step ${input.step}: flag deployment ${active.id} (${active.description ?? 'no description'}) is ${active.state}`,
    );
  }
  const { document } = await deployedDocument(ports.flags);
  const description = `${input.service} ${input.step}: ${describeFlags(input.flags)}`;
  const version = await ports.flags.createVersion(
    withServiceFlags(document, input.service, input.flags),
    description,
  );
  const id = await ports.flags.startDeployment(version, 'gradual', description);
  const d = await ports.flags.getDeployment(id);
  return toRef(d);
}

function toRef(d: Awaited<ReturnType<FlagDeploymentPort['getDeployment']>>): DeploymentRef {
  return {
    id: d.id,
    version: d.version,
    state: d.state,
    done: d.state === 'COMPLETE',
    startedAt: d.startedAt,
    ...(d.completedAt ? { completedAt: d.completedAt } : {}),
  };
}

/**
 * The deployment's state; `ROLLED_BACK` (or `REVERTED`) is a failed gate. The state machine
 * polls until it is done, at most `maxPolls` times: a deployment still in progress at the last
 * poll fails the step ({@link DeploymentWaitExceededError}) instead of being polled for ever.
 */
export async function awaitDeployment(
  ports: { flags: FlagDeploymentPort },
  input: {
    readonly service: string;
    readonly step: string;
    readonly deployment: { readonly id: string; readonly polls?: number };
    readonly maxPolls?: number;
  },
): Promise<DeploymentRef> {
  const d = await ports.flags.getDeployment(input.deployment.id);
  if (d.state === 'ROLLED_BACK' || d.state === 'REVERTED') {
    throw new DeploymentRolledBackError(
      `gate "appconfig-monitors" failed at step ${input.step}: AppConfig deployment ${d.id} (version ${d.version}) ended ${d.state}: an environment monitor alarm fired during deployment or bake`,
    );
  }
  const ref = { ...toRef(d), polls: (input.deployment.polls ?? 0) + 1 };
  if (!ref.done && input.maxPolls !== undefined && ref.polls >= input.maxPolls) {
    throw new DeploymentWaitExceededError(
      `step ${input.step}: AppConfig deployment ${d.id} (version ${d.version}) is still ${d.state} after ${ref.polls} polls (the most its deployment and bake time allow)`,
    );
  }
  return ref;
}

// --- Gate -----------------------------------------------------------------------------------------

export interface GateInput {
  readonly service: string;
  readonly gate: GatePlan;
  /** The flags under test; they become the last good state when the gate passes. */
  readonly flags: ServiceFlags;
  readonly progress: Pick<Progress, 'lastGood' | 'extensions'>;
  /** The deployment of the flags under test: the bake window starts when it completed. */
  readonly deployment: { readonly startedAt: string; readonly completedAt?: string };
  readonly entities: readonly string[];
  /** DLQs whose depth the `dlqDepth` check sums. */
  readonly dlqNames: readonly string[];
  readonly onMissingData: 'fail' | 'extend';
  readonly maxBakeExtensions: number;
}

/** What the checks of a gate measure, by the names {@link metricMeasurements} reads. */
export function gateSignals(
  service: string,
  gate: GatePlan,
  dlqNames: readonly string[],
): Record<string, RolloutSignal> {
  const signals: Record<string, RolloutSignal> = {};
  for (const c of gate.checks) {
    switch (c.check) {
      case 'errorRate':
        for (const outcome of ['success', 'error'] as const)
          signals[`requests_${outcome}`] = { kind: 'serviceRequests', service, outcome };
        break;
      case 'p95LatencyMs':
        signals['latency_service_p95'] = { kind: 'latencyP95', service, target: 'service' };
        break;
      case 'addedWriteLatencyMs':
        signals['latency_legacy_p95'] = { kind: 'latencyP95', service, target: 'legacy' };
        break;
      case 'dualWriteSuccess':
        for (const status of ['applied', 'skipped', 'conflict', 'failed'] as const)
          signals[`forward_${status}`] = { kind: 'forwardEvents', service, status };
        break;
      case 'dlqDepth':
        for (const [i, queueName] of dlqNames.entries())
          signals[`dlq_${i}`] = { kind: 'queueDepth', queueName };
        break;
      case 'consistency':
        break; // measured by the consistency check, not a metric
    }
  }
  return signals;
}

const ratio = (good: number | undefined, total: number): number | undefined =>
  total > 0 ? (good ?? 0) / total : undefined;
const sum = (...xs: Array<number | undefined>) => xs.reduce<number>((a, x) => a + (x ?? 0), 0);

/**
 * The checks a gate measures from metric values alone (the names of {@link gateSignals}): error
 * rate, p95 latency, dual-write success and DLQ depth. The gate adds added write latency (it
 * needs a baseline window) and consistency (the consistency check); `cutover status` shows these.
 */
export function metricMeasurements(
  values: Readonly<Record<string, number | undefined>>,
  names: ReadonlySet<string>,
  dlqCount: number,
): Measurements {
  const m: Measurements = {};
  if (names.has('errorRate')) {
    m.errorRate = ratio(values['requests_error'], sum(values['requests_success'], values['requests_error']));
  }
  if (names.has('p95LatencyMs')) m.p95LatencyMs = values['latency_service_p95'];
  if (names.has('dualWriteSuccess')) {
    const failed = values['forward_failed'] ?? 0;
    const total = sum(
      values['forward_applied'],
      values['forward_skipped'],
      values['forward_conflict'],
      failed,
    );
    m.dualWriteSuccess = ratio(total - failed, total);
  }
  if (names.has('dlqDepth')) {
    // An idle SQS queue stops publishing metrics: no datapoint means nothing arrived, i.e. 0.
    let depth = 0;
    for (let i = 0; i < dlqCount; i++) depth += values[`dlq_${i}`] ?? 0;
    m.dlqDepth = depth;
  }
  return m;
}

/**
 * Measures and decides a gate over its bake window: from the flags' deployment completing to
 * now. Added write latency compares the legacy path's p95 with a baseline window of the same
 * length that ends when the flags under test started deploying.
 */
export async function runGate(
  ports: { metrics: MetricsPort; consistency: ConsistencyCheckPort; flags: FlagDeploymentPort; clock: Clock },
  input: GateInput,
): Promise<Progress> {
  // The alarm-rollback rule (or a person) may have changed the flags during the bake: the
  // window's metrics then do not describe the flags under test, and they must not become the
  // last good state.
  const { document } = await deployedDocument(ports.flags);
  const deployed = serviceFlagsOf(document, input.service);
  if (!sameFlags(deployed, input.flags)) {
    throw new GateFailedError(
      `gate "${input.gate.id}" failed: the flags changed during the bake (deployed: ${describeFlags(deployed)}; under test: ${describeFlags(input.flags)}), by an alarm rollback or by hand`,
    );
  }
  const end = ports.clock();
  const start = Date.parse(input.deployment.completedAt ?? input.deployment.startedAt);
  const signals = gateSignals(input.service, input.gate, input.dlqNames);
  const values: Record<string, number | undefined> = Object.keys(signals).length
    ? await ports.metrics.measure(signals, { start, end })
    : {};
  const names = new Set(input.gate.checks.map((c) => c.check));
  const m: Measurements = metricMeasurements(values, names, input.dlqNames.length);
  if (names.has('addedWriteLatencyMs')) {
    const baselineEnd = Date.parse(input.deployment.startedAt);
    const baseline = await ports.metrics.measure(
      { latency_legacy_p95: signals['latency_legacy_p95']! },
      { start: baselineEnd - (end - start), end: baselineEnd },
    );
    const now = values['latency_legacy_p95'];
    const before = baseline['latency_legacy_p95'];
    m.addedWriteLatencyMs = now === undefined || before === undefined ? undefined : Math.max(0, now - before);
  }
  if (names.has('consistency')) {
    const reports = await Promise.all(input.entities.map((e) => ports.consistency.check(e)));
    m.consistency = reports.length ? Math.min(...reports.map((r) => r.consistency)) : undefined;
  }
  const result = evaluateGate(input.gate, m, {
    onMissingData: input.onMissingData,
    maxBakeExtensions: input.maxBakeExtensions,
    extensionsUsed: input.progress.extensions,
  });
  if (result.verdict === 'fail') throw new GateFailedError(result.cause!);
  const lastGate = { gate: result.gate, verdict: result.verdict, checks: result.checks };
  return result.verdict === 'pass'
    ? { lastGood: input.flags, extensions: 0, verdict: 'pass', lastGate }
    : { lastGood: input.progress.lastGood, extensions: result.extensionsUsed, verdict: 'extend', lastGate };
}

// --- Phase 1: backfill and validation --------------------------------------------------------------

export async function planBackfill(
  ports: { backfill: BackfillPort },
  input: { readonly entities: readonly string[]; readonly chunkSize: number },
): Promise<{ chunks: BackfillChunk[]; keys: number }> {
  const chunks: BackfillChunk[] = [];
  for (const e of input.entities) chunks.push(...(await ports.backfill.planChunks(e, input.chunkSize)));
  return { chunks, keys: chunks.reduce((a, c) => a + c.keys, 0) };
}

export async function copyBackfillChunk(
  ports: { backfill: BackfillPort },
  input: { readonly chunk: BackfillChunk },
): Promise<{ copied: number; skipped: number }> {
  return ports.backfill.copyChunk(input.chunk);
}

// --- Approval ---------------------------------------------------------------------------------------

export interface ApprovalInput {
  readonly migration: string;
  readonly service: string;
  readonly step: string;
  readonly executionArn: string;
  readonly taskToken: string;
  readonly timeoutSeconds: number;
}

export async function requestApproval(
  ports: { approvals: ApprovalPort; clock: Clock },
  input: ApprovalInput,
): Promise<{ requested: true; expiresAt: string }> {
  const expiresAt = new Date(ports.clock() + input.timeoutSeconds * 1000).toISOString();
  const what =
    input.step === 'decommission' ? 'archive the legacy tables' : 'cut writes over (write primary)';
  await ports.approvals.requestApproval({
    migration: input.migration,
    service: input.service,
    step: input.step,
    executionArn: input.executionArn,
    taskToken: input.taskToken,
    expiresAt,
    summary: `${input.migration}/${input.service}: approve to ${what}; rejects or times out at ${expiresAt} otherwise`,
  });
  return { requested: true, expiresAt };
}

// --- Rollback -----------------------------------------------------------------------------------------

export interface RollbackInput {
  readonly service: string;
  readonly lastGood: ServiceFlags;
  /** The caught error as Step Functions passes it (`Cause` may be a Lambda error JSON). */
  readonly error: { readonly Error?: string; readonly Cause?: string };
}

export interface RollbackResult {
  readonly error: string;
  readonly cause: string;
  readonly restored: ServiceFlags;
  /** The rollback deployment; absent when the flags were already at the last good state. */
  readonly deploymentId?: string;
  /** From the rollback starting to the flags restored (deployment COMPLETE). */
  readonly durationSeconds: number;
}

/** The message of a caught error: Lambda errors arrive as `{"errorType","errorMessage",…}`. */
export function causeText(error: RollbackInput['error']): string {
  const raw = error.Cause ?? '';
  try {
    const parsed = JSON.parse(raw) as { errorMessage?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: a Step Functions error such as States.Timeout, or a local run
  }
  if (error.Error === 'States.Timeout') return `timed out${raw ? `: ${raw}` : ''}`;
  return raw || error.Error || 'unknown error';
}

/**
 * Puts the service's flags back to the last good state with the engine the alarm rollback uses
 * ({@link restoreServiceFlags}): a deployment in progress is stopped and waited for until
 * AppConfig has rolled it back, then the last good flags are deployed with the rollback strategy
 * (all at once, zero bake) and waited for until COMPLETE. When the deployed flags already are the
 * last good state (an AppConfig monitor rolled back, or the failure came before any flag change),
 * no deployment is made.
 */
export async function rollback(
  ports: { flags: FlagDeploymentPort; clock: Clock; sleep: Sleep; pollMs?: number; maxWaitMs?: number },
  input: RollbackInput,
): Promise<RollbackResult> {
  const started = ports.clock();
  const reason = causeText(input.error);
  const error = input.error.Error ?? 'RolloutError';
  try {
    const restored = await restoreServiceFlags(
      input.service,
      input.lastGood,
      `${input.service} rollback: ${describeFlags(input.lastGood)}`,
      {
        port: ports.flags,
        now: ports.clock,
        sleep: ports.sleep,
        waitMs: ports.maxWaitMs ?? 120_000,
        ...(ports.pollMs !== undefined ? { pollMs: ports.pollMs } : {}),
      },
    );
    const durationSeconds = (ports.clock() - started) / 1000;
    return {
      error,
      cause: `${reason}; rolled back "${input.service}" to the last good state (${describeFlags(input.lastGood)}) in ${durationSeconds.toFixed(1)} s`,
      restored: input.lastGood,
      ...(restored.deploymentId ? { deploymentId: restored.deploymentId } : {}),
      durationSeconds,
    };
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new RollbackFailedError(
      `ROLLBACK FAILED, restore the flags by hand (docs/rollout.md): ${message}; original failure: ${reason}`,
      { cause },
    );
  }
}
