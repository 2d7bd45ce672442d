/**
 * The operator commands end to end through commander, on a test context: stack outputs built
 * with the stacks' own names (lib/spec/names.ts, outputs.ts), Step Functions and SQS answered by
 * aws-sdk-client-mock through the real adapters, AppConfig by the recorded-contract fake
 * (test/support/fake-appconfig.ts), CloudWatch by the fake metrics port.
 */
import { PassThrough } from 'node:stream';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListMapRunsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignalMetrics } from '../../lambdas/adapters/cloudwatch-metrics.js';
import {
  initialFlags,
  serviceFlagsOf,
  toFeatureFlagsDocument,
  withServiceFlags,
} from '../../lambdas/domain/flags.js';
import { maskPii } from '../../lambdas/domain/masking.js';
import type { StoredConflict } from '../../lambdas/domain/ports.js';
import { ROLLBACK_EVENT } from '../../lambdas/domain/rollback.js';
import { type CaptureSourcePort, StreamPositionGoneError } from '../../lib/cli/capture-redrive.js';
import { conflictView, parseKeep } from '../../lib/cli/conflict-ops.js';
import { SqsQueues, StepFunctionsControl, StepFunctionsMapRuns } from '../../lib/cli/control-plane.js';
import type { CliContext } from '../../lib/cli/operator-commands.js';
import { positionOf } from '../../lib/cli/rollout-ops.js';
import { renderStatus, watchStatus } from '../../lib/cli/status-view.js';
import { dlqName, serviceQueueNames } from '../../lib/spec/names.js';
import { magento } from '../../migrations/index.js';
import { ACCOUNT, deployedOutputs, REGION, rolloutArn, runCli } from '../support/cli.js';
import { contract } from '../support/contracts.js';
import { FakeAppConfig } from '../support/fake-appconfig.js';
import { FakeCloudWatch } from '../support/fake-cloudwatch.js';
import { InMemoryPublisher } from '../support/in-memory-publisher.js';
import { MemoryOutbox } from '../support/memory-stores.js';

