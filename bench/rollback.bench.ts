/**
 * `npm run bench -- rollback`: a fault during a canary step, end to end in the rehearsal
 * (issue 14): how long from the fault, and from the gate failing, until the last good flags are
 * deployed and until the gateway routes a canary user's reads back to Magento.
 *
 * Each run is `cutover rehearse --rollout --fault service-errors=50%@Canary10` on magento/
 * customer, from the synthesized app: the rollout state machine runs with its bakes cut to
 * `minBakeMs` (a canary bake is 24 h in the spec), but the rollback path runs in real time: the
 * AppConfig rollback strategy as synthesized (all at once, no bake) and the gateway's flag poll
 * at the template's interval (`flagPollTimeScale` 1), as on AWS.
 *
 * Two configurations, paired: the bundled spec (`gateway.flagPollSeconds` 5) and the same spec
 * with `flagPollSeconds: 1` (synthesized as its own app), run one after the other per sample
 * with the same fault, dataset, rates and bakes, their order alternating so that a drift in the
 * machine's load falls on both. The gateway's poll bounds the time until reads return to
 * Magento; the 1 s poll costs more AppConfig calls (docs/infrastructure.md, "Flag poll
 * interval").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from '../lib/app.js';
import { findOrStartMariaDb, startDynamoLocal } from '../lib/local/databases.js';
import { readAssembly, withGateThreshold } from '../lib/rehearse/assembly.js';
import { parseFaults } from '../lib/rehearse/faults.js';
import { rehearse } from '../lib/rehearse/rehearsal.js';
import type { MigrationSpec } from '../lib/spec/schema.js';
import { migrations } from '../migrations/index.js';
import magento from '../migrations/magento.js';
import type { Bench, BenchRow } from './types.js';

/** Rollbacks measured per configuration (runs that rolled back at the first canary gate for the fault). */
const SAMPLES = Number(process.env['BENCH_ROLLBACK_SAMPLES'] ?? 5);
/** The gateway's flag poll intervals compared (s): the spec's default and the schema's minimum. */
const POLLS = [5, 1] as const;
/** Each canary bake (ms): longer than the gateway's 5 s flag poll, so it reads the canary's flags. */
const BAKE_MS = 8000;

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Sample {
  gate: number;
  flags: number;
  routing: number;
  flagsFromGate: number;
  routingFromGate: number;
}

/** The bundled magento spec with the gateway polling its flags every `seconds`. */
function withFlagPoll(seconds: number): MigrationSpec {
  return { ...magento, gateway: { ...magento.gateway, flagPollSeconds: seconds } };
}

