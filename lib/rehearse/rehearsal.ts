/**
 * A dress rehearsal of one service's migration on this machine, from the synthesized app: the
 * service stack's functions run in-process with their template environment pointed at MariaDB
 * (the Magento side) and DynamoDB Local (the service side); the bus, queues, event source
 * mappings, the Pipe and the poller's schedule are the local stand-ins of lib/rehearse/local-*,
 * configured only from the assembly model. Phases: setup (databases, tables from the
 * templates, a generated Magento-shaped dataset), backfill (the first polls, through the real
 * path), traffic (Magento edits in SQL and service-side writes at `rate`), drain, verify (the
 * consistency check function of the template compares both sides).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import mysql, { type Pool } from 'mysql2/promise';
import { SignalMetrics } from '../../lambdas/adapters/cloudwatch-metrics.js';
import { DynamoSyncStateStore } from '../../lambdas/adapters/dynamodb-sync-state.js';
import { EnvelopeCipher, LocalDataKeys } from '../../lambdas/adapters/field-cipher.js';
import { MysqlArchiveSource } from '../../lambdas/adapters/mysql-archive-source.js';
import { pollerTiming } from '../../lambdas/domain/poller-loop.js';
import { type ConsistencyCheckPort, formatMeasure } from '../../lambdas/domain/rollout.js';
import { SyncEngineBackfill, SyncEngineConsistencyCheck } from '../../lambdas/domain/rollout-sync.js';
import type { Progress as RolloutProgress } from '../../lambdas/domain/rollout-tasks.js';
import { bucketOf, inCohort } from '../../lambdas/domain/routing.js';
import { SyncEngineValidation } from '../../lambdas/domain/validation.js';
import { registerSpecs } from '../../lambdas/handlers/bundled-spec.js';
import type { ConsistencyCheckResponse } from '../../lambdas/handlers/consistency-check.js';
import type { GatewayDependencies } from '../../lambdas/handlers/gateway.js';
import { closeRuntime, configureRuntime, runtime } from '../../lambdas/handlers/runtime.js';
import { MemoryObjectStore } from '../local/memory-objects.js';
import { RUNTIME_ENV } from '../spec/runtime.js';
import type { EntitySpec, MigrationSpec, MysqlEntityLegacy } from '../spec/schema.js';
import {
  type EditSpec,
  editToken,
  generateDataset,
  legacyEdit,
  legacyKeys,
  serviceEdit,
  serviceKeysOf,
  standInReferenced,
  trafficPlan,
} from './admin-edits.js';
import { apiGatewayEvent } from './apigateway-event.js';
import type { AssemblyModel, FunctionModel, ResourceId, TableModel } from './assembly.js';
import { type DivergentRow, divergentRows } from './divergence.js';
import { type FaultPlan, type FaultStart, startThrottleProxy, type ThrottleProxy } from './faults.js';
import {
  EventSourceMapping,
  LocalBus,
  LocalQueue,
  type QueueMessage,
  scheduledEvent,
  sleep,
} from './local-aws.js';
import { LocalCloudWatch } from './local-cloudwatch.js';
import { LocalPipe } from './local-pipe.js';
import { LocalRollout } from './local-rollout.js';
import { LoopClock, LoopTimedUpstream } from './loop-time.js';
import type { ExecutionOutcome } from './rollout-runner.js';
import { PROBE_HEADER, type RehearsalUpstreams, startUpstreams } from './upstreams.js';

/** The rehearsal cannot run: the assembly lacks the service, or the setup failed. */
export class RehearsalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RehearsalError';
  }
}

export const DATASET_SIZES = { tiny: 20, small: 200, medium: 2_000, large: 20_000 } as const;
export type DatasetSize = keyof typeof DATASET_SIZES;

export interface RehearsalOptions {
  readonly model: AssemblyModel;
  readonly spec: MigrationSpec;
  readonly service: string;
  /** Stage of the assembly (`dev`): the stacks are `cutover-<env>-…`. */
  readonly env: string;
  /** mysql://user@host:port/ of a MariaDB server (a database is created on it). */
  readonly mysqlServerUrl: string;
  /** DynamoDB Local endpoint. */
  readonly dynamoEndpoint: string;
  /** Changes per second offered during the traffic phase (both sides together). @default 50 */
  readonly rate?: number;
  /** Traffic phase length. @default 30_000 */
  readonly durationMs?: number;
  /** Rows generated in Magento per entity. @default DATASET_SIZES.small */
  readonly datasetRows?: number;
  /**
   * Template durations (schedules, visibility timeouts, batching windows) are divided by this.
   * @default 60 (the poller's 1-minute schedule runs every second)
   */
  readonly timeScale?: number;
  /** Share of the traffic written on the service side (0..1). @default 0.5 */
  readonly serviceShare?: number;
  /** Poison events (bodies the contract rejects) put on the bus during traffic. @default 0 */
  readonly poisonEvents?: number;
  /**
   * Probability (0..1) that a sync function "dies after its write, before the ack": the
   * invocation fails after the handler returned, so SQS redelivers records already applied.
   * @default 0
   */
  readonly crashAfterWrite?: number;
  /** Restart MariaDB this long into the traffic phase (with `restartMariaDb`). */
  readonly mariadbRestartAtMs?: number;
  /** Stops and starts the Magento database server (a throwaway server's shutdown/start). */
  readonly restartMariaDb?: () => Promise<void>;
  /** The fault specs as given, for the report. @default - derived from the options */
  readonly faultLabels?: readonly string[];
  /**
   * How long everything must stay quiet for the drain to be done: stream records not yet read
   * are invisible to the pipe, so the window covers DynamoDB Local's stream delay.
   * @default 2 polls, at least 2 s
   */
  readonly quietMs?: number;
  /** How long the drain may take before the run gives up. @default 60_000 */
  readonly drainTimeoutMs?: number;
  /** Suffix of the Magento database and prefix of the tables, so runs do not collide. @default random */
  readonly runId?: string;
  readonly onProgress?: (p: Progress) => void;
  /** Where the functions' log lines go (they are JSON; EMF lines are parsed). @default dropped */
  readonly functionLog?: (line: string) => void;
  /**
   * Run the service's rollout state machine during the traffic, with users reading and writing
   * through the gateway (`--rollout`). @default false
   */
  readonly rollout?: boolean;
  /**
   * The rollout's template durations (waits, bakes, AppConfig strategies, the gateway's flag
   * poll) are divided by this. @default - so that the rollout's bakes span the traffic phase
   */
  readonly rolloutTimeScale?: number;
  /**
   * The gateway's flag poll runs this many times faster than the template's interval; 1 is real
   * time (the rollback benchmark: the time for reads to return to Magento includes the whole
   * poll interval, as on AWS). @default the rollout's time scale
   */
  readonly flagPollTimeScale?: number;
  /** No bake is shorter than this (ms), so that each gate's window holds traffic. @default 1500 */
  readonly minBakeMs?: number;
  /** Gateway requests per second (users' reads and writes). @default the rate */
  readonly gatewayRate?: number;
  /** The faults of `--fault` that act on the gateway's service upstream and DynamoDB. */
  readonly faults?: Pick<FaultPlan, 'serviceErrors' | 'serviceLatency' | 'dynamoThrottle'>;
  /** How long the rollout may run past the traffic before it is aborted. @default 60_000 */
  readonly rolloutTimeoutMs?: number;
}

export interface Progress {
  readonly phase: string;
  readonly elapsedMs: number;
  readonly offered: number;
  readonly applied: number;
  readonly failed: number;
  readonly dlq: number;
  readonly lagP99Ms?: number;
  readonly queueDepth: number;
}

export type PhaseOutcome = 'succeeded' | 'failed' | 'skipped';

export interface PhaseReport {
  readonly name: string;
  readonly outcome: PhaseOutcome;
  readonly durationMs: number;
  readonly detail?: string;
  /** The injected fault that explains a failed phase (it does not fail the run). */
  readonly explainedBy?: string;
}

/** A rollback of the rollout: its cause and how long it took, from the fault's start. */
export interface RollbackReport {
  readonly cause: string;
  /** The fault active when the gate failed, or null (then times count from the rollback's start). */
  readonly fault: string | null;
  /** From the fault's start to the Rollback task starting (the gate failed). */
  readonly gateFailedMs: number;
  /** From the fault's start to the last good flags deployed (the rollback deployment COMPLETE). */
  readonly flagsRestoredMs: number | null;
  /** From the fault's start to the gateway routing a canary user's read to legacy again. */
  readonly routingChangedMs: number | null;
}

