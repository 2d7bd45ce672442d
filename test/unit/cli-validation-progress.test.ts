/**
 * Full validation's progress in `cutover status` (lib/cli/validation-progress.ts, status-view.ts):
 * the Map Runs of the rollout's and the reconciliation's executions read through the real adapter
 * (StepFunctionsMapRuns) whose SDK client aws-sdk-client-mock answers with the recorded
 * ListMapRuns / DescribeMapRun payloads (test/contracts/stepfunctions/, recorded against AWS by
 * LocalStack's snapshot tests), rows/s from the workers' metric, the report's location, and the
 * text and JSON the command prints.
 */
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  type DescribeMapRunOutput,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  type ListMapRunsOutput,
  type MapRunItemCounts as SdkItemCounts,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignalMetrics } from '../../lambdas/adapters/cloudwatch-metrics.js';
import { initialFlags, toFeatureFlagsDocument } from '../../lambdas/domain/flags.js';
import {
  type MapRunInfo,
  mapRunLabel,
  SqsQueues,
  StepFunctionsControl,
  StepFunctionsMapRuns,
} from '../../lib/cli/control-plane.js';
import type { CliContext } from '../../lib/cli/operator-commands.js';
import { renderStatus } from '../../lib/cli/status-view.js';
import {
  mapProgress,
  ROWS_RATE_SOURCE,
  serviceValidations,
  validationProgress,
} from '../../lib/cli/validation-progress.js';
import { rolloutStateMachineName } from '../../lib/constructs/rollout-state-machine.js';
import { VALIDATION_CHAINS } from '../../lib/spec/names.js';
import { magento } from '../../migrations/index.js';
import { ACCOUNT, deployedOutputs, REGION, rolloutArn, runCli } from '../support/cli.js';
import { contract } from '../support/contracts.js';
import { FakeAppConfig } from '../support/fake-appconfig.js';
import { FakeCloudWatch } from '../support/fake-cloudwatch.js';
import { InMemoryPublisher } from '../support/in-memory-publisher.js';
import { MemoryOutbox } from '../support/memory-stores.js';

interface Recorded<T> {
  source: Record<string, unknown>;
  operation: string;
  output: T;
}

