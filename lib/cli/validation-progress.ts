/**
 * Progress of full validation for `cutover status`: the two Distributed Maps of a run (Scan, then
 * Compare; lib/constructs/full-validation.ts) read from their Map Runs (ListMapRuns and
 * DescribeMapRun of the execution), rows/s from the workers' `validation_rows_total`, and, once
 * the Compare map is through, where the report is.
 *
 * Full validation runs in the rollout's phase 1 and in the scheduled reconciliation state
 * machine; both are looked at while their execution runs.
 */

import type { MetricQuery, MetricQueryReader } from '../../lambdas/adapters/cloudwatch-metrics.js';
import { reportKey } from '../../lambdas/domain/validation.js';
import { METRIC, METRICS_NAMESPACE } from '../spec/metrics.js';
import { VALIDATION_CHAINS } from '../spec/names.js';
import type { ExecutionInfo, MapRunInfo, MapRunStatus, MapRunsPort } from './control-plane.js';

const MINUTE = 60_000;

/** Where a validation runs: the rollout's phase 1, or the scheduled reconciliation. */
export type ValidationSource = keyof typeof VALIDATION_CHAINS;

/** The two maps of a run, in order; also the `phase` dimension of the workers' metrics. */
export const VALIDATION_MAPS = ['scan', 'compare'] as const;
export type ValidationMap = (typeof VALIDATION_MAPS)[number];

/** Where the rows/s figure comes from (said in the output, text and JSON). */
export const ROWS_RATE_SOURCE = `${METRIC.validationRows} (Sum per service and phase) over the last complete minute / 60`;

export interface MapProgress {
  readonly map: ValidationMap;
  readonly status: MapRunStatus;
  readonly succeeded: number;
  readonly total: number;
  readonly running: number;
  readonly pending: number;
  /** Items that failed, timed out or were aborted. */
  readonly failed: number;
  /** `succeeded / total`, 0–1 (0 while the total is not known). */
  readonly fraction: number;
  readonly elapsedSeconds: number;
  /** Rows per second while the map runs ({@link ROWS_RATE_SOURCE}); absent without data or once stopped. */
  readonly rowsPerSecond?: number;
}

export interface ValidationProgress {
  readonly source: ValidationSource;
  readonly executionArn: string;
  /** The run id (`<label>/<execution name>`): the objects of the run and the report are named by it. */
  readonly run: string;
  readonly maps: readonly MapProgress[];
  /** The report's S3 URI, once the Compare map has succeeded (the Report task writes it next). */
  readonly report?: string;
  readonly rowsRateSource: string;
}

/** One Map Run's progress: item counts as DescribeMapRun gives them, elapsed time, rows/s. */
export function mapProgress(
  map: ValidationMap,
  run: MapRunInfo,
  now: number,
  rowsLastMinute: number | undefined,
): MapProgress {
  const i = run.items;
  const end = run.stopDate?.getTime() ?? now;
  return {
    map,
    status: run.status,
    succeeded: i.succeeded,
    total: i.total,
    running: i.running,
    pending: i.pending,
    failed: i.failed + i.timedOut + i.aborted,
    fraction: i.total > 0 ? i.succeeded / i.total : 0,
    elapsedSeconds: Math.max(0, Math.round((end - run.startDate.getTime()) / 1000)),
    ...(run.status === 'RUNNING' && rowsLastMinute !== undefined
      ? { rowsPerSecond: rowsLastMinute / 60 }
      : {}),
  };
}

/** Which map a Map Run belongs to, by its label (`<chain id>Scan` / `<chain id>Compare`). */
export function mapOf(source: ValidationSource, run: MapRunInfo): ValidationMap | undefined {
  const id = VALIDATION_CHAINS[source].id;
  if (run.label === `${id}Scan`) return 'scan';
  if (run.label === `${id}Compare`) return 'compare';
  return undefined;
}

