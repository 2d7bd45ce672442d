/**
 * The dynamo-throttle fault's stand-in answers exactly as DynamoDB documents a throttled request
 * (test/contracts/dynamodb/provisioned-throughput-exceeded.json), and the SDK the functions use
 * reads it as the throttling error it retries.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { startThrottleProxy, THROTTLE_RESPONSE } from '../../lib/rehearse/faults.js';
import { contract } from '../support/contracts.js';

const recorded = contract<{
  recorded: { status: number; headers: Record<string, string>; body: { __type: string } };
  throttled: typeof THROTTLE_RESPONSE;
}>('dynamodb/provisioned-throughput-exceeded.json');

describe('dynamo-throttle stand-in', () => {
  it('has the documented error response shape, with the throttling exception', () => {
    expect(THROTTLE_RESPONSE).toEqual(recorded.throttled);
    expect(THROTTLE_RESPONSE.status).toBe(recorded.recorded.status);
    expect(THROTTLE_RESPONSE.headers).toEqual(recorded.recorded.headers);
    expect(THROTTLE_RESPONSE.body.__type.split('#')[0]).toBe(recorded.recorded.body.__type.split('#')[0]);
  });

  it('the SDK reads its answer as ProvisionedThroughputExceededException and retries it', async () => {
    // Every request throttled: nothing is forwarded, so the target may be closed.
    const proxy = await startThrottleProxy('http://127.0.0.1:9', 1);
    const client = new DynamoDBClient({
      endpoint: proxy.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 3,
    });
    try {
      const err = await client.send(new GetItemCommand({ TableName: 't', Key: { k: { S: '1' } } })).then(
        () => undefined,
        (e: unknown) => e as { name: string; $metadata?: { httpStatusCode?: number; attempts?: number } },
      );
      expect(err?.name).toBe('ProvisionedThroughputExceededException');
      expect(err?.$metadata?.httpStatusCode).toBe(400);
      // Retried as a throttling error: every attempt the client allows was made.
      expect(proxy.stats).toEqual({ requests: 3, throttled: 3 });
    } finally {
      client.destroy();
      await proxy.close();
    }
  });
});
