/**
 * The service-side contract (every service write bumps `version`) through the service-capture
 * handler, fed the records DynamoDB Local's stream really holds (read with the DynamoDB Streams
 * API, in the shape an EventBridge Pipe delivers: test/contracts/dynamodb-streams/): the sync's
 * own writes are still dropped as echoes, a service write that did not bump the version is
 * detected, counted (the EMF metric the alarm watches), published and reaches Magento.
 */
// Metrics are asserted here: Powertools reads this when the handlers build their Metrics.
process.env['POWERTOOLS_METRICS_DISABLED'] = 'false';
process.env['POWERTOOLS_LOG_LEVEL'] = 'WARN';

import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DeadLetterMessage, DeadLetterReason } from '../../lambdas/adapters/sqs-dead-letter.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import { captureBatch, configureCaptureDeadLetter } from '../../lambdas/handlers/service-capture.js';
import { METRIC } from '../../lib/spec/metrics.js';
import { StreamReader, streamRecordShape } from '../support/stream-records.js';
import {
  capturedEntries,
  getItem,
  invokeSqs,
  legacyEvent,
  type SyncEnv,
  seedFromLegacy,
  serviceWrite,
  setupSyncEnv,
  sqsEvent,
  streamRecord,
} from '../support/sync-env.js';

