import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { serviceDetailType } from '../../lambdas/domain/events.js';
import { METRIC } from '../spec/metrics.js';
import { captureDeadLetterVariable } from '../spec/runtime.js';
import type { EntitySpec } from '../spec/schema.js';
import { cutoverMetric } from './metrics.js';
import { deadLetterQueue, dlqNotEmptyAlarm, metricDlqDepth } from './queues.js';

export interface ServiceChangeCaptureProps {
  /** The service table (its stream must be on, NEW_AND_OLD_IMAGES). */
  readonly table: dynamodb.ITable;
  /** The entity the table holds: its key, fields and `updatedAt` attribute shape the event. */
  readonly entity: EntitySpec;
  /** The migration service the entity belongs to (the `service` dimension of its metrics). */
  readonly serviceName: string;
  readonly bus: events.IEventBus;
  /**
   * The enrichment that turns stream records into contract events
   * (`lambdas/handlers/service-capture.ts`): it returns `[{ 'detail-type', source, detail }]`
   * and drops writes made by the sync (echo suppression by version). The function must have
   * the table in its `CUTOVER_SERVICE_TABLES`.
   */
  readonly enrichment: lambda.IFunction;
  /** Stream records per batch. @default 10 */
  readonly batchSize?: number;
  /** Retries of a failing batch before its records go to the DLQ. @default 10 */
  readonly maximumRetryAttempts?: number;
  /** Physical name of the DLQ. @default - generated */
  readonly deadLetterQueueName?: string;
  /** Pipe name. @default - generated */
  readonly pipeName?: string;
  /** Name of the version-contract alarm. @default - generated */
  readonly contractAlarmName?: string;
  /** Name of the DLQ alarm. @default - generated */
  readonly deadLetterAlarmName?: string;
}

/**
 * Service-side change capture: the service table's stream -> an EventBridge Pipe -> the bus as
 * `<entity>.updated` in the contract. A committed service write therefore always reaches the
 * reverse sync, even if the service dies before publishing (the seed's write-then-publish gap).
 *
 * The pipe's enrichment Lambda maps each record to the contract (changed fields only, counters
 * as deltas, REMOVE as `delete`) and drops the sync's own writes. That check compares the
 * item's `version` with the `_syncedVersion` the sync stored, which an EventBridge filter cannot
 * do: a filter on `_writer` alone would also drop a genuine service write made after a sync
 * write (the service does not clear `_writer`). So the pipe has no filter and the enrichment
 * decides. The target maps the enrichment's `detail-type`, `source` and `detail` onto the bus.
 */
export class ServiceChangeCapture extends Construct {
  readonly pipe: pipes.CfnPipe;
  readonly role: iam.Role;
  /**
   * Records the pipe could not deliver after its retries, and records the enrichment could not
   * translate into the contract (sent there by the enrichment with their reason as message
   * attributes, `CUTOVER_CAPTURE_DLQ_URL_<ENTITY>`).
   */
  readonly deadLetterQueue: sqs.Queue;
  /**
   * ALARM as soon as the DLQ holds a record: a committed service change has not reached the
   * legacy side and waits for a person.
   */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /**
   * ALARM when a service write did not bump the item's version (the enrichment counts it as
   * `service_contract_violation_total`): the change was published anyway, but the service breaks
   * the contract the forward sync's compare-and-set relies on (README, "What a service must do").
   */
  readonly contractViolationAlarm: cloudwatch.Alarm;
  private readonly serviceName: string;
  private readonly entityName: string;

  constructor(scope: Construct, id: string, props: ServiceChangeCaptureProps) {
    super(scope, id);
    const streamArn = props.table.tableStreamArn;
    if (!streamArn) {
      throw new Error(
        `ServiceChangeCapture ${id}: table of "${props.entity.name}" has no stream; import it with its tableStreamArn`,
      );
    }
    const retries = props.maximumRetryAttempts ?? 10;
    if (retries < 0 || retries > 185)
      throw new Error(`ServiceChangeCapture ${id}: maximumRetryAttempts must be 0..185`);
    this.deadLetterQueue = deadLetterQueue(this, 'Dlq', props.deadLetterQueueName);
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: `Change capture of ${props.entity.name}: stream -> bus`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        resources: [streamArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:ListStreams'], resources: [props.table.tableArn] }),
    );
    // A table under a customer-managed key: its stream records are read with the key.
    props.table.encryptionKey?.grantDecrypt(this.role);
    props.bus.grantPutEventsTo(this.role);
    // The function itself, not `:*` (versions and aliases) as grantInvoke would add.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [props.enrichment.functionArn],
      }),
    );
    this.deadLetterQueue.grantSendMessages(this.role);
    // The enrichment keeps a record it cannot translate here, with its reason (service-capture.ts).
    this.deadLetterQueue.grantSendMessages(props.enrichment);
    if (props.enrichment instanceof lambda.Function) {
      props.enrichment.addEnvironment(
        captureDeadLetterVariable(props.entity.name),
        this.deadLetterQueue.queueUrl,
      );
    }

    this.pipe = new pipes.CfnPipe(this, 'Pipe', {
      name: props.pipeName,
      description: `${props.entity.name}: service table changes -> ${serviceDetailType(props.entity.name)}`,
      roleArn: this.role.roleArn,
      source: streamArn,
      sourceParameters: {
        dynamoDbStreamParameters: {
          startingPosition: 'LATEST',
          batchSize: props.batchSize ?? 10,
          maximumRetryAttempts: retries,
          maximumRecordAgeInSeconds: Duration.hours(24).toSeconds(),
          onPartialBatchItemFailure: 'AUTOMATIC_BISECT',
          deadLetterConfig: { arn: this.deadLetterQueue.queueArn },
        },
      },
      enrichment: props.enrichment.functionArn,
      target: props.bus.eventBusArn,
      targetParameters: {
        // Dynamic path parameters: the enrichment names each event's detail type and source.
        eventBridgeEventBusParameters: { detailType: '$.detail-type', source: '$.source' },
        inputTemplate: '<$.detail>',
      },
    });
    this.pipe.node.addDependency(this.role);

    this.serviceName = props.serviceName;
    this.entityName = props.entity.name;
    this.deadLetterAlarm = dlqNotEmptyAlarm(this, 'DlqAlarm', this.deadLetterQueue, {
      alarmName: props.deadLetterAlarmName,
      alarmDescription:
        `${props.serviceName}/${props.entity.name}: a service change was not captured (the pipe gave up on it, or the ` +
        'enrichment could not translate it; the reason is in the message attributes). It has not reached the legacy side: fix it and redrive.',
    });
    this.contractViolationAlarm = new cloudwatch.Alarm(this, 'ContractViolationAlarm', {
      alarmName: props.contractAlarmName,
      alarmDescription:
        `${props.serviceName}/${props.entity.name}: a service write did not bump "${props.entity.target.versionAttribute}" ` +
        '(published anyway; the forward sync could overwrite such a write). Fix the service: every write bumps the version.',
      metric: this.metricContractViolations(),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** Service writes of this entity that did not bump the version, per minute (Sum). */
  metricContractViolations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return cutoverMetric(
      METRIC.serviceContractViolation,
      { service: this.serviceName, entity: this.entityName },
      { statistic: 'Sum', ...props },
    );
  }

  metricDlqDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return metricDlqDepth(this.deadLetterQueue, props);
  }
}
