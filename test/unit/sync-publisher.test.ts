import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import { EventBridgePublisher, PublishError } from '../../lambdas/adapters/eventbridge-publisher.js';

const entry = (i: number) => ({
  Source: 'cutover.legacy',
  DetailType: 'migration.customer.changed',
  Detail: `{"i":${i}}`,
});

/** A client whose PutEvents fails the entries `failing` says, per call. */
function fakeClient(failing: (detail: string, call: number) => boolean) {
  const calls: { Entries: { Detail?: string; EventBusName?: string }[] }[] = [];
  const client = {
    send: async (cmd: { input: { Entries: { Detail?: string; EventBusName?: string }[] } }) => {
      calls.push(cmd.input);
      const results = cmd.input.Entries.map((e) =>
        failing(e.Detail!, calls.length) ? { ErrorCode: 'ThrottlingException' } : { EventId: 'x' },
      );
      return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
    },
  };
  return { client: client as unknown as EventBridgeClient, calls };
}

describe('Function: EventBridgePublisher', () => {
  it('puts at most 10 entries per call and retries only the failed ones', async () => {
    const { client, calls } = fakeClient((d, call) => call <= 3 && d === '{"i":3}');
    await new EventBridgePublisher({ busName: 'bus', client, baseDelayMs: 1 }).publish(
      Array.from({ length: 23 }, (_, i) => entry(i)),
    );
    const sizes = calls.map((c) => c.Entries.length);
    expect(sizes.slice(0, 3).sort()).toEqual([10, 10, 3]);
    expect(calls.slice(3).map((c) => c.Entries.map((e) => e.Detail))).toEqual([['{"i":3}']]);
    expect(calls.every((c) => c.Entries.every((e) => e.EventBusName === 'bus'))).toBe(true);
  });

  it('gives up after the bounded retries with the failed entries', async () => {
    const { client, calls } = fakeClient((d) => d === '{"i":1}');
    const err = await new EventBridgePublisher({ busName: 'bus', client, maxRetries: 2, baseDelayMs: 1 })
      .publish([entry(0), entry(1)])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishError);
    expect((err as PublishError).failed.map((f) => f.entry.Detail)).toEqual(['{"i":1}']);
    expect(calls).toHaveLength(3);
  });
});
