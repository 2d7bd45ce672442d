/**
 * `npm run bench -- rehearsal`: end-to-end apply lag against the offered rate, per direction,
 * in `cutover rehearse` of magento/customer from the synthesized app (issue 14): at 100, 500 and
 * 1,000 changes/s offered (half Magento edits, half service writes), each for 30 s on the small
 * dataset, template durations ÷ 60 (the CLI's defaults). Writes bench/results/rehearsal-lag.json
 * and draws docs/rehearsal-lag.svg (`npx tsx bench/rehearsal.bench.ts --plot` redraws it from
 * the JSON).
 *
 * A rate is held when the lag stays bounded: the generator offered at least 90 % of the rate
 * (within 110 % of the duration), and in each direction the median lag of the edits of the traffic's last third is within 1 s
 * (or 50 %) of the first third's, and the drain after the traffic took less than 10 s. A queue
 * that builds up fails all three.
 *
 * `BENCH_REHEARSAL_RATES=100,500` and `BENCH_REHEARSAL_SECONDS=10` shorten it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../lib/app.js';
import { findOrStartMariaDb, startDynamoLocal } from '../lib/local/databases.js';
import { readAssembly } from '../lib/rehearse/assembly.js';
import { DATASET_SIZES, type RehearsalReport, rehearse } from '../lib/rehearse/rehearsal.js';
import magento from '../migrations/magento.js';
import { plotDocument, type Series } from './svg-plot.js';
import type { Bench, BenchRow } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const RESULTS_JSON = path.join(here, 'results', 'rehearsal-lag.json');
export const PLOT_SVG = path.join(here, '..', 'docs', 'rehearsal-lag.svg');

const RATES = (process.env['BENCH_REHEARSAL_RATES'] ?? '100,500,1000').split(',').map(Number);
const SECONDS = Number(process.env['BENCH_REHEARSAL_SECONDS'] ?? 30);
const TIME_SCALE = 60;
const DIRECTIONS = ['forward', 'reverse'] as const;

interface DirectionLag {
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly samples: number;
  readonly firstThirdP50Ms: number | null;
  readonly lastThirdP50Ms: number | null;
}

export interface RateResult {
  /** Changes per second asked (both sides together). */
  readonly rate: number;
  /** Changes per second the generator made (its traffic phase). */
  readonly offeredPerSecond: number;
  readonly offered: number;
  readonly applied: number;
  readonly dlq: number;
  readonly forward: DirectionLag;
  readonly reverse: DirectionLag;
  readonly drainMs: number | null;
  readonly rowsDiffering: number;
  readonly held: boolean;
  /** Why the rate is not held (empty when it is). */
  readonly why: readonly string[];
  readonly loadAverage: { readonly before: number; readonly after: number };
}

export interface LagResults {
  readonly measuredAt: string;
  readonly command: string;
  readonly seconds: number;
  readonly datasetRows: number;
  readonly timeScale: number;
  readonly rates: readonly RateResult[];
  /** The highest rate held, or null when none was. */
  readonly highestHeld: number | null;
}

/** Changes the generator made and over how long (the traffic phase's detail), else the tokens offered. */
export function offeredRate(r: RehearsalReport): { changes: number; seconds: number } {
  const traffic = r.phases.find((p) => p.name === 'traffic');
  const m = /^(\d+) changes offered in ([\d.]+) s/.exec(traffic?.detail ?? '');
  return m
    ? { changes: Number(m[1]), seconds: Number(m[2]) }
    : { changes: r.events.offered, seconds: r.settings.durationMs / 1000 };
}

/** Whether the lag stayed bounded at this rate, and if not, why. */
export function judge(r: RehearsalReport, rate: number): { held: boolean; why: string[] } {
  const why: string[] = [];
  const { changes, seconds } = offeredRate(r);
  if (changes < 0.9 * rate * seconds || seconds > 1.1 * (r.settings.durationMs / 1000))
    why.push(
      `offered ${changes} changes in ${seconds} s (${rate}/s for ${r.settings.durationMs / 1000} s asked)`,
    );
  for (const d of DIRECTIONS) {
    const l = r.lag.byDirection[d];
    if (!l || l.firstThirdP50Ms === null || l.lastThirdP50Ms === null) {
      why.push(`${d}: no lag samples in the first or last third`);
      continue;
    }
    if (l.lastThirdP50Ms > Math.max(l.firstThirdP50Ms + 1000, 1.5 * l.firstThirdP50Ms))
      why.push(
        `${d}: median lag grew from ${l.firstThirdP50Ms} ms to ${l.lastThirdP50Ms} ms through the run`,
      );
  }
  const drain = r.phases.find((p) => p.name === 'drain');
  if (drain?.outcome !== 'succeeded' || drain.durationMs >= 10_000)
    why.push(`drain ${drain ? `${drain.outcome} in ${drain.durationMs} ms` : 'not reached'}`);
  if (r.divergence.rows > 0) why.push(`${r.divergence.rows} rows differ`);
  return { held: why.length === 0, why };
}

