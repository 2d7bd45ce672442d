/**
 * The Secrets Manager stand-in against the recorded GetSecretValue response
 * (test/contracts/secretsmanager/get-secret-value.json, source named there): the fake answers in
 * exactly the recorded shape, and the real adapter reads the recorded answer as the fake's.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { SecretFormatError, SecretsManagerSource } from '../../lambdas/adapters/secrets.js';
import { contract } from '../support/contracts.js';
import { FakeSecretsManager } from '../support/fake-secrets-manager.js';

interface Recorded {
  readonly input: { SecretId: string };
  readonly output: Record<string, unknown>;
}
const recorded = contract<Recorded>('secretsmanager/get-secret-value.json');

/** A real SDK client whose HTTP layer answers with one body (nothing leaves the process). */
function recordedClient(body: unknown) {
  return new SecretsManagerClient({
    region: 'us-west-2',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    requestHandler: {
      handle: async () => ({
        response: {
          statusCode: 200,
          headers: { 'content-type': 'application/x-amz-json-1.1' },
          body: new TextEncoder().encode(JSON.stringify(body)),
        },
      }),
    },
  });
}

/** key -> JSON type of a wire body. */
const wireShape = (o: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(o)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, Array.isArray(v) ? `array<${typeof v[0]}>` : typeof v]),
  );

describe('Contract: Secrets Manager GetSecretValue (fake and adapter)', () => {
  it('the fake answers on the wire with exactly the recorded keys and types', async () => {
    const fake = new FakeSecretsManager();
    fake.put('MyTestDatabaseSecret', '{"username":"david","password":"p"}');
    let wire: Record<string, unknown> | undefined;
    fake.client.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const body = (out.response as { body: Uint8Array }).body;
        wire = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
        return out;
      },
      { step: 'deserialize', name: 'captureWire', priority: 'low' },
    );
    await fake.client.send(new GetSecretValueCommand(recorded.input));
    expect(wire).toBeDefined();
    expect(wireShape(wire!)).toEqual(wireShape(recorded.output));
  });

  it("the SDK reads the recorded answer and the fake's into the same output shape", async () => {
    const fromRecording = await recordedClient(recorded.output).send(
      new GetSecretValueCommand(recorded.input),
    );
    const fake = new FakeSecretsManager();
    fake.put('MyTestDatabaseSecret', 'x');
    const fromFake = await fake.client.send(new GetSecretValueCommand(recorded.input));
    const keys = (o: object) =>
      Object.keys(o)
        .filter((k) => k !== '$metadata')
        .sort();
    expect(keys(fromFake)).toEqual(keys(fromRecording));
    expect(fromRecording.CreatedDate).toBeInstanceOf(Date);
    expect(fromFake.CreatedDate).toBeInstanceOf(Date);
  });

  it('the adapter maps the recorded answer: SecretString and VersionId', async () => {
    const source = new SecretsManagerSource(recordedClient(recorded.output));
    const value = await source.get(recorded.input.SecretId);
    expect(value).toEqual({
      secretString: recorded.output['SecretString'],
      versionId: recorded.output['VersionId'],
    });
    expect(JSON.parse(value.secretString)).toMatchObject({ username: 'david' });
  });

  it('a binary secret (no SecretString) is refused with SecretFormatError naming the secret', async () => {
    const { SecretString: _s, ...binary } = recorded.output;
    const source = new SecretsManagerSource(recordedClient({ ...binary, SecretBinary: 'AAEC' }));
    await expect(source.get('MyTestDatabaseSecret')).rejects.toThrow(SecretFormatError);
    await expect(source.get('MyTestDatabaseSecret')).rejects.toThrow(/MyTestDatabaseSecret/);
  });

  it('the fake stores rotations as new current versions', async () => {
    const fake = new FakeSecretsManager();
    const v1 = fake.put('db', 'one');
    const v2 = fake.put('db', 'two');
    expect(v1).not.toBe(v2);
    expect(await fake.source.get('db')).toEqual({ secretString: 'two', versionId: v2 });
    await expect(fake.source.get('missing')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