const ENV = 'staging';
const MACHINE = rolloutStateMachineName(ENV, 'magento', 'customer');
const EXECUTION = 'customer-1';
const execArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${MACHINE}:${EXECUTION}`;
const BUCKET = `cutover-${ENV}-magento-customer-validation`;

/**
 * The recorded answers with LocalStack's normalisations undone: the ARN parts become this
 * project's state machine, execution and Map state label, the dates real Dates. `change` then
 * sets what a run in progress differs in (status, item counts, no stop date): values in the
 * recorded shape, not themselves recorded.
 */
function recorded(
  label: string,
  o: { id: string; start: Date; stop?: Date; status?: string; items?: Partial<SdkItemCounts> },
): { listed: NonNullable<ListMapRunsOutput['mapRuns']>[number]; described: DescribeMapRunOutput } {
  const restore = (text: string) =>
    text
      .replace('arn:<partition>:states:<region>:111111111111:', `arn:aws:states:${REGION}:${ACCOUNT}:`)
      .replace('<ArnPart_0idx>', MACHINE)
      .replace('<ExecArnPart_0idx>', EXECUTION)
      .replace('<MapRunArnPart0_0idx>', label)
      .replace('<MapRunArnPart1_0idx>', o.id);
  const dates = <T extends Record<string, unknown>>(v: T): T => {
    const out: Record<string, unknown> = { ...v, startDate: o.start };
    if (o.stop) out['stopDate'] = o.stop;
    else delete out['stopDate'];
    for (const k of ['executionArn', 'mapRunArn', 'stateMachineArn'])
      if (typeof v[k] === 'string') out[k] = restore(v[k] as string);
    return out as T;
  };
  const list = contract<Recorded<ListMapRunsOutput>>('stepfunctions/list-map-runs.localstack.json').output;
  const d = contract<Recorded<DescribeMapRunOutput>>('stepfunctions/describe-map-run.localstack.json').output;
  return {
    listed: dates(list.mapRuns![0]! as unknown as Record<string, unknown>) as never,
    described: {
      ...dates(d as unknown as Record<string, unknown>),
      ...(o.status ? { status: o.status } : {}),
      itemCounts: { ...d.itemCounts!, ...o.items },
    } as DescribeMapRunOutput,
  };
}

const sfn = mockClient(SFNClient);
const sqs = mockClient(SQSClient);
afterEach(() => {
  sfn.reset();
  sqs.reset();
});

function answer(runs: ReturnType<typeof recorded>[]) {
  sfn.on(ListMapRunsCommand, { executionArn: execArn }).resolves({ mapRuns: runs.map((r) => r.listed) });
  for (const r of runs)
    sfn.on(DescribeMapRunCommand, { mapRunArn: r.listed.mapRunArn }).resolves(r.described);
}

describe('Contracts: ListMapRuns and DescribeMapRun', () => {
  it('name their source (LocalStack snapshot recorded against AWS) and the operation', () => {
    for (const [file, op] of [
      ['stepfunctions/list-map-runs.localstack.json', 'ListMapRuns'],
      ['stepfunctions/describe-map-run.localstack.json', 'DescribeMapRun'],
    ] as const) {
      const c = contract<Recorded<unknown>>(file);
      expect(c.operation, file).toBe(op);
      expect(c.source).toMatchObject({
        recorded: true,
        repository: 'localstack/localstack',
        path: 'tests/aws/services/stepfunctions/v2/test_sfn_api_map_run.snapshot.json',
      });
    }
  });

  it('the mock answers exactly the recorded payloads (normalisations undone) and the adapter reads them', async () => {
    const start = new Date('2026-11-30T12:00:00Z');
    const stop = new Date('2026-11-30T12:03:20Z');
    const r = recorded('ValidateScan', { id: '9d2c5f1e-0b7a-4a57-9c1e-2f6f3f9d7a11', start, stop });
    answer([r]);
    const client = new SFNClient({ region: REGION });
    const listed = await client.send(new ListMapRunsCommand({ executionArn: execArn }));
    expect(listed.mapRuns).toEqual([r.listed]);
    const described = await client.send(new DescribeMapRunCommand({ mapRunArn: r.listed.mapRunArn! }));
    expect(described).toEqual(r.described);
    // Every field AWS recorded is there (nothing added, nothing dropped but ResponseMetadata).
    const raw = contract<Recorded<Record<string, unknown>>>('stepfunctions/describe-map-run.localstack.json');
    expect(Object.keys(described).sort()).toEqual(Object.keys(raw.output).sort());

    const runs = await new StepFunctionsMapRuns(client).mapRuns(execArn);
    expect(runs).toEqual<MapRunInfo[]>([
      {
        mapRunArn: r.listed.mapRunArn!,
        label: 'ValidateScan',
        status: 'SUCCEEDED',
        startDate: start,
        stopDate: stop,
        items: { pending: 0, running: 0, succeeded: 2, failed: 0, timedOut: 0, aborted: 0, total: 2 },
      },
    ]);
    expect(sfn.commandCalls(ListMapRunsCommand)[0]!.args[0].input).toMatchObject({ executionArn: execArn });
  });

  it('the label is the part of the Map Run ARN between the state machine and the id', () => {
    expect(
      mapRunLabel(
        `arn:aws:states:${REGION}:${ACCOUNT}:mapRun:${MACHINE}/ReconcileCompare:0f9e1c2d-1111-2222-3333-444455556666`,
      ),
    ).toBe('ReconcileCompare');
    expect(mapRunLabel('not an arn')).toBe('');
  });
});

describe('Progress of one map', () => {
  const start = new Date('2026-11-30T12:00:00Z');
  const run = (o: Partial<MapRunInfo> = {}): MapRunInfo => ({
    mapRunArn: 'arn',
    label: 'ValidateScan',
    status: 'RUNNING',
    startDate: start,
    items: { pending: 24, running: 3, succeeded: 12, failed: 1, timedOut: 0, aborted: 0, total: 40 },
    ...o,
  });

  it('items succeeded / total, running, failed (failed + timed out + aborted), elapsed, rows/s from the last minute', () => {
    const now = start.getTime() + 130_000;
    const p = mapProgress(
      'scan',
      run({ items: { ...run().items, failed: 1, timedOut: 2, aborted: 1 } }),
      now,
      252_600,
    );
    expect(p).toEqual({
      map: 'scan',
      status: 'RUNNING',
      succeeded: 12,
      total: 40,
      running: 3,
      pending: 24,
      failed: 4,
      fraction: 0.3,
      elapsedSeconds: 130,
      rowsPerSecond: 4210,
    });
  });

  it('no rows/s without data, nor once the map has stopped; elapsed ends at the stop date', () => {
    const now = start.getTime() + 900_000;
    expect(mapProgress('scan', run(), now, undefined).rowsPerSecond).toBeUndefined();
    const done = mapProgress(
      'scan',
      run({ status: 'SUCCEEDED', stopDate: new Date(start.getTime() + 200_000) }),
      now,
      5000,
    );
    expect(done.rowsPerSecond).toBeUndefined();
    expect(done.elapsedSeconds).toBe(200);
  });

  it('a map whose item list is not read yet (total 0) is at 0, not NaN', () => {
    const p = mapProgress(
      'compare',
      run({ items: { ...run().items, succeeded: 0, total: 0 } }),
      start.getTime(),
      undefined,
    );
    expect(p.fraction).toBe(0);
  });
});

describe('Progress of a run', () => {
  const t0 = Date.parse('2026-11-30T12:00:00Z');
  const info = (
    label: string,
    startMs: number,
    status: MapRunInfo['status'],
    succeeded: number,
    total: number,
  ): MapRunInfo => ({
    mapRunArn: `arn:${label}:${startMs}`,
    label,
    status,
    startDate: new Date(startMs),
    ...(status === 'RUNNING' ? {} : { stopDate: new Date(startMs + 60_000) }),
    items: { pending: 0, running: total - succeeded, succeeded, failed: 0, timedOut: 0, aborted: 0, total },
  });
  const execution = { executionArn: execArn, name: EXECUTION };

  it('Scan then Compare, by their labels; maps of other chains are not counted; no report while Compare runs', () => {
    const p = validationProgress(
      'rollout',
      execution,
      [
        info('ValidateCompare', t0 + 120_000, 'RUNNING', 5, 20),
        info('ValidateScan', t0, 'SUCCEEDED', 8, 8),
        info('ReconcileScan', t0, 'RUNNING', 1, 9),
      ],
      { bucket: BUCKET, now: t0 + 180_000, rowsLastMinute: { compare: 60_000 } },
    )!;
    expect(p.run).toBe(`${VALIDATION_CHAINS.rollout.label}/${EXECUTION}`);
    expect(p.maps.map((m) => [m.map, m.status, m.succeeded, m.total])).toEqual([
      ['scan', 'SUCCEEDED', 8, 8],
      ['compare', 'RUNNING', 5, 20],
    ]);
    expect(p.maps[1]!.rowsPerSecond).toBe(1000);
    expect(p.report).toBeUndefined();
    expect(p.rowsRateSource).toBe(ROWS_RATE_SOURCE);
  });

  /** A reconciliation whose two maps have both succeeded, read with the stack's bucket (or none). */
  const finished = (bucket: string | undefined) =>
    validationProgress(
      'reconcile',
      execution,
      [
        info('ReconcileScan', t0, 'SUCCEEDED', 8, 8),
        info('ReconcileCompare', t0 + 60_000, 'SUCCEEDED', 20, 20),
      ],
      { bucket, now: t0 + 600_000, rowsLastMinute: {} },
    )!;

  it('once Compare has succeeded: the report reports/<run>.json in the validation bucket', () => {
    expect(finished(BUCKET).report).toBe(`s3://${BUCKET}/reports/reconcile-${EXECUTION}.json`);
  });

  it('a stack deployed before its ValidationBucketName output: progress without a report link', () => {
    const p = finished(undefined);
    expect(p.maps.map((m) => m.succeeded)).toEqual([8, 20]);
    expect(p.report).toBeUndefined();
  });

  it('a map run again (redriven) counts once: its latest run', () => {
    const p = validationProgress(
      'rollout',
      execution,
      [info('ValidateScan', t0, 'FAILED', 3, 8), info('ValidateScan', t0 + 300_000, 'RUNNING', 6, 8)],
      { bucket: BUCKET, now: t0 + 400_000, rowsLastMinute: {} },
    )!;
    expect(p.maps).toHaveLength(1);
    expect(p.maps[0]).toMatchObject({ status: 'RUNNING', succeeded: 6 });
  });

  it('no validation map started: nothing to show', () => {
    expect(
      validationProgress('rollout', execution, [], { bucket: BUCKET, now: t0, rowsLastMinute: {} }),
    ).toBeUndefined();
  });
});

