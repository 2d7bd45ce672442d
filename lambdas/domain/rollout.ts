/**
 * The phased rollout of one service (DESIGN.md, "Phased rollout"), as data and decisions:
 *
 * 1. `read-only-sync`: flags read 0 %, write `legacy`; backfill the service tables from the
 *    legacy tables in key-range chunks; full validation with zero mismatches.
 * 2. `shadow-writes`: write `shadow`; bake; gate on dual-write success, consistency, added
 *    write latency and DLQ depth.
 * 3. `switch-reads`: one flag step per canary percentage, each baked and gated on error rate,
 *    p95 latency and DLQ depth.
 * 4. `cutover-writes`: (approval if the spec asks) write `primary`; bake; gate on error rate,
 *    p95 latency, consistency and DLQ depth.
 * 5. `decommission`: approval; archive the legacy tables. Nothing is dropped.
 *
 * {@link rolloutPlan} turns a service's spec into this plan; the CDK construct
 * (`lib/constructs/rollout-state-machine.ts`) renders it as a Step Functions definition and the
 * task use cases (`rollout-tasks.ts`) act on it. {@link evaluateGate} decides a gate from the
 * measured values of its bake window; {@link gateCause} words a failure so that an operator
 * reads the gate, the measured value and the threshold in the execution's cause.
 *
 * Pure: no AWS SDK, no clock. The ports the tasks need are declared here.
 */
import type { GateThresholds, ServiceSpec } from '../../lib/spec/schema.js';
import type { ServiceFlags } from './flags.js';

export const PHASES = [
  'read-only-sync',
  'shadow-writes',
  'switch-reads',
  'cutover-writes',
  'decommission',
] as const;
export type PhaseName = (typeof PHASES)[number];

/** What a gate check measures. */
export type GateCheckName =
  | 'errorRate'
  | 'p95LatencyMs'
  | 'dualWriteSuccess'
  | 'consistency'
  | 'addedWriteLatencyMs'
  | 'dlqDepth';

/**
 * How a measured value passes: `below` (value < threshold; the spec's "fail when at or above"),
 * `atLeast` (value >= threshold; "fail when below"), `atMost` (value <= threshold; "fail when
 * more than").
 */
export type Comparator = 'below' | 'atLeast' | 'atMost';

export interface GateCheck {
  readonly check: GateCheckName;
  readonly comparator: Comparator;
  readonly threshold: number;
}

export interface GatePlan {
  /** Stable id, used in state names and causes: `shadow`, `canary-25`, `cutover`. */
  readonly id: string;
  readonly checks: readonly GateCheck[];
}

/** One flag change of the rollout: set the flags, wait for the deployment, bake, gate. */
export interface FlagStep {
  /** Stable id used in state names: `ReadOnly`, `Shadow`, `Canary25`, `Cutover`. */
  readonly id: string;
  readonly phase: PhaseName;
  /** The service's flags this step deploys. */
  readonly flags: ServiceFlags;
  /** Bake time before the gate (seconds); also the length of each bake extension. */
  readonly bakeSeconds: number;
  /** No gate: phase 1 is validated by the consistency check instead. */
  readonly gate?: GatePlan;
  /** Ask a person before this step (phase 4 when `approveBeforeCutover`). */
  readonly approvalBefore: boolean;
}

export interface RolloutPlan {
  readonly service: string;
  readonly steps: readonly FlagStep[];
  readonly entities: readonly string[];
  readonly backfill: { readonly concurrency: number; readonly chunkSize: number };
  /** How long an approval waits (seconds); a timeout fails the execution. */
  readonly approvalTimeoutSeconds: number;
  readonly onMissingData: 'fail' | 'extend';
  readonly maxBakeExtensions: number;
}

const flags = (percentage: number, mode: ServiceFlags['write']['mode']): ServiceFlags => ({
  read: { enabled: true, percentage },
  write: { enabled: true, mode },
});

/** The thresholds as gate checks, by what each phase must prove. */
function checks(g: GateThresholds, names: readonly GateCheckName[]): GateCheck[] {
  const all: Record<GateCheckName, GateCheck> = {
    errorRate: { check: 'errorRate', comparator: 'below', threshold: g.maxErrorRate },
    p95LatencyMs: { check: 'p95LatencyMs', comparator: 'below', threshold: g.maxP95Ms },
    dualWriteSuccess: { check: 'dualWriteSuccess', comparator: 'atLeast', threshold: g.minDualWriteSuccess },
    consistency: { check: 'consistency', comparator: 'atLeast', threshold: g.minConsistency },
    addedWriteLatencyMs: {
      check: 'addedWriteLatencyMs',
      comparator: 'below',
      threshold: g.maxAddedWriteLatencyMs,
    },
    dlqDepth: { check: 'dlqDepth', comparator: 'atMost', threshold: g.maxDlqDepth },
  };
  return names.map((n) => all[n]);
}

