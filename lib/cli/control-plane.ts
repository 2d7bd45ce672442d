/**
 * The AWS control planes the `cutover` CLI operates through, as ports (what the commands need)
 * with their real adapters on the AWS SDK v3. Tests answer the adapters' calls with recorded
 * responses (aws-sdk-client-mock, test/contracts/); the commands see only the ports.
 *
 * AppConfig (the flags) and CloudWatch (the gate metrics) are not repeated here: the CLI uses the
 * adapters the Lambdas use (lambdas/adapters/appconfig.ts, cloudwatch-metrics.ts).
 */
import {
  CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
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
import { AwsCallError, CliError, EXIT } from './errors.js';

// --- CloudFormation ----------------------------------------------------------------------------

/** A stack's outputs by key. */
export interface StacksPort {
  /** @throws CliError (exit 3) when the stack is not deployed */
  outputs(stackName: string): Promise<Readonly<Record<string, string>>>;
}

export class CloudFormationStacks implements StacksPort {
  constructor(private readonly client: CloudFormationClient = new CloudFormationClient({})) {}

  async outputs(stackName: string): Promise<Readonly<Record<string, string>>> {
    let res: DescribeStacksCommandOutput;
    try {
      res = await this.client.send(new DescribeStacksCommand({ StackName: stackName }));
    } catch (e) {
      // CloudFormation answers an unknown stack with ValidationError "Stack with id … does not exist".
      if ((e as Error).name === 'ValidationError' && /does not exist/.test((e as Error).message)) {
        throw new CliError(
          `stack ${stackName} is not deployed in this account and region (cdk deploy it, or check --env, AWS_REGION and the credentials)`,
          EXIT.aws,
        );
      }
      throw new AwsCallError(`DescribeStacks ${stackName}`, e);
    }
    const stack = res.Stacks?.[0];
    if (!stack) throw new CliError(`stack ${stackName} is not deployed`, EXIT.aws);
    return Object.fromEntries(
      (stack.Outputs ?? []).filter((o) => o.OutputKey).map((o) => [o.OutputKey!, o.OutputValue ?? '']),
    );
  }
}

// --- Step Functions ----------------------------------------------------------------------------

export type ExecutionStatus =
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'PENDING_REDRIVE';

export interface ExecutionInfo {
  readonly executionArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly startDate: Date;
  readonly stopDate?: Date;
  readonly error?: string;
  readonly cause?: string;
}

/** The parts of a history event the CLI reads. */
export interface HistoryEntry {
  readonly id: number;
  readonly type: string;
  readonly timestamp: Date;
  /** The state a `…StateEntered` event enters. */
  readonly stateEntered?: string;
  /** A `TaskScheduled` event's resource type/resource and its parameters (JSON text). */
  readonly task?: {
    readonly resourceType?: string;
    readonly resource?: string;
    readonly parameters?: string;
  };
  /** A `TaskSucceeded`/`TaskFailed`/`TaskTimedOut` event's previous (scheduled) event. */
  readonly previousEventId?: number;
}

export interface ExecutionsPort {
  /** Executions of a state machine, newest first (at most `max`). */
  list(stateMachineArn: string, max: number): Promise<ExecutionInfo[]>;
  describe(executionArn: string): Promise<ExecutionInfo>;
  /** The execution's history, newest first (up to `max` events). */
  history(executionArn: string, max: number): Promise<HistoryEntry[]>;
  start(stateMachineArn: string, name: string, input: string): Promise<string>;
  stop(executionArn: string, error: string, cause: string): Promise<void>;
  sendTaskSuccess(taskToken: string, output: string): Promise<void>;
  sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void>;
}

const call = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
  try {
    return await f();
  } catch (e) {
    throw new AwsCallError(what, e);
  }
};

export class StepFunctionsControl implements ExecutionsPort {
  constructor(private readonly client: SFNClient = new SFNClient({})) {}

  async list(stateMachineArn: string, max: number): Promise<ExecutionInfo[]> {
    const res = await call('ListExecutions', () =>
      this.client.send(new ListExecutionsCommand({ stateMachineArn, maxResults: Math.min(1000, max) })),
    );
    // Step Functions lists the newest first.
    return (res.executions ?? []).map((e) => ({
      executionArn: e.executionArn!,
      name: e.name ?? '',
      status: e.status as ExecutionStatus,
      startDate: e.startDate!,
      ...(e.stopDate ? { stopDate: e.stopDate } : {}),
    }));
  }

