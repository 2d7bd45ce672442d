/**
 * Template tests of the L3 constructs, each in a small stack of its own (bundling skipped).
 */
import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { initialFlags, toFeatureFlagsDocument } from '../../lambdas/domain/flags.js';
import { AlarmRollback } from '../../lib/constructs/alarm-rollback.js';
import { CutoverFunction, ESM_REQUIRE_BANNER } from '../../lib/constructs/cutover-function.js';
import { LegacyDatabaseAccess } from '../../lib/constructs/legacy-database-access.js';
import { MigrationDashboard } from '../../lib/constructs/migration-dashboard.js';
import { MigrationFlags } from '../../lib/constructs/migration-flags.js';
import { MigrationTables } from '../../lib/constructs/migration-tables.js';
import { PlatformBus } from '../../lib/constructs/platform-bus.js';
import { ServiceChangeCapture } from '../../lib/constructs/service-change-capture.js';
import { ServiceMonitors } from '../../lib/constructs/service-monitors.js';
import { SyncChannel } from '../../lib/constructs/sync-channel.js';
import { METRIC, METRICS_NAMESPACE } from '../../lib/spec/metrics.js';
import { rollbackAlarmName, rollbackAlarmPrefix, serviceDlqNames } from '../../lib/spec/names.js';
import { captureDeadLetterVariable, RUNTIME_ENV } from '../../lib/spec/runtime.js';
import { physicalTableName, serviceTables, syncTables } from '../../lib/spec/tables.js';
import { magento, menu } from '../../migrations/index.js';

function stack(): Stack {
  // Schema validation runs in the app test; here it would only add seconds per template.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}

function fn(s: Stack, id = 'Fn', timeout = Duration.seconds(30)): CutoverFunction {
  return new CutoverFunction(s, id, {
    handler: 'forward-sync',
    serviceName: 'customer',
    spec: magento,
    stage: 'dev',
    timeout,
  });
}

const catalog = magento.services[1]!;
const customer = magento.services[0]!;

describe('Construct: CutoverFunction', () => {
  it('fixes the runtime defaults: latest Node.js on arm64, ESM bundle, tracing, JSON logs with retention', () => {
    const s = stack();
    const f = fn(s);
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'customer',
          POWERTOOLS_METRICS_NAMESPACE: 'Cutover',
          [RUNTIME_ENV.migration]: 'magento',
          [RUNTIME_ENV.stage]: 'dev',
        }),
      },
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
    // No managed policies: logs are granted on the function's own log group only.
    t.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('FnLogs'), 'Arn'] },
          }),
        ]),
      },
    });
    expect(f.runtime.name).toBe(lambda.Runtime.NODEJS_24_X.name);
    expect(ESM_REQUIRE_BANNER).toContain('createRequire(import.meta.url)');
  });

  it('rejects unknown handlers and VPC settings without a VPC', () => {
    const s = stack();
    expect(
      () =>
        new CutoverFunction(s, 'X', {
          handler: 'no-such-handler',
          serviceName: 'x',
          spec: magento,
          stage: 'dev',
        }),
    ).toThrow('no handler lambdas/handlers/no-such-handler.ts');
    expect(
      () =>
        new CutoverFunction(s, 'Y', {
          handler: 'forward-sync',
          serviceName: 'x',
          spec: magento,
          stage: 'dev',
          vpcSubnets: { subnetGroupName: 'app' },
        }),
    ).toThrow('vpcSubnets needs vpc');
  });
});

describe('Construct: PlatformBus', () => {
  it('creates the bus, an archive with retention, an account-only policy and a target DLQ', () => {
    const s = stack();
    new PlatformBus(s, 'Bus', { busName: 'cutover-dev', archiveRetention: Duration.days(30) });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::Events::EventBus', { Name: 'cutover-dev' });
    t.hasResourceProperties('AWS::Events::Archive', {
      RetentionDays: 30,
      EventPattern: { account: ['111111111111'] },
    });
    t.hasResourceProperties('AWS::Events::EventBusPolicy', {
      Statement: Match.objectLike({
        Action: 'events:PutEvents',
        Principal: { AWS: { 'Fn::Join': ['', Match.arrayWith([':iam::111111111111:root'])] } },
      }),
    });
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'cutover-dev-targets-dlq',
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
  });

  it('rejects conflicting archive settings', () => {
    expect(
      () =>
        new PlatformBus(stack(), 'Bus', {
          busName: 'b',
          disableArchive: true,
          archiveRetention: Duration.days(1),
        }),
    ).toThrow('conflicts');
    expect(
      () => new PlatformBus(stack(), 'Bus', { busName: 'b', archiveRetention: Duration.hours(2) }),
    ).toThrow('at least one day');
  });
});

