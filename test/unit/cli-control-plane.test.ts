/**
 * The CLI's AWS adapters (lib/cli/control-plane.ts) against recorded AWS responses
 * (test/contracts/cloudformation, sqs, stepfunctions; see test/contracts/stepfunctions/README.md):
 * the SDK clients are answered by aws-sdk-client-mock with exactly those payloads, and the
 * requests the adapters send are checked against the recorded requests.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import {
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudFormationStacks, SqsQueues, StepFunctionsControl } from '../../lib/cli/control-plane.js';
import { CliError } from '../../lib/cli/errors.js';
import { pendingApprovalIn } from '../../lib/cli/rollout-ops.js';
import { contract } from '../support/contracts.js';

interface Recorded {
  source: Record<string, unknown>;
  operation: string;
  input: Record<string, unknown>;
  output: any;
}

const cfn = mockClient(CloudFormationClient);
const sqs = mockClient(SQSClient);
const sfn = mockClient(SFNClient);
afterEach(() => {
  cfn.reset();
  sqs.reset();
  sfn.reset();
});

describe('Contracts: the recorded responses', () => {
  it('each names its source and the operation it answers', () => {
    for (const file of [
      'cloudformation/describe-stacks.json',
      'sqs/start-message-move-task.json',
      'sqs/list-message-move-tasks.json',
      'sqs/receive-message.json',
      'stepfunctions/get-execution-history.shape.json',
      'stepfunctions/get-execution-history.callback.localstack.json',
    ]) {
      const c = contract<Recorded>(file);
      expect(c.source, file).toBeTruthy();
      expect(JSON.stringify(c.source), file).toMatch(/aws-cli|docs\.aws\.amazon\.com|localstack/);
      expect(c.operation, file).toMatch(/^[A-Z][A-Za-z]+$/);
    }
  });

  it('the mocks answer exactly those payloads', async () => {
    const d = contract<Recorded>('cloudformation/describe-stacks.json');
    cfn.on(DescribeStacksCommand).resolves(d.output);
    const client = new CloudFormationClient({ region: 'us-west-2' });
    expect(await client.send(new DescribeStacksCommand(d.input as never))).toEqual(d.output);
    const m = contract<Recorded>('sqs/start-message-move-task.json');
    sqs.on(StartMessageMoveTaskCommand).resolves(m.output);
    expect(
      await new SQSClient({ region: 'us-west-2' }).send(new StartMessageMoveTaskCommand(m.input as never)),
    ).toEqual(m.output);
  });
});

describe('Adapter: CloudFormationStacks', () => {
  it('reads the outputs of the recorded DescribeStacks answer, by key', async () => {
    const d = contract<Recorded>('cloudformation/describe-stacks.json');
    cfn.on(DescribeStacksCommand, d.input).resolves(d.output);
    const outputs = await new CloudFormationStacks(new CloudFormationClient({ region: 'us-west-2' })).outputs(
      'myteststack',
    );
    expect(outputs).toEqual({ BucketName: 'myteststack-s3bucket-jssofi1zie2w' });
    expect(cfn.commandCalls(DescribeStacksCommand)[0]!.args[0].input).toEqual(d.input);
  });

  it('a stack that is not deployed is an AWS error (exit 3) naming the stack, not a stack trace', async () => {
    const e = Object.assign(new Error('Stack with id cutover-qa-platform does not exist'), {
      name: 'ValidationError',
    });
    cfn.on(DescribeStacksCommand).rejects(e);
    const err = await new CloudFormationStacks(new CloudFormationClient({ region: 'eu-west-1' }))
      .outputs('cutover-qa-platform')
      .catch((x: unknown) => x);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(3);
    expect((err as CliError).message).toContain('stack cutover-qa-platform is not deployed');
  });
});

describe('Adapter: SqsQueues', () => {
  it('starts a move task with the DLQ as the source and no destination (back to the source queue)', async () => {
    const m = contract<Recorded>('sqs/start-message-move-task.json');
    sqs.on(StartMessageMoveTaskCommand).resolves(m.output);
    const handle = await new SqsQueues(new SQSClient({ region: 'us-west-2' })).startMoveTask(
      m.input['SourceArn'] as string,
    );
    expect(handle).toBe(m.output.TaskHandle);
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]!.args[0].input).toEqual(m.input);
  });

  it('reads move tasks newest first with their counts', async () => {
    const m = contract<Recorded>('sqs/list-message-move-tasks.json');
    sqs.on(ListMessageMoveTasksCommand).resolves(m.output);
    const tasks = await new SqsQueues(new SQSClient({ region: 'us-west-2' })).moveTasks(
      m.input['SourceArn'] as string,
    );
    expect(tasks).toEqual([
      { status: 'RUNNING', moved: 203, toMove: 30 },
      { status: 'COMPLETED', moved: 29, toMove: 0 },
    ]);
  });

  it('maps a received message: body, system attributes, string message attributes', async () => {
    const m = contract<Recorded>('sqs/receive-message.json');
    sqs.on(ReceiveMessageCommand).resolves(m.output);
    const [msg] = await new SqsQueues(new SQSClient({ region: 'us-east-1' })).receive(
      m.input['QueueUrl'] as string,
      10,
      0,
    );
    const rec = m.output.Messages[0];
    expect(msg).toEqual({
      messageId: rec.MessageId,
      receiptHandle: rec.ReceiptHandle,
      body: rec.Body,
      attributes: rec.Attributes,
      messageAttributes: { PostalCode: 'ABC123', City: 'Any City' },
    });
    const sent = sqs.commandCalls(ReceiveMessageCommand)[0]!.args[0].input;
    expect(sent).toMatchObject({
      QueueUrl: m.input['QueueUrl'],
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
    });
  });
});

describe('Adapter: StepFunctionsControl history and the pending approval', () => {
  it('reads the history newest first and finds the task token of the waiting approval', async () => {
    const h = contract<Recorded>('stepfunctions/get-execution-history.shape.json');
    const events = h.output.events.map((e: { timestamp: string }) => ({
      ...e,
      timestamp: new Date(e.timestamp),
    }));
    sfn.on(GetExecutionHistoryCommand).resolves({ events });
    const arn = h.input['executionArn'] as string;
    const history = await new StepFunctionsControl(new SFNClient({ region: 'eu-west-1' })).history(arn, 100);
    expect(sfn.commandCalls(GetExecutionHistoryCommand)[0]!.args[0].input).toMatchObject({
      executionArn: arn,
      reverseOrder: true,
    });
    const pending = pendingApprovalIn(arn, history);
    expect(pending).toMatchObject({
      step: 'cutover-writes',
      taskToken: 'AQCEAAAAKgAAAAMAAAAAAAAAAQ-example-token',
    });
    expect(pending!.expiresAt!.toISOString()).toBe(
      new Date(Date.parse('2026-11-30T12:00:05.050Z') + 259200_000).toISOString(),
    );
    // Once the task has an outcome, nothing is pending.
    const answered = [
      { id: 42, type: 'TaskSucceeded', timestamp: new Date(), previousEventId: 41 },
      ...history,
    ];
    expect(pendingApprovalIn(arn, answered)).toBeUndefined();
  });
});

/**
 * The recorded history (LocalStack's snapshot of a real `.waitForTaskToken` execution), with its
 * two snapshot normalisations undone as AWS sends them: a timestamp per event, and the JSON-text
 * fields (`input`, `parameters`, `output`) as text.
 */
