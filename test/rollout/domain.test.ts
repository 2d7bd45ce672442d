/** The rollout's decisions and adapters, one by one (the state machine runs are in execution.test.ts). */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { CloudWatchMetrics } from '../../lambdas/adapters/cloudwatch-metrics.js';
import { EventBridgeApprovals } from '../../lambdas/adapters/eventbridge-approvals.js';
import { S3ArchiveStore } from '../../lambdas/adapters/s3-archive.js';
import { StepFunctionsExecutions } from '../../lambdas/adapters/sfn-executions.js';
import {
  type ArchiveManifest,
  archiveTables,
  archiveTablesOf,
  isCredentialColumn,
} from '../../lambdas/domain/archive.js';
import { initialFlags, type ServiceFlags, toFeatureFlagsDocument } from '../../lambdas/domain/flags.js';
import {
  evaluateGate,
  exclusiveRollout,
  type GatePlan,
  predecessorDone,
  rolloutPlan,
  validateReadOnlySync,
} from '../../lambdas/domain/rollout.js';
import { causeText, RollbackFailedError, rollback } from '../../lambdas/domain/rollout-tasks.js';
import { METRIC, METRICS_NAMESPACE } from '../../lib/spec/metrics.js';
import { defineMigration } from '../../lib/spec/schema.js';
import magento from '../../migrations/magento.js';
import { FakeAppConfig } from '../support/fake-appconfig.js';
import { FakeObjectStore } from '../support/rollout-harness.js';

const gate: GatePlan = {
  id: 'canary-25',
  checks: [
    { check: 'errorRate', comparator: 'below', threshold: 0.001 },
    { check: 'consistency', comparator: 'atLeast', threshold: 0.9999 },
    { check: 'dlqDepth', comparator: 'atMost', threshold: 0 },
  ],
};
const opts = { onMissingData: 'extend' as const, maxBakeExtensions: 2, extensionsUsed: 0 };

describe('Function: evaluateGate', () => {
  it('passes at the edges the spec allows and fails at the ones it forbids', () => {
    expect(evaluateGate(gate, { errorRate: 0.000999, consistency: 0.9999, dlqDepth: 0 }, opts).verdict).toBe(
      'pass',
    );
    const r = evaluateGate(gate, { errorRate: 0.001, consistency: 0.9998, dlqDepth: 1 }, opts);
    expect(r.verdict).toBe('fail');
    expect(r.cause).toBe(
      'gate "canary-25" failed: error rate 0.1 % (must be below 0.1 %); consistency 99.98 % (must be at least 99.99 %); DLQ depth 1 messages (must be at most 0 messages)',
    );
  });

  it('extends on missing data until the extensions are used, then fails naming the metric', () => {
    const first = evaluateGate(gate, { consistency: 1, dlqDepth: 0 }, opts);
    expect(first).toMatchObject({ verdict: 'extend', extensionsUsed: 1 });
    const last = evaluateGate(gate, { consistency: 1, dlqDepth: 0 }, { ...opts, extensionsUsed: 2 });
    expect(last.verdict).toBe('fail');
    expect(last.cause).toContain('error rate: no data in the bake window');
    expect(last.cause).toContain('2 of 2 extensions used');
    expect(
      evaluateGate(gate, { consistency: 1, dlqDepth: 0 }, { ...opts, onMissingData: 'fail' }).verdict,
    ).toBe('fail');
  });

  it('fails at once when a measured check fails, even with other data missing', () => {
    expect(evaluateGate(gate, { errorRate: 0.5 }, opts).verdict).toBe('fail');
  });
});