/** The rollout of one service, from its spec. */
export function rolloutPlan(service: ServiceSpec): RolloutPlan {
  const r = service.rollout;
  const bake = r.bakeMinutes * 60;
  const canaryBake = (r.canaryBakeMinutes ?? r.bakeMinutes) * 60;
  const steps: FlagStep[] = [
    {
      id: 'ReadOnly',
      phase: 'read-only-sync',
      flags: flags(0, 'legacy'),
      bakeSeconds: 0,
      approvalBefore: false,
    },
    {
      id: 'Shadow',
      phase: 'shadow-writes',
      flags: flags(0, 'shadow'),
      bakeSeconds: bake,
      gate: {
        id: 'shadow',
        checks: checks(r.gates, ['dualWriteSuccess', 'consistency', 'addedWriteLatencyMs', 'dlqDepth']),
      },
      approvalBefore: false,
    },
    ...r.canarySteps.map(
      (p): FlagStep => ({
        id: `Canary${p}`,
        phase: 'switch-reads',
        flags: flags(p, 'shadow'),
        bakeSeconds: canaryBake,
        gate: { id: `canary-${p}`, checks: checks(r.gates, ['errorRate', 'p95LatencyMs', 'dlqDepth']) },
        approvalBefore: false,
      }),
    ),
    {
      id: 'Cutover',
      phase: 'cutover-writes',
      flags: flags(100, 'primary'),
      bakeSeconds: bake,
      gate: {
        id: 'cutover',
        checks: checks(r.gates, ['errorRate', 'p95LatencyMs', 'consistency', 'dlqDepth']),
      },
      approvalBefore: r.approveBeforeCutover,
    },
  ];
  return {
    service: service.name,
    steps,
    entities: service.entities.map((e) => e.name),
    backfill: { concurrency: r.backfillConcurrency, chunkSize: r.backfillChunkSize },
    approvalTimeoutSeconds: Math.max(1, Math.round(r.approvalTimeoutHours * 3600)),
    onMissingData: r.onMissingData,
    maxBakeExtensions: r.maxBakeExtensions,
  };
}

// ---------------------------------------------------------------------------------------------
// Gates
// ---------------------------------------------------------------------------------------------

/** A time window, epoch milliseconds, start inclusive, end exclusive. */
export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

/** Measured values by check; `undefined` = no data in the window. */
export type Measurements = Partial<Record<GateCheckName, number | undefined>>;

export interface CheckResult extends GateCheck {
  /** `undefined` when the window had no data for it. */
  readonly measured?: number;
  readonly outcome: 'pass' | 'fail' | 'missing';
}

export interface GateOptions {
  readonly onMissingData: 'fail' | 'extend';
  readonly maxBakeExtensions: number;
  /** Extensions already used by this gate. */
  readonly extensionsUsed: number;
}

export interface GateResult {
  readonly gate: string;
  /** `extend`: bake once more and evaluate again (missing data, extensions left). */
  readonly verdict: 'pass' | 'fail' | 'extend';
  readonly checks: readonly CheckResult[];
  readonly extensionsUsed: number;
  /** Set when the verdict is `fail`. */
  readonly cause?: string;
}

export function passes(c: GateCheck, value: number): boolean {
  switch (c.comparator) {
    case 'below':
      return value < c.threshold;
    case 'atLeast':
      return value >= c.threshold;
    case 'atMost':
      return value <= c.threshold;
  }
}

/**
 * Decides a gate. A failing check fails it at once, whatever else is missing. Missing data
 * (no datapoints, or no traffic to compute a ratio from) fails it under `onMissingData: 'fail'`;
 * under `'extend'` it asks for one more bake until `maxBakeExtensions` are used, then fails.
 */
export function evaluateGate(gate: GatePlan, measured: Measurements, options: GateOptions): GateResult {
  const results: CheckResult[] = gate.checks.map((c) => {
    const value = measured[c.check];
    if (value === undefined || !Number.isFinite(value)) return { ...c, outcome: 'missing' };
    return { ...c, measured: value, outcome: passes(c, value) ? 'pass' : 'fail' };
  });
  const base = { gate: gate.id, checks: results, extensionsUsed: options.extensionsUsed };
  if (results.some((r) => r.outcome === 'fail')) {
    return { ...base, verdict: 'fail', cause: gateCause(gate.id, results, options) };
  }
  if (results.some((r) => r.outcome === 'missing')) {
    if (options.onMissingData === 'extend' && options.extensionsUsed < options.maxBakeExtensions) {
      return { ...base, verdict: 'extend', extensionsUsed: options.extensionsUsed + 1 };
    }
    return { ...base, verdict: 'fail', cause: gateCause(gate.id, results, options) };
  }
  return { ...base, verdict: 'pass' };
}

