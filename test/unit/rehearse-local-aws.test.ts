import { describe, expect, it } from 'vitest';
import type { MappingModel, QueueModel } from '../../lib/rehearse/assembly.js';
import { parseDuration, parseFaults } from '../../lib/rehearse/faults.js';
import { EventSourceMapping, LocalQueue, scheduledEvent, sleep } from '../../lib/rehearse/local-aws.js';
import { contract } from '../support/contracts.js';

const queueModel = (maxReceiveCount?: number): QueueModel => ({
  id: 's/Queue',
  name: 'q',
  visibilityTimeoutSeconds: 180,
  ...(maxReceiveCount ? { redrive: { deadLetterQueue: 's/Dlq', maxReceiveCount } } : {}),
});

describe('LocalQueue (SQS semantics from the template)', () => {
  it('hides a received message, shows it again after the scaled visibility timeout, counts receives', () => {
    let now = 0;
    const q = new LocalQueue(queueModel(), 1000, undefined, () => now);
    q.send('a');
    const [m] = q.receive(10);
    expect(m!.receiveCount).toBe(1);
    expect(q.receive(10)).toEqual([]);
    q.release(m!.messageId);
    now = 179;
    expect(q.receive(10)).toEqual([]);
    now = 180;
    expect(q.receive(10)[0]!.receiveCount).toBe(2);
  });

  it('moves a message to the DLQ on the receive that would pass maxReceiveCount', () => {
    let now = 0;
    const dlq = new LocalQueue({ id: 's/Dlq', name: 'dlq', visibilityTimeoutSeconds: 30 }, 1000);
    const q = new LocalQueue(queueModel(2), 1000, dlq, () => now);
    q.send('poison');
    for (let i = 1; i <= 2; i++) {
      const [m] = q.receive(1);
      expect(m!.receiveCount).toBe(i);
      q.release(m!.messageId);
      now += 1000;
    }
    expect(q.receive(1)).toEqual([]);
    expect(q.depth).toBe(0);
    expect(dlq.bodies()).toEqual(['poison']);
    expect(q.movedToDlq).toBe(1);
  });
});

describe('EventSourceMapping (Lambda SQS poller from the template)', () => {
  const mapping = (over: Partial<MappingModel>): MappingModel => ({
    id: 's/Mapping',
    queue: 's/Queue',
    function: 's/Fn',
    batchSize: 10,
    maximumBatchingWindowSeconds: 0,
    reportBatchItemFailures: true,
    ...over,
  });

  it('batches by BatchSize and deletes only what batchItemFailures does not name', async () => {
    const q = new LocalQueue(queueModel(5), 1000);
    for (let i = 0; i < 25; i++) q.send(`m${i}`);
    const sizes: number[] = [];
    const esm = new EventSourceMapping(
      mapping({ batchSize: 10 }),
      q,
      async (event) => {
        const records = (event as { Records: { messageId: string; body: string }[] }).Records;
        sizes.push(records.length);
        return {
          batchItemFailures: records
            .filter((r) => r.body === 'm3')
            .map((r) => ({ itemIdentifier: r.messageId })),
        };
      },
      { timeScale: 1_000_000 },
    );
    esm.start();
    while (q.depth > 1 || !esm.idle) await sleep(5);
    await esm.stop();
    expect(Math.max(...sizes)).toBe(10);
    expect(esm.stats.recordsDeleted).toBeGreaterThanOrEqual(24);
    expect(q.bodies()).toEqual(['m3']);
  });

  it('without ReportBatchItemFailures a partial response deletes the whole batch (Lambda ignores it)', async () => {
    const q = new LocalQueue(queueModel(5), 1000);
    q.send('a');
    q.send('b');
    const esm = new EventSourceMapping(
      mapping({ reportBatchItemFailures: false }),
      q,
      async (event) => ({
        batchItemFailures: (event as { Records: { messageId: string }[] }).Records.map((r) => ({
          itemIdentifier: r.messageId,
        })),
      }),
      { timeScale: 1000 },
    );
    esm.start();
    while (q.depth > 0) await sleep(5);
    await esm.stop();
    expect(esm.stats.recordsDeleted).toBe(2);
  });

  it('never runs more invocations at once than MaximumConcurrency', async () => {
    const q = new LocalQueue(queueModel(5), 1000);
    for (let i = 0; i < 20; i++) q.send(`m${i}`);
    let running = 0;
    let peak = 0;
    const esm = new EventSourceMapping(
      mapping({ batchSize: 1, maximumConcurrency: 2 }),
      q,
      async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(10);
        running--;
        return { batchItemFailures: [] };
      },
      { timeScale: 1000 },
    );
    esm.start();
    while (q.depth > 0) await sleep(5);
    await esm.stop();
    expect(peak).toBe(2);
  });
});

describe('cutover rehearse options', () => {
  it('parses durations', () => {
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('3')).toBe(3000);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });
  it('turns poison faults into a count and refuses the faults it does not inject, by name', () => {
    expect(parseFaults(['poison=0.1%'], 24_000)).toEqual({ poisonEvents: 24, crashAfterWrite: 0 });
    expect(parseFaults(['poison=3', 'crash-after-write=1%', 'mariadb-restart@30s'], 100)).toEqual({
      poisonEvents: 3,
      crashAfterWrite: 0.01,
      mariadbRestartAtMs: 30_000,
    });
    expect(() => parseFaults(['disk-full=10%'], 100)).toThrow(
      /disk-full=10%: not a fault this version injects/,
    );
  });
  it('parses the service and DynamoDB faults, their start a time into the traffic or a rollout step', () => {
    expect(
      parseFaults(['service-errors=5%@40s', 'service-latency=400ms', 'dynamo-throttle=10%'], 100),
    ).toEqual({
      poisonEvents: 0,
      crashAfterWrite: 0,
      serviceErrors: { rate: 0.05, start: { atMs: 40_000 }, label: 'service-errors=5%@40s' },
      serviceLatency: { ms: 400, start: { atMs: 0 }, label: 'service-latency=400ms' },
      dynamoThrottle: 0.1,
    });
    expect(parseFaults(['service-errors=50%@Canary10'], 100).serviceErrors?.start).toEqual({
      step: 'Canary10',
    });
    expect(() => parseFaults(['service-errors=150%'], 100)).toThrow(/0-100 %/);
  });
});

describe("the schedule's event", () => {
  it('is the recorded Scheduled Event, with only id, time and rule name of its own', () => {
    const { event } = contract<{ event: Record<string, unknown> }>('eventbridge/scheduled-event.json');
    const made = scheduledEvent('my-scheduled-rule', new Date('2015-10-08T16:53:06.123Z'));
    expect({ ...made, id: event['id'] }).toEqual(event);
  });
});
