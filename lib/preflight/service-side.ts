/**
 * Preflight's service-side checks (when the DynamoDB endpoint is reachable): each service table
 * exists with the spec's partition key, its stream is on with NEW_AND_OLD_IMAGES (the change
 * capture needs both images), and a sampled item carries the version attribute the sync's
 * compare-and-set relies on.
 */
import {
  DescribeTableCommand,
  type DynamoDBClient,
  ScanCommand,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import type { MigrationSpec } from '../spec/schema.js';
import { physicalTableName, serviceTable } from '../spec/tables.js';
import type { Finding } from './checks.js';

export async function serviceFindings(
  client: DynamoDBClient,
  spec: MigrationSpec,
  env: string,
): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const e of spec.services.flatMap((s) => s.entities)) {
    const def = serviceTable(e);
    const name = physicalTableName(env, spec, def);
    const subject = `${name} (entity ${e.name})`;
    let table: TableDescription | undefined;
    try {
      table = (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
    } catch (err) {
      if ((err as { name?: string }).name !== 'ResourceNotFoundException') throw err;
    }
    if (!table) {
      out.push({ status: 'fail', check: 'service.table', subject, message: `table ${name} does not exist` });
      continue;
    }
    const hash = table.KeySchema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
    const type = table.AttributeDefinitions?.find((a) => a.AttributeName === hash)?.AttributeType;
    const keyOk =
      hash === def.partitionKey.name &&
      type === def.partitionKey.type &&
      (table.KeySchema?.length ?? 0) === 1;
    out.push({
      status: keyOk ? 'pass' : 'fail',
      check: 'service.key',
      subject,
      message: keyOk
        ? `partition key ${hash} (${type})`
        : `key is ${table.KeySchema?.map((k) => `${k.AttributeName} ${k.KeyType}`).join(', ')}; the spec's target.key is ${def.partitionKey.name} (${def.partitionKey.type}) alone`,
    });
    const stream = table.StreamSpecification;
    const streamOk = stream?.StreamEnabled === true && stream.StreamViewType === 'NEW_AND_OLD_IMAGES';
    out.push({
      status: streamOk ? 'pass' : 'fail',
      check: 'service.stream',
      subject,
      message: streamOk
        ? 'stream NEW_AND_OLD_IMAGES'
        : `stream ${stream?.StreamEnabled ? stream.StreamViewType : 'off'}: the change capture needs NEW_AND_OLD_IMAGES`,
    });
    const sample = (await client.send(new ScanCommand({ TableName: name, Limit: 1 }))).Items?.[0];
    const version = e.target.versionAttribute;
    out.push(
      !sample
        ? { status: 'pass', check: 'service.version', subject, message: 'empty table: nothing to sample' }
        : sample[version]?.N !== undefined
          ? {
              status: 'pass',
              check: 'service.version',
              subject,
              message: `a sampled item carries ${version}`,
            }
          : {
              status: 'fail',
              check: 'service.version',
              subject,
              message: `a sampled item has no numeric ${version}: the sync's compare-and-set needs it on every item`,
            },
    );
  }
  return out;
}