export interface RehearsalReport {
  readonly migration: string;
  readonly service: string;
  readonly env: string;
  readonly settings: {
    readonly rate: number;
    readonly durationMs: number;
    readonly datasetRows: number;
    readonly timeScale: number;
    readonly rolloutTimeScale: number | null;
    readonly faults: readonly string[];
  };
  /** What the faults did: crashes after a write, MariaDB restarts, Magento edits lost to them. */
  readonly injected: {
    readonly crashes: number;
    readonly mariadbRestarts: number;
    readonly editsLost: number;
  };
  readonly assembly: {
    readonly directory: string;
    readonly rules: number;
    readonly mappings: readonly {
      id: string;
      batchSize: number;
      maximumBatchingWindowSeconds: number;
      maximumConcurrency?: number;
    }[];
    readonly queues: readonly { id: string; visibilityTimeoutSeconds: number; maxReceiveCount?: number }[];
  };
  readonly phases: readonly PhaseReport[];
  readonly events: {
    readonly offered: number;
    readonly applied: number;
    readonly failed: number;
    readonly dlq: number;
    readonly byDirection: Record<
      string,
      { offered: number; applied: number; failed: number; invocations: number }
    >;
    /** Events put on the bus that no rule matched (AWS drops them). */
    readonly unmatched: number;
    readonly unmatchedSamples: readonly { source: string; detailType: string }[];
    /** What the dead-letter queues hold (no field values: they may be personal data). */
    readonly dlqMessages: readonly { source: string; detailType: string; eventId: string | null }[];
  };
  /**
   * The traffic's edits by side and kind (`magento product.price`, `service stock.qty`,
   * `magento coupon.timesUsed`): rows changed, and how many of the values they set arrived on
   * the other side in an acknowledged event (null for counters: an increment carries no value
   * of its own; the end state's comparison covers them).
   */
  readonly edits: Record<string, { offered: number; applied: number | null }>;
  /** The service's entities with traffic, and those left out with why. */
  readonly entities: {
    readonly traffic: readonly string[];
    readonly skipped: readonly { entity: string; reason: string }[];
  };
  readonly lag: {
    readonly p50Ms: number | null;
    readonly p99Ms: number | null;
    readonly byDirection: Record<
      string,
      {
        p50Ms: number | null;
        p99Ms: number | null;
        samples: number;
        /**
         * The median lag of the edits made in the first and in the last third of the traffic
         * phase: a lag growing through the run (a queue building up) shows as the last above the
         * first; a bounded one keeps them close.
         */
        firstThirdP50Ms: number | null;
        lastThirdP50Ms: number | null;
      }
    >;
  };
  readonly conflicts: {
    readonly byPolicy: Record<string, number>;
    readonly byWinner: Record<string, number>;
  };
  readonly rollbacks: readonly RollbackReport[];
  /** Requests through the gateway, by who answered (after fallbacks), and the rollout's flags. */
  readonly gateway: {
    readonly requests: number;
    readonly byTarget: Record<string, number>;
    readonly serviceErrorsInjected: number;
    /** Service calls answered late by the `service-latency` fault. */
    readonly serviceLatencyInjected: number;
    readonly dynamoThrottled: number;
    /** When each service fault started, ms from the rehearsal's start. */
    readonly faultsStarted: Record<string, number>;
    /** When each rollout step's flags were deployed, ms from the rehearsal's start. */
    readonly stepsDeployed: Record<string, number>;
    /** When the Magento and service edits began, ms from the rehearsal's start. */
    readonly editsStartedMs: number | null;
    /**
     * The gateway's upstream calls answered past their deadline on the wall clock but within it
     * on the rehearsal's event loop (lib/rehearse/loop-time.ts): the process was starved of CPU,
     * so they are not reported as timeouts; and the time the loop stalled in all (ms).
     */
    readonly starved: { readonly upstreamCalls: number; readonly loopStalledMs: number };
  };
  readonly divergence: {
    readonly rows: number;
    readonly parked: number;
    readonly consistent: boolean;
    /** Rows differing at the first check, before in-flight changes converged. */
    readonly firstCheckRows: number;
    /** The rows still differing at the end: keys, field names and sync state (never values). */
    readonly differing: readonly DivergentRow[];
  };
  readonly metrics: Record<string, number>;
  /** The run's verdict: false when data diverged without a parked conflict, or a phase failed. */
  readonly ok: boolean;
}

/** Traffic changes outstanding at once (SQL edits and DynamoDB writes). */
const MAX_IN_FLIGHT = 32;
const SYNC_HANDLERS = new Set(['forward-sync', 'reverse-sync']);
const DATA_PLANE = ['forward-sync', 'reverse-sync', 'service-capture', 'legacy-poller', 'consistency-check'];
/** Environment the runtime reads: it must agree across the functions sharing it in-process. */
const SHARED_ENV = [
  RUNTIME_ENV.migration,
  RUNTIME_ENV.syncTable,
  RUNTIME_ENV.conflictsTable,
  RUNTIME_ENV.serviceTables,
  RUNTIME_ENV.busName,
];

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