const LABEL: Record<GateCheckName, string> = {
  errorRate: 'error rate',
  p95LatencyMs: 'p95 latency',
  dualWriteSuccess: 'dual-write success',
  consistency: 'consistency',
  addedWriteLatencyMs: 'added write latency (p95)',
  dlqDepth: 'DLQ depth',
};

const COMPARATOR_WORDS: Record<Comparator, string> = {
  below: 'must be below',
  atLeast: 'must be at least',
  atMost: 'must be at most',
};

/** A value in the unit an operator reads it in: ratios as percentages, latency in ms. */
export function formatMeasure(check: GateCheckName, value: number): string {
  switch (check) {
    case 'errorRate':
    case 'dualWriteSuccess':
    case 'consistency':
      return `${trim(value * 100, 4)} %`;
    case 'p95LatencyMs':
    case 'addedWriteLatencyMs':
      return `${trim(value, 1)} ms`;
    case 'dlqDepth':
      return `${value} messages`;
  }
}

function trim(n: number, digits: number): string {
  return String(Number(n.toFixed(digits)));
}

/**
 * The failure cause: `gate "canary-25" failed: error rate 0.4 % (must be below 0.1 %)`, one
 * clause per failing or missing check.
 */
export function gateCause(gate: string, results: readonly CheckResult[], options: GateOptions): string {
  const clauses = results
    .filter((r) => r.outcome !== 'pass')
    .map((r) =>
      r.outcome === 'fail'
        ? `${LABEL[r.check]} ${formatMeasure(r.check, r.measured!)} (${COMPARATOR_WORDS[r.comparator]} ${formatMeasure(r.check, r.threshold)})`
        : `${LABEL[r.check]}: no data in the bake window (${COMPARATOR_WORDS[r.comparator]} ${formatMeasure(r.check, r.threshold)}; on missing data: ${options.onMissingData}, ${options.extensionsUsed} of ${options.maxBakeExtensions} extensions used)`,
    );
  return `gate "${gate}" failed: ${clauses.join('; ')}`;
}

// ---------------------------------------------------------------------------------------------
// Metric sources of the gate checks (the contract in lib/spec/metrics.ts)
// ---------------------------------------------------------------------------------------------

/**
 * What the rollout measures over a window, said in its own terms (the numbers behind a gate's
 * checks and `cutover status`). Where each is recorded, and how it is queried, is the metrics
 * adapter's business (lambdas/adapters/cloudwatch-metrics.ts, after the contract in
 * lib/spec/metrics.ts).
 */
export type RolloutSignal =
  /** Requests the gateway sent to the new service, with this outcome: the window's total. */
  | { readonly kind: 'serviceRequests'; readonly service: string; readonly outcome: 'success' | 'error' }
  /** The gateway's p95 latency over the window, of calls to the service or to the legacy side. */
  | { readonly kind: 'latencyP95'; readonly service: string; readonly target: 'service' | 'legacy' }
  /** Forward-sync events of the service with this outcome: the window's total. */
  | {
      readonly kind: 'forwardEvents';
      readonly service: string;
      readonly status: 'applied' | 'skipped' | 'conflict' | 'failed';
    }
  /** The most messages waiting in a (dead-letter) queue during the window. */
  | { readonly kind: 'queueDepth'; readonly queueName: string }
  /** The largest sync lag of the service's entities of one consistency class in the window. */
  | { readonly kind: 'syncLag'; readonly service: string; readonly consistencyType: string };

// ---------------------------------------------------------------------------------------------
// One execution per service, services in the spec's order
// ---------------------------------------------------------------------------------------------

export interface RunningExecution {
  readonly executionArn: string;
  /** Epoch milliseconds. */
  readonly startedAt: number;
}

/**
 * Whether `me` may proceed: it must be the oldest RUNNING execution of its state machine
 * (ties broken by ARN, so two executions started in the same millisecond never both proceed).
 * `me` is counted even if the listing does not show it yet.
 */
export function exclusiveRollout(
  me: RunningExecution,
  running: readonly RunningExecution[],
): { ok: true } | { ok: false; holder: RunningExecution } {
  const older = running
    .filter((e) => e.executionArn !== me.executionArn)
    .filter(
      (e) => e.startedAt < me.startedAt || (e.startedAt === me.startedAt && e.executionArn < me.executionArn),
    )
    .sort((a, b) => a.startedAt - b.startedAt || a.executionArn.localeCompare(b.executionArn));
  return older.length ? { ok: false, holder: older[0]! } : { ok: true };
}

