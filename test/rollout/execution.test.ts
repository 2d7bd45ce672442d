/**
 * The rollout state machines as synthesized (DefinitionString from the templates, resolved to
 * plain ASL), executed by aws-local-stepfunctions with every task bound to the rollout's own use
 * cases (test/support/rollout-harness.ts). Waits are 0 ms; a gate stands for its bake by moving
 * the virtual clock, so the metrics it reads are those of a bake window as long as the spec's.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { ArchiveManifest } from '../../lambdas/domain/archive.js';
import { type ServiceFlags, withServiceFlags } from '../../lambdas/domain/flags.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import magento from '../../migrations/magento.js';
import {
  RolloutWorld,
  type SynthesizedRollout,
  synthesizeRollouts,
  type WorldOptions,
} from '../support/rollout-harness.js';

const on = (percentage: number, mode: ServiceFlags['write']['mode']): ServiceFlags => ({
  read: { enabled: true, percentage },
  write: { enabled: true, mode },
});
const CUT_OVER = on(100, 'primary');

/** The bundled magento spec, with small backfill chunks and a one-second approval window for order. */
function testSpec(): MigrationSpec {
  const spec = structuredClone(magento);
  for (const s of spec.services) s.rollout.backfillChunkSize = 10;
  spec.services.find((s) => s.name === 'order')!.rollout.approvalTimeoutHours = 1 / 3600;
  return spec;
}

let spec: MigrationSpec;
let machines: Record<string, SynthesizedRollout>;
const world = (options: WorldOptions = {}) => new RolloutWorld(spec, machines, options);

