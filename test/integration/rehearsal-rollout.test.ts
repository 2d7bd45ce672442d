/**
 * The rehearsal with `--rollout`, bounded: the service's rollout state machine from the
 * synthesized app runs through its phases in seconds (every bake at `minBakeMs`), users read and
 * write through the gateway, and a fault on the service upstream during the first canary step
 * must roll the rollout back through the real path: the canary gate fails → Rollback → the last
 * good flags deployed → the gateway sends the canary users' reads to Magento again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { type AssemblyModel, readAssembly, withGateThreshold } from '../../lib/rehearse/assembly.js';
import { parseFaults } from '../../lib/rehearse/faults.js';
import { type RehearsalOptions, type RehearsalReport, rehearse } from '../../lib/rehearse/rehearsal.js';
import magento from '../../migrations/magento.js';
import { ROLLOUT_SUCCEEDED, rolloutOutcomes } from '../support/rehearsal-phases.js';

let dir: string;
let model: AssemblyModel;
/** The same, with the spec's p95 latency check (only added write latency raised): the latency fault's. */
let latencyModel: AssemblyModel;

/**
 * The gates' latency checks (service p95, added legacy write latency) are raised to 10 s in the
 * model rehearsed here. Why: these tests are about the rollback path and the gates that judge
 * correctness (error rate, consistency, dual writes, DLQs); every request here crosses one Node
 * process that also runs the sync, on a 2-core machine the other test files load too, so a p95
 * over a bake of a second or two measures that load, not the system (docs/rehearsal.md).
 */
const LATENCY_CHECKS = ['p95LatencyMs', 'addedWriteLatencyMs'];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cutover-rehearsal-rollout-'));
  const built = buildApp({ env: 'dev', outdir: dir, context: { 'aws:cdk:bundling-stacks': [] }, nag: false });
  const assembly = built.app.synth().directory;
  model = withGateThreshold(readAssembly(assembly), LATENCY_CHECKS, 10_000);
  latencyModel = withGateThreshold(readAssembly(assembly), ['addedWriteLatencyMs'], 10_000);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first canary step of magento/customer (`rollout.canarySteps`), as its states are named. */
const firstCanary = `Canary${magento.services.find((s) => s.name === 'customer')!.rollout.canarySteps[0]}`;

function run(extra: Partial<RehearsalOptions> = {}): Promise<RehearsalReport> {
  return rehearse({
    model: extra.model ?? model,
    spec: magento,
    service: 'customer',
    env: 'dev',
    mysqlServerUrl: inject('mysqlUrl'),
    dynamoEndpoint: inject('dynamoEndpoint'),
    datasetRows: 12,
    rate: 10,
    durationMs: 3000,
    timeScale: 1000,
    drainTimeoutMs: 20_000,
    rollout: true,
    // Enough users that a 10 % canary's bake window holds service requests to measure.
    gatewayRate: 80,
    minBakeMs: 1500,
    ...extra,
  });
}

const summary = (r: RehearsalReport) =>
  JSON.stringify({ phases: r.phases, rollbacks: r.rollbacks, gateway: r.gateway, divergence: r.divergence });