describe('Construct: SyncChannel', () => {
  function channel(
    props: Partial<ConstructorParameters<typeof SyncChannel>[2]> = {},
    timeout = Duration.seconds(30),
  ) {
    const s = stack();
    const bus = new events.EventBus(s, 'Bus');
    const handler = fn(s, 'Fn', timeout);
    const c = new SyncChannel(s, 'Channel', {
      bus,
      direction: 'reverse',
      service: 'catalog',
      source: 'cutover.service',
      detailTypes: ['product.updated', 'stock.updated'],
      handler,
      consistency: 'eventual',
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(5),
      maxReceiveCount: 5,
      maxConcurrency: 2,
      queueName: 'q-reverse',
      alarmNamePrefix: 'ops-catalog-reverse',
      ...props,
    });
    return { s, c, t: Template.fromStack(s) };
  }

  it('routes the detail types to an encrypted, TLS-only queue with a DLQ and 6x visibility', () => {
    const { t } = channel();
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['cutover.service'], 'detail-type': ['product.updated', 'stock.updated'] },
      Targets: [
        Match.objectLike({
          DeadLetterConfig: Match.objectLike({ Arn: Match.anyValue() }),
          RetryPolicy: Match.anyValue(),
        }),
      ],
    });
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'q-reverse',
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 180,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'q-reverse-dlq',
      MessageRetentionPeriod: 1_209_600,
    });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('lets its function send a record the contract rejects to the DLQ directly: the DLQ URL in its environment, sqs:SendMessage on it', () => {
    const { s, c, t } = channel();
    const dlqId = s.getLogicalId(c.deadLetterQueue.node.defaultChild as CfnElement);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [RUNTIME_ENV.deadLetterQueueUrl]: { Ref: dlqId } }) },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['sqs:SendMessage']),
            Resource: { 'Fn::GetAtt': [dlqId, 'Arn'] },
          }),
        ]),
      },
    });
  });

  it('consumes with partial batch responses, the batching window and the concurrency cap', () => {
    const { t } = channel();
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('gives strong channels no batching window', () => {
    const { t } = channel({
      direction: 'forward',
      consistency: 'strong',
      maxBatchingWindow: undefined,
      maxConcurrency: undefined,
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MaximumBatchingWindowInSeconds: Match.absent(),
      ScalingConfig: Match.absent(),
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'ops-catalog-reverse-oldest-message',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 60,
    });
  });

  it('alarms on any message in the DLQ', () => {
    const { t, c } = channel();
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'ops-catalog-reverse-dlq-depth',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(c.metricEventsProcessed('failed').dimensions).toEqual({
      service: 'catalog',
      direction: 'reverse',
      status: 'failed',
    });
    expect(c.metricConsistencyLag('strong').metricName).toBe('data_consistency_lag_seconds');
  });

  it('alarms on a service value the legacy database cannot store (reverse channel only)', () => {
    const { t, c } = channel();
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'ops-catalog-reverse-unstorable-values',
      Namespace: 'Cutover',
      MetricName: 'unstorable_value_total',
      Dimensions: [{ Name: 'service', Value: 'catalog' }],
      Statistic: 'Sum',
      Period: 60,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(c.unstorableValuesAlarm).toBeDefined();
    const forward = channel({
      direction: 'forward',
      consistency: 'strong',
      maxBatchingWindow: undefined,
      maxConcurrency: undefined,
      alarmNamePrefix: 'ops-catalog-forward',
    });
    expect(forward.c.unstorableValuesAlarm).toBeUndefined();
    forward.t.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { MetricName: 'unstorable_value_total' },
      0,
    );
  });

  it('rejects conflicting props', () => {
    expect(() => channel({ consistency: 'strong' })).toThrow('strong channel cannot have a batching window');
    expect(() => channel({ visibilityTimeout: Duration.seconds(100) })).toThrow(
      'below 6x the function timeout',
    );
    expect(() => channel({ maxConcurrency: undefined })).toThrow('needs maxConcurrency');
    expect(() => channel({ maxConcurrency: 1 })).toThrow('2..1000');
    expect(() => channel({ batchSize: 100, maxBatchingWindow: undefined, consistency: 'strong' })).toThrow(
      'batchSize > 10 needs a batching window',
    );
    expect(() => channel({ detailTypes: [] })).toThrow('detailTypes is empty');
  });
});