/**
 * Whether the previous service of the migration is done with its cutover: its flags send all
 * reads and writes to the new service (read 100 %, write `primary`, both enabled) and no
 * rollout of it is running (a running one may still fail its phase-4 gate and roll back).
 * The flags are the durable record: Step Functions forgets executions after 90 days, and a
 * person who rolled the previous service back by hand has also undone its "completion".
 */
export function predecessorDone(
  predecessor: string,
  flags: ServiceFlags | undefined,
  running: number,
): { ok: true } | { ok: false; reason: string } {
  if (running > 0) {
    return { ok: false, reason: `the rollout of "${predecessor}" is still running` };
  }
  const cutOver =
    flags?.read.enabled === true &&
    flags.read.percentage === 100 &&
    flags.write.enabled === true &&
    flags.write.mode === 'primary';
  if (!cutOver) {
    const now = flags
      ? `read ${flags.read.enabled ? flags.read.percentage : 0} %, write ${flags.write.enabled ? flags.write.mode : 'legacy'}`
      : 'no flags';
    return {
      ok: false,
      reason: `"${predecessor}" has not completed its rollout (needs read 100 %, write primary; has ${now})`,
    };
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Phase 1: backfill and validation
// ---------------------------------------------------------------------------------------------

/** A key range of one entity's legacy table; `from` inclusive, `to` inclusive. */
export interface BackfillChunk {
  readonly entity: string;
  readonly from: string;
  readonly to: string;
  /** Keys in the range when planned (for progress and checks). */
  readonly keys: number;
}

export interface ConsistencyReport {
  readonly entity: string;
  readonly legacyCount: number;
  readonly serviceCount: number;
  /** Keys that differ (capped by the check); empty when consistent. */
  readonly mismatches: readonly string[];
  /** All mismatches, listed or not. @default - mismatches.length */
  readonly mismatchesTotal?: number;
  /** Matching records / records on either side (1 when both are empty). */
  readonly consistency: number;
}

export interface ValidationResult {
  readonly ok: boolean;
  readonly reports: readonly ConsistencyReport[];
  readonly cause?: string;
}

/** Phase 1's full validation: equal counts and zero mismatches for every entity. */
export function validateReadOnlySync(reports: readonly ConsistencyReport[]): ValidationResult {
  const problems: string[] = [];
  for (const r of reports) {
    if (r.legacyCount !== r.serviceCount) {
      problems.push(`${r.entity}: ${r.legacyCount} legacy records but ${r.serviceCount} service records`);
    }
    const total = r.mismatchesTotal ?? r.mismatches.length;
    if (total > 0) {
      const shown = r.mismatches.slice(0, 5).join(', ');
      const more = total > 5 ? ` and ${total - 5} more` : '';
      problems.push(`${r.entity}: ${total} mismatched records (keys ${shown}${more})`);
    }
  }
  return problems.length
    ? {
        ok: false,
        reports,
        cause: `validation "read-only-sync" failed (needs zero mismatches): ${problems.join('; ')}`,
      }
    : { ok: true, reports };
}

// ---------------------------------------------------------------------------------------------
// Ports (implemented in lambdas/adapters/, faked in test/support/)
// ---------------------------------------------------------------------------------------------

/** The metrics store: each signal's value over the whole window, `undefined` where none was recorded. */
export interface MetricsPort {
  measure<K extends string>(
    signals: Readonly<Record<K, RolloutSignal>>,
    window: TimeWindow,
  ): Promise<Record<K, number | undefined>>;
}

/** The sync engine's consistency check of one entity (legacy vs service tables). */
export interface ConsistencyCheckPort {
  check(entity: string): Promise<ConsistencyReport>;
}

/** The sync engine's backfill: key-range chunks, each copied through the sync rules. */
export interface BackfillPort {
  planChunks(entity: string, chunkSize: number): Promise<BackfillChunk[]>;
  copyChunk(chunk: BackfillChunk): Promise<{ copied: number; skipped: number }>;
}

/** Step Functions ListExecutions (status RUNNING) of one state machine. */
export interface ExecutionsPort {
  listRunning(stateMachineArn: string): Promise<RunningExecution[]>;
}

/** What an operator needs to approve or reject a waiting step. */
export interface ApprovalRequest {
  readonly migration: string;
  readonly service: string;
  /** `cutover-writes` or `decommission`. */
  readonly step: string;
  readonly executionArn: string;
  readonly taskToken: string;
  /** ISO-8601: the approval times out (and the execution fails) at this time. */
  readonly expiresAt: string;
  readonly summary: string;
}

/** Publishes `cutover.approval.requested` on the platform bus. */
export interface ApprovalPort {
  requestApproval(request: ApprovalRequest): Promise<void>;
}

export const APPROVAL_EVENT = {
  source: 'cutover.rollout',
  detailType: 'cutover.approval.requested',
} as const;