describe('rehearsal --rollout of magento/customer', () => {
  it(`service errors at 50 % from ${firstCanary}: the canary gate rolls back, flags and routing restored, warnings in the log only`, async () => {
    const spec = `service-errors=50%@${firstCanary}`;
    const logged: string[] = [];
    const onTerminal: string[] = [];
    const write = process.stderr.write;
    // What reaches the terminal during the run (the functions' warnings must not).
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      onTerminal.push(String(chunk));
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean).call(
        process.stderr,
        chunk,
        ...rest,
      );
    }) as typeof process.stderr.write;
    let report: RehearsalReport;
    try {
      report = await run({
        faults: parseFaults([spec], 30),
        faultLabels: [spec],
        functionLog: (line) => logged.push(line),
        // The gateway polls its flags every 2.5 s (5 s ÷ 2), so it reads the restored flags
        // after the rollout has ended with the traffic: the probe must outlast both. Bakes of
        // 4 s hold 1.5 s or more of the canary's faulted requests.
        flagPollTimeScale: 2,
        minBakeMs: 4000,
      });
    } finally {
      process.stderr.write = write;
    }
    const rb = report.rollbacks[0];
    if (!rb || rb.fault !== spec) console.error(summary(report));
    expect(report.gateway.faultsStarted[spec]).toBeGreaterThanOrEqual(
      report.gateway.stepsDeployed[firstCanary]!,
    );
    expect(report.gateway.serviceErrorsInjected).toBeGreaterThan(0);
    expect(report.rollbacks).toHaveLength(1);
    expect(rb!.fault).toBe(spec);
    expect(rb!.cause).toMatch(new RegExp(`^gate "canary-${firstCanary.slice(6)}" failed: error rate`));
    expect(rb!.flagsRestoredMs).not.toBeNull();
    expect(rb!.flagsRestoredMs!).toBeGreaterThanOrEqual(rb!.gateFailedMs);
    expect(rb!.routingChangedMs).not.toBeNull();
    expect(rb!.routingChangedMs!).toBeGreaterThanOrEqual(rb!.flagsRestoredMs!);
    const switchReads = report.phases.find((p) => p.name === 'rollout switch-reads')!;
    expect(switchReads).toMatchObject({ outcome: 'failed', explainedBy: spec });
    expect(report.divergence.rows).toBe(0);
    // A failure the fault explains does not fail the run (exit code 0).
    expect(report.ok).toBe(true);
    // The gateway's warnings about the failing upstream went to the log sink, not the terminal.
    expect(logged.some((l) => l.includes('upstream call failed'))).toBe(true);
    expect(onTerminal.filter((l) => l.includes('"level"'))).toEqual([]);
  }, 180_000);

  it(`service latency of 400 ms from ${firstCanary}: the canary gate fails on p95 latency and rolls back, the sides equal`, async () => {
    const spec = `service-latency=400ms@${firstCanary}`;
    const report = await run({
      model: latencyModel,
      faults: parseFaults([spec], 30),
      faultLabels: [spec],
      functionLog: () => {},
      flagPollTimeScale: 2,
      minBakeMs: 4000,
    });
    const rb = report.rollbacks[0];
    if (!rb || rb.fault !== spec) console.error(summary(report));
    expect(report.gateway.serviceLatencyInjected).toBeGreaterThan(0);
    expect(report.gateway.serviceErrorsInjected).toBe(0);
    expect(report.rollbacks).toHaveLength(1);
    expect(rb!.fault).toBe(spec);
    // The gate measured the injected latency (at least 400 ms), not the machine's noise.
    const p95 = rb!.cause.match(/p95 latency ([\d.]+) ms/);
    expect(rb!.cause).toMatch(new RegExp(`^gate "canary-${firstCanary.slice(6)}" failed: .*p95 latency`));
    expect(Number(p95![1])).toBeGreaterThanOrEqual(400);
    expect(rb!.flagsRestoredMs).not.toBeNull();
    const switchReads = report.phases.find((p) => p.name === 'rollout switch-reads')!;
    expect(switchReads).toMatchObject({ outcome: 'failed', explainedBy: spec });
    expect(report.divergence.rows).toBe(0);
    expect(report.ok).toBe(true);
  }, 180_000);

  // Not retried: its shadow gate used to find no dual-write data now and then ("dual-write
  // success: no data"): the poller read none of the 12 hot customers while they were edited
  // (test/integration/poller-hot-rows.test.ts), fixed in lambdas/domain/poller.ts.
  it('without a fault the rollout does not roll back', { timeout: 180_000 }, async () => {
    const report = await run({ functionLog: () => {} });
    if (report.rollbacks.length) console.error(summary(report));
    expect(report.rollbacks).toEqual([]);
    expect(rolloutOutcomes(report)).toEqual(ROLLOUT_SUCCEEDED);
    expect(report.divergence.rows).toBe(0);
    expect(report.ok).toBe(true);
    // The shadow gate's latency baseline (a bake long, ending when the shadow flags deploy)
    // lies inside the edit traffic: the shadow step waited two bakes after the edits began.
    expect(report.gateway.stepsDeployed['Shadow']! - report.gateway.editsStartedMs!).toBeGreaterThanOrEqual(
      2 * 1500,
    );
  });
});