describe('Construct: ServiceChangeCapture', () => {
  it('lets the enrichment keep an untranslatable record in the DLQ (its URL in the environment, sqs:SendMessage) and alarms on the DLQ', () => {
    const s = stack();
    const table = new dynamodb.Table(s, 'Table', {
      partitionKey: { name: 'customerId', type: dynamodb.AttributeType.STRING },
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    });
    const enrichment = fn(s, 'CaptureFn');
    const c = new ServiceChangeCapture(s, 'Capture', {
      table,
      entity: customer.entities[0]!,
      serviceName: 'customer',
      bus: new events.EventBus(s, 'Bus'),
      enrichment,
      deadLetterAlarmName: 'ops-customer-capture-dlq',
    });
    const t = Template.fromStack(s);
    const dlqId = s.getLogicalId(c.deadLetterQueue.node.defaultChild as CfnElement);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ [captureDeadLetterVariable('customer')]: { Ref: dlqId } }),
      },
    });
    expect(captureDeadLetterVariable('customer')).toBe('CUTOVER_CAPTURE_DLQ_URL_CUSTOMER');
    const enrichmentRole = s.getLogicalId(enrichment.role!.node.defaultChild as CfnElement);
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: enrichmentRole }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['sqs:SendMessage']),
            Resource: { 'Fn::GetAtt': [dlqId, 'Arn'] },
          }),
        ]),
      },
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'ops-customer-capture-dlq',
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('pipes the table stream through the enrichment onto the bus, with a DLQ on the source', () => {
    const s = stack();
    const table = new dynamodb.Table(s, 'Table', {
      partitionKey: { name: 'customerId', type: dynamodb.AttributeType.STRING },
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    });
    const bus = new events.EventBus(s, 'Bus');
    const enrichment = fn(s, 'CaptureFn');
    new ServiceChangeCapture(s, 'Capture', {
      table,
      entity: customer.entities[0]!,
      serviceName: 'customer',
      bus,
      enrichment,
    });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::Pipes::Pipe', {
      Source: { 'Fn::GetAtt': [Match.stringLikeRegexp('Table'), 'StreamArn'] },
      Enrichment: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CaptureFn'), 'Arn'] },
      SourceParameters: {
        DynamoDBStreamParameters: Match.objectLike({
          StartingPosition: 'LATEST',
          OnPartialBatchItemFailure: 'AUTOMATIC_BISECT',
          DeadLetterConfig: { Arn: Match.anyValue() },
        }),
      },
      TargetParameters: {
        EventBridgeEventBusParameters: { DetailType: '$.detail-type', Source: '$.source' },
        InputTemplate: '<$.detail>',
      },
    });
    // The pipe role reads this stream, invokes this function and puts on this bus only.
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('Table'), 'StreamArn'] },
          }),
          Match.objectLike({
            Action: 'lambda:InvokeFunction',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CaptureFn'), 'Arn'] },
          }),
        ]),
      },
    });
  });

  it('alarms on a service write that did not bump the version (the metric the enrichment counts)', () => {
    const s = stack();
    const table = new dynamodb.Table(s, 'Table', {
      partitionKey: { name: 'customerId', type: dynamodb.AttributeType.STRING },
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    });
    new ServiceChangeCapture(s, 'Capture', {
      table,
      entity: customer.entities[0]!,
      serviceName: 'customer',
      bus: new events.EventBus(s, 'Bus'),
      enrichment: fn(s, 'CaptureFn'),
      contractAlarmName: 'cutover-test-magento-customer-customer-version-contract',
    });
    Template.fromStack(s).hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'cutover-test-magento-customer-customer-version-contract',
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.serviceContractViolation,
      Dimensions: Match.arrayEquals([
        { Name: 'entity', Value: 'customer' },
        { Name: 'service', Value: 'customer' },
      ]),
      Statistic: 'Sum',
      Period: 60,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('rejects a table without a stream', () => {
    const s = stack();
    const table = dynamodb.Table.fromTableName(s, 'T', 'existing');
    expect(
      () =>
        new ServiceChangeCapture(s, 'Capture', {
          table,
          entity: customer.entities[0]!,
          serviceName: 'customer',
          bus: new events.EventBus(s, 'Bus'),
          enrichment: fn(s),
        }),
    ).toThrow('has no stream');
  });
});

