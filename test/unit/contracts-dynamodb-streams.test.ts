/**
 * The DynamoDB stream records the service-capture enrichment receives from its EventBridge Pipe,
 * against the recorded payloads in test/contracts/dynamodb-streams/: the records the tests build
 * (`streamRecord`) have exactly the recorded shape, and the recorded records go through the
 * capture as the contract says.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toServiceStreamRecord } from '../../lambdas/adapters/dynamodb-stream.js';
import { captureServiceChange, versionViolation } from '../../lambdas/domain/capture.js';
import { EntitySchema } from '../../lib/spec/schema.js';
import magento from '../../migrations/magento.js';
import { streamRecordShape } from '../support/stream-records.js';
import { streamRecord } from '../support/sync-env.js';

const contract = <T>(file: string): { source: string; payload: T } =>
  JSON.parse(readFileSync(new URL(`../contracts/dynamodb-streams/${file}`, import.meta.url), 'utf8'));

const pipes = contract<Record<string, unknown>[]>('pipes-source-example.doc.json');
const tutorial = contract<Record<string, unknown>>('stream-record-tutorial.doc.json');
const [recordedInsert, recordedModify] = pipes.payload as [Record<string, unknown>, Record<string, unknown>];

describe('Contract: DynamoDB stream records as a pipe delivers them (test/contracts/dynamodb-streams)', () => {
  it('names its sources', () => {
    expect(pipes.source).toMatch(/^https:\/\/docs\.aws\.amazon\.com\/eventbridge\/.*eb-pipes-dynamodb/);
    expect(tutorial.source).toMatch(
      /^https:\/\/docs\.aws\.amazon\.com\/amazondynamodb\/.*Streams\.Lambda\.Tutorial/,
    );
    expect(Array.isArray(pipes.payload)).toBe(true);
  });

  it("the tests' stream-record builder makes exactly the recorded shape (the pipe's records, with the creation time real records carry)", () => {
    const env = {
      spec: magento,
      tables: { serviceTables: { customer: 'cutover-t-magento-customer' } },
    } as never;
    const before = { customerId: 'c1', lastName: 'A', version: 1, updatedAt: '2026-11-22T10:00:00.000Z' };
    const after = { ...before, lastName: 'B', version: 2 };
    const created = {
      ApproximateCreationDateTime: streamRecordShape(tutorial.payload)[
        'dynamodb.ApproximateCreationDateTime'
      ],
    };
    expect(created.ApproximateCreationDateTime).toBe('number');
    const expected = (recorded: Record<string, unknown>) => ({
      ...streamRecordShape(recorded),
      'dynamodb.ApproximateCreationDateTime': created.ApproximateCreationDateTime,
    });
    expect(streamRecordShape(streamRecord(env, 'customer', { before, after }))).toEqual(
      expected(recordedModify),
    );
    expect(streamRecordShape(streamRecord(env, 'customer', { after }))).toEqual(expected(recordedInsert));
    // The tutorial's record has the same fields (an INSERT of a NEW_IMAGE stream).
    expect(Object.keys(streamRecordShape(tutorial.payload)).sort()).toEqual(
      Object.keys(expected(recordedInsert)).sort(),
    );
  });

  it('the recorded records go through the capture: table from the ARN, changed fields, creation time in seconds', () => {
    // The example's table keeps no version: each write is captured and reported as breaking the contract.
    const entity = EntitySchema.parse({
      name: 'event_source',
      legacy: { table: 'event_source', key: 'id' },
      target: { key: 'Id', keyType: 'number' },
      fields: [{ name: 'Message', type: 'string', column: 'message' }],
      policy: 'timestamp',
      consistency: 'eventual',
    });
    const [insert, modify] = pipes.payload.map((r) => toServiceStreamRecord(r));
    expect(insert!.tableName).toBe('EventSourceTable');
    expect(captureServiceChange(entity, insert!)).toMatchObject({
      key: '101',
      op: 'upsert',
      data: { Message: 'New item!' },
    });
    expect(captureServiceChange(entity, modify!)).toMatchObject({
      key: '101',
      data: { Message: 'This item has changed' },
    });
    expect(versionViolation(entity, modify!)).toBe('version-missing');

    const bark = toServiceStreamRecord(tutorial.payload);
    expect(bark).toMatchObject({
      eventName: 'INSERT',
      tableName: 'BarkTable',
      approximateAt: 1_479_499_740_000,
    });
    expect(bark.newImage).toEqual({
      Timestamp: '2016-11-18:12:09:36',
      Message: 'This is a bark from the Woofer social network',
      Username: 'John Doe',
    });
  });
});