  async describe(executionArn: string): Promise<ExecutionInfo> {
    const e = await call('DescribeExecution', () =>
      this.client.send(new DescribeExecutionCommand({ executionArn })),
    );
    return {
      executionArn: e.executionArn!,
      name: e.name ?? '',
      status: e.status as ExecutionStatus,
      startDate: e.startDate!,
      ...(e.stopDate ? { stopDate: e.stopDate } : {}),
      ...(e.error ? { error: e.error } : {}),
      ...(e.cause ? { cause: e.cause } : {}),
    };
  }

  async history(executionArn: string, max: number): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = [];
    let nextToken: string | undefined;
    do {
      const res = await call('GetExecutionHistory', () =>
        this.client.send(
          new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 1000, nextToken }),
        ),
      );
      for (const e of res.events ?? []) out.push(historyEntry(e));
      nextToken = res.nextToken;
    } while (nextToken && out.length < max);
    return out.slice(0, max);
  }

  async start(stateMachineArn: string, name: string, input: string): Promise<string> {
    const res = await call('StartExecution', () =>
      this.client.send(new StartExecutionCommand({ stateMachineArn, name, input })),
    );
    return res.executionArn!;
  }

  async stop(executionArn: string, error: string, cause: string): Promise<void> {
    await call('StopExecution', () =>
      this.client.send(new StopExecutionCommand({ executionArn, error, cause })),
    );
  }

  async sendTaskSuccess(taskToken: string, output: string): Promise<void> {
    await call('SendTaskSuccess', () => this.client.send(new SendTaskSuccessCommand({ taskToken, output })));
  }

  async sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
    await call('SendTaskFailure', () =>
      this.client.send(new SendTaskFailureCommand({ taskToken, error, cause })),
    );
  }
}

function historyEntry(e: HistoryEvent): HistoryEntry {
  const d = e.taskScheduledEventDetails;
  return {
    id: e.id ?? 0,
    type: e.type ?? '',
    timestamp: e.timestamp ?? new Date(0),
    ...(e.previousEventId !== undefined ? { previousEventId: e.previousEventId } : {}),
    ...(e.stateEnteredEventDetails?.name ? { stateEntered: e.stateEnteredEventDetails.name } : {}),
    ...(d ? { task: { resourceType: d.resourceType, resource: d.resource, parameters: d.parameters } } : {}),
  };
}

export type MapRunStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

/** DescribeMapRun's `itemCounts`: the items of a Distributed Map run, by processing status. */
export interface MapRunItemCounts {
  readonly pending: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly timedOut: number;
  readonly aborted: number;
  readonly total: number;
}

/** One Map Run (a Distributed Map state's run inside an execution), as DescribeMapRun answers. */
export interface MapRunInfo {
  readonly mapRunArn: string;
  /**
   * The Map state's label, from the Map Run ARN (`…:mapRun:<state machine>/<label>:<id>`): full
   * validation labels its maps `<chain id>Scan` and `<chain id>Compare`.
   */
  readonly label: string;
  readonly status: MapRunStatus;
  readonly startDate: Date;
  readonly stopDate?: Date;
  readonly items: MapRunItemCounts;
}

/**
 * The Map Runs of an execution (ListMapRuns, then DescribeMapRun of each). A port of its own, not
 * a method of {@link ExecutionsPort}: the rehearsal's local executions have no Distributed Maps.
 */
export interface MapRunsPort {
  /** Every Map Run the execution started, oldest first. */
  mapRuns(executionArn: string): Promise<MapRunInfo[]>;
}

/** The label part of a Map Run ARN (`arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>`). */
export function mapRunLabel(mapRunArn: string): string {
  const m = /:mapRun:[^/]+\/(.+):[^:]+$/.exec(mapRunArn);
  return m?.[1] ?? '';
}

export class StepFunctionsMapRuns implements MapRunsPort {
  constructor(private readonly client: SFNClient = new SFNClient({})) {}