const ENV = 'staging';
const customer = magento.services.find((s) => s.name === 'customer')!;
const smArn = (service: string) => rolloutArn(ENV, 'magento', service);
const execArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:cutover-${ENV}-magento-customer-rollout:customer-1`;

const sfn = mockClient(SFNClient);
const sqs = mockClient(SQSClient);
let appconfig: FakeAppConfig;
let bus: InMemoryPublisher;
let metrics: FakeCloudWatch;
let now: number;
/** The capture DLQ's stream and table: its ranges have expired (the real adapter runs in test/integration). */
const captureSource: CaptureSourcePort = {
  records: async (p) => {
    throw new StreamPositionGoneError(`TrimmedDataAccessException: shard ${p.shardId} can no longer be read`);
  },
  currentItem: async () => undefined,
};

beforeEach(() => {
  now = Date.parse('2026-11-30T12:10:00Z');
  appconfig = new FakeAppConfig(toFeatureFlagsDocument(magento, initialFlags(magento)), {
    autoComplete: true,
    now: () => now,
  });
  bus = new InMemoryPublisher();
  metrics = new FakeCloudWatch();
  // No Distributed Map has run in these executions.
  sfn.on(ListMapRunsCommand).resolves({ mapRuns: [] });
});
afterEach(() => {
  sfn.reset();
  sqs.reset();
});

function context(): CliContext {
  const all = deployedOutputs(ENV, magento);
  return {
    stacks: { outputs: async (name) => all[name]! },
    executions: new StepFunctionsControl(new SFNClient({ region: REGION })),
    mapRuns: new StepFunctionsMapRuns(new SFNClient({ region: REGION })),
    queues: new SqsQueues(new SQSClient({ region: REGION })),
    metrics: new SignalMetrics(metrics),
    metricQueries: metrics,
    flags: () => appconfig,
    publisher: () => bus,
    conflicts: () => new MemoryOutbox(),
    sync: async () => {
      throw new Error('not in this test');
    },
    captureSource: async () => captureSource,
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
}

const run = (...args: string[]) => runCli(context, ...args);

const running = {
  executionArn: execArn,
  name: 'customer-1',
  status: 'RUNNING' as const,
  startDate: new Date('2026-11-30T10:15:00Z'),
  stateMachineArn: smArn('customer'),
};
const history = () =>
  contract<{ output: { events: Array<Record<string, unknown> & { timestamp: string }> } }>(
    'stepfunctions/get-execution-history.shape.json',
  ).output.events.map((e) => ({ ...e, timestamp: new Date(e.timestamp) }) as unknown as HistoryEvent);

describe('cutover approve / reject', () => {
  beforeEach(() => {
    sfn.on(ListExecutionsCommand, { stateMachineArn: smArn('customer') }).resolves({ executions: [running] });
    sfn.on(DescribeExecutionCommand).resolves(running);
    sfn.on(GetExecutionHistoryCommand).resolves({ events: history() });
  });

  it('approve sends the pending task token with who approved; the token is not printed', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const r = await run('approve', 'customer', '--env', ENV, '--by', 'jane', '--json');
    expect(r.code).toBe(0);
    const sent = sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input;
    expect(sent.taskToken).toBe('AQCEAAAAKgAAAAMAAAAAAAAAAQ-example-token');
    expect(JSON.parse(sent.output!)).toMatchObject({ approved: true, by: 'jane' });
    expect(JSON.parse(r.out)).toMatchObject({ step: 'cutover-writes', answer: 'approve', by: 'jane' });
    expect(r.out).not.toContain('example-token');
  });

  it('reject sends task failure with who and why (the rollout then rolls back)', async () => {
    sfn.on(SendTaskFailureCommand).resolves({});
    const r = await run('reject', 'customer', '--env', ENV, '--by', 'jane', '--reason', 'sale weekend');
    expect(r.code).toBe(0);
    const sent = sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
    expect(sent).toMatchObject({ taskToken: 'AQCEAAAAKgAAAAMAAAAAAAAAAQ-example-token', error: 'Rejected' });
    expect(sent.cause).toContain('rejected by jane');
    expect(sent.cause).toContain('sale weekend');
  });

  it('with nothing pending: exit 1 and a message, nothing sent', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: history().slice(3) });
    const r = await run('approve', 'customer', '--env', ENV, '--by', 'jane');
    expect(r.code).toBe(1);
    expect(r.err).toContain('not waiting for an approval');
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });
});

describe('cutover rollout', () => {
  it('wait: exit 0 once the execution waits for the decommission approval (cut over)', async () => {
    sfn.on(ListExecutionsCommand).resolves({ executions: [running] });
    sfn.on(DescribeExecutionCommand).resolves(running);
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: history() })
      .resolves({
        events: [
          {
            id: 60,
            type: 'TaskStateEntered',
            timestamp: new Date(),
            stateEnteredEventDetails: { name: 'ApproveDecommission' },
          },
        ],
      });
    const r = await run('rollout', 'wait', 'customer', '--env', ENV, '--poll', '30s', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ outcome: 'cut-over', state: 'ApproveDecommission' });
    // Not a terminal: progress as plain lines on stderr, one per change, no control characters.
    const lines = r.err.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.every((l) => l.startsWith('customer: '))).toBe(true);
    expect(new Set(lines).size).toBe(lines.length);
    expect(r.err.includes('\r') || r.err.includes('\u001b')).toBe(false);
  });

  it('wait: exit 1 with the cause when the rollout failed', async () => {
    const failed = {
      ...running,
      status: 'FAILED' as const,
      stopDate: new Date(),
      error: 'GateFailedError',
      cause: 'gate "canary-25" failed: error rate 0.4 % (must be below 0.1 %)',
    };
    sfn.on(ListExecutionsCommand).resolves({ executions: [failed] });
    sfn.on(DescribeExecutionCommand).resolves(failed);
    const r = await run('rollout', 'wait', 'customer', '--env', ENV);
    expect(r.code).toBe(1);
    expect(r.out).toContain('gate "canary-25" failed: error rate 0.4 %');
  });

  it('wait: exit 4 when the timeout passes with the rollout still running', async () => {
    sfn.on(ListExecutionsCommand).resolves({ executions: [running] });
    sfn.on(DescribeExecutionCommand).resolves(running);
    sfn.on(GetExecutionHistoryCommand).resolves({ events: history() });
    const r = await run('rollout', 'wait', 'customer', '--env', ENV, '--timeout', '2m', '--poll', '30s');
    expect(r.code).toBe(4);
  });

  it('start refuses while a rollout runs; starts one otherwise', async () => {
    sfn.on(ListExecutionsCommand).resolves({ executions: [running] });
    sfn.on(DescribeExecutionCommand).resolves(running);
    expect((await run('rollout', 'start', 'customer', '--env', ENV, '--by', 'jane')).code).toBe(1);
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: execArn, startDate: new Date() });
    const r = await run('rollout', 'start', 'customer', '--env', ENV, '--by', 'jane');
    expect(r.code).toBe(0);
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toMatchObject({
      stateMachineArn: smArn('customer'),
    });
  });

  it('abort stops the execution and restores the last safe flags with the zero-bake rollback strategy', async () => {
    const canary = {
      read: { enabled: true, percentage: 25 },
      write: { enabled: true, mode: 'shadow' as const },
    };
    const shadow = {
      read: { enabled: true, percentage: 0 },
      write: { enabled: true, mode: 'shadow' as const },
    };
    for (const f of [shadow, canary]) {
      await appconfig.startDeployment(
        await appconfig.createVersion(withServiceFlags(appconfig.deployed(), 'customer', f)),
        'gradual',
      );
    }
    sfn.on(ListExecutionsCommand).resolves({ executions: [running] });
    sfn.on(DescribeExecutionCommand).resolves(running);
    sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    const r = await run(
      'rollout',
      'abort',
      'customer',
      '--env',
      ENV,
      '--by',
      'jane',
      '--reason',
      'checkout errors',
    );
    expect(r.code).toBe(0);
    expect(sfn.commandCalls(StopExecutionCommand)[0]!.args[0].input).toMatchObject({
      executionArn: execArn,
      error: 'Aborted',
    });
    expect(serviceFlagsOf(appconfig.deployed(), 'customer')).toEqual(shadow);
    expect(appconfig.deployments.at(-1)!.strategy).toBe('rollback');
    expect(bus.published.map((e) => e.DetailType)).toEqual([ROLLBACK_EVENT.detailType]);
  });
});

describe('cutover flags', () => {
  it('set goes through the constraints: out of range or unknown mode is refused by field, nothing deployed', async () => {
    const before = appconfig.deployments.length;
    const a = await run('flags', 'set', 'customer', '--env', ENV, '--read', '150', '--by', 'jane');
    expect(a.code).toBe(2);
    expect(a.err).toContain('read.percentage');
    const b = await run('flags', 'set', 'customer', '--env', ENV, '--write', 'primry', '--by', 'jane');
    expect(b.code).toBe(2);
    expect(b.err).toContain('--write primry: one of legacy, shadow, primary');
    expect(appconfig.deployments.length).toBe(before);
  });

  it('set deploys with the gradual strategy, only this service changes; get reads it back', async () => {
    const r = await run(
      'flags',
      'set',
      'customer',
      '--env',
      ENV,
      '--read',
      '10',
      '--write',
      'shadow',
      '--by',
      'jane',
    );
    expect(r.code).toBe(0);
    expect(appconfig.deployments.at(-1)!.strategy).toBe('gradual');
    expect(serviceFlagsOf(appconfig.deployed(), 'customer')).toEqual({
      read: { enabled: true, percentage: 10 },
      write: { enabled: true, mode: 'shadow' },
    });
    expect(serviceFlagsOf(appconfig.deployed(), 'catalog')).toEqual(initialFlags(magento)['catalog']);
    const g = await run('flags', 'get', 'customer', '--env', ENV, '--json');
    expect(JSON.parse(g.out).flags).toEqual({
      read: { enabled: true, percentage: 10 },
      write: { enabled: true, mode: 'shadow' },
    });
  });
});

describe('cutover dlq', () => {
  const forwardDlq = dlqName(serviceQueueNames(ENV, magento, customer).forward);
  const targetsDlq = dlqName(serviceQueueNames(ENV, magento, customer).targets);

  it('redrive of a source queue DLQ: SQS move task from the DLQ, depth before and after', async () => {
    sqs
      .on(GetQueueAttributesCommand)
      .resolvesOnce({
        Attributes: { ApproximateNumberOfMessages: '7', ApproximateNumberOfMessagesNotVisible: '0' },
      })
      .resolves({
        Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
      });
    const started = contract<{ output: Record<string, string> }>('sqs/start-message-move-task.json').output;
    sqs.on(StartMessageMoveTaskCommand).resolves(started);
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [
        { Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 7, ApproximateNumberOfMessagesToMove: 0 },
      ],
    });
    const r = await run('dlq', 'redrive', forwardDlq, '--env', ENV, '--migration', 'magento', '--json');
    expect(r.code).toBe(0);
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]!.args[0].input).toEqual({
      SourceArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${forwardDlq}`,
    });
    expect(JSON.parse(r.out)).toMatchObject({
      method: 'sqs-move-task',
      before: 7,
      after: 0,
      redriven: 7,
      taskHandle: started['TaskHandle'],
    });
  });

  it("redrive of a rule target's DLQ re-publishes the bus's events and deletes only those; a schedule's event stays; never a move task", async () => {
    sqs
      .on(GetQueueAttributesCommand)
      .resolvesOnce({ Attributes: { ApproximateNumberOfMessages: '2' } })
      .resolves({ Attributes: { ApproximateNumberOfMessages: '1' } });
    const event = {
      version: '0',
      id: 'e1',
      'detail-type': 'customer.updated',
      source: 'cutover.service',
      account: ACCOUNT,
      time: '2026-11-30T12:00:00Z',
      region: REGION,
      resources: [],
      detail: { entity: 'customer', key: '42' },
    };
    const scheduled = {
      ...event,
      id: 'e2',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      detail: {},
    };
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          {
            MessageId: 'm1',
            ReceiptHandle: 'r1',
            Body: JSON.stringify(event),
            MessageAttributes: { ERROR_CODE: { DataType: 'String', StringValue: 'SQSError' } },
          },
          { MessageId: 'm2', ReceiptHandle: 'r2', Body: JSON.stringify(scheduled) },
        ],
      })
      .resolves({ Messages: [] });
    sqs.on(DeleteMessageCommand).resolves({});
    const r = await run('dlq', 'redrive', targetsDlq, '--env', ENV, '--migration', 'magento', '--json');
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)).toHaveLength(0);
    expect(bus.published).toEqual([
      { Source: 'cutover.service', DetailType: 'customer.updated', Detail: JSON.stringify(event.detail) },
    ]);
    expect(sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle)).toEqual(['r1']);
    expect(JSON.parse(r.out)).toMatchObject({
      method: 'republish',
      before: 2,
      after: 1,
      redriven: 1,
      left: 1,
    });
    expect(r.code).toBe(1); // a message is left
  });

  it('a capture DLQ whose stream range expired: the message stays, with the reconciliation to run; an unknown queue names the DLQs', async () => {
    const capture = dlqName(serviceQueueNames(ENV, magento, customer).capture['customer']!);
    const message = contract<{ pipesMessage: unknown }>('pipes/dlq-dynamodb-stream.json').pipesMessage;
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '1' } });
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{ MessageId: 'm1', ReceiptHandle: 'r1', Body: JSON.stringify(message) }] })
      .resolves({ Messages: [] });
    const r = await run('dlq', 'redrive', capture, '--env', ENV, '--migration', 'magento');
    expect(r.code).toBe(1);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(bus.published).toEqual([]);
    expect(r.out).toContain('(capture-dlq, recapture): 1 before, 1 after; 0 redriven, 1 left');
    expect(r.out).toContain('shardId-00000001573689847184-864758bb can no longer be read');
    expect(r.out).toContain('run the reconciliation with repair for customer');
    // Progress, plain (not a terminal).
    expect(r.err).toContain(`${capture}: 1/1 read, 0 redriven, 1 left`);
    const u = await run('dlq', 'peek', 'nope', '--env', ENV, '--migration', 'magento');
    expect(u.code).toBe(2);
    expect(u.err).toContain(forwardDlq);
  });

  it('peek leaves messages visible and masks personal data in the preview', async () => {
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [
        {
          MessageId: 'm1',
          ReceiptHandle: 'r1',
          Body: '{"email":"jane.doe@example.com"}',
          Attributes: { ApproximateReceiveCount: '5' },
        },
      ],
    });
    const r = await run('dlq', 'peek', forwardDlq, '--env', ENV, '--migration', 'magento', '--json');
    expect(sqs.commandCalls(ReceiveMessageCommand)[0]!.args[0].input.VisibilityTimeout).toBe(0);
    expect(r.out).not.toContain('jane.doe@example.com');
    expect(JSON.parse(r.out)[0]).toMatchObject({ messageId: 'm1', receiveCount: 5 });
  });
});