describe('Construct: MigrationTables', () => {
  it('creates exactly the tables of lib/spec/tables.ts, encrypted with PITR, streams on service tables', () => {
    const s = stack();
    new MigrationTables(s, 'Tables', { spec: magento, stage: 'dev' });
    const t = Template.fromStack(s);
    const defs = [...serviceTables(magento), ...syncTables()];
    t.resourceCountIs('AWS::DynamoDB::Table', defs.length);
    for (const def of defs) {
      t.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: physicalTableName('dev', magento, def),
        KeySchema: [{ AttributeName: def.partitionKey.name, KeyType: 'HASH' }],
        AttributeDefinitions: [
          { AttributeName: def.partitionKey.name, AttributeType: def.partitionKey.type },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        StreamSpecification: def.stream ? { StreamViewType: 'NEW_AND_OLD_IMAGES' } : Match.absent(),
        TimeToLiveSpecification: def.ttlAttribute
          ? { AttributeName: def.ttlAttribute, Enabled: true }
          : Match.absent(),
        DeletionProtectionEnabled: false,
      });
    }
  });

  it('protects the data in prod and imports tables named by the spec', () => {
    const s = stack();
    const spec = {
      ...menu,
      services: [
        {
          ...menu.services[0]!,
          entities: [
            {
              ...menu.services[0]!.entities[0]!,
              target: { ...menu.services[0]!.entities[0]!.target, tableName: 'menu-items' },
            },
          ],
        },
      ],
    };
    const tables = new MigrationTables(s, 'Tables', { spec, stage: 'prod', protect: true });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::DynamoDB::Table', 2);
    t.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
    expect(s.resolve(tables.serviceTable('menu_item').tableName)).toBe('menu-items');
    expect(() => tables.serviceTable('nope')).toThrow('no table for entity');
  });
});

