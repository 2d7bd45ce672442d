/**
 * Draws docs/validation-scale.svg from the figures `npm run bench -- validation` writes to
 * bench/results/validation.json: throughput (rows/s) and worker memory (MB) against the table
 * size, on a logarithmic size axis (bench/svg-plot.ts draws it).
 *
 * `npx tsx bench/plot-validation.ts` redraws it from the JSON.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { plotDocument, type Series } from './svg-plot.js';

/** One step (backfill, scan, compare) at one size. */
export interface StepResult {
  readonly seconds: number;
  readonly rowsPerSecond: number;
  readonly items: number;
  /** Most rows an item held at once. */
  readonly maxRowsHeld: number;
  /** Most heap an item used above the worker's idle heap (MB, garbage included). */
  readonly maxHeapAboveMb: number;
  /** Most heap an item left behind after a full GC (MB). */
  readonly maxHeapLeftMb: number;
  /** Peak RSS of the most loaded worker process (MB). */
  readonly maxRssMb: number;
  /** The worker's heap before an item, after a full GC (MB, the most seen). */
  readonly heapBeforeMb: number;
}

export interface SizeResult {
  readonly rows: number;
  /** Customers backfilled (the last ones); those before them were bulk-loaded (`bulkLoadSeconds`). */
  readonly backfillRows: number;
  readonly backfill: StepResult;
  readonly bulkLoadSeconds?: number;
  /** `os.loadavg()` (1, 5, 15 min) before and after this size: the machine is shared. */
  readonly loadAverage: {
    readonly before: readonly [number, number, number];
    readonly after: readonly [number, number, number];
  };
  readonly validation: {
    /** Plan to report, wall time. */
    readonly seconds: number;
    readonly rowsPerSecond: number;
    /** The steps run in this process (the object store's): `Plan`, `PlanCompare`, `Report`. */
    readonly planSeconds: number;
    readonly planCompareSeconds: number;
    readonly reportSeconds: number;
    readonly scan: StepResult;
    readonly compare: StepResult;
  };
}

export interface ScaleResults {
  readonly measuredAt: string;
  readonly command: string;
  readonly workers: number;
  readonly rowsPerWorker: number;
  readonly backfillChunkSize: number;
  /** Customers each size backfills (the last ones); the rest are bulk-loaded. */
  readonly backfillRows: number;
  readonly validationChunkSize: number;
  readonly sizes: readonly SizeResult[];
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const RESULTS_JSON = path.join(here, 'results', 'validation.json');
export const PLOT_SVG = path.join(here, '..', 'docs', 'validation-scale.svg');

const sizeLabel = (n: number) => (n >= 1e6 ? `${n / 1e6} M` : n >= 1e3 ? `${n / 1e3} k` : String(n));

/** The SVG text for `results`. */
export function plotSvg(results: ScaleResults): string {
  const sizes = results.sizes.map((s) => s.rows);
  const throughput: Series[] = [
    {
      label: 'full validation (plan, scan, compare, report)',
      color: '#1f77b4',
      points: results.sizes.map((s) => [s.rows, s.validation.rowsPerSecond] as const),
    },
    {
      label: `backfill of the last ${results.backfillRows.toLocaleString('en-US')} customers (forward-sync rules)`,
      color: '#d62728',
      points: results.sizes.map((s) => [s.rows, s.backfill.rowsPerSecond] as const),
    },
  ];
  const memory: Series[] = [
    {
      label: 'peak RSS of the most loaded validation worker',
      color: '#2ca02c',
      points: results.sizes.map(
        (s) => [s.rows, Math.max(s.validation.scan.maxRssMb, s.validation.compare.maxRssMb)] as const,
      ),
    },
    {
      label: 'peak RSS of the most loaded backfill worker',
      color: '#ff7f0e',
      points: results.sizes.map((s) => [s.rows, s.backfill.maxRssMb] as const),
    },
    {
      label: "validation item's peak heap above the worker's idle heap",
      color: '#9467bd',
      dashed: true,
      points: results.sizes.map(
        (s) =>
          [s.rows, Math.max(s.validation.scan.maxHeapAboveMb, s.validation.compare.maxHeapAboveMb)] as const,
      ),
    },
  ];
  const x = { scale: 'log', ticks: sizes, label: 'customers (log scale)', format: sizeLabel } as const;
  return plotDocument({
    title: `Backfill and full validation: rows/s and worker memory against customers (${results.sizes.map((s) => sizeLabel(s.rows)).join(', ')})`,
    heading: `Backfill and full validation on MariaDB + DynamoDB Local (${results.measuredAt.slice(0, 10)})`,
    subheading: `${results.workers} workers, ${results.rowsPerWorker.toLocaleString('en-US')} rows per validation worker; ${results.command}`,
    panels: [
      { title: 'Throughput', unit: 'rows/s', x, series: throughput },
      { title: 'Memory per worker', unit: 'MB', x, series: memory },
    ],
  });
}

/** Writes the plot of `results` to docs/validation-scale.svg; returns its path. */
export function writePlot(results: ScaleResults, file = PLOT_SVG): string {
  writeFileSync(file, plotSvg(results));
  return file;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const results = JSON.parse(readFileSync(RESULTS_JSON, 'utf8')) as ScaleResults;
  console.log(`wrote ${path.relative(process.cwd(), writePlot(results))}`);
}
