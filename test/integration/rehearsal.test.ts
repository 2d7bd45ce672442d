/**
 * The rehearsal, bounded: a tiny dataset, a few seconds of traffic, template durations scaled
 * down 1000x (the poller's 1-minute schedule every 60 ms, visibility timeouts of 0.18 s). Each
 * template change below is made on the model read from the synthesized app, the way a wrong
 * template would be deployed, and the rehearsal must behave as AWS would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { type AssemblyModel, readAssembly } from '../../lib/rehearse/assembly.js';
import { parseFaults } from '../../lib/rehearse/faults.js';
import { type RehearsalOptions, type RehearsalReport, rehearse } from '../../lib/rehearse/rehearsal.js';
import magento from '../../migrations/magento.js';
import { startThrowawayMariaDb } from '../support/databases.js';

let dir: string;
let model: AssemblyModel;
const stack = 'cutover-dev-magento-customer';

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cutover-rehearsal-'));
  const built = buildApp({ env: 'dev', outdir: dir, context: { 'aws:cdk:bundling-stacks': [] }, nag: false });
  model = readAssembly(built.app.synth().directory);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(m: AssemblyModel, extra: Partial<RehearsalOptions> = {}): Promise<RehearsalReport> {
  return rehearse({
    model: m,
    spec: magento,
    service: 'customer',
    env: 'dev',
    mysqlServerUrl: inject('mysqlUrl'),
    dynamoEndpoint: inject('dynamoEndpoint'),
    datasetRows: 12,
    rate: 10,
    durationMs: 1500,
    timeScale: 1000,
    drainTimeoutMs: 20_000,
    functionLog: () => {},
    ...extra,
  });
}

/** The model with one part replaced (a changed template). */
function mutated(
  change: (m: { -readonly [K in keyof AssemblyModel]: AssemblyModel[K] }) => void,
): AssemblyModel {
  const copy = structuredClone(model) as { -readonly [K in keyof AssemblyModel]: AssemblyModel[K] };
  change(copy);
  return copy;
}

const forwardRule = (m: AssemblyModel) =>
  m.rules.find((r) => r.stack === stack && r.targets.some((t) => t.resource.includes('ForwardQueue')))!;
const forwardMapping = (m: AssemblyModel) =>
  m.mappings.find(
    (x) => x.id.startsWith(`${stack}/`) && m.functions[x.function]!.handler === 'forward-sync',
  )!;

let base: RehearsalReport;