describe('Construct: MigrationFlags', () => {
  function flags(monitorCount = 3, extend?: (s: Stack, f: MigrationFlags) => void) {
    const s = stack();
    const monitors = Array.from({ length: monitorCount }, (_, i) =>
      cloudwatch.Alarm.fromAlarmArn(s, `A${i}`, `arn:aws:cloudwatch:eu-west-1:111111111111:alarm:m${i}`),
    );
    const validator = fn(s, 'Validator');
    const f = new MigrationFlags(s, 'Flags', { spec: magento, stage: 'staging', monitors, validator });
    extend?.(s, f);
    return { s, f, t: Template.fromStack(s) };
  }

  it('generates the FeatureFlags profile and its initial version from the spec', () => {
    const { t } = flags();
    t.hasResourceProperties('AWS::AppConfig::ConfigurationProfile', {
      Type: 'AWS.AppConfig.FeatureFlags',
      LocationUri: 'hosted',
      Validators: [{ Type: 'LAMBDA', Content: Match.anyValue() }],
    });
    const versions = t.findResources('AWS::AppConfig::HostedConfigurationVersion');
    const [version] = Object.values(versions);
    expect(version!['DeletionPolicy']).toBe('Retain');
    const content = JSON.parse(version!['Properties'].Content);
    expect(content).toEqual(toFeatureFlagsDocument(magento, initialFlags(magento)));
    expect(content.flags.catalog_read.attributes.percentage.constraints).toMatchObject({
      minimum: 0,
      maximum: 100,
    });
    expect(content.flags.catalog_write.attributes.mode.constraints.enum).toEqual([
      'legacy',
      'shadow',
      'primary',
    ]);
    t.hasResourceProperties('AWS::Lambda::Permission', { Principal: 'appconfig.amazonaws.com' });
  });

  it('has a gradual strategy with bake time and an all-at-once zero-bake rollback strategy', () => {
    const { t } = flags();
    t.hasResourceProperties('AWS::AppConfig::DeploymentStrategy', {
      Name: 'cutover-staging-magento-gradual',
      DeploymentDurationInMinutes: 2,
      FinalBakeTimeInMinutes: 10,
      GrowthType: 'LINEAR',
    });
    t.hasResourceProperties('AWS::AppConfig::DeploymentStrategy', {
      Name: 'cutover-staging-magento-rollback',
      DeploymentDurationInMinutes: 0,
      FinalBakeTimeInMinutes: 0,
      GrowthFactor: 100,
    });
    t.hasResourceProperties('AWS::AppConfig::Deployment', {
      DeploymentStrategyId: { Ref: Match.stringLikeRegexp('RollbackStrategy') },
    });
  });

  it('monitors the alarms with a role that may describe exactly those alarms', () => {
    const { t } = flags();
    t.hasResourceProperties('AWS::AppConfig::Environment', {
      Name: 'staging',
      Monitors: Match.arrayWith([
        { AlarmArn: 'arn:aws:cloudwatch:eu-west-1:111111111111:alarm:m0', AlarmRoleArn: Match.anyValue() },
      ]),
    });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'appconfig.amazonaws.com' } })],
      },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'cloudwatch:DescribeAlarms',
            Effect: 'Allow',
            Resource: [0, 1, 2].map((i) => `arn:aws:cloudwatch:eu-west-1:111111111111:alarm:m${i}`),
          },
        ],
      },
    });
  });

  it('exposes the ids as RUNTIME_ENV and grants deployments on this environment only', () => {
    const { s, f, t } = flags(3, (st, fl) => fl.grantDeploy(fn(st, 'Deployer')));
    const env = s.resolve(f.runtimeEnvironment());
    expect(Object.keys(env).sort()).toEqual(
      [
        RUNTIME_ENV.appConfigApplicationId,
        RUNTIME_ENV.appConfigEnvironmentId,
        RUNTIME_ENV.appConfigProfileId,
        RUNTIME_ENV.rolloutStrategyId,
        RUNTIME_ENV.rollbackStrategyId,
      ].sort(),
    );
    const statements = t.toJSON().Resources;
    const policy = Object.entries(
      statements as Record<
        string,
        {
          Type: string;
          Properties: { Roles?: unknown[]; PolicyDocument: { Statement: { Action: string | string[] }[] } };
        }
      >,
    )
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
      .map(([, r]) => r.Properties.PolicyDocument.Statement.flatMap((st) => st.Action))
      .find((actions) => actions.includes('appconfig:StartDeployment'));
    expect(policy).toEqual(
      expect.arrayContaining([
        'appconfig:CreateHostedConfigurationVersion',
        'appconfig:StopDeployment',
        'appconfig:GetDeployment',
      ]),
    );
  });

  it('rejects more monitors than AppConfig allows', () => {
    expect(() => flags(6)).toThrow('AppConfig allows 5');
  });
});