describe('cutover status', () => {
  it('--watch: q during the wait between redraws ends the watch at once, not after the interval', async () => {
    const stdin = new PassThrough() as unknown as NodeJS.ReadStream;
    const written: string[] = [];
    const stdout = {
      isTTY: false,
      write: (t: string) => {
        written.push(t);
        // The first redraw is out: the watch now waits a minute, until a key wakes it.
        setImmediate(() => stdin.emit('data', Buffer.from('q')));
        return true;
      },
    } as unknown as NodeJS.WriteStream;
    let collected = 0;
    const started = performance.now();
    await watchStatus(
      async () => {
        collected++;
        throw new Error('no stack yet');
      },
      { intervalMs: 60_000, stdin, stdout },
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(collected).toBe(1);
    expect(written[0]).toContain('cutover status: no stack yet (retrying)');
  });

  it('shows the gate being baked with measured values against thresholds and the time left; no colour off a TTY', async () => {
    const bakeEntered = new Date('2026-11-30T12:00:00Z');
    sfn.on(ListExecutionsCommand).resolves({ executions: [running] });
    sfn.on(DescribeExecutionCommand).resolves(running);
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 30,
          type: 'WaitStateEntered',
          timestamp: bakeEntered,
          stateEnteredEventDetails: { name: 'Canary25Bake' },
        },
      ],
    });
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' },
    });
    const t = bakeEntered.getTime() + 60_000;
    metrics.put(
      'Cutover',
      'gateway_requests_total',
      { service: 'customer', target: 'service', outcome: 'success' },
      998,
      t,
    );
    metrics.put(
      'Cutover',
      'gateway_requests_total',
      { service: 'customer', target: 'service', outcome: 'error' },
      2,
      t,
    );
    const r = await run('status', 'customer', '--env', ENV, '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out).services[0];
    const bake = (customer.rollout.canaryBakeMinutes ?? customer.rollout.bakeMinutes) * 60;
    expect(s.position).toMatchObject({ phase: 'switch-reads', step: 'Canary25', baking: 'bake' });
    expect(s.gate).toMatchObject({
      gate: 'canary-25',
      bakeSeconds: bake,
      elapsedSeconds: 600,
      leftSeconds: bake - 600,
    });
    const errorRate = s.gate.checks.find((c: { check: string }) => c.check === 'errorRate');
    expect(errorRate).toMatchObject({
      measured: 0.002,
      threshold: customer.rollout.gates.maxErrorRate,
      outcome: errorRate.measured < customer.rollout.gates.maxErrorRate ? 'pass' : 'fail',
    });
    const text = renderStatus(JSON.parse(r.out), { colour: false, now });
    expect(text).not.toContain('\u001b[');
    expect(text).toContain('gate     canary-25');
    expect(renderStatus(JSON.parse(r.out), { colour: true, now })).toContain('\u001b[');
  });

  it('maps state names to steps, the longest step id first (Canary100 is not Canary10)', () => {
    const at = (name: string) =>
      positionOf(customer, [{ id: 1, type: 'WaitStateEntered', timestamp: new Date(0), stateEntered: name }]);
    expect(at('Canary100Bake')).toMatchObject({ phase: 'switch-reads', baking: 'bake' });
    expect(at('Canary100Bake').step!.id).toBe('Canary100');
    expect(at('Canary10ExtendBake').step!.id).toBe('Canary10');
    expect(at('ApproveCutover')).toMatchObject({ phase: 'cutover-writes', approval: 'cutover-writes' });
    expect(at('BackfillPlan').phase).toBe('read-only-sync');
    expect(at('RolledBack').phase).toBe('rolling-back');
  });
});