describe('Function: rolloutPlan', () => {
  it('renders the spec: five phases, canary steps, bakes and approvals', () => {
    const customer = rolloutPlan(magento.services[0]!);
    expect(customer.steps.map((s) => `${s.id}:${s.bakeSeconds}`)).toEqual([
      'ReadOnly:0',
      'Shadow:1800',
      'Canary10:86400',
      'Canary25:86400',
      'Canary50:86400',
      'Canary75:86400',
      'Canary100:86400',
      'Cutover:1800',
    ]);
    expect(customer.steps.some((s) => s.approvalBefore)).toBe(false);
    const order = rolloutPlan(magento.services[2]!);
    expect(order.steps.find((s) => s.id === 'Cutover')!.approvalBefore).toBe(true);
    expect(order.approvalTimeoutSeconds).toBe(72 * 3600);
  });
});

describe('Function: exclusiveRollout / predecessorDone', () => {
  const arn = (n: string) => `arn:aws:states:r:1:execution:sm:${n}`;
  it('lets only the oldest running execution proceed; ties broken by ARN', () => {
    const a = { executionArn: arn('a'), startedAt: 1000 };
    const b = { executionArn: arn('b'), startedAt: 1000 };
    const c = { executionArn: arn('c'), startedAt: 900 };
    expect(exclusiveRollout(a, [a, b])).toEqual({ ok: true });
    expect(exclusiveRollout(b, [a, b])).toEqual({ ok: false, holder: a });
    expect(exclusiveRollout(a, [b, c])).toEqual({ ok: false, holder: c });
    expect(exclusiveRollout(a, [])).toEqual({ ok: true });
  });

  it('needs the previous service enabled at 100 % / primary with no rollout running', () => {
    const done: ServiceFlags = {
      read: { enabled: true, percentage: 100 },
      write: { enabled: true, mode: 'primary' },
    };
    expect(predecessorDone('customer', done, 0)).toEqual({ ok: true });
    expect(predecessorDone('customer', done, 1)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('running'),
    });
    const disabled = { ...done, write: { enabled: false, mode: 'primary' as const } };
    expect(predecessorDone('customer', disabled, 0)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('has read 100 %, write legacy'),
    });
  });
});

describe('Function: validateReadOnlySync', () => {
  it('needs equal counts and zero mismatches, counting unlisted mismatches too', () => {
    const ok = { entity: 'customer', legacyCount: 3, serviceCount: 3, mismatches: [], consistency: 1 };
    expect(validateReadOnlySync([ok]).ok).toBe(true);
    const bad = { ...ok, mismatches: ['1', '2', '3', '4', '5', '6'], mismatchesTotal: 40, consistency: 0.5 };
    expect(validateReadOnlySync([bad]).cause).toContain(
      'customer: 40 mismatched records (keys 1, 2, 3, 4, 5 and 35 more)',
    );
  });
});

describe('Function: causeText', () => {
  it('reads a Lambda error JSON, a plain cause and a timeout', () => {
    expect(
      causeText({ Error: 'GateFailedError', Cause: JSON.stringify({ errorMessage: 'gate x', trace: [] }) }),
    ).toBe('gate x');
    expect(causeText({ Error: 'Rejected', Cause: 'no' })).toBe('no');
    expect(causeText({ Error: 'States.Timeout' })).toBe('timed out');
  });
});