describe('Construct: ServiceMonitors', () => {
  it('combines error rate, p95, lag per consistency class and DLQ depth into the rollback alarm', () => {
    const s = stack();
    const m = new ServiceMonitors(s, 'Monitors', {
      stage: 'prod',
      migration: 'magento',
      service: catalog,
      thresholds: magento.alarms,
      dlqNames: serviceDlqNames('prod', magento, catalog),
    });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', {
      AlarmName: rollbackAlarmName('prod', 'magento', 'catalog'),
    });
    expect(
      rollbackAlarmName('prod', 'magento', 'catalog').startsWith(rollbackAlarmPrefix('prod', 'magento')),
    ).toBe(true);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'cutover-prod-magento-monitor-catalog-lag-strong',
      MetricName: 'data_consistency_lag_seconds',
      Namespace: 'Cutover',
      Dimensions: Match.arrayWith([{ Name: 'consistency_type', Value: 'strong' }]),
      Threshold: 5,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'cutover-prod-magento-monitor-catalog-lag-eventual',
      Threshold: 300,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'cutover-prod-magento-monitor-catalog-latency-p95',
      MetricName: 'gateway_latency_ms',
      ExtendedStatistic: 'p95',
      Threshold: magento.alarms.p95WarningMs,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'cutover-prod-magento-monitor-catalog-error-rate',
      Threshold: magento.alarms.errorRateCritical,
      Metrics: Match.arrayWith([
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ MetricName: 'gateway_requests_total' }),
          }),
        }),
      ]),
    });
    const dlq = t.findResources('AWS::CloudWatch::Alarm', {
      Properties: { AlarmName: 'cutover-prod-magento-monitor-catalog-dlq-depth' },
    });
    const metrics = Object.values(dlq)[0]!['Properties'].Metrics as {
      MetricStat?: { Metric: { Dimensions: { Value: string }[] } };
    }[];
    expect(metrics.flatMap((x) => x.MetricStat?.Metric.Dimensions.map((d) => d.Value) ?? []).sort()).toEqual(
      serviceDlqNames('prod', magento, catalog).sort(),
    );
    expect(Object.keys(m.consistencyLagAlarms).sort()).toEqual(['eventual', 'strong']);
  });

  it('rejects an empty DLQ list', () => {
    expect(
      () =>
        new ServiceMonitors(stack(), 'M', {
          stage: 'dev',
          migration: 'magento',
          service: customer,
          thresholds: magento.alarms,
          dlqNames: [],
        }),
    ).toThrow('between 1 and 10 DLQ names');
  });
});

describe('Construct: AlarmRollback', () => {
  it("sends ALARM transitions of the migration's rollback alarms (default bus) to the rollback function", () => {
    const s = stack();
    const flags = new MigrationFlags(s, 'Flags', { spec: magento, stage: 'prod' });
    const bus = new events.EventBus(s, 'Bus', { eventBusName: 'cutover-prod' });
    new AlarmRollback(s, 'Rollback', {
      spec: magento,
      stage: 'prod',
      flags,
      bus,
      alarmNamePrefix: rollbackAlarmPrefix('prod', 'magento'),
    });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: Match.absent(),
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { alarmName: [{ prefix: 'cutover-prod-magento-rollback-' }], state: { value: ['ALARM'] } },
      },
      Targets: [
        Match.objectLike({
          DeadLetterConfig: { Arn: Match.anyValue() },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 },
        }),
      ],
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      DeadLetterConfig: { TargetArn: Match.anyValue() },
      Environment: {
        Variables: Match.objectLike({
          [RUNTIME_ENV.rollbackStrategyId]: { Ref: Match.stringLikeRegexp('RollbackStrategy') },
          [RUNTIME_ENV.busName]: Match.anyValue(),
        }),
      },
    });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2 });
  });

  it('rejects an empty alarm prefix (it would match every alarm of the account)', () => {
    const s = stack();
    const flags = new MigrationFlags(s, 'Flags', { spec: menu, stage: 'dev' });
    expect(
      () =>
        new AlarmRollback(s, 'R', {
          spec: menu,
          stage: 'dev',
          flags,
          bus: new events.EventBus(s, 'B'),
          alarmNamePrefix: '',
        }),
    ).toThrow('alarmNamePrefix');
  });
});