describe('Rows per second from validation_rows_total', () => {
  it('sums the running map phase over the last complete minute (service and phase dimensions) and divides by 60', async () => {
    const now = Date.parse('2026-11-30T12:03:25Z');
    const start = new Date('2026-11-30T12:00:00Z');
    answer([
      recorded('ValidateScan', {
        id: '11111111-2222-3333-4444-555555555555',
        start,
        status: 'RUNNING',
        items: { succeeded: 12, running: 3, pending: 25, total: 40, resultsWritten: 12 },
      }),
    ]);
    const cw = new FakeCloudWatch();
    const put = (phase: string, value: number, at: string, service = 'customer') =>
      cw.put('Cutover', 'validation_rows_total', { service, phase }, value, Date.parse(at));
    put('scan', 120_000, '2026-11-30T12:02:10Z');
    put('scan', 60_000, '2026-11-30T12:02:50Z');
    put('scan', 999_999, '2026-11-30T12:01:59Z'); // the minute before
    put('scan', 999_999, '2026-11-30T12:03:05Z'); // the minute not complete yet
    put('scan', 999_999, '2026-11-30T12:02:30Z', 'order'); // another service
    put('compare', 999_999, '2026-11-30T12:02:30Z'); // the other map
    const [v] = await serviceValidations(
      {
        mapRuns: new StepFunctionsMapRuns(new SFNClient({ region: REGION })),
        metricQueries: cw,
        now: () => now,
      },
      'customer',
      BUCKET,
      [{ source: 'rollout', execution: { executionArn: execArn, name: EXECUTION, status: 'RUNNING' } }],
    );
    expect(v!.maps).toHaveLength(1);
    expect(v!.maps[0]!.rowsPerSecond).toBe(3000);
    expect(cw.calls.at(-1)!.window).toEqual({
      start: Date.parse('2026-11-30T12:02:00Z'),
      end: Date.parse('2026-11-30T12:03:00Z'),
    });
  });

  it('an execution that is not running is not looked at (no ListMapRuns)', async () => {
    const cw = new FakeCloudWatch();
    const out = await serviceValidations(
      {
        mapRuns: new StepFunctionsMapRuns(new SFNClient({ region: REGION })),
        metricQueries: cw,
        now: Date.now,
      },
      'customer',
      BUCKET,
      [
        { source: 'reconcile', execution: { executionArn: execArn, name: EXECUTION, status: 'SUCCEEDED' } },
        { source: 'rollout' },
      ],
    );
    expect(out).toEqual([]);
    expect(sfn.commandCalls(ListMapRunsCommand)).toHaveLength(0);
  });
});