  async mapRuns(executionArn: string): Promise<MapRunInfo[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const res = await call('ListMapRuns', () =>
        this.client.send(new ListMapRunsCommand({ executionArn, maxResults: 100, nextToken })),
      );
      for (const r of res.mapRuns ?? []) if (r.mapRunArn) arns.push(r.mapRunArn);
      nextToken = res.nextToken;
    } while (nextToken);
    const out: MapRunInfo[] = [];
    for (const mapRunArn of arns) {
      const d = await call('DescribeMapRun', () =>
        this.client.send(new DescribeMapRunCommand({ mapRunArn })),
      );
      const i = d.itemCounts;
      out.push({
        mapRunArn,
        label: mapRunLabel(mapRunArn),
        status: d.status as MapRunStatus,
        startDate: d.startDate!,
        ...(d.stopDate ? { stopDate: d.stopDate } : {}),
        items: {
          pending: i?.pending ?? 0,
          running: i?.running ?? 0,
          succeeded: i?.succeeded ?? 0,
          failed: i?.failed ?? 0,
          timedOut: i?.timedOut ?? 0,
          aborted: i?.aborted ?? 0,
          total: i?.total ?? 0,
        },
      });
    }
    return out.sort((a, b) => a.startDate.getTime() - b.startDate.getTime());
  }
}

// --- SQS ------------------------------------------------------------------------------------------

export interface QueueDepth {
  /** ApproximateNumberOfMessages */
  readonly visible: number;
  /** ApproximateNumberOfMessagesNotVisible */
  readonly inFlight: number;
}

export interface QueueMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** String message attributes (EventBridge's DLQ messages carry ERROR_CODE, ERROR_MESSAGE, RULE_ARN, TARGET_ARN). */
  readonly messageAttributes: Readonly<Record<string, string>>;
}

export interface MoveTask {
  readonly status: string;
  readonly moved?: number;
  readonly toMove?: number;
  readonly failureReason?: string;
}

export interface QueuesPort {
  depth(queueUrl: string): Promise<QueueDepth>;
  /** Up to `max` (1–10) messages, hidden for `visibilitySeconds` (0: a peek that leaves them visible). */
  receive(queueUrl: string, max: number, visibilitySeconds: number): Promise<QueueMessage[]>;
  delete(queueUrl: string, receiptHandle: string): Promise<void>;
  /** SQS message move task from a DLQ back to its source queue. @returns the task handle */
  startMoveTask(sourceArn: string): Promise<string>;
  /** The most recent move tasks of a DLQ, newest first. */
  moveTasks(sourceArn: string): Promise<MoveTask[]>;
}

export class SqsQueues implements QueuesPort {
  constructor(private readonly client: SQSClient = new SQSClient({})) {}

  async depth(queueUrl: string): Promise<QueueDepth> {
    const res = await call('GetQueueAttributes', () =>
      this.client.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      ),
    );
    return {
      visible: Number(res.Attributes?.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }

  async receive(queueUrl: string, max: number, visibilitySeconds: number): Promise<QueueMessage[]> {
    const res = await call('ReceiveMessage', () =>
      this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.max(1, Math.min(10, max)),
          VisibilityTimeout: visibilitySeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
          WaitTimeSeconds: 1,
        }),
      ),
    );
    return (res.Messages ?? []).map((m) => ({
      messageId: m.MessageId ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
      attributes: { ...(m.Attributes ?? {}) } as Record<string, string>,
      messageAttributes: Object.fromEntries(
        Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? '']),
      ),
    }));
  }

  async delete(queueUrl: string, receiptHandle: string): Promise<void> {
    await call('DeleteMessage', () =>
      this.client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle })),
    );
  }

  async startMoveTask(sourceArn: string): Promise<string> {
    // No DestinationArn: SQS moves the messages back to the queue(s) they came from.
    const res = await call('StartMessageMoveTask', () =>
      this.client.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn })),
    );
    return res.TaskHandle ?? '';
  }

  async moveTasks(sourceArn: string): Promise<MoveTask[]> {
    const res = await call('ListMessageMoveTasks', () =>
      this.client.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 })),
    );
    return (res.Results ?? []).map((r) => ({
      status: r.Status ?? '',
      ...(r.ApproximateNumberOfMessagesMoved !== undefined
        ? { moved: r.ApproximateNumberOfMessagesMoved }
        : {}),
      ...(r.ApproximateNumberOfMessagesToMove !== undefined
        ? { toMove: r.ApproximateNumberOfMessagesToMove }
        : {}),
      ...(r.FailureReason ? { failureReason: r.FailureReason } : {}),
    }));
  }
}