describe('Construct: LegacyDatabaseAccess', () => {
  it('creates a VPC with flow logs for dev and reads the magento-db-creds secret', () => {
    const s = stack();
    const db = new LegacyDatabaseAccess(s, 'Db', {
      migration: 'magento',
      secretName: 'magento-db-creds',
      createVpc: true,
    });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::EC2::VPC', 1);
    t.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Cutover functions that reach the magento legacy database',
    });
    expect(s.resolve(db.runtimeEnvironment())[RUNTIME_ENV.legacySecretArn]).toEqual(
      expect.objectContaining({ 'Fn::Join': expect.anything() }),
    );
  });

  it('uses the network named by the spec and the RDS Proxy endpoint', () => {
    const s = stack();
    const db = new LegacyDatabaseAccess(s, 'Db', {
      migration: 'magento',
      secretName: 'magento-db-creds',
      rdsProxyEndpoint: 'proxy.example',
      network: {
        vpcId: 'vpc-0a1b2c3d4e5f60000',
        subnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'],
        securityGroupIds: ['sg-0a1b2c3d4e5f60003'],
      },
    });
    const f = new CutoverFunction(s, 'Fn', {
      handler: 'reverse-sync',
      serviceName: 'customer',
      spec: magento,
      stage: 'prod',
      ...db.functionNetwork(),
    });
    db.grantConnect(f);
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::EC2::VPC', 0);
    t.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: {
        SubnetIds: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'],
        SecurityGroupIds: ['sg-0a1b2c3d4e5f60003'],
      },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: Match.objectLike({
              'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':secret:magento-db-creds-[?]{6}$')])],
            }),
          }),
        ]),
      },
    });
    expect(db.runtimeEnvironment()[RUNTIME_ENV.legacyEndpoint]).toBe('proxy.example');
  });

  it("grants kms:Decrypt on the secret's own key (through Secrets Manager only), and none without one", () => {
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const policies = (secretKeyArn?: string) => {
      const s = stack();
      const db = new LegacyDatabaseAccess(s, 'Db', {
        migration: 'magento',
        secretName: 'magento-db-creds',
        createVpc: true,
        ...(secretKeyArn ? { secretKeyArn } : {}),
      });
      const f = new CutoverFunction(s, 'Fn', {
        handler: 'reverse-sync',
        serviceName: 'customer',
        spec: magento,
        stage: 'prod',
        ...db.functionNetwork(),
      });
      db.grantConnect(f);
      return Template.fromStack(s);
    };
    policies(key).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'kms:Decrypt',
            Resource: key,
            Condition: {
              StringEquals: {
                'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com',
              },
            },
          }),
        ]),
      },
    });
    const without = JSON.stringify(policies().findResources('AWS::IAM::Policy'));
    expect(without).toContain('secretsmanager:GetSecretValue');
    expect(without).not.toContain('kms:Decrypt');
  });

  it('requires exactly one of network and createVpc', () => {
    expect(() => new LegacyDatabaseAccess(stack(), 'Db', { migration: 'shop', secretName: 's' })).toThrow(
      'Migration "shop": the legacy database network is not named',
    );
    expect(
      () =>
        new LegacyDatabaseAccess(stack(), 'Db', {
          migration: 'shop',
          secretName: 's',
          createVpc: true,
          network: { vpcId: 'vpc-1', subnetIds: ['subnet-1'], securityGroupIds: ['sg-1'] },
        }),
    ).toThrow('Migration "shop": give the legacy database either a network or createVpc, not both');
  });
});

describe('Construct: MigrationDashboard', () => {
  it('shows the seed metrics, DLQ depth, gateway traffic and rollbacks of every service', () => {
    const s = stack();
    const alarm = cloudwatch.Alarm.fromAlarmArn(s, 'A', 'arn:aws:cloudwatch:eu-west-1:111111111111:alarm:x');
    new MigrationDashboard(s, 'Dash', {
      spec: magento,
      stage: 'dev',
      dlqNames: Object.fromEntries(magento.services.map((x) => [x.name, serviceDlqNames('dev', magento, x)])),
      rollbackAlarms: [alarm],
      rollbackLogGroup: logs.LogGroup.fromLogGroupName(s, 'L', '/aws/lambda/rollback'),
    });
    const body = JSON.stringify(s.resolve(Template.fromStack(s).toJSON().Resources));
    for (const name of [
      'event_processing_total',
      'data_consistency_lag_seconds',
      'conflict_resolution_total',
      'gateway_requests_total',
      'gateway_latency_ms',
      'rollback_duration_seconds',
      'rollout_gate_total',
      'ApproximateNumberOfMessagesVisible',
      'cutover-dev-magento-order-reverse-dlq',
      '/aws/lambda/rollback',
      'filter message = ',
    ]) {
      expect(body).toContain(name);
    }
  });
});
