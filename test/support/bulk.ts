/**
 * Bulk loading for the consistency test and the bench: multi-row INSERTs on MariaDB and
 * parallel BatchWriteItem on DynamoDB Local.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Pool } from 'mysql2/promise';

export interface CustomerRow {
  readonly id: number;
  readonly email: string;
  readonly firstName: string;
  readonly lastName: string;
}

export function customerRow(id: number): CustomerRow {
  return {
    id,
    email: `customer${id}@example.com`,
    firstName: `First${id % 997}`,
    lastName: `Last${id % 1009}`,
  };
}

/** Inserts customers [from, to) with multi-row INSERTs of `rowsPerStatement`. */
export async function insertCustomers(
  db: Pool,
  from: number,
  to: number,
  rowsPerStatement = 2000,
): Promise<void> {
  const statements: Promise<unknown>[] = [];
  for (let start = from; start < to; start += rowsPerStatement) {
    const rows: unknown[][] = [];
    for (let id = start; id < Math.min(to, start + rowsPerStatement); id++) {
      const c = customerRow(id);
      rows.push([c.id, 1, c.email, 1, 1, c.firstName, c.lastName, 1]);
    }
    statements.push(
      db.query(
        'INSERT INTO customer_entity (entity_id, website_id, email, group_id, store_id, firstname, lastname, is_active) VALUES ?',
        [rows],
      ),
    );
    if (statements.length >= 4) await Promise.all(statements.splice(0));
  }
  await Promise.all(statements);
}

/** Puts customers [from, to) into the service table as the backfill would have. */
export async function putCustomerItems(
  client: DynamoDBDocumentClient,
  table: string,
  from: number,
  to: number,
  concurrency = 12,
): Promise<void> {
  const items: Record<string, unknown>[] = [];
  for (let id = from; id < to; id++) {
    const c = customerRow(id);
    items.push({
      customerId: String(id),
      email: c.email,
      firstName: c.firstName,
      lastName: c.lastName,
      websiteId: 1,
      groupId: 1,
      isActive: 1,
      version: 1,
      updatedAt: '2026-11-01T00:00:00.000Z',
      _writer: 'cutover-sync',
      _syncedVersion: 1,
    });
  }
  await batchWriteItems(client, table, items, concurrency);
}

/**
 * The sync states the backfill leaves for customers [from, to): each record brought over from
 * Magento under its own key (`bornOn: 'legacy'`), so the reverse sync writes to that row rather
 * than creating one (a key's shape never says so).
 */
export async function putBackfilledStates(
  client: DynamoDBDocumentClient,
  syncTable: string,
  from: number,
  to: number,
  concurrency = 12,
): Promise<void> {
  const items: Record<string, unknown>[] = [];
  const state = JSON.stringify({ fields: {}, bornOn: 'legacy' });
  for (let id = from; id < to; id++) items.push({ pk: `state#customer#${id}`, state, revision: 1 });
  await batchWriteItems(client, syncTable, items, concurrency);
}

/**
 * Unconditional BatchWriteItem of `items` into `table`: 25 items a request, `concurrency`
 * requests in flight, the items DynamoDB leaves unprocessed sent again.
 */
export async function batchWriteItems(
  client: DynamoDBDocumentClient,
  table: string,
  items: readonly Record<string, unknown>[],
  concurrency = 4,
): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let pending = batches[next++]!;
      while (pending.length) {
        const res = await client.send(
          new BatchWriteCommand({
            RequestItems: { [table]: pending.map((Item) => ({ PutRequest: { Item } })) },
          }),
        );
        pending = (
          (res.UnprocessedItems?.[table] ?? []) as { PutRequest?: { Item?: Record<string, unknown> } }[]
        ).map((u) => u.PutRequest!.Item!);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