/** The SVG of lag against rate: forward and reverse, p50 and p99. */
export function plotSvg(results: LagResults): string {
  const rates = results.rates.map((r) => r.rate);
  const series = (d: (typeof DIRECTIONS)[number]): Series[] => [
    {
      label: 'p50',
      color: '#1f77b4',
      points: results.rates.filter((r) => r[d].p50Ms !== null).map((r) => [r.rate, r[d].p50Ms!] as const),
    },
    {
      label: 'p99',
      color: '#d62728',
      points: results.rates.filter((r) => r[d].p99Ms !== null).map((r) => [r.rate, r[d].p99Ms!] as const),
    },
    {
      label: 'goal: p99 < 1,000 ms at 1,000/s',
      color: '#2ca02c',
      dashed: true,
      points: rates.map((r) => [r, 1000] as const),
    },
  ];
  const x = { scale: 'log', ticks: rates, label: 'changes offered per second (log scale)' } as const;
  const held = results.highestHeld === null ? 'none held' : `highest held: ${results.highestHeld}/s`;
  return plotDocument({
    title: `Rehearsal apply lag against the offered rate (${rates.join(', ')} changes/s; ${held})`,
    heading: `Rehearsal apply lag against the offered rate, magento/customer (${results.measuredAt.slice(0, 10)})`,
    subheading: `${results.seconds} s per rate, ${results.datasetRows} rows, durations ÷ ${results.timeScale}; ${held}; ${results.command}`,
    panels: [
      { title: 'Forward: Magento → service', unit: 'lag (ms)', x, series: series('forward') },
      { title: 'Reverse: service → Magento', unit: 'lag (ms)', x, series: series('reverse') },
    ],
  });
}