/** The run id full validation gives an execution (see full-validation.ts: `<label>/<execution name>`). */
export function validationRun(source: ValidationSource, execution: Pick<ExecutionInfo, 'name'>): string {
  return `${VALIDATION_CHAINS[source].label}/${execution.name}`;
}

/**
 * A run's progress from its Map Runs: the latest run of each map (a redriven or repeated map
 * counts once), and the report's location once Compare has succeeded. `undefined` while the
 * execution has started no validation map.
 */
export function validationProgress(
  source: ValidationSource,
  execution: Pick<ExecutionInfo, 'executionArn' | 'name'>,
  mapRuns: readonly MapRunInfo[],
  o: {
    /** Undefined for a stack deployed before its ValidationBucketName output: no report link. */
    readonly bucket: string | undefined;
    readonly now: number;
    readonly rowsLastMinute: Partial<Record<ValidationMap, number>>;
  },
): ValidationProgress | undefined {
  const latest = new Map<ValidationMap, MapRunInfo>();
  for (const r of mapRuns) {
    const m = mapOf(source, r);
    const seen = m && latest.get(m);
    if (m && (!seen || seen.startDate.getTime() <= r.startDate.getTime())) latest.set(m, r);
  }
  if (!latest.size) return undefined;
  const maps = VALIDATION_MAPS.filter((m) => latest.has(m)).map((m) =>
    mapProgress(m, latest.get(m)!, o.now, o.rowsLastMinute[m]),
  );
  const run = validationRun(source, execution);
  const done = latest.get('compare')?.status === 'SUCCEEDED';
  return {
    source,
    executionArn: execution.executionArn,
    run,
    maps,
    ...(done && o.bucket !== undefined ? { report: `s3://${o.bucket}/${reportKey(run)}` } : {}),
    rowsRateSource: ROWS_RATE_SOURCE,
  };
}

/** The query of a map's rows in the last complete minute (the workers' EMF metric). */
export function rowsQuery(service: string, map: ValidationMap): MetricQuery {
  return {
    id: `rows${map}`,
    namespace: METRICS_NAMESPACE,
    metricName: METRIC.validationRows,
    dimensions: { service, phase: map },
    stat: 'Sum',
  };
}

/**
 * The validations a service's executions are running (the rollout's, the reconciliation's):
 * Map Runs through {@link MapRunsPort}, rows of the running maps through CloudWatch.
 */
export async function serviceValidations(
  deps: {
    readonly mapRuns: MapRunsPort;
    readonly metricQueries: MetricQueryReader;
    readonly now: () => number;
  },
  service: string,
  bucket: string | undefined,
  executions: readonly {
    readonly source: ValidationSource;
    readonly execution?: Pick<ExecutionInfo, 'executionArn' | 'name' | 'status'>;
  }[],
): Promise<ValidationProgress[]> {
  const out: ValidationProgress[] = [];
  for (const { source, execution } of executions) {
    if (execution?.status !== 'RUNNING') continue;
    const runs = await deps.mapRuns.mapRuns(execution.executionArn);
    const running = VALIDATION_MAPS.filter((m) =>
      runs.some((r) => r.status === 'RUNNING' && mapOf(source, r) === m),
    );
    const now = deps.now();
    // The last complete minute: a period of exactly 60 s, so the Sum / 60 is rows per second.
    const end = Math.floor(now / MINUTE) * MINUTE;
    const values = running.length
      ? await deps.metricQueries.measure(
          running.map((m) => rowsQuery(service, m)),
          { start: end - MINUTE, end },
        )
      : {};
    const rowsLastMinute = Object.fromEntries(
      running.map((m) => [m, values[rowsQuery(service, m).id]] as const).filter(([, v]) => v !== undefined),
    ) as Partial<Record<ValidationMap, number>>;
    const p = validationProgress(source, execution, runs, { bucket, now, rowsLastMinute });
    if (p) out.push(p);
  }
  return out;
}
