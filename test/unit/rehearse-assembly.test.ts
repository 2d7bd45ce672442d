import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { type AssemblyModel, readAssembly, withGateThreshold } from '../../lib/rehearse/assembly.js';
import { allStates } from '../../lib/rehearse/cfn.js';

let dir: string;
let model: AssemblyModel;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cutover-assembly-'));
  const built = buildApp({ env: 'dev', outdir: dir, context: { 'aws:cdk:bundling-stacks': [] }, nag: false });
  model = readAssembly(built.app.synth().directory);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stack = 'cutover-dev-magento-customer';

describe('the cloud assembly read back (magento/customer, dev)', () => {
  it('finds the sync rules with their patterns, on the platform bus across stacks, targeting the queues', () => {
    const rules = model.rules.filter((r) => r.stack === stack && r.eventPattern);
    const forward = rules.find((r) => r.targets[0]?.resource.includes('ForwardQueue'))!;
    expect(forward.eventPattern).toEqual({
      source: ['cutover.legacy'],
      'detail-type': ['migration.customer.changed'],
    });
    expect(forward.bus).toMatch(/^cutover-dev-platform\/Bus/);
    expect(model.buses[forward.bus!]).toBeDefined();
    expect(forward.targets[0]).toMatchObject({ kind: 'queue', maximumRetryAttempts: 185 });
    const reverse = rules.find((r) => r.targets[0]?.resource.includes('ReverseQueue'))!;
    expect(reverse.eventPattern).toEqual({
      source: ['cutover.service'],
      'detail-type': ['customer.updated'],
    });
  });

  it('reads each queue with its visibility timeout and maxReceiveCount -> DLQ', () => {
    const forward = Object.values(model.queues).find((q) => q.name === `${stack}-forward`)!;
    expect(forward.visibilityTimeoutSeconds).toBe(180);
    expect(forward.redrive?.maxReceiveCount).toBe(5);
    expect(model.queues[forward.redrive!.deadLetterQueue]?.name).toBe(`${stack}-forward-dlq`);
  });

  it('reads the event source mappings with batch size, window, concurrency and partial batch responses', () => {
    const mine = model.mappings.filter((m) => m.id.startsWith(`${stack}/`));
    expect(mine).toHaveLength(2);
    for (const m of mine) {
      expect(m.batchSize).toBe(10);
      expect(m.reportBatchItemFailures).toBe(true);
      expect(model.functions[m.function]).toBeDefined();
    }
    const reverse = mine.find((m) => model.functions[m.function]!.handler === 'reverse-sync')!;
    expect(reverse.maximumConcurrency).toBe(2);
  });

  it('maps every function to its handler entry, with its environment resolved across stacks', () => {
    const fns = Object.values(model.functions).filter((f) => f.stack === stack);
    expect(fns.map((f) => f.handler).sort()).toEqual(
      expect.arrayContaining([
        'consistency-check',
        'forward-sync',
        'legacy-poller',
        'reverse-sync',
        'service-capture',
      ]),
    );
    const forward = fns.find((f) => f.handler === 'forward-sync')!;
    expect(forward.entry).toMatch(/lambdas\/handlers\/forward-sync\.ts$/);
    expect(forward.timeoutSeconds).toBe(30);
    expect(forward.environment['CUTOVER_SYNC_TABLE']).toBe('cutover-dev-magento-sync-state');
    expect(JSON.parse(forward.environment['CUTOVER_SERVICE_TABLES']!)).toMatchObject({
      customer: 'cutover-dev-magento-customer',
    });
    expect(forward.environment['CUTOVER_BUS_NAME']).toBe(Object.values(model.buses)[0]);
  });

  it('reads the pipe: the customer table stream -> capture enrichment -> the bus', () => {
    const pipe = model.pipes.find((p) => p.id.startsWith(`${stack}/`))!;
    expect(model.tables[pipe.sourceTable]).toMatchObject({
      name: 'cutover-dev-magento-customer',
      streamViewType: 'NEW_AND_OLD_IMAGES',
    });
    expect(model.functions[pipe.enrichment!]?.handler).toBe('service-capture');
    expect(model.buses[pipe.targetBus]).toBeDefined();
    expect(pipe).toMatchObject({
      detailTypePath: '$.detail-type',
      sourcePath: '$.source',
      inputTemplate: '<$.detail>',
    });
  });

  it('reads schedules, the rollout state machine, AppConfig content and strategies, alarms', () => {
    const poller = model.rules.find(
      (r) => r.stack === stack && model.functions[r.targets[0]!.resource]?.handler === 'legacy-poller',
    )!;
    expect(poller.schedule).toEqual({ expression: 'rate(1 minute)', everyMs: 60_000 });
    const machine = Object.entries(model.stateMachines).find(([id]) => id.startsWith(`${stack}/`))![1];
    expect(Object.keys(machine.States).length).toBeGreaterThan(5);
    expect(model.appConfig.contents.some((c) => JSON.stringify(c.content).includes('customer_read'))).toBe(
      true,
    );
    expect(model.appConfig.strategies.find((s) => s.name === 'cutover-dev-magento-gradual')).toMatchObject({
      growthType: 'LINEAR',
      growthFactor: 50,
    });
    const dlqAlarm = model.alarms.find((a) => a.name === `${stack}-forward-dlq-depth`)!;
    expect(dlqAlarm).toMatchObject({ threshold: 0, statistic: 'Maximum', evaluationPeriods: 1 });
    expect(dlqAlarm.metric?.dimensions['QueueName']).toBe(`${stack}-forward-dlq`);
  });

  it('withGateThreshold: the named checks of every rollout gate changed in a copy, the others and the model kept', () => {
    type Check = { check: string; threshold: number };
    const checks = (m: AssemblyModel) =>
      Object.values(m.stateMachines).flatMap((def) =>
        allStates(def).flatMap(
          ([, st]) => (st['Parameters'] as { gate?: { checks: Check[] } } | undefined)?.gate?.checks ?? [],
        ),
      );
    const raised = withGateThreshold(model, ['p95LatencyMs'], 9999);
    const before = checks(model);
    const after = checks(raised);
    expect(after).toHaveLength(before.length);
    expect(after.filter((c) => c.check === 'p95LatencyMs').length).toBeGreaterThan(0);
    after.forEach((c, i) => {
      expect(c.threshold).toBe(c.check === 'p95LatencyMs' ? 9999 : before[i]!.threshold);
    });
    expect(before.some((c) => c.check === 'p95LatencyMs' && c.threshold === 9999)).toBe(false);
    expect(() => withGateThreshold(model, ['noSuchCheck'], 1)).toThrow(
      /no rollout gate .* checks noSuchCheck/,
    );
  });
});
