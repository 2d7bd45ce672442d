/**
 * Coalesced point reads (lambdas/adapters/dynamodb-reads.ts) on DynamoDB Local: the reads of one
 * turn of the event loop become as few BatchGetItem requests as the 100-key limit allows, each
 * caller gets its own item (or undefined), and a lone read is a GetItem.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { batchGetTables, PointReads, UnprocessedKeysError } from '../../lambdas/adapters/dynamodb-reads.js';
import { documentClient } from '../../lambdas/adapters/dynamodb-service.js';
import magento from '../../migrations/magento.js';
import { createServiceTables } from '../support/databases.js';

describe('Class: PointReads', () => {
  let client: DynamoDBDocumentClient;
  let syncTable: string;
  let customerTable: string;
  const sent: string[] = [];

  beforeAll(async () => {
    const endpoint = inject('dynamoEndpoint');
    const tables = await createServiceTables(endpoint, magento, 't-point-reads');
    syncTable = tables.syncTable;
    customerTable = tables.serviceTables['customer']!;
    client = documentClient({ endpoint });
    for (let i = 0; i < 300; i += 25) {
      await client.send(
        new BatchWriteCommand({
          RequestItems: {
            [syncTable]: Array.from({ length: 25 }, (_, k) => ({
              PutRequest: { Item: { pk: `item#${i + k}`, n: i + k } },
            })),
          },
        }),
      );
    }
    await client.send(
      new BatchWriteCommand({
        RequestItems: {
          [customerTable]: [{ PutRequest: { Item: { customerId: '7', email: 'c7@example.com' } } }],
        },
      }),
    );
    const send = client.send.bind(client);
    client.send = ((command: { constructor: { name: string } }, ...rest: unknown[]) => {
      sent.push(command.constructor.name);
      return (send as (...a: unknown[]) => unknown)(command, ...rest);
    }) as typeof client.send;
  });
  afterAll(() => {
    client?.destroy();
  });

  it('answers 250 reads of one turn (duplicates, misses, two tables) with 3 BatchGetItem requests', async () => {
    sent.length = 0;
    const reads = new PointReads(client);
    const wanted = Array.from({ length: 240 }, (_, i) => i * 2); // 0..478: the odd half above 299 is missing
    const results = await Promise.all([
      ...wanted.map((n) => reads.get(syncTable, { pk: `item#${n}` })),
      ...Array.from({ length: 9 }, () => reads.get(syncTable, { pk: 'item#4' })),
      reads.get(customerTable, { customerId: '7' }),
    ]);
    wanted.forEach((n, i) => {
      if (n < 300) expect(results[i]).toEqual({ pk: `item#${n}`, n });
      else expect(results[i]).toBeUndefined();
    });
    for (let i = 0; i < 9; i++) expect(results[240 + i]).toEqual({ pk: 'item#4', n: 4 });
    expect(results[249]).toEqual({ customerId: '7', email: 'c7@example.com' });
    // 241 distinct keys over two tables: 100 + 100 + 41.
    expect(sent).toEqual(['BatchGetCommand', 'BatchGetCommand', 'BatchGetCommand']);
  });

  it('makes a lone read a GetItem, and reads of later turns later requests', async () => {
    sent.length = 0;
    const reads = new PointReads(client);
    expect(await reads.get(syncTable, { pk: 'item#1' })).toEqual({ pk: 'item#1', n: 1 });
    const [a, b] = await Promise.all([
      reads.get(syncTable, { pk: 'item#2' }),
      reads.get(syncTable, { pk: 'item#3' }),
    ]);
    expect([a, b]).toEqual([
      { pk: 'item#2', n: 2 },
      { pk: 'item#3', n: 3 },
    ]);
    expect(sent).toEqual(['GetCommand', 'BatchGetCommand']);
  });

  it('fails every read of the turn when the request fails (each record is then retried by redelivery)', async () => {
    const reads = new PointReads(client);
    const results = await Promise.allSettled([
      reads.get('no-such-table', { pk: 'x' }),
      reads.get(syncTable, { pk: 'item#1' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('batchGetTables splits at 100 keys and returns the items per table', async () => {
    sent.length = 0;
    const found = await batchGetTables(
      client,
      new Map<string, Record<string, unknown>[]>([
        [syncTable, Array.from({ length: 150 }, (_, i) => ({ pk: `item#${i}` }))],
        [customerTable, [{ customerId: '7' }, { customerId: '8' }]],
      ]),
    );
    expect(
      found
        .get(syncTable)!
        .map((it) => it['n'])
        .sort((x, y) => Number(x) - Number(y)),
    ).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(found.get(customerTable)).toEqual([{ customerId: '7', email: 'c7@example.com' }]);
    expect(sent).toEqual(['BatchGetCommand', 'BatchGetCommand']);
  });

  it('batchGetTables retries unprocessed keys a bounded number of times, then fails naming the table', async () => {
    // DynamoDB Local never throttles: a client whose answers DynamoDB Local gives, with the
    // first `throttled` answers' items moved to UnprocessedKeys (the request's own key form, as
    // the BatchGetItem API returns them under sustained throttling).
    const throttling = (throttled: number) => {
      const c = documentClient({ endpoint: inject('dynamoEndpoint') });
      let calls = 0;
      c.middlewareStack.add(
        (next, context) => async (args) => {
          const out = await next(args);
          if (!String(context.commandName).startsWith('BatchGet')) return out;
          if (calls++ >= throttled) return out;
          const input = args.input as { RequestItems: Record<string, { Keys: unknown[] }> };
          const output = out.output as { Responses?: Record<string, unknown[]>; UnprocessedKeys?: unknown };
          output.Responses = Object.fromEntries(Object.keys(input.RequestItems).map((t) => [t, []]));
          output.UnprocessedKeys = input.RequestItems;
          return out;
        },
        { step: 'initialize', name: 'throttleAll' },
      );
      return { client: c, calls: () => calls };
    };
    const keys = new Map<string, Record<string, unknown>[]>([
      [syncTable, [{ pk: 'item#1' }, { pk: 'item#2' }]],
    ]);

    const always = throttling(Number.POSITIVE_INFINITY);
    const error = await batchGetTables(always.client, keys, 3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprocessedKeysError);
    expect(String(error)).toContain(`2 key(s) of ${syncTable} unprocessed after 3 attempts`);
    expect(always.calls()).toBe(3);

    const twice = throttling(2);
    const found = await batchGetTables(twice.client, keys, 3);
    expect(
      found
        .get(syncTable)!
        .map((it) => it['n'])
        .sort(),
    ).toEqual([1, 2]);
    expect(twice.calls()).toBe(3);
  });
});