describe('Function: rollback', () => {
  const spec = magento;
  const lastGood: ServiceFlags = {
    read: { enabled: true, percentage: 10 },
    write: { enabled: true, mode: 'shadow' },
  };
  /** A fake on a virtual clock; each sleep lets time pass and moves deployments on. */
  const world = () => {
    const clock = { t: Date.parse('2026-11-25T10:00:00Z') };
    const flags = new FakeAppConfig(toFeatureFlagsDocument(spec, initialFlags(spec)), {
      now: () => clock.t,
      rollbackDelayMs: 5_000,
    });
    const ports = {
      flags,
      clock: () => clock.t,
      sleep: async (ms: number) => {
        clock.t += ms;
        for (const d of flags.deployments)
          if (d.state === 'DEPLOYING' || d.state === 'BAKING') flags.advance(d.id);
      },
    };
    return { clock, flags, ports };
  };

  it('stops a deployment in progress, waits until AppConfig rolled it back, then deploys the last good flags', async () => {
    const { flags, ports } = world();
    const inFlight = await flags.startDeployment(1, 'gradual', 'in flight');
    flags.advance(inFlight); // BAKING
    const result = await rollback(ports, {
      service: 'customer',
      lastGood,
      error: { Error: 'X', Cause: 'boom' },
    });
    expect(flags.calls).toContain(`stopDeployment:${inFlight}`);
    const stopped = flags.deployments.find((d) => d.id === inFlight)!;
    expect(stopped.state).toBe('ROLLED_BACK');
    const restore = flags.deployments.at(-1)!;
    expect(restore).toMatchObject({ strategy: 'rollback', state: 'COMPLETE' });
    // started only once the stopped deployment had settled (AppConfig would answer 409 before)
    expect(Date.parse(restore.startedAt)).toBeGreaterThanOrEqual(Date.parse(stopped.completedAt!));
    expect(result.deploymentId).toBe(restore.id);
    // 5 s for the stopped deployment to roll back, 2 polls for the rollback deployment
    expect(result.cause).toBe(
      'boom; rolled back "customer" to the last good state (read 10 %, write shadow) in 7.0 s',
    );
  });

  it('fails loudly when the stopped deployment does not settle in time', async () => {
    const { flags, ports } = world();
    flags.rollbackDelayMs = 600_000;
    await flags.startDeployment(1, 'gradual', 'in flight');
    await expect(
      rollback({ ...ports, maxWaitMs: 30_000 }, { service: 'customer', lastGood, error: { Cause: 'x' } }),
    ).rejects.toThrow(/ROLLBACK FAILED.*stopped deployment 2 is still ROLLING_BACK/);
    expect(flags.calls.filter((c) => c.startsWith('startDeployment'))).toEqual(['startDeployment:1:gradual']);
  });

  it('fails loudly when the rollback deployment itself is rolled back', async () => {
    const { flags, ports } = world();
    ports.sleep = async () => {
      const d = flags.deployments.at(-1)!;
      if (d.state === 'DEPLOYING') flags.monitorAlarm(d.id);
    };
    await expect(rollback(ports, { service: 'customer', lastGood, error: { Cause: 'x' } })).rejects.toThrow(
      RollbackFailedError,
    );
  });
});