const bench: Bench = async (log) => {
  const service = magento.services.find((s) => s.name === 'customer')!;
  const canary = `Canary${service.rollout.canarySteps[0]}`;
  const fault = `service-errors=50%@${canary}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-bench-rollback-'));
  const [maria, dynamo] = await Promise.all([findOrStartMariaDb(log), startDynamoLocal(log)]);
  const samples = new Map<number, Sample[]>(POLLS.map((p) => [p, []]));
  const loads: number[] = [];
  const skipped: string[] = [];
  try {
    // One app per configuration, synthesized from its spec (the poll interval is part of what
    // the gateway's bundle carries). The latency checks measure this loaded machine, not the
    // rollback path: raised (as in test/integration/rehearsal-rollout.test.ts), so that the
    // fault's error rate decides.
    const configs = POLLS.map((poll) => {
      const spec = withFlagPoll(poll);
      const built = buildApp({
        env: 'dev',
        outdir: path.join(dir, `poll-${poll}`),
        context: { 'aws:cdk:bundling-stacks': [] },
        nag: false,
        migrations: migrations.map((m) => (m.name === spec.name ? spec : m)),
      });
      const model = withGateThreshold(
        readAssembly(built.app.synth().directory),
        ['p95LatencyMs', 'addedWriteLatencyMs'],
        10_000,
      );
      return { poll, spec, model };
    });
    const done = () => configs.every((c) => samples.get(c.poll)!.length >= SAMPLES);
    for (let round = 0; !done() && round < SAMPLES * 2; round++) {
      // Paired: both configurations per round, the order alternating.
      const order = round % 2 === 0 ? configs : [...configs].reverse();
      for (const { poll, spec, model } of order) {
        if (samples.get(poll)!.length >= SAMPLES) continue;
        loads.push(os.loadavg()[0]!);
        const report = await rehearse({
          model,
          spec,
          service: 'customer',
          env: 'dev',
          mysqlServerUrl: maria.url,
          dynamoEndpoint: dynamo.endpoint,
          datasetRows: Number(process.env['BENCH_ROLLBACK_ROWS'] ?? 50),
          rate: 10,
          durationMs: 5000,
          timeScale: 60,
          rollout: true,
          minBakeMs: BAKE_MS,
          flagPollTimeScale: 1,
          gatewayRate: 80,
          faults: parseFaults([fault], 50),
          faultLabels: [fault],
          functionLog: () => {},
        });
        const rb = report.rollbacks[0];
        if (
          !rb ||
          rb.fault !== fault ||
          !rb.cause.startsWith(`gate "canary-${service.rollout.canarySteps[0]}"`) ||
          rb.flagsRestoredMs === null ||
          rb.routingChangedMs === null
        ) {
          skipped.push(`poll ${poll} s: ${rb ? rb.cause : 'no rollback'}`);
          log(
            `round ${round + 1}, poll ${poll} s: not a canary rollback for the fault (${rb?.cause ?? 'no rollback'})`,
          );
          continue;
        }
        samples.get(poll)!.push({
          gate: rb.gateFailedMs,
          flags: rb.flagsRestoredMs,
          routing: rb.routingChangedMs,
          flagsFromGate: rb.flagsRestoredMs - rb.gateFailedMs,
          routingFromGate: rb.routingChangedMs - rb.gateFailedMs,
        });
        log(`round ${round + 1}, poll ${poll} s: ${JSON.stringify(samples.get(poll)!.at(-1))}`);
      }
    }
  } finally {
    await Promise.allSettled([maria.stop(), dynamo.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (metric: string, xs: number[], target?: string): BenchRow[] =>
    xs.length
      ? [
          { metric: `${metric}, median of ${xs.length}`, value: median(xs), unit: 'ms' },
          {
            metric: `${metric}, max of ${xs.length}`,
            value: Math.max(...xs),
            unit: 'ms',
            ...(target ? { target, met: Math.max(...xs) < 1000 } : {}),
          },
        ]
      : [];
  const rows = (poll: number): BenchRow[] => {
    const xs = samples.get(poll)!;
    const at = `flagPollSeconds ${poll}`;
    return [
      ...row(
        `${at}: gate failed -> last good flags deployed`,
        xs.map((s) => s.flagsFromGate),
        '< 1,000 ms',
      ),
      ...row(
        `${at}: gate failed -> reads routed to Magento`,
        xs.map((s) => s.routingFromGate),
        '< 1,000 ms',
      ),
      ...row(
        `${at}: fault -> gate failed (the canary bake)`,
        xs.map((s) => s.gate),
      ),
      ...row(
        `${at}: fault -> reads routed to Magento`,
        xs.map((s) => s.routing),
      ),
    ];
  };
  const counts = POLLS.map((p) => `${samples.get(p)!.length} with flagPollSeconds ${p}`).join(', ');
  return {
    title: 'Rollback from a canary fault (rehearsal, magento/customer)',
    rows: POLLS.flatMap(rows),
    notes: [
      `Each run: \`rehearse\` with the rollout, \`--fault ${fault}\` (the service upstream answers 500 to half the gateway's calls from the moment the ${canary} flags are deployed), 50 customers, 10 edits/s, 80 gateway requests/s; rollbacks measured: ${counts}${skipped.length ? `; ${skipped.length} runs rolled back elsewhere and were not counted (${skipped.join(' | ')})` : ''}.`,
      `Paired configurations: the bundled spec (\`gateway.flagPollSeconds\` 5) and the same spec with \`flagPollSeconds: 1\`, each synthesized as its own app; per round one run of each, the same fault, dataset, rates and bakes, the order alternating between rounds.`,
      "The gates' latency checks (p95, added write latency) raised to 10 s in the rehearsed model: on this loaded machine they failed the shadow gate in 2 of 3 first runs (79.6 ms and 2,559 ms added), before the fault; the error rate decides here.",
      `Time scaling: bakes cut to ${BAKE_MS / 1000} s (the spec's canary bake is 24 h); the rollback path in real time: the rollback strategy as synthesized (all at once, no bake) and the gateway's flag poll at the spec's interval (\`flagPollTimeScale\` 1).`,
      'Reads routed to Magento: the first read of a probe user (inside the 10 % cohort, outside the restored 0 %) that the gateway sent to legacy, probed every 10 ms; it is bounded by the gateway flag poll interval (`flagPollSeconds`): up to one interval after the flags are restored. The 1 s poll costs five times the GetLatestConfiguration calls of the 5 s one (docs/infrastructure.md, "Flag poll interval").',
      `Load average (1 min) at the start of each run: ${loads.map((l) => l.toFixed(1)).join(', ')} on ${os.cpus().length} cores (other helpers' tests running).`,
    ],
  };
};

export default bench;