describe('rehearsal of magento/customer from the synthesized app', () => {
  it('runs both directions through the templates and ends with both sides equal', async () => {
    base = await run(model, { poisonEvents: 1 });
    if (!base.ok)
      console.error(
        JSON.stringify({ phases: base.phases, events: base.events, divergence: base.divergence }),
      );
    expect(base.phases.map((p) => [p.name, p.outcome])).toEqual([
      ['setup', 'succeeded'],
      ['backfill', 'succeeded'],
      ['traffic', 'succeeded'],
      ['drain', 'succeeded'],
      ['verify', 'succeeded'],
    ]);
    expect(base.ok).toBe(true);
    expect(base.divergence.rows).toBe(0);
    expect(base.events.byDirection['forward']!.offered).toBeGreaterThan(0);
    expect(base.events.byDirection['reverse']!.offered).toBeGreaterThan(0);
    expect(base.lag.byDirection['forward']!.samples).toBeGreaterThan(0);
    expect(base.lag.byDirection['reverse']!.samples).toBeGreaterThan(0);
    expect(base.lag.p99Ms).toBeGreaterThan(0);
    expect(base.events.unmatched).toBe(0);
    expect(base.metrics).toHaveProperty([
      'event_processing_total{service=customer,direction=forward,status=applied}',
    ]);
    // The poison event (no eventId): received maxReceiveCount (5) times, failing each time,
    // then moved to the DLQ; nothing else is given up on.
    expect(base.events.dlqMessages).toEqual([
      { source: 'cutover.legacy', detailType: 'migration.customer.changed', eventId: null },
    ]);
    expect(base.events.byDirection['forward']!.failed).toBeGreaterThanOrEqual(5);
  }, 120_000);

  it('a rule whose pattern matches nothing the poller publishes: nothing is delivered and the run fails', async () => {
    const report = await run(
      mutated((m) => {
        const rule = forwardRule(m) as { eventPattern?: Record<string, unknown> };
        rule.eventPattern = { ...rule.eventPattern, 'detail-type': ['migration.customer.renamed'] };
      }),
      { drainTimeoutMs: 3000 },
    );
    expect(report.ok).toBe(false);
    expect(report.events.byDirection['forward']!.applied).toBe(0);
    expect(report.events.unmatched).toBeGreaterThan(0);
    expect(report.events.unmatchedSamples[0]).toEqual({
      source: 'cutover.legacy',
      detailType: 'migration.customer.changed',
    });
    expect(report.phases.find((p) => p.name === 'backfill')!.outcome).toBe('failed');
  }, 120_000);

  it('maxReceiveCount 1: a failing message lands in the DLQ after one receive', async () => {
    const report = await run(
      mutated((m) => {
        const q = m.queues[forwardMapping(m).queue]! as {
          redrive?: { deadLetterQueue: string; maxReceiveCount: number };
        };
        q.redrive = { ...q.redrive!, maxReceiveCount: 1 };
      }),
      { poisonEvents: 1, durationMs: 500 },
    );
    // Every failing message moved on its first failure: as many in the DLQ as failures, the
    // poison among them (with the default of 5 the same poison failed five times).
    const forward = report.events.byDirection['forward']!;
    expect(forward.failed).toBeGreaterThanOrEqual(1);
    expect(report.events.dlq).toBe(forward.failed);
    expect(report.events.dlqMessages.some((d) => d.eventId === null)).toBe(true);
  }, 120_000);

  it('a smaller batch size: more invocations for the same records', async () => {
    const report = await run(
      mutated((m) => {
        (forwardMapping(m) as { batchSize: number }).batchSize = 1;
      }),
    );
    const one = report.events.byDirection['forward']!;
    const ten = base.events.byDirection['forward']!;
    // Batch size 1: one invocation per record (each failure is its own invocation too).
    expect(one.invocations).toBe(one.applied + one.failed);
    expect(ten.invocations).toBeLessThan(ten.applied);
    expect(report.divergence.rows).toBe(0);
  }, 120_000);

  it('crash after write (15 %): redelivered records are applied once, the sides end equal', async () => {
    // Each invocation dies after its write with probability p, independently, as on AWS; a record
    // whose maxReceiveCount (5) receives all die goes to the DLQ there too. At p = 0.3 that is
    // 0.3^5 = 0.24 % per record, and a run of a few dozen records failed about one run in ten
    // on dlq = 1. At p = 0.15 it is 0.0076 % per record, and 80 changes give enough invocations
    // that none crashing is as unlikely (5-11 crashes over 48-59 invocations seen).
    const report = await run(model, { crashAfterWrite: 0.15, rate: 20, durationMs: 4000 });
    expect(report.injected.crashes).toBeGreaterThan(0);
    expect(report.events.failed).toBeGreaterThanOrEqual(report.injected.crashes);
    expect(report.events.dlq).toBe(0);
    expect(report.divergence.rows).toBe(0);
    expect(report.ok).toBe(true);
  }, 120_000);

  it('MariaDB restarted during the traffic: the functions reconnect, the sides end equal', async () => {
    const own = await startThrowawayMariaDb(() => {});
    try {
      const report = await run(model, {
        mysqlServerUrl: own.url,
        // Scaled 60x (not 1000x): 5 receives x 3 s of visibility outlast the restart, as 5 x 180 s
        // do on AWS; at 1000x the retries would be spent in one second and land in the DLQ.
        timeScale: 60,
        durationMs: 4000,
        mariadbRestartAtMs: 1000,
        restartMariaDb: async () => {
          await own.shutdown!('SIGTERM');
          await new Promise((r) => setTimeout(r, 1000));
          await own.start!();
        },
      });
      expect(report.injected.mariadbRestarts).toBe(1);
      expect(report.events.dlq).toBe(0);
      expect(report.divergence.rows).toBe(0);
      expect(report.ok).toBe(true);
    } finally {
      await own.stop();
    }
  }, 180_000);

  it("DynamoDB throttling 10 % of the functions' calls: retried, the sides end equal", async () => {
    const report = await run(model, {
      faults: parseFaults(['dynamo-throttle=10%'], 15),
      faultLabels: ['dynamo-throttle=10%'],
    });
    expect(report.gateway.dynamoThrottled).toBeGreaterThan(0);
    expect(report.divergence.rows).toBe(0);
    expect(report.ok).toBe(true);
  }, 120_000);
});