beforeAll(() => {
  spec = testSpec();
  machines = synthesizeRollouts(spec);
}); // The project's hookTimeout (300 s): synthesis alone takes 30 s, minutes on a loaded machine.

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('Rollout: the synthesized state machine, executed', () => {
  it('takes customer through all five phases, one flag change per step, and archives the legacy table', async () => {
    const w = world();
    const out = await w.run('customer');

    expect(out.status).toBe('SUCCEEDED');
    // Flags: one gradual deployment per step, in the order of the phases.
    const history = w.deploymentHistory('customer').slice(1);
    expect(history.map((h) => h.flags)).toEqual([
      on(0, 'legacy'),
      on(0, 'shadow'),
      on(10, 'shadow'),
      on(25, 'shadow'),
      on(50, 'shadow'),
      on(75, 'shadow'),
      on(100, 'shadow'),
      CUT_OVER,
    ]);
    expect(
      history.every((h) => h.deployment.strategy === 'gradual' && h.deployment.state === 'COMPLETE'),
    ).toBe(true);
    // Only customer's flags ever changed.
    for (const other of ['catalog', 'order']) {
      for (const h of w.deploymentHistory(other)) expect(h.flags.read.enabled).toBe(false);
    }
    expect(w.deployedFlags('customer')).toEqual(CUT_OVER);

    // Phase 1: the Distributed Map copied every chunk, bounded by backfillConcurrency.
    expect(w.sync.copied.map((c) => `${c.from}-${c.to}`).sort()).toEqual(['1-10', '11-20', '21-25']);
    expect(w.sync.maxInFlight).toBeGreaterThan(1);
    expect(w.sync.maxInFlight).toBeLessThanOrEqual(spec.services[0]!.rollout.backfillConcurrency);
    expect(await w.sync.check('customer')).toMatchObject({
      legacyCount: 25,
      serviceCount: 25,
      mismatches: [],
    });

    // Every gate ran once over a bake window as long as the spec's.
    const gates = w.trace.filter((t) => t.endsWith('Gate'));
    expect(gates).toEqual([
      'customer:ShadowGate',
      'customer:Canary10Gate',
      'customer:Canary25Gate',
      'customer:Canary50Gate',
      'customer:Canary75Gate',
      'customer:Canary100Gate',
      'customer:CutoverGate',
    ]);
    const windows = w.cloudwatch.calls.map((c) => (c.window.end - c.window.start) / 60_000);
    expect(windows).toContain(1440); // canaryBakeMinutes of customer
    expect(windows).toContain(30); // bakeMinutes

    // Phase 5: the approval was requested with the task token, then the archive was written.
    expect(w.approvals).toHaveLength(1);
    expect(w.approvals[0]).toMatchObject({
      service: 'customer',
      step: 'decommission',
      executionArn: out.executionArn,
      taskToken: 'token-run-1',
    });
    const manifestKey = (out.output!['archive'] as { manifestKey: string }).manifestKey;
    const manifest = JSON.parse(
      Buffer.from(w.store.objects.get(manifestKey)!.body).toString('utf8'),
    ) as ArchiveManifest;
    expect(manifest.tables).toEqual([
      { table: 'customer_entity', key: 'entity_id', columns: expect.any(Array), rows: 25 },
    ]);
    expect(manifest.tables[0]!.columns).not.toContain('password_hash');
    const rows: Array<Record<string, unknown>> = [];
    for (const f of manifest.files) {
      const object = w.store.objects.get(f.key)!;
      expect(object.contentEncoding).toBe('gzip');
      expect(createHash('sha256').update(object.body).digest('hex')).toBe(f.sha256);
      const text = gunzipSync(object.body).toString('utf8');
      rows.push(
        ...text
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
    }
    expect(rows).toHaveLength(25);
    // Only the manifest's columns are archived (the in-memory rows are keyed by field name, so
    // of those only the key and `email` are also column names).
    const source: Record<string, unknown> = { entity_id: 7, ...w.sync.legacy.get('customer')!.get('7') };
    const picked = Object.fromEntries(
      manifest.tables[0]!.columns.filter((c) => source[c] !== undefined).map((c) => [c, source[c]]),
    );
    expect(picked).toMatchObject({ entity_id: 7, email: expect.any(String) });
    expect(rows[6]).toEqual(picked);
  });

  const steps = magento.services[0]!.rollout.canarySteps;
  it.each(
    steps.map((step, i) => ({
      step,
      previous: i === 0 ? 0 : steps[i - 1]!,
      was: String(i === 0 ? 0 : steps[i - 1]),
    })),
  )(
    'a failing gate at the $step % step rolls reads back to $was % and fails with the measured value',
    async ({ step, previous }) => {
      const w = world({
        traffic: (service, f) =>
          service === 'customer' && f.readPercentage === step ? { serviceErrorRate: 0.02 } : {},
      });
      const out = await w.run('customer');

      expect(out.status).toBe('FAILED');
      expect(out.error).toBe('GateFailedError');
      expect(out.cause).toContain(`gate "canary-${step}" failed: error rate 2 % (must be below 0.1 %)`);
      expect(out.cause).toContain(
        `rolled back "customer" to the last good state (read ${previous} %, write shadow)`,
      );
      expect(w.deployedFlags('customer')).toEqual(on(previous, 'shadow'));
      const last = w.deploymentHistory('customer').at(-1)!;
      expect(last.deployment).toMatchObject({ strategy: 'rollback', state: 'COMPLETE' });
      expect(w.trace).not.toContain('customer:CutoverSetFlags');
    },
  );

  it('a slow service fails the p95 gate with the measured latency and the threshold', async () => {
    const w = world({
      traffic: (service, f) =>
        service === 'customer' && f.readPercentage === 50 ? { serviceLatencyMs: 250 } : {},
    });
    const out = await w.run('customer');
    expect(out.status).toBe('FAILED');
    expect(out.cause).toContain('gate "canary-50" failed: p95 latency 250 ms (must be below 200 ms)');
    expect(w.deployedFlags('customer')).toEqual(on(25, 'shadow'));
  });

  it('failing dual writes stop the shadow phase and restore read-only flags', async () => {
    const w = world({ traffic: (_s, f) => (f.writeMode === 'shadow' ? { forwardFailedRate: 0.01 } : {}) });
    const out = await w.run('customer');
    expect(out.status).toBe('FAILED');
    expect(out.cause).toContain('gate "shadow" failed: dual-write success 99 % (must be at least 99.9 %)');
    expect(w.deployedFlags('customer')).toEqual(on(0, 'legacy'));
  });

  it('a deployment that AppConfig rolls back (ROLLED_BACK) fails the phase; the flags stay at the last good step', async () => {
    const w = world({ alarmOn: ['Canary50'] });
    const out = await w.run('customer');

    expect(out.status).toBe('FAILED');
    expect(out.error).toBe('DeploymentRolledBackError');
    expect(out.cause).toMatch(/step Canary50: AppConfig deployment \d+ \(version \d+\) ended ROLLED_BACK/);
    expect(w.deployedFlags('customer')).toEqual(on(25, 'shadow'));
    // AppConfig already reverted: the rollback had nothing left to deploy.
    expect(w.deploymentHistory('customer').some((h) => h.deployment.strategy === 'rollback')).toBe(false);
    expect(w.trace).not.toContain('customer:Canary50Gate');
  });

  it('a deployment AppConfig never finishes is polled a bounded number of times, then the step fails and rolls back', async () => {
    const w = world({ stuckOn: ['Canary25'] });
    const out = await w.run('customer');

    expect(out.status).toBe('FAILED');
    expect(out.error).toBe('DeploymentWaitExceededError');
    expect(out.cause).toMatch(
      /step Canary25: AppConfig deployment \d+ \(version \d+\) is still DEPLOYING after 100 polls/,
    );
    expect(w.trace.filter((t) => t === 'customer:Canary25AwaitDeployment')).toHaveLength(100);
    expect(w.trace).not.toContain('customer:Canary25Gate');
    expect(w.trace).toContain('customer:Rollback');
  });

  it('flags changed during the bake (the alarm-rollback rule) fail the gate instead of passing it', async () => {
    const w = world({
      duringBake: async (world, service, step) => {
        if (service !== 'customer' || step !== 'Canary50') return;
        // What the platform's alarm-rollback Lambda does after the deployment completed.
        const doc = withServiceFlags(world.appConfig.deployed(), 'customer', on(25, 'shadow'));
        const version = await world.appConfig.createVersion(doc);
        world.appConfig.complete(await world.appConfig.startDeployment(version, 'rollback'));
      },
    });
    const out = await w.run('customer');

    expect(out.status).toBe('FAILED');
    expect(out.cause).toContain(
      'gate "canary-50" failed: the flags changed during the bake (deployed: read 25 %, write shadow; under test: read 50 %, write shadow)',
    );
    expect(w.deployedFlags('customer')).toEqual(on(25, 'shadow'));
    expect(w.trace).not.toContain('customer:Canary75SetFlags');
  });

  it('a planted mismatch fails phase 1 before any write mode changes', async () => {
    const w = world();
    w.sync.plantMismatch('customer', '7');
    const out = await w.run('customer');

    expect(out.status).toBe('FAILED');
    expect(out.error).toBe('ValidationFailedError');
    expect(out.cause).toContain('validation "read-only-sync" failed (needs zero mismatches)');
    expect(out.cause).toContain('customer: 1 mismatched records (keys 7)');
    expect(w.trace).not.toContain('customer:ShadowSetFlags');
    // Read-only flags (0 %, legacy) were the last good state: nothing left to undo.
    expect(w.deployedFlags('customer')).toEqual(on(0, 'legacy'));
    expect(w.deploymentHistory('customer').some((h) => h.deployment.strategy === 'rollback')).toBe(false);
  });

  it('a backfill chunk and a validation map that run for minutes are not timed out (Step Functions sets no task timeout the definition does not)', async () => {
    // Virtual timers: a chunk copy and the compare workers each take three minutes, past the
    // 60 s aws-local-stepfunctions gives a Task state without TimeoutSeconds (Step Functions
    // gives it none: a Lambda task ends with the function's own timeout, a Map state has none).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const w = world();
      const slow =
        <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
        async (...a: A): Promise<R> => {
          await new Promise((r) => setTimeout(r, 180_000));
          return f(...a);
        };
      w.sync.copyChunk = slow(w.sync.copyChunk.bind(w.sync));
      w.sync.compare = slow(w.sync.compare.bind(w.sync));
      let out: Awaited<ReturnType<RolloutWorld['run']>> | undefined;
      void w.run('customer').then((o) => {
        out = o;
      });
      for (let minutes = 0; !out && minutes < 60; minutes++) await vi.advanceTimersByTimeAsync(60_000);

      expect(out?.status, out?.cause).toBe('SUCCEEDED');
      expect(w.sync.copied).toHaveLength(3);
      expect(w.trace).toContain('customer:ValidateCompare');
    } finally {
      vi.useRealTimers();
    }
  });

  it('missing data extends the bake up to maxBakeExtensions, then fails naming the missing metric', async () => {
    const w = world({
      traffic: (service, f) => (service === 'customer' && f.readPercentage > 0 ? { silent: true } : {}),
    });
    const out = await w.run('customer');

    expect(out.status).toBe('FAILED');
    expect(w.trace.filter((t) => t === 'customer:Canary10Gate')).toHaveLength(1 + 2);
    expect(out.cause).toContain('gate "canary-10" failed: error rate: no data in the bake window');
    expect(out.cause).toContain('on missing data: extend, 2 of 2 extensions used');
    expect(w.deployedFlags('customer')).toEqual(on(0, 'shadow'));
  });

  it('data arriving during an extension lets the gate pass', async () => {
    let quietBakes = 1;
    const w = world({
      traffic: (service, f) => {
        if (service !== 'customer' || f.readPercentage !== 10 || quietBakes === 0) return {};
        quietBakes--;
        return { silent: true };
      },
    });
    const out = await w.run('customer');
    expect(out.status).toBe('SUCCEEDED');
    expect(w.trace.filter((t) => t === 'customer:Canary10Gate')).toHaveLength(2);
  });

  describe('approvals (order: approval before cutover and before decommission)', () => {
    const predecessorsDone = { customer: CUT_OVER, catalog: CUT_OVER };

    it('publishes the task token and cuts over once approved', async () => {
      const w = world({ initialFlags: predecessorsDone });
      const out = await w.run('order');
      expect(out.status).toBe('SUCCEEDED');
      expect(w.approvals.map((a) => a.step)).toEqual(['cutover-writes', 'decommission']);
      expect(w.approvals[0]!.taskToken).toBe('token-run-1');
      expect(w.deployedFlags('order')).toEqual(CUT_OVER);
    });

    it('an approval nobody answers times out: the writes stay on legacy and the execution fails', async () => {
      const w = world({ initialFlags: predecessorsDone, operator: () => new Promise(() => {}) });
      const out = await w.run('order');

      expect(out.status).toBe('FAILED');
      expect(out.error).toBe('ApprovalTimedOut');
      expect(out.cause).toContain('nobody approved cutover-writes of magento/order within 1 s');
      expect(w.deployedFlags('order')).toEqual(on(100, 'shadow'));
      expect(w.trace).not.toContain('order:CutoverSetFlags');
    });

    it('a rejection (send-task-failure) fails with the operator’s cause', async () => {
      const rejected = Object.assign(new Error('reverse sync lag too high'), { name: 'Rejected' });
      const w = world({ initialFlags: predecessorsDone, operator: () => Promise.reject(rejected) });
      const out = await w.run('order');
      expect(out.status).toBe('FAILED');
      expect(out.error).toBe('Rejected');
      expect(out.cause).toContain('reverse sync lag too high');
      expect(w.deployedFlags('order')).toEqual(on(100, 'shadow'));
    });
  });

  describe('one execution per service, services in the spec’s order', () => {
    it('catalog cannot start before customer has cut over; it can afterwards', async () => {
      const w = world();
      const early = await w.run('catalog');
      expect(early.status).toBe('FAILED');
      expect(early.error).toBe('PredecessorNotDoneError');
      expect(early.cause).toContain('"customer" has not completed its rollout');
      expect(w.appConfig.deployments).toHaveLength(1); // nothing was deployed

      expect((await w.run('customer')).status).toBe('SUCCEEDED');
      expect((await w.run('catalog')).status).toBe('SUCCEEDED');
      expect(w.deployedFlags('catalog')).toEqual(CUT_OVER);
    });

    it('catalog cannot start while a customer rollout is still running', async () => {
      const gate = deferred<unknown>();
      const w = world({ operator: () => gate.promise });
      const customer = w.run('customer');
      await waitFor(() => w.approvals.length === 1);
      // customer's flags are cut over already; its execution (decommission) is not finished.
      const catalog = await w.run('catalog');
      expect(catalog.status).toBe('FAILED');
      expect(catalog.cause).toContain('the rollout of "customer" is still running');
      gate.resolve({ approved: true });
      expect((await customer).status).toBe('SUCCEEDED');
    });

    it('a second execution of the same service fails at the start and changes nothing', async () => {
      const gate = deferred<unknown>();
      const w = world({ operator: () => gate.promise });
      const first = w.run('customer', 'first');
      await waitFor(() => w.approvals.length === 1);
      const deployments = w.appConfig.deployments.length;

      const second = await w.run('customer', 'second');
      expect(second.status).toBe('FAILED');
      expect(second.error).toBe('RolloutBusyError');
      expect(second.cause).toContain(':execution:cutover-test-magento-customer-rollout:first');
      expect(w.appConfig.deployments).toHaveLength(deployments);

      gate.resolve({ approved: true });
      expect((await first).status).toBe('SUCCEEDED');
      expect(w.deployedFlags('customer')).toEqual(CUT_OVER);
    });
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!condition()) throw new Error('condition not reached');
}
