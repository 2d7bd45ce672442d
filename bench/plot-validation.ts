/**
 * Draws docs/validation-scale.svg from the figures `npm run bench -- validation` writes to
 * bench/results/validation.json: throughput (rows/s) and worker memory (MB) against the table
 * size, on a logarithmic size axis. Plain SVG text, no dependencies, no network.
 *
 * `npx tsx bench/plot-validation.ts` redraws it from the JSON.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

interface Series {
  readonly label: string;
  readonly color: string;
  readonly dashed?: boolean;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

const W = 900;
const H = 400;
const PANEL = { w: 360, h: 250, top: 70 };
const LEFTS = [80, 530];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const sizeLabel = (n: number) => (n >= 1e6 ? `${n / 1e6} M` : n >= 1e3 ? `${n / 1e3} k` : String(n));

/** A "nice" upper bound and step for a linear axis from 0. */
function niceScale(max: number): { top: number; step: number } {
  const raw = Math.max(max, 1e-9) / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step || step, step };
}

function panel(
  left: number,
  title: string,
  unit: string,
  sizes: readonly number[],
  series: Series[],
): string {
  const { w, h, top } = PANEL;
  const xs = sizes.map((s) => Math.log10(s));
  const xMin = Math.min(...xs) - 0.15;
  const xMax = Math.max(...xs) + 0.15;
  const x = (size: number) => left + ((Math.log10(size) - xMin) / (xMax - xMin)) * w;
  const { top: yTop, step } = niceScale(Math.max(...series.flatMap((s) => s.points.map(([, v]) => v))));
  const y = (v: number) => top + h - (v / yTop) * h;
  const out: string[] = [];
  out.push(`<text x="${left}" y="${top - 28}" class="title">${esc(title)}</text>`);
  out.push(`<text x="${left}" y="${top - 12}" class="unit">${esc(unit)}</text>`);
  for (let v = 0; v <= yTop + step / 2; v += step) {
    out.push(`<line x1="${left}" x2="${left + w}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`);
    out.push(
      `<text x="${left - 6}" y="${y(v) + 4}" class="tick" text-anchor="end">${Math.round(v).toLocaleString('en-US')}</text>`,
    );
  }
  for (const s of sizes) {
    out.push(`<line x1="${x(s)}" x2="${x(s)}" y1="${top}" y2="${top + h}" class="grid"/>`);
    out.push(
      `<text x="${x(s)}" y="${top + h + 16}" class="tick" text-anchor="middle">${sizeLabel(s)}</text>`,
    );
  }
  out.push(
    `<text x="${left + w / 2}" y="${top + h + 34}" class="tick" text-anchor="middle">customers (log scale)</text>`,
  );
  out.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" class="frame"/>`);
  series.forEach((s, i) => {
    if (!s.points.length) return;
    const d = s.points
      .map(([sz, v], j) => `${j ? 'L' : 'M'}${x(sz).toFixed(1)},${y(v).toFixed(1)}`)
      .join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    for (const [sz, v] of s.points) {
      out.push(`<circle cx="${x(sz).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
      out.push(
        `<text x="${(x(sz) + 6).toFixed(1)}" y="${(y(v) - 6).toFixed(1)}" class="value" fill="${s.color}">${Math.round(v).toLocaleString('en-US')}</text>`,
      );
    }
    const ly = top + h + 52 + i * 16;
    out.push(
      `<line x1="${left}" x2="${left + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    out.push(`<text x="${left + 30}" y="${ly}" class="legend">${esc(s.label)}</text>`);
  });
  return out.join('\n');
}

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
  const height = H + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif">`,
    `<title>Backfill and full validation: rows/s and worker memory against customers (${esc(results.sizes.map((s) => sizeLabel(s.rows)).join(', '))})</title>`,
    '<style>.title{font-size:15px;font-weight:bold}.unit,.tick,.legend{font-size:12px;fill:#333}.value{font-size:11px}.grid{stroke:#ddd}.frame{fill:none;stroke:#888}</style>',
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFTS[0]}" y="22" class="title">Backfill and full validation on MariaDB + DynamoDB Local (${esc(results.measuredAt.slice(0, 10))})</text>`,
    `<text x="${LEFTS[0]}" y="38" class="unit">${results.workers} workers, ${results.rowsPerWorker.toLocaleString('en-US')} rows per validation worker; ${esc(results.command)}</text>`,
    panel(LEFTS[0]!, 'Throughput', 'rows/s', sizes, throughput),
    panel(LEFTS[1]!, 'Memory per worker', 'MB', sizes, memory),
    '</svg>',
    '',
  ].join('\n');
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
