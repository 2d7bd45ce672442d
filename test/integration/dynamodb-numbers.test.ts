/**
 * Numbers a double cannot hold, on DynamoDB Local: the service store's reads (document client)
 * and the consistency scan (raw items) read them by the one unmarshaller (dynamodb-values.ts),
 * as their decimal string, and agree; no read rounds them.
 */
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoServiceStore, documentClient } from '../../lambdas/adapters/dynamodb-service.js';
import { hashRowText, recordHash } from '../../lambdas/domain/checksum.js';
import type { ScannedRow } from '../../lambdas/domain/ports.js';
import magento from '../../migrations/magento.js';
import { createServiceTables, type ServiceTableNames } from '../support/databases.js';

const BIG = '12345678901234567890';
const customer = magento.services[0]!.entities.find((e) => e.name === 'customer')!;

describe('Function: DynamoServiceStore reads big numbers exactly (DynamoDB Local)', () => {
  const endpoint = inject('dynamoEndpoint');
  const raw = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const client = documentClient({ endpoint });
  let tables: ServiceTableNames;
  let store: DynamoServiceStore;

  beforeAll(async () => {
    tables = await createServiceTables(endpoint, magento, 't-big-numbers');
    store = new DynamoServiceStore({ client, tables: tables.serviceTables, syncTable: tables.syncTable });
    await raw.send(
      new PutItemCommand({
        TableName: tables.serviceTables['customer']!,
        Item: {
          customerId: { S: 'big-1' },
          email: { S: 'big@example.com' },
          websiteId: { N: BIG },
          groupId: { N: '0.1000000000000000055511151231257827' },
          isActive: { N: '1' },
          version: { N: '3' },
        },
      }),
    );
  }, 120_000);
  afterAll(() => {
    raw.destroy();
    client.destroy();
  });

  it('read keeps the decimal strings; the scan hashes exactly what read returns', async () => {
    const record = await store.read(customer, 'big-1');
    expect(record.data['websiteId']).toBe(BIG);
    expect(record.data['groupId']).toBe('0.1000000000000000055511151231257827');
    expect(record.data['isActive']).toBe(1);
    expect(record.version).toBe(3);
    const rows: ScannedRow[] = [];
    for await (const page of store.scan(customer)) rows.push(...page);
    const row = rows.find((r) => r.key === 'big-1')!;
    expect(row.text).toContain(`|${BIG}|`);
    expect(hashRowText(row.key + row.text)).toBe(recordHash(customer, 'big-1', record.data));
  });
});