/** Runs `fn` with stdout and stderr captured; returns the JSON lines written (EMF documents and logs). */
async function captureOutput<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; lines: Record<string, unknown>[] }> {
  const lines: string[] = [];
  const [out, err] = [process.stdout.write, process.stderr.write];
  const capture = ((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = capture;
  process.stderr.write = capture;
  try {
    const result = await fn();
    return {
      result,
      lines: lines.flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

describe('Function: service-capture (the version contract, on DynamoDB Local streams)', () => {
  let env: SyncEnv;
  let stream: StreamReader;
  beforeAll(async () => {
    env = await setupSyncEnv('capture-contract');
    stream = new StreamReader(inject('dynamoEndpoint'), env.tables.serviceTables['customer']!);
  });
  afterAll(async () => {
    stream?.close();
    await env?.close();
  });

  it('drops the sync’s echoes, detects and counts a service write that did not bump the version, and still delivers it to Magento', async () => {
    // A Magento customer, backfilled (an INSERT by the sync), then changed in Magento and synced
    // (a MODIFY by the sync, version 1 -> 2): both are the sync's echoes.
    const [ins] = await env.db.query<ResultSetHeader>(
      `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, is_active, updated_at)
       VALUES (1, 'contract@example.com', 1, 1, 'Con', 'Tract', 1, NOW() - INTERVAL 60 SECOND)`,
    );
    const id = String(ins.insertId);
    await seedFromLegacy(env, 'customer', id);
    await env.db.query(
      'UPDATE customer_entity SET firstname = ?, updated_at = NOW() - INTERVAL 30 SECOND WHERE entity_id = ?',
      ['Legacy', id],
    );
    expect(
      (await invokeSqs(forward, sqsEvent([await legacyEvent(env, 'customer', id)]))).failedIndexes,
    ).toEqual([]);
    env.publisher.take();
    expect(await getItem(env, 'customer', id)).toMatchObject({
      version: 2,
      _writer: 'cutover-sync',
      _syncedVersion: 2,
    });

    // The service breaks the contract: it writes lastName and leaves the version (and the sync's
    // marker) as they were. Then it writes again, this time by the contract (version 3).
    await env.dynamo.send(
      new UpdateCommand({
        TableName: env.tables.serviceTables['customer']!,
        Key: { customerId: id },
        UpdateExpression: 'SET lastName = :v',
        ExpressionAttributeValues: { ':v': 'NoBump' },
      }),
    );
    await serviceWrite(env, 'customer', id, { firstName: 'Own' });

    // What the pipe hands the enrichment: the stream's four records, in the recorded shape.
    const records = await stream.read();
    expect(records.map((r) => r['eventName'])).toEqual(['INSERT', 'MODIFY', 'MODIFY', 'MODIFY']);
    for (const r of records) {
      expect(streamRecordShape(r)).toEqual(
        streamRecordShape(
          streamRecord(env, 'customer', {
            ...(r['eventName'] === 'INSERT' ? {} : { before: {} }),
            after: {},
          }),
        ),
      );
    }

    const { result: captured, lines } = await captureOutput(() => captureBatch(records));
    // The two echoes are dropped; the non-bumping write and the proper one are published.
    expect(captured.map((c) => c.detail.data)).toEqual([{ lastName: 'NoBump' }, { firstName: 'Own' }]);
    expect(captured[0]!.detail.eventId).toMatch(/:2:version-not-bumped:[0-9a-f]{13}$/);
    // Counted once, with the dimensions the construct's alarm watches.
    const emf = lines.filter((l) => METRIC.serviceContractViolation in l);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({
      service: 'customer',
      entity: 'customer',
      [METRIC.serviceContractViolation]: 1,
    });
    expect(JSON.stringify((emf[0] as { _aws: unknown })._aws)).toContain(
      '"Dimensions":[["service","entity"]]',
    );
    // Logged with its reason and without values.
    const warning = lines.find(
      (l) => l['message'] === 'service-capture: a service write broke the version contract; published anyway',
    );
    expect(warning).toMatchObject({ reason: 'version-not-bumped', oldVersion: 2, newVersion: 2 });
    expect(JSON.stringify(lines)).not.toContain('NoBump');

    // Nothing lost: the reverse sync applies both service changes to Magento.
    expect((await invokeSqs(reverse, sqsEvent(capturedEntries(captured)))).failedIndexes).toEqual([]);
    const [[row]] = await env.db.query<RowDataPacket[]>(
      'SELECT firstname, lastname FROM customer_entity WHERE entity_id = ?',
      [id],
    );
    expect(row).toMatchObject({ firstname: 'Own', lastname: 'NoBump' });
  });

  it('a service change the capture cannot translate goes to the capture DLQ with its reason; without a DLQ the batch fails and is retried, never dropped', async () => {
    await stream.read(); // the earlier test's records
    await serviceWrite(env, 'customer', 'svc-untranslatable', {
      websiteId: 'not-a-number',
      email: 'bad.type@example.com',
    });
    await serviceWrite(env, 'customer', 'svc-fine', { firstName: 'Fine', email: 'fine@example.com' });
    const records = await stream.read();
    expect(records).toHaveLength(2);

    const kept: { message: DeadLetterMessage; why: DeadLetterReason }[] = [];
    configureCaptureDeadLetter({
      send: async (message, why) => {
        kept.push({ message, why });
      },
    });
    try {
      const { result: captured, lines } = await captureOutput(() => captureBatch(records));
      expect(captured.map((c) => c.detail.key)).toEqual(['svc-fine']);
      expect(kept).toHaveLength(1);
      expect(JSON.parse(kept[0]!.message.body)).toEqual(records[0]);
      expect(kept[0]!.message.sourceId).toBe(records[0]!['eventID']);
      expect(kept[0]!.why).toMatchObject({ error: 'ValueError', source: 'service-capture' });
      expect(kept[0]!.why.reason).toContain('websiteId');
      // Counted as failed, logged with the reason, without values.
      const failed = lines.filter((l) => l[METRIC.eventProcessing] !== undefined && l['status'] === 'failed');
      expect(failed).toHaveLength(1);
      const log = lines.find((l) => String(l['message']).includes('sent to the capture DLQ'));
      expect(log).toMatchObject({ entity: 'customer' });
      expect(JSON.stringify(lines)).not.toContain('bad.type@example.com');

      // No DLQ to keep it in (or SQS refuses): the batch fails, so the pipe retries it.
      configureCaptureDeadLetter(null);
      await expect(captureBatch(records)).rejects.toThrow(/websiteId/);
      configureCaptureDeadLetter({
        send: async () => {
          throw new Error('AccessDenied');
        },
      });
      await expect(captureBatch(records)).rejects.toThrow(/websiteId/);
    } finally {
      configureCaptureDeadLetter(undefined);
    }
  });
});