function percentile(sorted: readonly number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function lambdaContext(fn: FunctionModel, budgetMs = fn.timeoutSeconds * 1000) {
  const started = Date.now();
  return {
    functionName: fn.id.replace('/', '-'),
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${fn.id.split('/')[1]}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.id.split('/')[1]}`,
    logStreamName: 'rehearsal',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, budgetMs - (Date.now() - started)),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/**
 * Captures what the in-process functions print: EMF metrics are summed, log lines passed on.
 * Powertools prints INFO and below to stdout and WARN/ERROR to stderr (console.warn/error): both
 * are captured, so the functions' warnings land in the log sink, not in the terminal. What else
 * goes to stderr (the CLI's progress, anything not a JSON line) passes through.
 */
class FunctionOutput {
  readonly metrics = new Map<string, number>();
  private restore: (() => void)[] = [];

  constructor(
    private readonly log?: (line: string) => void,
    /** Where the EMF metrics go as CloudWatch would store them (the gates read them). */
    private readonly cloudwatch?: LocalCloudWatch,
  ) {}

  start(): void {
    this.capture(process.stdout, () => true);
    // stderr: only JSON lines (a function's log record); a chunk that does not start one, such
    // as the CLI's `\r`-refreshed progress line, is written through at once.
    this.capture(process.stderr, (chunk) => chunk.trimStart().startsWith('{'));
  }

  stop(): void {
    for (const r of this.restore.splice(0)) r();
  }

  private capture(stream: NodeJS.WriteStream, isLog: (chunk: string) => boolean): void {
    const original = stream.write;
    const through = original.bind(stream) as (chunk: string) => boolean;
    let buffer = '';
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      if (!buffer && !isLog(text)) {
        const ok = through(text);
        cb?.();
        return ok;
      }
      buffer += text;
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        this.line(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
      }
      cb?.();
      return true;
    }) as typeof stream.write;
    this.restore.push(() => {
      stream.write = original;
    });
  }

  private line(text: string): void {
    if (!text.trim()) return;
    try {
      const doc = JSON.parse(text) as Record<string, unknown>;
      const aws = doc['_aws'] as {
        CloudWatchMetrics?: { Dimensions: string[][]; Metrics: { Name: string }[] }[];
      };
      if (aws?.CloudWatchMetrics) {
        this.cloudwatch?.putEmf(doc);
        for (const set of aws.CloudWatchMetrics) {
          const dims = (set.Dimensions[0] ?? []).map((d) => `${d}=${String(doc[d])}`).join(',');
          for (const m of set.Metrics) {
            const v = doc[m.Name];
            const sum = Array.isArray(v) ? v.reduce((a: number, b) => a + Number(b), 0) : Number(v);
            const key = `${m.Name}{${dims}}`;
            this.metrics.set(key, (this.metrics.get(key) ?? 0) + sum);
          }
        }
        return;
      }
    } catch {
      // not JSON: a plain log line
    }
    this.log?.(text);
  }
}

/** A pool on the rehearsal's Magento database, in UTC as the functions' pools are. */
function magentoPool(url: string, connectionLimit: number): Pool {
  const pool = mysql.createPool({ uri: url, timezone: 'Z', connectionLimit });
  pool.pool.on('connection', (c) => {
    c.query("SET time_zone = '+00:00'");
  });
  return pool;
}

/** Runs the rehearsal and returns its report (it never throws for what it measures). */
export async function rehearse(options: RehearsalOptions): Promise<RehearsalReport> {
  const { model, spec } = options;
  // The functions run from source here: they get the spec their bundles would carry.
  registerSpecs([spec]);
  const rate = options.rate ?? 50;
  const durationMs = options.durationMs ?? 30_000;
  const datasetRows = options.datasetRows ?? DATASET_SIZES.small;
  const timeScale = options.timeScale ?? 60;
  const runId = options.runId ?? randomUUID().slice(0, 8);
  const started = Date.now();
  const phases: PhaseReport[] = [];
  const serviceSpec = spec.services.find((s) => s.name === options.service);
  if (!serviceSpec) throw new RehearsalError(`migration ${spec.name} has no service ${options.service}`);
  const stack = `cutover-${options.env}-${spec.name}-${options.service.replace(/_/g, '-')}`;
  if (!model.stacks.includes(stack))
    throw new RehearsalError(`the assembly has no stack ${stack} (stacks: ${model.stacks.join(', ')})`);
  const functions = Object.values(model.functions).filter(
    (f) => f.stack === stack && DATA_PLANE.includes(f.handler),
  );
  const byHandler = (h: string) => functions.find((f) => f.handler === h);
  for (const h of ['forward-sync', 'reverse-sync', 'legacy-poller', 'consistency-check']) {
    if (!byHandler(h)) throw new RehearsalError(`${stack} has no ${h} function`);
  }

  // --- the environment the functions share in-process -----------------------------------------
  // The functions' template environment, applied before their modules are imported (Powertools
  // reads it then). What the runtime reads must agree; the rest (log level, service name) is
  // taken from the first function that sets it. NODE_OPTIONS is for the Lambda runtime only.
  const env: Record<string, string> = {};
  for (const f of functions) {
    for (const [key, v] of Object.entries(f.environment)) {
      if (key === 'NODE_OPTIONS') continue;
      if (SHARED_ENV.includes(key as (typeof SHARED_ENV)[number]) && env[key] !== undefined && env[key] !== v)
        throw new RehearsalError(`${f.id}: ${key}=${v} differs from another function's ${env[key]}`);
      env[key] ??= v;
    }
  }
  // Tables get a per-run prefix so rehearsals share one DynamoDB Local.
  const tableName = (name: string) => `rh-${runId}-${name}`;
  const serviceTables = JSON.parse(env[RUNTIME_ENV.serviceTables] ?? '{}') as Record<string, string>;
  const wanted = [
    env[RUNTIME_ENV.syncTable]!,
    env[RUNTIME_ENV.conflictsTable]!,
    ...Object.values(serviceTables),
  ];
  const tableModels = wanted.map((name) => {
    const t = Object.values(model.tables).find((x) => x.name === name);
    if (!t) throw new RehearsalError(`table ${name} (function environment) is not in the assembly`);
    return t;
  });
  const localServiceTables = Object.fromEntries(
    Object.entries(serviceTables).map(([e, n]) => [e, tableName(n)]),
  );

  const cloudwatch = new LocalCloudWatch();
  const output = new FunctionOutput(options.functionLog, cloudwatch);
  const withRollout = options.rollout ?? false;
  const minBakeMs = options.minBakeMs ?? 1500;
  let rolloutScale: number | null = null;
  let throttle: ThrottleProxy | undefined;
  let upstreams: RehearsalUpstreams | undefined;
  /** The gateway's upstream calls timed on the loop's clock (lib/rehearse/loop-time.ts). */
  let loopClock: LoopClock | undefined;
  let timedUpstream: LoopTimedUpstream | undefined;
  let gateway:
    | ((event: unknown) => Promise<{ statusCode: number; headers?: Record<string, string> }>)
    | undefined;
  let rollout: LocalRollout | undefined;
  const gatewayStats = { requests: 0, byTarget: {} as Record<string, number> };
  /** When each injected service fault started (label -> epoch ms). */
  const faultStarted = new Map<string, number>();
  let routingChangedAt: number | undefined;
  let rolloutOutcome: ExecutionOutcome | undefined;
  let probeKey = '1';
  /** When the Magento and service edits began (with `--rollout`: when phase 1 was validated). */
  let editsStartedAt: number | undefined;
  const rolloutRef = () => {
    if (!rollout) throw new RehearsalError('no rollout');
    return rollout;
  };
  /**
   * How long after its last edit a row counts as in flight for the gates' consistency check:
   * the sync's p99 lag so far, at least {@link IN_FLIGHT_MS} (a loaded machine's lag exceeds a
   * fixed window, and a row still in flight is not a divergence).
   */
  const inFlightMs = () => {
    const all = [...lags['forward']!, ...lags['reverse']!].sort((a, b) => a - b);
    return Math.max(IN_FLIGHT_MS, percentile(all, 99) ?? 0);
  };
  /** When each key was last edited by the rehearsal (a mismatch on it may be in flight). */
  const lastEditAt = new Map<string, number>();
  const savedEnv = { ...process.env };
  const raw = new DynamoDBClient({
    endpoint: options.dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  let db: Pool | undefined;
  let magentoUrl: string | undefined;
  const stoppers: (() => Promise<void>)[] = [];
  const phase = async (name: string, run: () => Promise<string | undefined>): Promise<boolean> => {
    const t = Date.now();
    current = name;
    try {
      const detail = await run();
      phases.push({ name, outcome: 'succeeded', durationMs: Date.now() - t, ...(detail ? { detail } : {}) });
      return true;
    } catch (e) {
      phases.push({ name, outcome: 'failed', durationMs: Date.now() - t, detail: (e as Error).message });
      return false;
    }
  };
  let current = 'setup';
  let busRef: LocalBus | undefined;

  // Counters
  const offered: Record<string, number> = { forward: 0, reverse: 0 };
  const applied: Record<string, number> = { forward: 0, reverse: 0 };
  const failed: Record<string, number> = { forward: 0, reverse: 0 };
  const lags: Record<string, number[]> = { forward: [], reverse: [] };
  /** When the edit of each lag sample (same index) was made. */
  const lagEditedAt: Record<string, number[]> = { forward: [], reverse: [] };
  /** The traffic phase's edits, from the first to the last (for the lag's trend). */
  const trafficSpan = { from: 0, to: 0 };
  /** Tokens in flight: when the edit that set them was made, and which kind of edit it was. */
  const pending = new Map<string, { at: number; label: string }>();
  const queues = new Map<ResourceId, LocalQueue>();
  const mappings: { direction: string; esm: EventSourceMapping }[] = [];
  const pipes: LocalPipe[] = [];
  let divergence: RehearsalReport['divergence'] = {
    rows: 0,
    parked: 0,
    consistent: false,
    firstCheckRows: 0,
    differing: [],
  };
  let stopPoller = false;
  let pollerLoop: Promise<void> | undefined;
  let lastPollAt = 0;

  const handlers = new Map<ResourceId, Handler>();
  const crashAfterWrite = options.crashAfterWrite ?? 0;
  const injected = { crashes: 0, mariadbRestarts: 0, editsLost: 0 };
  const invoke = async (fnId: ResourceId, event: unknown, budgetMs?: number): Promise<unknown> => {
    const fn = model.functions[fnId];
    const h = handlers.get(fnId);
    if (!fn || !h) throw new RehearsalError(`function ${fnId} is not running in this rehearsal`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Task timed out after ${fn.timeoutSeconds} seconds`)),
        fn.timeoutSeconds * 1000,
      );
    });
    try {
      const result = await Promise.race([h(event, lambdaContext(fn, budgetMs)), timeout]);
      if (crashAfterWrite > 0 && SYNC_HANDLERS.has(fn.handler) && Math.random() < crashAfterWrite) {
        injected.crashes++;
        throw new Error('the function died after its write, before the ack (injected)');
      }
      return result;
    } finally {
      clearTimeout(timer);
    }
  };

  const progress = () => {
    const all = [...lags['forward']!, ...lags['reverse']!].sort((a, b) => a - b);
    options.onProgress?.({
      phase: current,
      elapsedMs: Date.now() - started,
      offered: offered['forward']! + offered['reverse']!,
      applied: applied['forward']! + applied['reverse']!,
      failed: failed['forward']! + failed['reverse']!,
      dlq: dlqCount(),
      ...(all.length ? { lagP99Ms: percentile(all, 99)! } : {}),
      queueDepth: mappings.reduce((n, m) => n + queues.get(m.esm.model.queue)!.depth, 0),
    });
  };
  const dlqCount = () =>
    mappings.reduce((n, m) => {
      const q = model.queues[m.esm.model.queue];
      return n + (q?.redrive ? (queues.get(q.redrive.deadLetterQueue)?.depth ?? 0) : 0);
    }, 0);
  const ticker = setInterval(progress, 1000);

  // Traffic for the service's MySQL entities (lib/rehearse/admin-edits.ts): the first one (a
  // referenced entity, such as the product stock points at) is the one users reach through the
  // gateway and the poison events name.
  const plan = spec.legacy.kind === 'mysql' ? trafficPlan(spec, options.service) : undefined;
  const trafficEntities = (plan?.entities ?? []).filter((e) => e.name in serviceTables);
  const entity = trafficEntities[0];
  if (!plan || !entity)
    throw new RehearsalError(
      `${spec.name}/${options.service}: the rehearsal generates traffic for MySQL entities; this service has none it can generate${
        plan?.skipped.length ? ` (${plan.skipped.map((x) => `${x.entity}: ${x.reason}`).join('; ')})` : ''
      }`,
    );
  /** Per referenced entity of a service before this one: its service key by legacy key. */
  let referencedKeys = new Map<string, Map<string, string>>();
  /** A reference edit's value: another record of the referenced entity, by the side's own key. */
  const referenceToken = (edit: EditSpec, toService: boolean): string => {
    const keys = referencedKeys.get(edit.field.references!.entity);
    if (!keys?.size)
      throw new RehearsalError(`${edit.label}: no ${edit.field.references!.entity} records stood in for`);
    return pick(toService ? [...keys.values()] : [...keys.keys()]);
  };
  const legacyEdits = plan.legacy.filter((e) => trafficEntities.includes(e.entity));
  const serviceEdits = plan.service.filter((e) => trafficEntities.includes(e.entity));
  /** The users' writes through the gateway: the first string field each side sets on `entity`. */
  const userWrite = (edits: readonly EditSpec[]) => {
    const e = edits.find((x) => x.entity === entity && x.kind === 'set' && x.field.type === 'string');
    if (!e) throw new RehearsalError(`${entity.name} has no string field the users could write`);
    return e;
  };
  /** Per edit (`magento product.price`): changes offered, and how many of their tokens were applied. */
  const editStats = new Map<string, { offered: number; applied: number | null }>();
  const countEdit = (label: string, changes: number, counter: boolean) => {
    const s = editStats.get(label) ?? { offered: 0, applied: counter ? null : 0 };
    s.offered += changes;
    editStats.set(label, s);
  };

  /**
   * The gateway function of the assembly (the platform stack's, for this migration) built
   * in-process from its template environment, its upstreams pointed at the rehearsal's
   * stand-ins and its flag reader at the local AppConfig Data API; the rollout of the service
   * stack on the sync engine's ports.
   */
  async function setUpRollout(): Promise<void> {
    if (!db || !entity) throw new RehearsalError('setup incomplete');
    const gatewayFn = Object.values(model.functions).find(
      (f) => f.handler === 'gateway' && f.environment[RUNTIME_ENV.migration] === spec.name,
    );
    if (!gatewayFn) throw new RehearsalError(`the assembly has no gateway function for ${spec.name}`);
    const route = serviceSpec!.routes.find((r) => r.access === 'read')?.pathPrefix;
    if (!route) throw new RehearsalError(`${options.service} has no read route for the gateway`);
    // Magento's own connections: the stand-in must not queue its users' queries behind the
    // rehearsal's admin edits and sync on the pool those share (6 connections, up to 32 edits in
    // flight), which made its answers time out in the gateway on a loaded machine.
    const pool = magentoPool(magentoUrl!, 4);
    stoppers.push(() => pool.end().catch(() => {}));
    const table = localServiceTables[entity.name]!;
    upstreams = await startUpstreams(
      route,
      {
        read: (key) => legacyRecord(pool, entity, key),
        write: async (key, value) => {
          lastEditAt.set(key, Date.now());
          await legacyEdit(pool, userWrite(legacyEdits), [key], [value]);
        },
      },
      {
        read: (key) => serviceRecord(doc, table, entity, key),
        write: async (key, value) => {
          lastEditAt.set(key, Date.now());
          // A user's PUT is last-writer-wins: the service stand-in retries its optimistic write
          // when the sync or another edit moved the version between its read and its write, as
          // a service does, rather than failing the user's request (which the gates would count
          // as a service error: on 12 rows at the tests' rates such races are frequent).
          for (let attempt = 1; ; attempt++) {
            try {
              await serviceEdit(doc, table, userWrite(serviceEdits), key, value);
              return;
            } catch (e) {
              if ((e as Error).name !== 'ConditionalCheckFailedException' || attempt >= VERSION_RACE_RETRIES)
                throw e;
            }
          }
        },
      },
    );
    const up = upstreams;
    stoppers.push(() => up.close());
    for (const [k, v] of Object.entries(gatewayFn.environment)) {
      if (k !== 'NODE_OPTIONS' && process.env[k] === undefined) process.env[k] = v;
    }
    process.env[RUNTIME_ENV.gatewayUpstreams] = JSON.stringify({
      [options.service]: { serviceUrl: up.serviceUrl, legacyUrl: up.legacyUrl },
    });
    process.env[RUNTIME_ENV.gatewayFallbackUrl] = up.legacyUrl;

    const smId = Object.keys(model.stateMachines).find((id) => id.startsWith(`${stack}/Rollout`));
    const definition = smId ? model.stateMachines[smId] : undefined;
    if (!definition) throw new RehearsalError(`${stack} has no rollout state machine`);
    // By default the rollout's bakes (the bulk of its template time) span most of the traffic.
    const bakeSeconds = Object.entries(definition.States)
      .filter(([name, st]) => st.Type === 'Wait' && /[^d]Bake$/.test(name))
      .reduce((n, [, st]) => n + Number(st['Seconds'] ?? 0), 0);
    rolloutScale = options.rolloutTimeScale ?? Math.max(1, (bakeSeconds * 1000) / (0.7 * durationMs));
    const rt = await runtime();
    const objects = new MemoryObjectStore();
    rollout = new LocalRollout({
      model,
      spec,
      service: options.service,
      stack,
      timeScale: rolloutScale,
      ...(options.flagPollTimeScale !== undefined ? { flagPollTimeScale: options.flagPollTimeScale } : {}),
      minBakeMs,
      metrics: new SignalMetrics(cloudwatch),
      consistency: inFlightTolerant(new SyncEngineConsistencyCheck(rt), (key) => {
        const t = lastEditAt.get(key);
        return t !== undefined && Date.now() - t < inFlightMs();
      }),
      backfill: new SyncEngineBackfill(rt),
      validation: new SyncEngineValidation({ ...rt, store: objects }),
      objects,
      archiveSource: new MysqlArchiveSource(pool),
      beforeStep: async (step) => {
        if (step !== 'Shadow' || editsStartedAt !== undefined) return;
        // Phase 1 is validated on a quiet system; the edits start now. The shadow gate compares
        // the legacy path's p95 with a baseline window of its own length that ends when the
        // shadow flags start deploying: held back until the edits (and the users' writes) have
        // flowed that long and more, the baseline sees the same load as the shadow window,
        // as it does in production, where the traffic never stopped (docs/rehearsal.md).
        editsStartedAt = Date.now();
        await sleep(WARM_UP_BAKES * rolloutRef().bakeMs('Shadow'));
      },
    });
    const r = rollout;
    const data = await r.dataPlane();
    stoppers.push(() => r.close());
    const mod = (await import(gatewayFn.entry)) as {
      buildGateway?: (deps: GatewayDependencies) => typeof gateway;
    };
    if (typeof mod.buildGateway !== 'function')
      throw new RehearsalError(`${gatewayFn.entry} exports no buildGateway`);
    const lc = new LoopClock();
    loopClock = lc;
    stoppers.push(async () => lc.close());
    gateway = mod.buildGateway({
      appConfigData: data.client,
      clock: r.scaledClock,
      // A stall of this one process is not a slow upstream (lib/rehearse/loop-time.ts).
      upstream: (http) => {
        timedUpstream = new LoopTimedUpstream(http, lc);
        return timedUpstream;
      },
    });
  }

  /** One user's request through the gateway: its status and who answered (`x-cutover-target`). */
  async function throughGateway(
    user: string,
    method: 'GET' | 'PUT',
    key: string,
    extra: { body?: string; probe?: string } = {},
  ): Promise<{ status: number; target: string | undefined }> {
    const route = serviceSpec!.routes.find((r) => r.access === 'read')!.pathPrefix;
    const res = await gateway!(
      apiGatewayEvent({
        method,
        target: `${route}/${encodeURIComponent(key)}`,
        headers: [
          ['x-user-id', user],
          ...(extra.body ? ([['content-type', 'application/json']] as [string, string][]) : []),
          ...(extra.probe ? ([[PROBE_HEADER, extra.probe]] as [string, string][]) : []),
        ],
        ...(extra.body ? { body: extra.body } : {}),
      }),
    );
    const target = res.headers?.['x-cutover-target'];
    if (!extra.probe) {
      gatewayStats.requests++;
      const k = target ?? `status ${res.statusCode}`;
      gatewayStats.byTarget[k] = (gatewayStats.byTarget[k] ?? 0) + 1;
    }
    return { status: res.statusCode, target };
  }

  /**
   * Users reading and writing through the gateway at `gatewayRate`: a pool of users (sticky
   * cohorts: the gateway hashes the user id), four reads to one write. A write's value is a
   * token whose arrival on the other side is measured like the other edits.
   */
  async function gatewayUsers(
    keys: readonly string[],
    stop: () => boolean,
    writes: () => boolean,
  ): Promise<void> {
    const perSecond = options.gatewayRate ?? rate;
    const t0 = Date.now();
    let n = 0;
    const inFlight = new Set<Promise<void>>();
    while (!stop()) {
      const due = Math.floor(((Date.now() - t0) / 1000) * perSecond);
      while (n < due && inFlight.size < MAX_IN_FLIGHT) {
        const i = n++;
        const user = `user-${i % 100}`;
        const key = pick(keys);
        const write = i % 5 === 4 && writes();
        const token = `G${runId}x${i}`;
        if (write) lastEditAt.set(key, Date.now());
        const p = throughGateway(
          user,
          write ? 'PUT' : 'GET',
          key,
          write ? { body: JSON.stringify({ value: token }) } : {},
        )
          .then(({ status, target }) => {
            if (write && status < 300 && target) {
              const label = `${target === 'service' ? 'service' : 'magento'} ${entity.name} (user)`;
              pending.set(token, { at: Date.now(), label });
              offered[target === 'service' ? 'reverse' : 'forward']! += 1;
              countEdit(label, 1, false);
            }
          })
          .catch(() => {})
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await sleep(10);
    }
    await Promise.allSettled(inFlight);
  }

  /**
   * Starts the service faults when due (a time into the traffic, or a rollout step's flags
   * deployed), and once a rollback has begun, probes a canary user's reads until the gateway
   * sends them to legacy again (probes are never faulted, so where one is served is where the
   * gateway routed it).
   */
  /**
   * Whether a read rollback's routing change is still being awaited: the traffic may end with
   * the rollout, before the gateway has read the restored flags.
   */
  function probing(): boolean {
    const rb = rollout?.rollbacks[0];
    if (!rb || routingChangedAt !== undefined || !(rb.readPercentage.from > rb.readPercentage.to))
      return false;
    return Date.now() - (rb.flagsRestoredAt ?? Date.now()) < ROUTING_PROBE_MS;
  }

  async function serviceFaults(t0: number, stop: () => boolean): Promise<void> {
    const started = (start: FaultStart) =>
      'atMs' in start ? Date.now() - t0 >= start.atMs : (rollout?.deployed.has(start.step) ?? false);
    const f = options.faults ?? {};
    let probe = 0;
    // A user inside the failing step's cohort and outside the restored one: the gateway sent its
    // reads to the service until the rollback, so its first read sent to legacy after it shows
    // the routing changed back (cohorts are sticky: the user's bucket is fixed).
    let probeUser: string | undefined;
    const probeFor = (from: number, to: number) => {
      for (let u = 0; u < 10_000; u++) {
        const b = bucketOf(options.service, `probe-${u}`);
        if (inCohort(b, from) && !inCohort(b, to)) return `probe-${u}`;
      }
      return undefined;
    };
    while (!stop()) {
      if (f.serviceErrors && !faultStarted.has(f.serviceErrors.label) && started(f.serviceErrors.start)) {
        faultStarted.set(f.serviceErrors.label, Date.now());
        upstreams!.serviceFault.errorRate = f.serviceErrors.rate;
      }
      if (f.serviceLatency && !faultStarted.has(f.serviceLatency.label) && started(f.serviceLatency.start)) {
        faultStarted.set(f.serviceLatency.label, Date.now());
        upstreams!.serviceFault.latencyMs = f.serviceLatency.ms;
      }
      const rb = rollout?.rollbacks[0];
      if (rb && probeUser === undefined && rb.readPercentage.from > rb.readPercentage.to)
        probeUser = probeFor(rb.readPercentage.from, rb.readPercentage.to);
      if (probeUser && routingChangedAt === undefined) {
        const { target } = await throughGateway(probeUser, 'GET', probeKey, { probe: String(++probe) }).catch(
          () => ({ target: undefined }),
        );
        if (target === 'legacy') routingChangedAt = Date.now();
      }
      await sleep(10);
    }
  }

  /** SQS's queue metrics as CloudWatch gets them (the gates' `dlqDepth` reads the DLQs'). */
  async function queueMetrics(stop: () => boolean): Promise<void> {
    while (!stop()) {
      for (const [id, q] of queues) {
        const name = model.queues[id]?.name;
        if (q && name)
          cloudwatch.put(
            'AWS/SQS',
            'ApproximateNumberOfMessagesVisible',
            { QueueName: name },
            q.depth,
            Date.now(),
          );
      }
      await sleep(200);
    }
  }

  try {
    output.start();
    const setupOk = await phase('setup', async () => {
      // Databases: a Magento database with a generated dataset, the tables from the templates.
      const { createMagentoDatabase } = await import('../local/databases.js');
      const mysqlUrl = await createMagentoDatabase(
        options.mysqlServerUrl,
        `cutover_rehearsal_${runId.replace(/-/g, '_')}`,
      );
      magentoUrl = mysqlUrl;
      db = magentoPool(mysqlUrl, 6);
      await createTables(raw, tableModels, tableName);
      // The services before this one are taken as rolled out: what their migration left behind
      // for the entities this one references (an order's customers) is stood in for.
      referencedKeys = await standInReferenced(
        db,
        new DynamoSyncStateStore(doc, tableName(env[RUNTIME_ENV.syncTable]!)),
        plan,
        datasetRows,
      );
      await generateDataset(db, { ...plan, entities: trafficEntities }, datasetRows);
      // dynamo-throttle: the functions reach DynamoDB through a proxy that throttles a share.
      if (options.faults?.dynamoThrottle) {
        throttle = await startThrottleProxy(options.dynamoEndpoint, options.faults.dynamoThrottle);
        const t = throttle;
        stoppers.push(() => t.close());
      }
      Object.assign(process.env, {
        ...env,
        [RUNTIME_ENV.syncTable]: tableName(env[RUNTIME_ENV.syncTable]!),
        [RUNTIME_ENV.conflictsTable]: tableName(env[RUNTIME_ENV.conflictsTable]!),
        [RUNTIME_ENV.serviceTables]: JSON.stringify(localServiceTables),
        [RUNTIME_ENV.mysqlUrl]: mysqlUrl,
        [RUNTIME_ENV.dynamoEndpoint]: throttle?.endpoint ?? options.dynamoEndpoint,
        // Lambda emits EMF unless told not to; the rehearsal reads it (a test setup may disable it).
        POWERTOOLS_METRICS_DISABLED: 'false',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
      });
      delete process.env[RUNTIME_ENV.legacySecretArn];

      // The functions, from their handler entries.
      for (const f of functions) {
        if (!existsSync(f.entry))
          throw new RehearsalError(
            `${f.id}: the assembly names ${f.entry}, which does not exist (an assembly older than the code: synthesize again, npm run synth)`,
          );
        const mod = (await import(f.entry)) as { handler?: Handler };
        if (typeof mod.handler !== 'function') throw new RehearsalError(`${f.entry} exports no handler`);
        handlers.set(f.id, mod.handler);
      }
      // Queues, the bus, the runtime's publisher onto it.
      for (const q of Object.values(model.queues)) queues.set(q.id, undefined as unknown as LocalQueue);
      const makeQueue = (id: ResourceId): LocalQueue => {
        const existing = queues.get(id);
        if (existing) return existing;
        const q = model.queues[id]!;
        const local = new LocalQueue(
          q,
          timeScale,
          q.redrive ? makeQueue(q.redrive.deadLetterQueue) : undefined,
        );
        queues.set(id, local);
        return local;
      };
      for (const id of Object.keys(model.queues)) makeQueue(id);
      const bus = new LocalBus(model, queues, (fnId, event) => {
        if (handlers.has(fnId)) void invoke(fnId, event).catch(() => {});
      });
      busRef = bus;
      const busId = bus.busId(env[RUNTIME_ENV.busName]!);
      await configureRuntime({
        publisher: {
          publish: async (events) => bus.putEvents(busId, events),
        },
        // No KMS here: personal fields are sealed under a key held in memory for the run.
        cipher: new EnvelopeCipher(new LocalDataKeys()),
      });
      // Event source mappings of the service stack.
      for (const m of model.mappings.filter((x) => handlers.has(x.function))) {
        const fn = model.functions[m.function]!;
        const direction =
          fn.handler === 'forward-sync' ? 'forward' : fn.handler === 'reverse-sync' ? 'reverse' : fn.handler;
        const esm = new EventSourceMapping(m, queues.get(m.queue)!, (event) => invoke(m.function, event), {
          timeScale,
          ...(fn.reservedConcurrency !== undefined ? { reservedConcurrency: fn.reservedConcurrency } : {}),
          onAck: (msg, at) => acked(direction, msg, at),
          onFail: () => {
            failed[direction] = (failed[direction] ?? 0) + 1;
          },
        });
        esm.start();
        mappings.push({ direction, esm });
        stoppers.push(() => esm.stop());
      }
      // The pipes of the service stack, from their tables' streams.
      for (const p of model.pipes.filter((x) => x.id.startsWith(`${stack}/`))) {
        const table = model.tables[p.sourceTable]!;
        const streamArn = await latestStreamArn(raw, tableName(table.name));
        const enrichment = p.enrichment;
        const pipe = new LocalPipe(
          p,
          streamArn,
          options.dynamoEndpoint,
          enrichment ? (records) => invoke(enrichment, records) : undefined,
          (entries) => bus.putEvents(p.targetBus, entries),
        );
        await pipe.start();
        pipes.push(pipe);
        stoppers.push(() => pipe.stop());
      }
      if (withRollout) await setUpRollout();
      return `${functions.length} functions, ${mappings.length} mappings, ${pipes.length} pipes, ${datasetRows} rows${
        plan.referenced.length
          ? ` (stood in for, as rolled out before: ${plan.referenced.map((e) => `${datasetRows} ${e.name}`).join(', ')} rows and key maps)`
          : ''
      }${rollout ? ', the rollout and the gateway' : ''}`;
    });
    if (!setupOk) throw new RehearsalError(phases.at(-1)!.detail!);

    // --- the poller's schedule, time-scaled ----------------------------------------------------
    const poller = byHandler('legacy-poller')!;
    const schedule = model.rules.find((r) => r.schedule && r.targets.some((t) => t.resource === poller.id));
    const pollEveryMs = Math.max(50, (schedule?.schedule?.everyMs ?? 60_000) / timeScale);
    const target = schedule?.targets.find((t) => t.resource === poller.id);
    // A continuous poller (the schedule's `{ continuous: true }`) polls until its deadline less a
    // safety margin. Its timeout is scaled like the schedule, never below that margin plus one
    // scaled period, so each invocation polls about one scaled period and hands over.
    const timing = pollerTiming(spec.sync);
    const pollerBudgetMs = Math.min(
      poller.timeoutSeconds * 1000,
      timing.safetyMs + Math.max(pollEveryMs, timing.intervalMs),
    );
    // What the schedule delivers: the target's constant Input, else EventBridge's Scheduled Event.
    const scheduledInput = () => target?.input ?? scheduledEvent(schedule?.id.split('/')[1] ?? 'schedule');
    pollerLoop = (async () => {
      while (!stopPoller) {
        const t = Date.now();
        await invoke(poller.id, scheduledInput(), pollerBudgetMs).catch(() => {});
        lastPollAt = t;
        await sleep(Math.max(0, pollEveryMs - (Date.now() - t)));
      }
    })();

    const drained = async (timeoutMs: number, since: number) => {
      const until = Date.now() + timeoutMs;
      let quietSince = 0;
      while (Date.now() < until) {
        const quiet =
          lastPollAt > since &&
          mappings.every((m) => m.esm.idle && queues.get(m.esm.model.queue)!.depth === 0) &&
          pipes.every((p) => p.idle);
        if (quiet) {
          quietSince ||= Date.now();
          // Quiet across two polls and the pipe's read interval: nothing is left in flight.
          if (Date.now() - quietSince > (options.quietMs ?? Math.max(2 * pollEveryMs, 2000))) return true;
        } else quietSince = 0;
        await sleep(50);
      }
      return false;
    };

    await phase('backfill', async () => {
      const t = Date.now();
      if (!(await drained(options.drainTimeoutMs ?? 60_000, t)))
        throw new Error('the backfill did not drain');
      // An entity without `updated_at` (stock, coupons) is captured by snapshots, whose first
      // poll only takes the baseline: its rows reach the service by the backfill, as the
      // rollout's Backfill step copies them (key-range chunks through the forward-sync rules).
      const backfill = new SyncEngineBackfill(await runtime());
      const chunkSize = serviceSpec.rollout.backfillChunkSize;
      const snapshotOnly = trafficEntities.filter((x) => !(x.legacy as MysqlEntityLegacy).updatedAt);
      for (const e of snapshotOnly) {
        for (const chunk of await backfill.planChunks(e.name, chunkSize)) await backfill.copyChunk(chunk);
      }
      // The copies' stream records cross the pipe and the reverse sync (which drops them).
      if (snapshotOnly.length && !(await drained(options.drainTimeoutMs ?? 60_000, Date.now())))
        throw new Error('the backfill did not drain');
      const counts: string[] = [];
      for (const e of trafficEntities) {
        const rows = await countItems(raw, localServiceTables[e.name]!);
        if (rows < datasetRows)
          throw new Error(`${rows} of ${datasetRows} ${e.name} rows reached the service`);
        counts.push(`${rows} ${e.name}`);
      }
      return `${counts.join(', ')} rows in the service tables`;
    });

    await phase('traffic', async () => {
      if (!db) throw new Error('no Magento database');
      const serviceShare = options.serviceShare ?? 0.5;
      const total = Math.round((rate * durationMs) / 1000);
      const keysOf = new Map<string, string[]>();
      const serviceKeysByEntity = new Map<string, string[]>();
      for (const e of trafficEntities) {
        keysOf.set(e.name, await legacyKeys(db, e));
        serviceKeysByEntity.set(e.name, await serviceKeysOf(doc, localServiceTables[e.name]!, e));
      }
      const keys = keysOf.get(entity.name)!;
      const t0 = Date.now();
      let seq = 0;
      const inFlight = new Set<Promise<void>>();
      let poison = options.poisonEvents ?? 0;
      let restart: Promise<void> | undefined;
      probeKey = keys[0] ?? probeKey;
      // The rollout runs while the traffic flows; users read and write through the gateway.
      const background: Promise<unknown>[] = [];
      let trafficDone = false;
      const rolloutAbort = new AbortController();
      const rolloutRun = rollout?.run('rehearsal', rolloutAbort.signal).then((o) => {
        rolloutOutcome = o;
      });
      // Phase 1 validates with zero mismatches on a quiet system: edits begin when its
      // validation passed, before the shadow step (users' reads through the gateway flow from
      // the start).
      const editsAllowed = () => !rollout || rolloutOutcome !== undefined || editsStartedAt !== undefined;
      if (rollout && gateway) {
        background.push(gatewayUsers(keys, () => trafficDone || rolloutOutcome !== undefined, editsAllowed));
        background.push(serviceFaults(t0, () => trafficDone && rolloutOutcome !== undefined && !probing()));
        background.push(queueMetrics(() => trafficDone && rolloutOutcome !== undefined));
      }
      while (!editsAllowed()) await sleep(20);
      const tEdits = Date.now();
      trafficSpan.from = tEdits;
      editsStartedAt ??= tEdits;
      // With a rollout, the edits go on until it ends: its gates judge windows of traffic, and
      // the shadow gate's baseline must see the same load as its bake (docs/rehearsal.md).
      const rolloutRunning = () => rolloutRun !== undefined && rolloutOutcome === undefined;
      let abortTimer: NodeJS.Timeout | undefined;
      while (seq < total || rolloutRunning()) {
        // Past the traffic's duration the rollout may still be baking, for a bounded time.
        if (rolloutRun && !abortTimer && Date.now() - tEdits >= durationMs)
          abortTimer = setTimeout(() => rolloutAbort.abort(), options.rolloutTimeoutMs ?? 60_000);
        if (
          !restart &&
          options.restartMariaDb &&
          options.mariadbRestartAtMs !== undefined &&
          Date.now() - tEdits >= options.mariadbRestartAtMs
        ) {
          injected.mariadbRestarts++;
          restart = options.restartMariaDb();
        }
        const dueNow = Math.floor(((Date.now() - tEdits) / 1000) * rate) + 1;
        const due = rolloutRunning() ? dueNow : Math.min(total, dueNow);
        // At most MAX_IN_FLIGHT changes outstanding: past what the machine holds, the offered
        // rate falls behind (reported in the phase's detail) instead of queueing without bound.
        while (seq < due && inFlight.size < MAX_IN_FLIGHT) {
          const n = seq++;
          const toService = Math.random() < serviceShare && serviceEdits.length > 0;
          // Each side's kinds of edit in turn (a price, a stock quantity, a name…).
          const edit = toService
            ? serviceEdits[n % serviceEdits.length]!
            : legacyEdits[n % legacyEdits.length]!;
          const pool = toService ? serviceKeysByEntity.get(edit.entity.name)! : keysOf.get(edit.entity.name)!;
          if (!pool.length) continue;
          // A counter moves on two rows in one statement (two coupons used in one order).
          const editKeys = edit.kind === 'increment' && !toService ? pickTwo(pool) : [pick(pool)];
          for (const k of editKeys) lastEditAt.set(k, Date.now());
          const side = toService ? 'service' : 'magento';
          const label = `${side} ${edit.label}`;
          const p = (
            toService
              ? serviceEdit(
                  doc,
                  localServiceTables[edit.entity.name]!,
                  edit,
                  editKeys[0]!,
                  edit.kind === 'reference'
                    ? referenceToken(edit, true)
                    : editToken(edit.field, 'S', runId, n),
                )
              : legacyEdit(
                  db,
                  edit,
                  editKeys,
                  // One in ten a second edit of the same row in the same second.
                  edit.kind === 'reference'
                    ? [referenceToken(edit, false)]
                    : n % 10 === 0
                      ? [editToken(edit.field, 'L', runId, n), editToken(edit.field, 'L', runId, n, true)]
                      : [editToken(edit.field, 'L', runId, n)],
                )
          )
            .then((token) => {
              for (const tk of token) pending.set(tk, { at: Date.now(), label });
              // Counters and references carry no token: their changes are the rows edited.
              const changes = edit.kind === 'set' ? token.length : editKeys.length;
              offered[toService ? 'reverse' : 'forward']! += changes;
              countEdit(label, changes, edit.kind !== 'set');
            })
            .catch(() => {
              // A lost service-side race (the version moved; the service would retry), or an
              // edit while MariaDB was down: not offered.
              if (!toService) injected.editsLost++;
            })
            .finally(() => inFlight.delete(p));
          inFlight.add(p);
          if (poison > 0 && n % Math.max(1, Math.floor(total / (options.poisonEvents ?? 1))) === 0) {
            poison--;
            busRef?.putEvents(busRef.busId(env[RUNTIME_ENV.busName]!), [poisonEntry(entity)]);
          }
        }
        await sleep(10);
      }
      await Promise.allSettled(inFlight);
      trafficSpan.to = Date.now();
      await restart;
      const seconds = (Date.now() - tEdits) / 1000;
      if (rolloutRun) {
        await rolloutRun;
        clearTimeout(abortTimer);
      }
      trafficDone = true;
      await Promise.allSettled(background);
      return `${seq} changes offered in ${seconds.toFixed(1)} s (${(seq / seconds).toFixed(0)}/s of ${rate}/s asked)${
        rollout
          ? `; ${gatewayStats.requests} gateway requests, rollout ${rolloutOutcome?.status ?? 'not run'}${
              rolloutOutcome?.status === 'FAILED'
                ? ` (${[rolloutOutcome.error, rolloutOutcome.cause].filter(Boolean).join(': ').slice(0, 300)})`
                : ''
            }`
          : ''
      }`;
    });

    await phase('drain', async () => {
      const t = Date.now();
      if (!(await drained(options.drainTimeoutMs ?? 60_000, t)))
        throw new Error('queues did not drain in time');
      return `drained in ${Date.now() - t} ms`;
    });

    await phase('verify', async () => {
      const check = async () => {
        const res = (await invoke(byHandler('consistency-check')!.id, {})) as ConsistencyCheckResponse;
        const rows = res.reports.reduce(
          (n, r) => n + Math.max(r.mismatchesTotal, Math.abs(r.legacyCount - r.serviceCount)),
          0,
        );
        return { rows, consistent: res.consistent, reports: res.reports };
      };
      let result = await check();
      const firstCheckRows = result.rows;
      // Rows still in flight when the drain judged the system quiet (a stream record not yet
      // read, a redelivery pending) converge later: re-check after another quiet period, so that
      // only what stays different counts as divergence.
      for (let attempt = 0; result.rows > 0 && attempt < 3; attempt++) {
        await drained(options.drainTimeoutMs ?? 60_000, Date.now());
        result = await check();
      }
      const parked = await countItems(raw, tableName(env[RUNTIME_ENV.conflictsTable]!));
      const differing = result.rows > 0 ? await divergentRows(await runtime(), result.reports) : [];
      divergence = { rows: result.rows, parked, consistent: result.consistent, firstCheckRows, differing };
      // An event of the sync that no rule matched is lost; others (the validation's report)
      // have no rule in the service stack and are dropped as on AWS.
      const unmatched = (busRef?.unmatchedSamples ?? []).filter((e) =>
        e.detailType.startsWith('migration.'),
      ).length;
      if (result.rows > 0 && parked === 0)
        throw new Error(`${result.rows} rows differ between Magento and the service`);
      if (unmatched > 0)
        throw new Error(`${unmatched} events matched no rule on the bus (dropped, as EventBridge would)`);
      return `${result.rows} rows differ (${firstCheckRows} at the first check), ${parked} conflicts parked`;
    });
  } catch (e) {
    if (!phases.some((p) => p.outcome === 'failed'))
      phases.push({ name: current, outcome: 'failed', durationMs: 0, detail: (e as Error).message });
  } finally {
    clearInterval(ticker);
    stopPoller = true;
    await pollerLoop;
    for (const stop of stoppers) await stop().catch(() => {});
    await closeRuntime();
    output.stop();
    // Restored in place: process.env is not a plain object (it coerces values to strings).
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
    await db?.end().catch(() => {});
    raw.destroy();
  }

  function acked(direction: string, msg: QueueMessage, at: number): void {
    applied[direction] = (applied[direction] ?? 0) + 1;
    try {
      const envelope = JSON.parse(msg.body) as { detail?: { data?: Record<string, unknown> } };
      const data = envelope.detail?.data ?? {};
      for (const v of Object.values(data)) {
        if (typeof v !== 'string') continue;
        const t = pending.get(v);
        if (t !== undefined) {
          pending.delete(v);
          lags[direction]!.push(at - t.at);
          lagEditedAt[direction]!.push(t.at);
          const s = editStats.get(t.label);
          if (s?.applied !== null && s?.applied !== undefined) s.applied++;
        }
      }
    } catch {
      // a poison body: nothing to measure
    }
  }

  const dlqMessages = mappings.flatMap((m) => {
    const q = model.queues[m.esm.model.queue];
    const dlq = q?.redrive ? queues.get(q.redrive.deadLetterQueue) : undefined;
    return (dlq?.bodies() ?? []).map((body) => {
      try {
        const e = JSON.parse(body) as {
          source?: string;
          'detail-type'?: string;
          detail?: { eventId?: unknown };
        };
        return {
          source: String(e.source),
          detailType: String(e['detail-type']),
          eventId: typeof e.detail?.eventId === 'string' ? e.detail.eventId : null,
        };
      } catch {
        return { source: '?', detailType: '?', eventId: null };
      }
    });
  });
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const all = sorted([...lags['forward']!, ...lags['reverse']!]);
  const metrics = Object.fromEntries(output.metrics);
  const byWinner: Record<string, number> = {};
  for (const [k, v] of output.metrics) {
    const m = /^conflict_resolution_total\{.*winner=([^,}]+)/.exec(k);
    if (m) byWinner[m[1]!] = (byWinner[m[1]!] ?? 0) + v;
  }
  const conflictsTotal = Object.values(byWinner).reduce((a, b) => a + b, 0);
  const policies = [...new Set(serviceSpec.entities.map((e) => e.policy))];
  const byPolicy: Record<string, number> =
    conflictsTotal > 0 ? { [policies.length === 1 ? policies[0]! : policies.join('|')]: conflictsTotal } : {};
  const faultLabels = options.faultLabels ?? [];
  const rolloutPhases = rollout
    ? rolloutPhaseReports(rollout, rolloutOutcome, faultStarted, faultLabels)
    : [];
  const allPhases = [...phases, ...rolloutPhases];
  const ok =
    allPhases.every((p) => p.outcome !== 'failed' || p.explainedBy !== undefined) &&
    !(divergence.rows > 0 && divergence.parked === 0);
  const rollbacks: RollbackReport[] = (rollout?.rollbacks ?? []).map((rb) => {
    const before = [...faultStarted.entries()]
      .filter(([, at]) => at <= rb.startedAt)
      .sort((a, b) => b[1] - a[1]);
    const [fault, from] = before[0] ?? [null, rb.startedAt];
    return {
      cause: rb.cause,
      fault,
      gateFailedMs: rb.startedAt - from,
      flagsRestoredMs: rb.flagsRestoredAt !== undefined ? rb.flagsRestoredAt - from : null,
      routingChangedMs: routingChangedAt !== undefined ? routingChangedAt - from : null,
    };
  });
  const direction = (d: string) => ({
    offered: offered[d] ?? 0,
    applied: applied[d] ?? 0,
    failed: failed[d] ?? 0,
    invocations: mappings.filter((m) => m.direction === d).reduce((n, m) => n + m.esm.stats.invocations, 0),
  });
  return {
    migration: spec.name,
    service: options.service,
    env: options.env,
    settings: {
      rate,
      durationMs,
      datasetRows,
      timeScale,
      rolloutTimeScale: rolloutScale,
      faults: options.faultLabels ?? [
        ...(options.poisonEvents ? [`poison=${options.poisonEvents}`] : []),
        ...(crashAfterWrite ? [`crash-after-write=${crashAfterWrite * 100}%`] : []),
        ...(options.mariadbRestartAtMs !== undefined
          ? [`mariadb-restart@${options.mariadbRestartAtMs}ms`]
          : []),
      ],
    },
    assembly: {
      directory: model.directory,
      rules: model.rules.length,
      mappings: mappings.map((m) => ({
        id: m.esm.model.id,
        batchSize: m.esm.model.batchSize,
        maximumBatchingWindowSeconds: m.esm.model.maximumBatchingWindowSeconds,
        ...(m.esm.model.maximumConcurrency !== undefined
          ? { maximumConcurrency: m.esm.model.maximumConcurrency }
          : {}),
      })),
      queues: mappings.map((m) => {
        const q = model.queues[m.esm.model.queue]!;
        return {
          id: q.id,
          visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
          ...(q.redrive ? { maxReceiveCount: q.redrive.maxReceiveCount } : {}),
        };
      }),
    },
    injected,
    phases: allPhases,
    events: {
      offered: offered['forward']! + offered['reverse']!,
      applied: applied['forward']! + applied['reverse']!,
      failed: failed['forward']! + failed['reverse']!,
      dlq: dlqCount(),
      byDirection: { forward: direction('forward'), reverse: direction('reverse') },
      unmatched: busRef?.stats.unmatched ?? 0,
      unmatchedSamples: busRef?.unmatchedSamples ?? [],
      dlqMessages,
    },
    edits: Object.fromEntries([...editStats].sort(([a], [b]) => a.localeCompare(b))),
    entities: { traffic: trafficEntities.map((e) => e.name), skipped: plan.skipped },
    lag: {
      p50Ms: percentile(all, 50),
      p99Ms: percentile(all, 99),
      byDirection: Object.fromEntries(
        Object.entries(lags).map(([d, xs]) => {
          const s = sorted(xs);
          const third = (trafficSpan.to - trafficSpan.from) / 3;
          const within = (from: number, to: number) =>
            sorted(xs.filter((_, i) => lagEditedAt[d]![i]! >= from && lagEditedAt[d]![i]! < to));
          return [
            d,
            {
              p50Ms: percentile(s, 50),
              p99Ms: percentile(s, 99),
              samples: s.length,
              firstThirdP50Ms: percentile(within(trafficSpan.from, trafficSpan.from + third), 50),
              lastThirdP50Ms: percentile(within(trafficSpan.to - third, trafficSpan.to + 1), 50),
            },
          ];
        }),
      ),
    },
    conflicts: { byPolicy, byWinner },
    rollbacks,
    gateway: {
      requests: gatewayStats.requests,
      byTarget: gatewayStats.byTarget,
      serviceErrorsInjected: upstreams?.stats.serviceErrors ?? 0,
      serviceLatencyInjected: upstreams?.stats.serviceDelayed ?? 0,
      dynamoThrottled: throttle?.stats.throttled ?? 0,
      faultsStarted: Object.fromEntries([...faultStarted].map(([l, at]) => [l, at - started])),
      stepsDeployed: Object.fromEntries([...(rollout?.deployed ?? [])].map(([st, at]) => [st, at - started])),
      editsStartedMs: editsStartedAt !== undefined ? editsStartedAt - started : null,
      starved: {
        upstreamCalls: timedUpstream?.starved ?? 0,
        loopStalledMs: Math.round(loopClock?.stalledMs ?? 0),
      },
    },
    divergence,
    metrics,
    ok,
  };
}
function pick<T>(xs: readonly T[]): T {
  return xs[Math.floor(Math.random() * xs.length)]!;
}

/** Two different elements (one when there is only one). */
function pickTwo<T>(xs: readonly T[]): T[] {
  const a = Math.floor(Math.random() * xs.length);
  if (xs.length < 2) return [xs[a]!];
  const b = (a + 1 + Math.floor(Math.random() * (xs.length - 1))) % xs.length;
  return [xs[a]!, xs[b]!];
}

async function createTables(
  client: DynamoDBClient,
  tables: readonly TableModel[],
  name: (n: string) => string,
): Promise<void> {
  const existing = new Set((await client.send(new ListTablesCommand({ Limit: 100 }))).TableNames ?? []);
  for (const t of tables) {
    if (existing.has(name(t.name))) continue;
    await client.send(
      new CreateTableCommand({
        TableName: name(t.name),
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [...t.keySchema],
        AttributeDefinitions: [...t.attributeDefinitions],
        ...(t.globalSecondaryIndexes
          ? {
              GlobalSecondaryIndexes: t.globalSecondaryIndexes.map((g) => ({
                ...(g as object),
              })) as never,
            }
          : {}),
        ...(t.streamViewType
          ? {
              StreamSpecification: {
                StreamEnabled: true,
                StreamViewType: t.streamViewType as 'NEW_AND_OLD_IMAGES',
              },
            }
          : {}),
      }),
    );
  }
}

async function latestStreamArn(client: DynamoDBClient, table: string): Promise<string> {
  const { DescribeTableCommand } = await import('@aws-sdk/client-dynamodb');
  const d = await client.send(new DescribeTableCommand({ TableName: table }));
  const arn = d.Table?.LatestStreamArn;
  if (!arn) throw new RehearsalError(`table ${table} has no stream (the pipe's source)`);
  return arn;
}

async function countItems(client: DynamoDBClient, table: string): Promise<number> {
  let n = 0;
  let start: Record<string, never> | undefined;
  do {
    const r = await client.send(
      new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: start }),
    );
    n += r.Count ?? 0;
    start = r.LastEvaluatedKey as typeof start;
  } while (start);
  return n;
}

const ident = (s: string) => {
  if (!/^[A-Za-z0-9_]+$/.test(s)) throw new RehearsalError(`unsafe identifier ${s}`);
  return `\`${s}\``;
};

/** An event on the forward channel that the contract rejects (a poison message). */
function poisonEntry(entity: EntitySpec) {
  return {
    Source: 'cutover.legacy',
    DetailType: `migration.${entity.name}.changed`,
    Detail: JSON.stringify({ schemaVersion: 1, entity: entity.name, poison: true }),
  };
}

/**
 * A rehearsal edit counts as in flight this long: a mismatch on a key edited since is a change
 * the sync has not delivered yet, not a divergence.
 */
const IN_FLIGHT_MS = 3000;
/** Attempts of the service stand-in's optimistic write of a user's PUT. */
const VERSION_RACE_RETRIES = 5;
/**
 * The shadow step waits this many of its bakes after the edits began: its gate's baseline
 * window (as long as the bake and the gate's own time) then lies wholly inside the edits.
 */
const WARM_UP_BAKES = 2;
/** How long after a rollback's flags were restored the probe may wait for the routing to change. */
const ROUTING_PROBE_MS = 30_000;

/**
 * The gates' consistency check over the sync engine's, not counting rows the rehearsal edited
 * within {@link IN_FLIGHT_MS}. Why: a gate checks while traffic flows, and at the rehearsal's
 * dataset sizes one change in flight is below the threshold (1 row in 200 is 0.995 against
 * 0.9999); at production sizes the same few rows are within it. Rows that differ and were not
 * edited lately count as on AWS.
 */
function inFlightTolerant(
  port: ConsistencyCheckPort,
  inFlight: (key: string) => boolean,
): ConsistencyCheckPort {
  return {
    async check(entity) {
      const r = await port.check(entity);
      const rows = Math.max(r.legacyCount, r.serviceCount);
      const unreported = Math.max(0, (r.mismatchesTotal ?? r.mismatches.length) - r.mismatches.length);
      const settled = r.mismatches.filter((k) => !inFlight(String(k)));
      const differing = settled.length + unreported;
      return {
        ...r,
        mismatches: settled,
        mismatchesTotal: differing,
        consistency: rows === 0 ? 1 : Math.max(0, (rows - differing) / rows),
      };
    },
  };
}

/** The entity as its Magento row holds it, in the spec's field names (the legacy upstream's answer). */
async function legacyRecord(
  db: Pool,
  entity: EntitySpec,
  key: string,
): Promise<Record<string, unknown> | undefined> {
  const legacy = entity.legacy as MysqlEntityLegacy;
  const fields = entity.fields.filter((f) => f.column && !f.eav);
  const [rows] = await db.query(
    `SELECT ${fields.map((f) => `${ident(f.column!)} AS ${ident(f.name)}`).join(', ')} FROM ${ident(legacy.table)} WHERE ${ident(legacy.key)} = ?`,
    [key],
  );
  const row = (rows as Record<string, unknown>[])[0];
  return row ? { [entity.target.key]: key, ...row } : undefined;
}

/** The entity as the service's table holds it, in the spec's field names (the service upstream's answer). */
async function serviceRecord(
  doc: DynamoDBDocumentClient,
  table: string,
  entity: EntitySpec,
  key: string,
): Promise<Record<string, unknown> | undefined> {
  const got = await doc.send(new GetCommand({ TableName: table, Key: { [entity.target.key]: key } }));
  if (!got.Item) return undefined;
  const fields = entity.fields.filter((f) => f.column && !f.eav);
  return {
    [entity.target.key]: key,
    ...Object.fromEntries(fields.map((f) => [f.name, got.Item![f.name] ?? null])),
  };
}

/** Which rollout phase a gate (`shadow`, `canary-25`, `cutover`) belongs to. */
function phaseOfGate(gate: string): string | undefined {
  return phaseOfState(gate.replace(/^canary-/, 'Canary').replace(/^./, (c) => c.toUpperCase()));
}

/** `gate "canary-10" passed: error rate 0 % (below 0.1 %), …`: what a passed gate measured. */
function gateText(g: NonNullable<RolloutProgress['lastGate']>): string {
  const checks = g.checks.map(
    (c) =>
      `${c.check} ${c.measured === undefined ? 'no data' : formatMeasure(c.check, c.measured)} (${c.comparator} ${formatMeasure(c.check, c.threshold)})`,
  );
  return `gate "${g.gate}" passed: ${checks.join(', ')}`;
}

/** Which rollout phase a state of the rollout state machine belongs to (by its step's id). */
function phaseOfState(state: string): string | undefined {
  if (/^(ReadOnly|Backfill|Validate)/.test(state)) return 'read-only-sync';
  if (/^Shadow/.test(state)) return 'shadow-writes';
  if (/^Canary/.test(state)) return 'switch-reads';
  if (/^Cutover/.test(state)) return 'cutover-writes';
  if (/^(ApproveDecommission|Archive)/.test(state)) return 'decommission';
  return undefined;
}

/**
 * The rollout's phases with their outcomes, from the states it entered: a phase succeeded when
 * the execution went past it (or succeeded), failed when the rollback came in it (its detail the
 * cause; explained when a fault was active), skipped when never reached.
 */
function rolloutPhaseReports(
  rollout: LocalRollout,
  outcome: ExecutionOutcome | undefined,
  faultStarted: ReadonlyMap<string, number>,
  faultLabels: readonly string[],
): PhaseReport[] {
  const order = ['read-only-sync', 'shadow-writes', 'switch-reads', 'cutover-writes', 'decommission'];
  const spans = new Map<string, { from: number; to: number }>();
  for (const { state, at } of rollout.trace) {
    const ph = phaseOfState(state);
    if (!ph) continue;
    const s = spans.get(ph);
    spans.set(ph, { from: s?.from ?? at, to: at });
  }
  // A rollout that failed before its first step (the Start task refused it) failed in its first phase.
  if (outcome?.status === 'FAILED' && spans.size === 0) spans.set(order[0]!, { from: 0, to: 0 });
  const reached = order.filter((p) => spans.has(p));
  const last = reached.at(-1);
  const rb = rollout.rollbacks[0];
  return order.map((name): PhaseReport => {
    const span = spans.get(name);
    const durationMs = span ? span.to - span.from : 0;
    const label = `rollout ${name}`;
    if (!span)
      return { name: label, outcome: 'skipped', durationMs, ...(outcome ? {} : { detail: 'not run' }) };
    const failedHere = name === last && outcome?.status !== 'SUCCEEDED';
    if (!failedHere) {
      const passed = rollout.gates.filter((g) => g.verdict === 'pass' && phaseOfGate(g.gate) === name);
      return {
        name: label,
        outcome: 'succeeded',
        durationMs,
        ...(passed.length ? { detail: passed.map(gateText).join('; ') } : {}),
      };
    }
    // A fault explains a failure it preceded; the sync faults (poison, crashes, restarts) too:
    // they fail dual writes and fill the DLQs the gates read.
    const active = [...faultStarted.entries()].filter(([, at]) => !rb || at <= rb.startedAt).map(([l]) => l);
    const explainedBy =
      active[0] ?? faultLabels.find((l) => /^(poison|crash-after-write|mariadb-restart)/.test(l));
    return {
      name: label,
      outcome: 'failed',
      durationMs,
      detail: rb?.cause ?? outcome?.cause ?? 'the rollout did not finish',
      ...(explainedBy ? { explainedBy } : {}),
    };
  });
}
