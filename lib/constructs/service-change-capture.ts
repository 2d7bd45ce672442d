import { Duration, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CONTRACT_SCHEMA_VERSION, EVENT_SOURCE, serviceDetailType } from '../../lambdas/domain/events.js';
import { type EntitySpec, type FieldSpec, fieldPolicy } from '../spec/schema.js';
import { SYNC_WRITER_ATTRIBUTE, SYNC_WRITER_VALUE } from '../spec/tables.js';
import { deadLetterQueue } from './queues.js';

export interface ServiceChangeCaptureProps {
  /** The service table (its stream must be on, NEW_AND_OLD_IMAGES). */
  readonly table: dynamodb.ITable;
  /** The entity the table holds: its key, fields and `updatedAt` attribute shape the event. */
  readonly entity: EntitySpec;
  readonly bus: events.IEventBus;
  /** Stream records per batch. @default 10 */
  readonly batchSize?: number;
  /** Retries of a failing batch before its records go to the DLQ. @default 10 */
  readonly maximumRetryAttempts?: number;
  /** Physical name of the DLQ. @default - generated */
  readonly deadLetterQueueName?: string;
  /** Pipe name. @default - generated */
  readonly pipeName?: string;
}

/** DynamoDB attribute-value type of a spec field (as the sync writes it). */
function attributeType(field: FieldSpec): 'S' | 'N' | 'BOOL' {
  switch (field.type) {
    case 'integer':
    case 'decimal':
      return 'N';
    case 'boolean':
      return 'BOOL';
    default:
      return 'S';
  }
}

/** The fields a captured change carries: all but `sum` counters. */
export function capturedFields(entity: EntitySpec): FieldSpec[] {
  return entity.fields.filter((f) => fieldPolicy(entity, f) !== 'sum');
}

/**
 * The Pipes input template that turns a DynamoDB stream record into the contract `detail`
 * (`lambdas/domain/events.ts`). Numbers travel as strings (the contract carries decimals as
 * strings; the reverse sync canonicalises integers); booleans as JSON booleans.
 */
export function captureInputTemplate(entity: EntitySpec): string {
  const image = '$.dynamodb.NewImage';
  const keyType = entity.target.keyType === 'number' ? 'N' : 'S';
  // Counters (`sum`) travel as deltas in the services' own events; an absolute value from the
  // table must never overwrite the legacy counter, so the capture leaves them out.
  const data = capturedFields(entity).map((f) => {
    const t = attributeType(f);
    const path = `<${image}.${f.name}.${t}>`;
    return `${JSON.stringify(f.name)}:${t === 'BOOL' ? path : `"${path}"`}`;
  });
  return (
    '{' +
    [
      `"schemaVersion":${CONTRACT_SCHEMA_VERSION}`,
      '"eventId":"<$.eventID>"',
      `"entity":${JSON.stringify(entity.name)}`,
      `"key":"<$.dynamodb.Keys.${entity.target.key}.${keyType}>"`,
      '"op":"upsert"',
      `"changedAt":"<${image}.${entity.target.updatedAtAttribute}.S>"`,
      '"origin":"service"',
      `"data":{${data.join(',')}}`,
    ].join(',') +
    '}'
  );
}

/**
 * Service-side change capture: the service table's stream -> an EventBridge Pipe -> the bus as
 * `<entity>.updated` in the contract. A committed service write therefore always reaches the
 * reverse sync, even if the service dies before publishing (the seed's write-then-publish gap).
 *
 * The filter passes inserts and updates whose new image was not written by the sync
 * (`_writer` = `cutover-sync`), so sync writes do not echo back. Deletes are not captured:
 * the services soft-delete (a status field), which travels as an update.
 */
export class ServiceChangeCapture extends Construct {
  readonly pipe: pipes.CfnPipe;
  readonly role: iam.Role;
  /** Records the pipe could not deliver after its retries. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ServiceChangeCaptureProps) {
    super(scope, id);
    const streamArn = props.table.tableStreamArn;
    if (!streamArn) {
      throw new Error(
        `ServiceChangeCapture ${id}: table of "${props.entity.name}" has no stream; import it with its tableStreamArn`,
      );
    }
    if (capturedFields(props.entity).length === 0) {
      throw new Error(
        `ServiceChangeCapture ${id}: "${props.entity.name}" has only sum counters; nothing to capture`,
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
    props.bus.grantPutEventsTo(this.role);
    this.deadLetterQueue.grantSendMessages(this.role);

    const notSync = (writer: unknown) =>
      JSON.stringify({
        eventName: ['INSERT', 'MODIFY'],
        dynamodb: { NewImage: { [SYNC_WRITER_ATTRIBUTE]: { S: writer } } },
      });
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
        filterCriteria: {
          // Filters are OR'ed: no writer attribute, or a writer other than the sync.
          filters: [
            { pattern: notSync([{ exists: false }]) },
            { pattern: notSync([{ 'anything-but': [SYNC_WRITER_VALUE] }]) },
          ],
        },
      },
      target: props.bus.eventBusArn,
      targetParameters: {
        eventBridgeEventBusParameters: {
          detailType: serviceDetailType(props.entity.name),
          source: EVENT_SOURCE.service,
        },
        inputTemplate: captureInputTemplate(props.entity),
      },
    });
    this.pipe.node.addDependency(this.role);
  }

  metricDlqDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      statistic: 'Maximum',
      period: Duration.minutes(1),
      ...props,
    });
  }
}