describe('cutover status with a validation running', () => {
  let now: number;
  let metrics: FakeCloudWatch;
  const start = new Date('2026-11-30T12:00:00Z');
  const running = {
    executionArn: execArn,
    name: EXECUTION,
    status: 'RUNNING' as const,
    startDate: new Date('2026-11-30T11:00:00Z'),
    stateMachineArn: rolloutArn(ENV, 'magento', 'customer'),
  };

  beforeEach(() => {
    now = Date.parse('2026-11-30T12:05:30Z');
    metrics = new FakeCloudWatch();
    sfn
      .on(ListExecutionsCommand, { stateMachineArn: running.stateMachineArn })
      .resolves({ executions: [running] });
    sfn
      .on(ListExecutionsCommand, { stateMachineArn: `${running.stateMachineArn}-validation` })
      .resolves({ executions: [] });
    sfn.on(DescribeExecutionCommand).resolves(running);
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 30,
          type: 'MapStateEntered',
          timestamp: start,
          stateEnteredEventDetails: { name: 'ValidateCompare' },
        },
      ],
    });
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
    });
    answer([
      recorded('ValidateScan', {
        id: 'aaaaaaaa-0000-4000-8000-000000000001',
        start,
        stop: new Date(start.getTime() + 120_000),
        items: { succeeded: 8, total: 8, resultsWritten: 8 },
      }),
      recorded('ValidateCompare', {
        id: 'aaaaaaaa-0000-4000-8000-000000000002',
        start: new Date(start.getTime() + 180_000),
        status: 'RUNNING',
        items: { succeeded: 1500, running: 40, pending: 958, failed: 2, total: 2500, resultsWritten: 1500 },
      }),
    ]);
    metrics.put(
      'Cutover',
      'validation_rows_total',
      { service: 'customer', phase: 'compare' },
      270_000,
      Date.parse('2026-11-30T12:04:30Z'),
    );
  });

  const context = (): CliContext => {
    const all = deployedOutputs(ENV, magento);
    const appconfig = new FakeAppConfig(toFeatureFlagsDocument(magento, initialFlags(magento)), {
      autoComplete: true,
      now: () => now,
    });
    return {
      stacks: { outputs: async (name) => all[name]! },
      executions: new StepFunctionsControl(new SFNClient({ region: REGION })),
      mapRuns: new StepFunctionsMapRuns(new SFNClient({ region: REGION })),
      queues: new SqsQueues(new SQSClient({ region: REGION })),
      metrics: new SignalMetrics(metrics),
      metricQueries: metrics,
      flags: () => appconfig,
      publisher: () => new InMemoryPublisher(),
      conflicts: () => new MemoryOutbox(),
      sync: async () => {
        throw new Error('not in this test');
      },
      captureSource: async () => {
        throw new Error('not in this test');
      },
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    };
  };

  it('--json: each map with items succeeded / total, running, failed, rows/s and where rows/s comes from', async () => {
    const r = await runCli(context, 'status', 'customer', '--env', ENV, '--json');
    expect(r.code).toBe(0);
    const [v] = JSON.parse(r.out).services[0].validations;
    expect(v).toMatchObject({
      source: 'rollout',
      executionArn: execArn,
      run: `rollout/${EXECUTION}`,
      rowsRateSource: ROWS_RATE_SOURCE,
    });
    expect(v.maps).toEqual([
      expect.objectContaining({
        map: 'scan',
        status: 'SUCCEEDED',
        succeeded: 8,
        total: 8,
        elapsedSeconds: 120,
      }),
      expect.objectContaining({
        map: 'compare',
        status: 'RUNNING',
        succeeded: 1500,
        total: 2500,
        running: 40,
        failed: 2,
        rowsPerSecond: 4500,
      }),
    ]);
    expect(v.report).toBeUndefined();
  });

  it('text: a line per map and the rows/s source; the report once Compare has succeeded', async () => {
    let r = await runCli(context, 'status', 'customer', '--env', ENV);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`validation rollout's phase 1 (run rollout/${EXECUTION})`);
    expect(r.out).toMatch(/scan +8 \/ 8 items \(100 %; 0 running, 0 failed\) +succeeded 2 min/);
    expect(r.out).toMatch(
      /compare +1,500 \/ 2,500 items \(60 %; 40 running, 2 failed\) +4,500 rows\/s +running 2 min/,
    );
    expect(r.out).toContain(`rows/s: ${ROWS_RATE_SOURCE}`);
    expect(r.out).not.toContain('report ');

    const compareDone = recorded('ValidateCompare', {
      id: 'aaaaaaaa-0000-4000-8000-000000000002',
      start: new Date(start.getTime() + 180_000),
      stop: new Date(start.getTime() + 300_000),
      items: { succeeded: 2500, total: 2500, resultsWritten: 2500 },
    });
    sfn
      .on(DescribeMapRunCommand, { mapRunArn: compareDone.listed.mapRunArn })
      .resolves(compareDone.described);
    r = await runCli(context, 'status', 'customer', '--env', ENV);
    expect(r.out).toContain(`report   s3://${BUCKET}/reports/rollout-${EXECUTION}.json`);
    expect(r.out).not.toContain('rows/s');
  });

  it('renderStatus shows nothing of validation for a service without one', async () => {
    sfn.on(ListMapRunsCommand, { executionArn: execArn }).resolves({ mapRuns: [] });
    const r = await runCli(context, 'status', 'customer', '--env', ENV, '--json');
    const s = JSON.parse(r.out);
    expect(s.services[0].validations).toEqual([]);
    expect(renderStatus(s, { colour: false, now })).not.toContain('validation');
  });
});
