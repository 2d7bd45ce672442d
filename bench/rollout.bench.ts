/**
 * Rollback speed of the rollout state machine, measured on its synthesized definition executed
 * locally (aws-local-stepfunctions, the harness of test/rollout):
 *
 * - from a failed gate (the Gate task throws) to the flags restored (the rollback deployment of
 *   the last good state is COMPLETE): Catch -> Rollback task -> stop/create version/deploy/poll;
 * - the baseline, in the same run: one healthy canary step (SetFlags -> AwaitDeployment polls ->
 *   Bake -> Gate passes) of the same definition, the same harness and the same fakes.
 *
 * The AppConfig deployment itself takes no time here (the fake completes on each poll); the
 * bound on AWS adds it and the gateway's flag poll interval (docs/rollout.md).
 */
import { performance } from 'node:perf_hooks';
import type { MigrationSpec } from '../lib/spec/schema.js';
import magento from '../migrations/magento.js';
import { RolloutWorld, synthesizeRollouts } from '../test/support/rollout-harness.js';
import '../test/support/setup.js';
import type { Bench } from './types.js';

const RUNS = 30;
const WARMUP = 5;
const FAILING_STEP = 25;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const bench: Bench = async (log) => {
  const spec: MigrationSpec = structuredClone(magento);
  for (const s of spec.services) s.rollout.backfillChunkSize = 10;
  let t = performance.now();
  const machines = synthesizeRollouts(spec);
  log(
    `synthesized ${Object.keys(machines).length} state machines in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  const restore: number[] = [];
  const toFailed: number[] = [];
  const healthyStep: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    let gateFailed = 0;
    let restored = 0;
    let stepStart = 0;
    let stepEnd = 0;
    const world = new RolloutWorld(spec, machines, {
      traffic: (service, f) =>
        service === 'customer' && f.readPercentage === FAILING_STEP ? { serviceErrorRate: 0.02 } : {},
      onGateFailed: () => {
        gateFailed = performance.now();
      },
      onFlagsRestored: () => {
        restored = performance.now();
      },
      onTask: (_service, state, at) => {
        if (state === 'Canary10SetFlags' && at === 'start') stepStart = performance.now();
        if (state === 'Canary10Gate' && at === 'end') stepEnd = performance.now();
      },
    });
    const out = await world.run('customer');
    const done = performance.now();
    if (out.status !== 'FAILED' || !restored || !gateFailed)
      throw new Error(`unexpected outcome ${JSON.stringify(out)}`);
    const flags = world.deployedFlags('customer');
    if (flags.read.percentage !== 10 || flags.write.mode !== 'shadow')
      throw new Error('flags not restored to 10 %');
    if (i < WARMUP) continue;
    restore.push(restored - gateFailed);
    toFailed.push(done - gateFailed);
    healthyStep.push(stepEnd - stepStart);
  }
  t = percentile(healthyStep, 50);
  const median = percentile(restore, 50);
  const p95 = percentile(restore, 95);
  log(
    `failed gate -> flags restored: median ${median.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms over ${RUNS} runs`,
  );
  const baseline = { metric: 'one healthy canary step, median', value: t };
  return {
    title: 'Rollout: failed gate to flags restored (synthesized definition, local)',
    rows: [
      {
        metric: `failed gate -> flags restored, median of ${RUNS}`,
        value: median,
        unit: 'ms',
        baseline,
        target: '< 1,000 ms',
        met: median < 1000,
      },
      {
        metric: `failed gate -> flags restored, p95 of ${RUNS}`,
        value: p95,
        unit: 'ms',
        baseline,
        target: '< 1,000 ms',
        met: p95 < 1000,
      },
      {
        metric: 'failed gate -> execution FAILED with the cause, median',
        value: percentile(toFailed, 50),
        unit: 'ms',
        baseline,
      },
    ],
    notes: [
      `Each run: the customer state machine as synthesized, a gate failing at the ${FAILING_STEP} % step (error rate 2 %), rolled back to 10 %; ${WARMUP} warm-up runs not counted.`,
      'Local time covers the Catch, the Rollback task (stop any deployment, new hosted version with the last good flags, rollback-strategy deployment, polls until COMPLETE) and the Fail; the AppConfig deployment itself is instantaneous in the fake.',
      'On AWS the bound is: zero-bake AllAtOnce deployment (seconds) + the gateway flag poll interval (<= 5 s); see docs/rollout.md.',
    ],
  };
};

export default bench;