describe('cutover conflicts: what a person sees', () => {
  const stored = (field: string, legacy: string, service: string): StoredConflict => ({
    conflictId: 'c1',
    entity: 'customer',
    key: '42',
    field,
    legacy: { value: legacy },
    service: { value: service },
    eventId: 'e1',
    parkedAt: '2026-11-30T12:00:00Z',
    status: 'open',
  });

  it('withholds personal fields (pii in the spec) unless --reveal; other values pass the masking function', () => {
    const pii = conflictView(magento, stored('email', 'jane@example.com', 'j.doe@example.com'), false);
    expect(pii).toMatchObject({ personal: true });
    expect(JSON.stringify(pii)).not.toContain('example.com');
    expect(conflictView(magento, stored('email', 'jane@example.com', 'x@example.com'), true).legacy).toBe(
      '"jane@example.com"',
    );
    // A non-personal field whose value happens to hold an address is still masked.
    const other = conflictView(magento, stored('group', 'jane@example.com', '2'), false);
    expect(other.legacy).toBe(maskPii(JSON.stringify('jane@example.com')));
    expect(other.legacy).not.toContain('jane@');
  });

  it('--keep parses legacy, service and value=<v> (JSON when it parses)', () => {
    expect(parseKeep('legacy')).toEqual({ choice: 'legacy' });
    expect(parseKeep('value=23.75')).toEqual({ choice: 'value', value: 23.75 });
    expect(parseKeep('value=gold')).toEqual({ choice: 'value', value: 'gold' });
    expect(() => parseKeep('mine')).toThrow('--keep mine: one of legacy, service, value=<value>');
  });
});