const bench: Bench = async (log) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-bench-rehearsal-'));
  const [maria, dynamo] = await Promise.all([findOrStartMariaDb(log), startDynamoLocal(log)]);
  const results: RateResult[] = [];
  try {
    const built = buildApp({
      env: 'dev',
      outdir: dir,
      context: { 'aws:cdk:bundling-stacks': [] },
      nag: false,
    });
    const model = readAssembly(built.app.synth().directory);
    for (const rate of RATES) {
      const before = os.loadavg()[0]!;
      const report = await rehearse({
        model,
        spec: magento,
        service: 'customer',
        env: 'dev',
        mysqlServerUrl: maria.url,
        dynamoEndpoint: dynamo.endpoint,
        datasetRows: DATASET_SIZES.small,
        rate,
        durationMs: SECONDS * 1000,
        timeScale: TIME_SCALE,
        // A queue that built up takes long to drain: give it time, the verdict says so.
        drainTimeoutMs: 300_000,
        functionLog: () => {},
      });
      const { held, why } = judge(report, rate);
      const drain = report.phases.find((p) => p.name === 'drain');
      const offered = offeredRate(report);
      const dir = (d: string): DirectionLag => {
        const l = report.lag.byDirection[d]!;
        return {
          p50Ms: l.p50Ms,
          p99Ms: l.p99Ms,
          samples: l.samples,
          firstThirdP50Ms: l.firstThirdP50Ms,
          lastThirdP50Ms: l.lastThirdP50Ms,
        };
      };
      const result: RateResult = {
        rate,
        offeredPerSecond: offered.changes / offered.seconds,
        offered: offered.changes,
        applied: report.events.applied,
        dlq: report.events.dlq,
        forward: dir('forward'),
        reverse: dir('reverse'),
        drainMs: drain?.outcome === 'succeeded' ? drain.durationMs : null,
        rowsDiffering: report.divergence.rows,
        held,
        why,
        loadAverage: { before, after: os.loadavg()[0]! },
      };
      results.push(result);
      log(`${rate}/s: ${JSON.stringify(result)}`);
    }
  } finally {
    await Promise.allSettled([maria.stop(), dynamo.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
  const heldRates = results.filter((r) => r.held).map((r) => r.rate);
  // The highest rate held with every lower rate held too: a rate held after a failed one is noise.
  const firstFailed = results.findIndex((r) => !r.held);
  const highestHeld = (firstFailed < 0 ? results : results.slice(0, firstFailed)).at(-1)?.rate ?? null;
  const lagResults: LagResults = {
    measuredAt: new Date().toISOString(),
    command: `npm run bench -- rehearsal${process.env['BENCH_REHEARSAL_RATES'] ? ` (BENCH_REHEARSAL_RATES=${process.env['BENCH_REHEARSAL_RATES']})` : ''}${process.env['BENCH_REHEARSAL_SECONDS'] ? ` (BENCH_REHEARSAL_SECONDS=${SECONDS})` : ''}`,
    seconds: SECONDS,
    datasetRows: DATASET_SIZES.small,
    timeScale: TIME_SCALE,
    rates: results,
    highestHeld,
  };
  mkdirSync(path.dirname(RESULTS_JSON), { recursive: true });
  writeFileSync(RESULTS_JSON, `${JSON.stringify(lagResults, null, 2)}\n`);
  writeFileSync(PLOT_SVG, plotSvg(lagResults));
  const ms = (v: number | null) => v ?? Number.NaN;
  const rows: BenchRow[] = results.flatMap((r) =>
    DIRECTIONS.flatMap((d): BenchRow[] => [
      { metric: `${r.rate}/s offered: ${d} lag p50`, value: ms(r[d].p50Ms), unit: 'ms' },
      {
        metric: `${r.rate}/s offered: ${d} lag p99`,
        value: ms(r[d].p99Ms),
        unit: 'ms',
        ...(r.rate === 1000 ? { target: '< 1,000 ms', met: r[d].p99Ms !== null && r[d].p99Ms < 1000 } : {}),
      },
    ]),
  );
  return {
    title: 'Rehearsal: apply lag against the offered rate (magento/customer)',
    rows: [
      ...rows,
      { metric: 'highest rate held (lag bounded)', value: highestHeld ?? 0, unit: 'changes/s' },
    ],
    notes: [
      `Each rate: \`rehearse --migration magento --service customer --dataset small --rate <R> --duration ${SECONDS}s\` (template durations ÷ ${TIME_SCALE}), half Magento edits and half service writes, in one process with MariaDB and DynamoDB Local on this machine; figures in bench/results/rehearsal-lag.json, plotted in docs/rehearsal-lag.svg.`,
      `Lag: from the edit to the acknowledgement of the SQS record that carried its value to the other side; an edit overwritten before it was captured has no sample.`,
      `Held: at least 90 % of the rate offered within 110 % of the duration, each direction's median lag of the last third of the traffic within 1 s (or 50 %) of the first third's, a drain under 10 s and no rows differing. ${results
        .map((r) => `${r.rate}/s: ${r.held ? 'held' : `not held (${r.why.join('; ')})`}`)
        .join('; ')}. Rates held: ${heldRates.join(', ') || 'none'}.`,
      'Where the reverse lag goes (docs/rehearsal.md, "Lag against the offered rate", profiled 2026-11-30): not in the pipe (a service write is read from the stream within 0.04-0.6 s, delivered in 1 ms) but in the reverse queue, whose mapping the template caps at 2 concurrent batches, on the one Node event loop that runs every function and was saturated while the process got a fraction of a core: a ceiling of the rehearsal on a loaded machine, not of the system.',
      `Load average (1 min) before each rate: ${results.map((r) => `${r.rate}/s ${r.loadAverage.before.toFixed(1)}`).join(', ')} on ${os.cpus().length} cores.`,
    ],
  };
};

export default bench;

if (
  process.argv[1] &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) &&
  process.argv.includes('--plot')
) {
  const results = JSON.parse(readFileSync(RESULTS_JSON, 'utf8')) as LagResults;
  writeFileSync(PLOT_SVG, plotSvg(results));
  console.log(`wrote ${path.relative(process.cwd(), PLOT_SVG)}`);
}
