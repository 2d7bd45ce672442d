/**
 * The Debezium intake with the bodies Debezium Server's SQS sink sends for tombstones: skipped,
 * not failed, and counted (the EMF document Powertools writes to stdout). Neither a tombstone nor
 * a body that is not JSON needs the runtime, so no database is involved here; the change events
 * themselves go through test/integration/debezium-ingest.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEBEZIUM_TOMBSTONE_BODY } from '../support/debezium.js';
import { emfOf } from '../support/emf.js';
import { invokeSqs, sqsEvent } from '../support/sqs.js';

let handler: unknown;
beforeAll(async () => {
  // Powertools reads these when the handler module creates its Logger and Metrics.
  delete process.env['POWERTOOLS_METRICS_DISABLED'];
  process.env['POWERTOOLS_LOG_LEVEL'] = 'ERROR';
  ({ handler } = await import('../../lambdas/handlers/debezium-ingest.js'));
});

describe('Handler: debezium-ingest (tombstones)', () => {
  it('skips the tombstone after each delete without failing it, and counts it', async () => {
    const bodies = [
      DEBEZIUM_TOMBSTONE_BODY,
      'null',
      '{"schema":null,"payload":null}',
      DEBEZIUM_TOMBSTONE_BODY,
    ];
    const { result, docs } = await emfOf(() => invokeSqs(handler, sqsEvent(bodies)));
    expect(result.failedIndexes).toEqual([]);
    const tombstones = docs.filter((d) =>
      d._aws!.CloudWatchMetrics[0]!.Metrics.some((m) => m.Name === 'debezium_tombstones_total'),
    );
    expect(tombstones).toHaveLength(4);
    expect(tombstones[0]).toMatchObject({ service: 'debezium', debezium_tombstones_total: 1 });
    expect(tombstones[0]!._aws!.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Cutover',
      Dimensions: [['service']],
    });
  });

  it('still fails a body that is neither a tombstone nor JSON, alone', async () => {
    const { result, docs } = await emfOf(() =>
      invokeSqs(handler, sqsEvent([DEBEZIUM_TOMBSTONE_BODY, '{"before":', DEBEZIUM_TOMBSTONE_BODY])),
    );
    expect(result.failedIndexes).toEqual([1]);
    expect(docs.filter((d) => d['status'] === 'failed')).toHaveLength(1);
  });
});
