/**
 * `cutover` with the operator commands on stand-ins (no AWS), for driving `status --watch` in a
 * pseudo-terminal (test/unit/cli-watch.test.ts): stack outputs as the stacks write them, Step
 * Functions and SQS through the real adapters answered by aws-sdk-client-mock, AppConfig and
 * CloudWatch by the fakes. Run: `tsx test/support/cli-watch-fixture.ts status customer --watch`.
 */
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { reportError } from '../../bin/cutover.js';
import { SignalMetrics } from '../../lambdas/adapters/cloudwatch-metrics.js';
import { initialFlags, toFeatureFlagsDocument } from '../../lambdas/domain/flags.js';
import { SqsQueues, StepFunctionsControl, StepFunctionsMapRuns } from '../../lib/cli/control-plane.js';
import { registerOperatorCommands } from '../../lib/cli/operator-commands.js';
import { magento } from '../../migrations/index.js';
import { deployedOutputs, REGION, rolloutArn } from './cli.js';
import { FakeAppConfig } from './fake-appconfig.js';
import { FakeCloudWatch } from './fake-cloudwatch.js';
import { InMemoryPublisher } from './in-memory-publisher.js';
import { MemoryOutbox } from './memory-stores.js';

const env = 'staging';
const outputs = deployedOutputs(env, magento);
const started = new Date(Date.now() - 3_600_000);
const execution = {
  executionArn: `${rolloutArn(env, 'magento', 'customer').replace(':stateMachine:', ':execution:')}:customer-1`,
  name: 'customer-1',
  status: 'RUNNING' as const,
  startDate: started,
  stateMachineArn: rolloutArn(env, 'magento', 'customer'),
};
const sfn = mockClient(SFNClient);
sfn.on(ListExecutionsCommand).resolves({ executions: [execution] });
sfn.on(DescribeExecutionCommand).resolves(execution);
// No Distributed Map has run yet (ListMapRuns' answer for an execution without one).
sfn.on(ListMapRunsCommand).resolves({ mapRuns: [] });
sfn.on(GetExecutionHistoryCommand).resolves({
  events: [
    {
      id: 30,
      type: 'WaitStateEntered',
      timestamp: new Date(Date.now() - 600_000),
      stateEnteredEventDetails: { name: 'Canary25Bake' },
    },
  ],
});
// Each refresh reads a deeper DLQ: the redraws differ.
let depth = 0;
const sqs = mockClient(SQSClient);
sqs.on(GetQueueAttributesCommand).callsFake(async () => ({
  Attributes: { ApproximateNumberOfMessages: String(depth++), ApproximateNumberOfMessagesNotVisible: '0' },
}));
const appconfig = new FakeAppConfig(toFeatureFlagsDocument(magento, initialFlags(magento)), {
  autoComplete: true,
});

const program = new Command('cutover').exitOverride();
registerOperatorCommands(
  program,
  (t) => process.stdout.write(`${t}\n`),
  () => ({
    stacks: { outputs: async (name) => outputs[name]! },
    executions: new StepFunctionsControl(new SFNClient({ region: REGION })),
    mapRuns: new StepFunctionsMapRuns(new SFNClient({ region: REGION })),
    queues: new SqsQueues(new SQSClient({ region: REGION })),
    metrics: new SignalMetrics(new FakeCloudWatch()),
    metricQueries: new FakeCloudWatch(),
    flags: () => appconfig,
    publisher: () => new InMemoryPublisher(),
    conflicts: () => new MemoryOutbox(),
    sync: async () => {
      throw new Error('not in the fixture');
    },
    captureSource: async () => {
      throw new Error('not in the fixture');
    },
    now: Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  }),
);
program.parseAsync(process.argv).catch((e: unknown) => {
  process.exitCode = reportError(e);
});