function recordedHistory(): HistoryEvent[] {
  const h = contract<Recorded>('stepfunctions/get-execution-history.callback.localstack.json');
  const t0 = Date.parse('2023-06-25T14:30:20Z');
  const asText = (details: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(details).map(([k, v]) =>
        ['input', 'parameters', 'output'].includes(k) && typeof v !== 'string'
          ? [k, JSON.stringify(v)]
          : [k, v],
      ),
    );
  return h.output.events.map((e: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(e).map(([k, v]) => {
        if (k === 'timestamp') return [k, new Date(t0 + (e['id'] as number) * 100)];
        if (k.endsWith('EventDetails')) return [k, asText(v as Record<string, unknown>)];
        return [k, v];
      }),
    ),
  ) as HistoryEvent[];
}

describe('Adapter: StepFunctionsControl on the recorded callback history', () => {
  it('maps every recorded event: id, type, previous event, state entered, task resource', async () => {
    const recorded = recordedHistory();
    // reverseOrder=true: AWS answers newest first.
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [...recorded].reverse() });
    const history = await new StepFunctionsControl(new SFNClient({ region: 'eu-west-1' })).history(
      'arn:x',
      100,
    );
    expect(history.map((e) => [e.id, e.type, e.previousEventId])).toEqual([
      [8, 'ExecutionSucceeded', 7],
      [7, 'TaskStateExited', 6],
      [6, 'TaskSucceeded', 5],
      [5, 'TaskSubmitted', 4],
      [4, 'TaskStarted', 3],
      [3, 'TaskScheduled', 2],
      [2, 'TaskStateEntered', 0],
      [1, 'ExecutionStarted', 0],
    ]);
    expect(history.find((e) => e.id === 2)!.stateEntered).toBe('SendMessageWithWait');
    const scheduled = history.find((e) => e.id === 3)!;
    expect(scheduled.task).toMatchObject({ resourceType: 'sqs', resource: 'sendMessage.waitForTaskToken' });
    expect(JSON.parse(scheduled.task!.parameters!).MessageBody.TaskToken).toBe('<<task_token>:1>');
  });

  it("the project's history shape carries the recorded detail fields of each event type", () => {
    const recorded = recordedHistory();
    const shape = contract<Recorded>('stepfunctions/get-execution-history.shape.json').output.events as Array<
      Record<string, Record<string, unknown>>
    >;
    const details = (e: Record<string, unknown>) => Object.keys(e).filter((k) => k.endsWith('EventDetails'));
    for (const s of shape) {
      const r = recorded.find((x) => details(x as never)[0] === details(s)[0]) as never as Record<
        string,
        Record<string, unknown>
      >;
      expect(r, details(s)[0]).toBeTruthy();
      const key = details(s)[0]!;
      // The shape may add optional fields (timeoutInSeconds), never rename or drop a recorded one.
      for (const field of Object.keys(r[key]!))
        expect(Object.keys(s[key]!), `${key}.${field}`).toContain(field);
    }
  });

  it('an approval answered after its TaskSubmitted (as AWS records a .waitForTaskToken task) is no longer pending', () => {
    // The recorded chain: TaskScheduled(3) ← TaskStarted(4) ← TaskSubmitted(5) ← TaskSucceeded(6).
    // Only the scheduled task's details are this project's (the approval Lambda and its payload).
    const ours = contract<Recorded>('stepfunctions/get-execution-history.shape.json').output.events.find(
      (e: { type: string }) => e.type === 'TaskScheduled',
    ).taskScheduledEventDetails;
    const toEntry = (e: HistoryEvent) => ({
      id: e.id!,
      type: e.type!,
      timestamp: e.timestamp!,
      previousEventId: e.previousEventId!,
      ...(e.type === 'TaskScheduled'
        ? { task: { resourceType: ours.resourceType, resource: ours.resource, parameters: ours.parameters } }
        : {}),
    });
    const newestFirst = recordedHistory().map(toEntry).reverse();
    const waiting = newestFirst.filter((e) => e.id <= 5);
    expect(pendingApprovalIn('arn:x', waiting)).toMatchObject({ step: 'cutover-writes' });
    expect(pendingApprovalIn('arn:x', newestFirst)).toBeUndefined();
  });
});

describe('AWS errors', () => {
  it('a missing region says what to set (exit 3)', async () => {
    cfn.on(DescribeStacksCommand).rejects(new Error('Region is missing'));
    const err = await new CloudFormationStacks(new CloudFormationClient({ region: 'eu-west-1' }))
      .outputs('cutover-dev-platform')
      .catch((x: unknown) => x);
    expect((err as CliError).exitCode).toBe(3);
    expect((err as CliError).message).toBe(
      'DescribeStacks cutover-dev-platform: Error: Region is missing (set AWS_REGION or a profile with a region)',
    );
  });
});