describe('Class: CloudWatchMetrics', () => {
  it('asks for one period covering the window, rounded out to minutes, and combines split periods', async () => {
    const sent: Array<Record<string, unknown>> = [];
    const client = {
      send: async (cmd: { input: Record<string, unknown> }) => {
        sent.push(cmd.input);
        return {
          MetricDataResults: [
            { Id: 'm0', Values: [3, 4] },
            { Id: 'm1', Values: [120, 180] },
          ],
        };
      },
    } as unknown as CloudWatchClient;
    const m = new CloudWatchMetrics(client);
    const start = Date.parse('2026-11-02T10:00:30Z');
    const values = await m.measure(
      {
        errors: { kind: 'serviceRequests', service: 'customer', outcome: 'error' },
        p95: { kind: 'latencyP95', service: 'customer', target: 'service' },
        none: { kind: 'queueDepth', queueName: 'cutover-dev-magento-customer-dlq' },
      },
      { start, end: start + 29 * 60_000 },
    );
    expect(values).toEqual({ errors: 7, p95: 180, none: undefined });
    expect(sent[0]!['StartTime']).toEqual(new Date('2026-11-02T10:00:00Z'));
    expect(sent[0]!['EndTime']).toEqual(new Date('2026-11-02T10:30:00Z'));
    const q = (sent[0]!['MetricDataQueries'] as Array<{ MetricStat: { Period: number; Stat: string } }>)[1]!;
    expect(q.MetricStat).toMatchObject({ Period: 1800, Stat: 'p95' });
  });

  it('reads each signal from the metric it is recorded as (lib/spec/metrics.ts; AWS/SQS for a queue)', async () => {
    const sent: Array<Record<string, unknown>> = [];
    const client = {
      send: async (cmd: { input: Record<string, unknown> }) => {
        sent.push(cmd.input);
        return { MetricDataResults: [] };
      },
    } as unknown as CloudWatchClient;
    await new CloudWatchMetrics(client).measure(
      {
        ok: { kind: 'serviceRequests', service: 'customer', outcome: 'success' },
        legacy: { kind: 'latencyP95', service: 'customer', target: 'legacy' },
        failed: { kind: 'forwardEvents', service: 'customer', status: 'failed' },
        dlq: { kind: 'queueDepth', queueName: 'q-dlq' },
        lag: { kind: 'syncLag', service: 'customer', consistencyType: 'strong' },
      },
      { start: 0, end: 60_000 },
    );
    const stats = (sent[0]!['MetricDataQueries'] as Array<{ Id: string; MetricStat: unknown }>).map((q) => [
      q.Id,
      q.MetricStat,
    ]);
    const stat = (Namespace: string, MetricName: string, dims: Record<string, string>, Stat: string) => ({
      Metric: {
        Namespace,
        MetricName,
        Dimensions: Object.entries(dims).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: 60,
      Stat,
    });
    expect(stats).toEqual([
      [
        'm0',
        stat(
          METRICS_NAMESPACE,
          METRIC.gatewayRequests,
          { service: 'customer', target: 'service', outcome: 'success' },
          'Sum',
        ),
      ],
      [
        'm1',
        stat(METRICS_NAMESPACE, METRIC.gatewayLatency, { service: 'customer', target: 'legacy' }, 'p95'),
      ],
      [
        'm2',
        stat(
          METRICS_NAMESPACE,
          METRIC.eventProcessing,
          { service: 'customer', direction: 'forward', status: 'failed' },
          'Sum',
        ),
      ],
      ['m3', stat('AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: 'q-dlq' }, 'Maximum')],
      [
        'm4',
        stat(
          METRICS_NAMESPACE,
          METRIC.consistencyLag,
          { service: 'customer', consistency_type: 'strong' },
          'Maximum',
        ),
      ],
    ]);
  });
});

describe('Adapters: EventBridge approvals, Step Functions executions, S3 archive', () => {
  const stub = <T>(reply: (input: Record<string, unknown>) => unknown) => {
    const sent: Array<Record<string, unknown>> = [];
    const client = {
      send: async (cmd: { input: Record<string, unknown> }) => {
        sent.push(cmd.input);
        return reply(cmd.input);
      },
    } as unknown as T;
    return { client, sent };
  };

  it('publishes cutover.approval.requested on the bus with the task token in the detail', async () => {
    const { client, sent } = stub<EventBridgeClient>(() => ({ FailedEntryCount: 0 }));
    const request = {
      migration: 'magento',
      service: 'order',
      step: 'cutover-writes',
      executionArn: 'arn:aws:states:r:1:execution:sm:run',
      taskToken: 'tok',
      expiresAt: '2026-11-28T00:00:00.000Z',
      summary: 's',
    };
    await new EventBridgeApprovals('cutover-prod', client).requestApproval(request);
    const entry = (sent[0]!['Entries'] as Array<Record<string, string>>)[0]!;
    expect(entry).toMatchObject({
      EventBusName: 'cutover-prod',
      Source: 'cutover.rollout',
      DetailType: 'cutover.approval.requested',
    });
    expect(JSON.parse(entry['Detail']!)).toEqual(request);
    const failing = stub<EventBridgeClient>(() => ({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'X', ErrorMessage: 'no' }],
    }));
    await expect(new EventBridgeApprovals('b', failing.client).requestApproval(request)).rejects.toThrow(
      'X no',
    );
  });

  it('lists RUNNING executions across pages', async () => {
    const { client, sent } = stub<SFNClient>((input) =>
      input['nextToken']
        ? { executions: [{ executionArn: 'b', startDate: new Date(2000) }] }
        : { executions: [{ executionArn: 'a', startDate: new Date(1000) }], nextToken: 'n' },
    );
    expect(await new StepFunctionsExecutions(client).listRunning('sm')).toEqual([
      { executionArn: 'a', startedAt: 1000 },
      { executionArn: 'b', startedAt: 2000 },
    ]);
    expect(sent[0]).toMatchObject({ stateMachineArn: 'sm', statusFilter: 'RUNNING' });
  });

  it('puts archive objects with their SHA-256 so S3 verifies them', async () => {
    const { client, sent } = stub<S3Client>(() => ({}));
    const body = Buffer.from('{"a":1}\n');
    await new S3ArchiveStore('bucket', client).put('k', body, 'application/x-ndjson', 'gzip');
    expect(sent[0]).toMatchObject({
      Bucket: 'bucket',
      Key: 'k',
      ContentEncoding: 'gzip',
      ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
    });
  });
});

describe('Function: archiveTables', () => {
  it('pages by key, splits files by rowsPerFile, checksums each object and writes the manifest last', async () => {
    const rows = Array.from({ length: 7 }, (_, i) => ({ id: i + 1, name: `n${i + 1}`, at: new Date(0) }));
    const store = new FakeObjectStore();
    const reads: unknown[] = [];
    const source = {
      readPage: async (_t: unknown, after: unknown, limit: number) => {
        reads.push(after);
        return rows.filter((r) => after === undefined || r.id > (after as number)).slice(0, limit);
      },
    };
    const { manifestKey, manifest } = await archiveTables(source, store, {
      migration: 'm',
      service: 's',
      prefix: 'm/s/run',
      tables: [{ table: 't', key: 'id', columns: ['id', 'name', 'at'] }],
      pageSize: 3,
      rowsPerFile: 4,
      now: () => 0,
    });
    expect(reads).toEqual([undefined, 3, 6]);
    expect([...store.objects.keys()]).toEqual([
      'm/s/run/t/part-00000.ndjson.gz',
      'm/s/run/t/part-00001.ndjson.gz',
      manifestKey,
    ]);
    expect(manifest.files.map((f) => [f.rows, f.firstKey, f.lastKey])).toEqual([
      [4, 1, 4],
      [3, 5, 7],
    ]);
    for (const f of manifest.files) {
      const body = store.objects.get(f.key)!.body;
      expect(createHash('sha256').update(body).digest('hex')).toBe(f.sha256);
      expect(createHash('sha256').update(gunzipSync(body)).digest('hex')).toBe(f.ndjsonSha256);
    }
    const stored = JSON.parse(
      Buffer.from(store.objects.get(manifestKey)!.body).toString(),
    ) as ArchiveManifest;
    expect(stored.tables).toEqual([{ table: 't', key: 'id', columns: ['id', 'name', 'at'], rows: 7 }]);
    expect(gunzipSync(store.objects.get(manifest.files[0]!.key)!.body).toString().split('\n')[0]).toBe(
      '{"id":1,"name":"n1","at":"1970-01-01T00:00:00.000Z"}',
    );
  });
});

describe('Function: archiveTablesOf (what phase 5 archives)', () => {
  it('lists the mapped columns of each table, never SELECT * and never a credential column', () => {
    const customer = archiveTablesOf(magento, 'customer').tables;
    expect(customer).toEqual([
      {
        table: 'customer_entity',
        key: 'entity_id',
        columns: expect.arrayContaining(['entity_id', 'updated_at', 'email', 'firstname', 'lastname']),
      },
    ]);
    for (const banned of ['password_hash', 'rp_token', 'rp_token_created_at', 'dob', 'taxvat']) {
      expect(customer[0]!.columns).not.toContain(banned);
    }
    const catalog = archiveTablesOf(magento, 'catalog').tables;
    expect(catalog.find((t) => t.table === 'catalog_product_entity_varchar')?.columns).toEqual([
      'value_id',
      'attribute_id',
      'store_id',
      'entity_id',
      'value',
    ]);
  });

  it("keeps an entity's archiveColumns and refuses a credential column in them, naming the field", () => {
    const spec = (archiveColumns: string[]) =>
      defineMigration({
        name: 'shop',
        description: 'archive columns',
        legacy: { kind: 'mysql', secretName: 's', database: 'magento' },
        services: [
          {
            name: 'customer',
            risk: 'low',
            serviceUrl: 'https://customer.example.com',
            legacyUrl: 'https://legacy.example.com',
            routes: [{ method: 'GET', pathPrefix: '/customers', access: 'read' }],
            entities: [
              {
                name: 'customer',
                legacy: { table: 'customer_entity', key: 'entity_id', archiveColumns },
                target: { key: 'customerId' },
                policy: 'timestamp',
                consistency: 'strong',
                fields: [{ name: 'email', type: 'string', column: 'email' }],
              },
            ],
          },
        ],
      });
    expect(archiveTablesOf(spec(['created_at']), 'customer').tables[0]!.columns).toEqual([
      'entity_id',
      'email',
      'created_at',
    ]);
    expect(() => spec(['created_at', 'password_hash'])).toThrow(
      /services\.customer\.entities\.customer\.legacy\.archiveColumns\[1\]: a credential column is never archived/,
    );
    for (const c of ['password_hash', 'rp_token', 'api_key', 'client_secret', 'password']) {
      expect(isCredentialColumn(c), c).toBe(true);
    }
    for (const c of ['email', 'grand_total', 'times_used', 'is_in_stock', 'passenger']) {
      expect(isCredentialColumn(c), c).toBe(false);
    }
  });

  it('writes only the listed columns, whatever the source returns', async () => {
    const store = new FakeObjectStore();
    const source = {
      readPage: async (_t: unknown, after: unknown) =>
        after === undefined ? [{ id: 1, email: 'a@example.com', password_hash: 'x', dob: '1990-01-01' }] : [],
    };
    const { manifest } = await archiveTables(source, store, {
      migration: 'm',
      service: 's',
      prefix: 'm/s/run',
      tables: [{ table: 't', key: 'id', columns: ['id', 'email', 'password_hash'] }],
      now: () => 0,
    });
    const line = gunzipSync(store.objects.get(manifest.files[0]!.key)!.body).toString().trim();
    expect(JSON.parse(line)).toEqual({ id: 1, email: 'a@example.com' });
    expect(manifest.tables[0]!.columns).toEqual(['id', 'email']);
  });
});

describe('Handlers: rollout-*', () => {
  it('each task Lambda module loads and exports a handler', async () => {
    const modules = await Promise.all([
      import('../../lambdas/handlers/rollout-start.js'),
      import('../../lambdas/handlers/rollout-set-flags.js'),
      import('../../lambdas/handlers/rollout-await-deployment.js'),
      import('../../lambdas/handlers/rollout-gate.js'),
      import('../../lambdas/handlers/rollout-backfill-plan.js'),
      import('../../lambdas/handlers/rollout-backfill-chunk.js'),
      import('../../lambdas/handlers/validation-plan.js'),
      import('../../lambdas/handlers/validation-scan.js'),
      import('../../lambdas/handlers/validation-compare.js'),
      import('../../lambdas/handlers/validation-report.js'),
      import('../../lambdas/handlers/rollout-request-approval.js'),
      import('../../lambdas/handlers/rollout-rollback.js'),
      import('../../lambdas/handlers/rollout-archive.js'),
    ]);
    for (const mod of modules) expect(typeof mod.handler).toBe('function');
  });
});
