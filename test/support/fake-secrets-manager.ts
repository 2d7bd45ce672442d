/**
 * A stand-in for Secrets Manager's GetSecretValue, faithful at the HTTP boundary:
 * {@link FakeSecretsManager.client} is the real SDK client whose request handler answers each
 * `secretsmanager.GetSecretValue` request (awsJson1_1) with a body of exactly the recorded
 * shape (test/contracts/secretsmanager/get-secret-value.json: ARN, CreatedDate as epoch seconds,
 * Name, SecretString, VersionId, VersionStages), so the SDK's own deserializer and the real
 * adapter (`SecretsManagerSource`) run on it. test/unit/contracts-secretsmanager.test.ts checks
 * that shape against the recording.
 *
 * {@link FakeSecretsManager.put} stores a new version (a rotation): it becomes `AWSCURRENT`
 * with a new VersionId. An unknown secret is answered with the `ResourceNotFoundException`
 * error the API reference lists (its body built by the awsJson1_1 error convention
 * `{ "__type", "message" }`, not from a recording).
 */
import { randomUUID } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerSource } from '../../lambdas/adapters/secrets.js';

interface Version {
  readonly secretString: string;
  readonly versionId: string;
  readonly createdAt: number;
}

export class FakeSecretsManager {
  private readonly secrets = new Map<string, Version>();
  /** GetSecretValue requests answered, per secret id. */
  readonly reads = new Map<string, number>();
  readonly client: SecretsManagerClient;
  /** The real adapter over {@link client}. */
  readonly source: SecretsManagerSource;

  constructor(private readonly now: () => number = Date.now) {
    this.client = new SecretsManagerClient({
      region: 'us-west-2',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
      requestHandler: {
        handle: async (request: { headers: Record<string, string>; body?: unknown }) => ({
          response: this.answer(request),
        }),
      },
    });
    this.source = new SecretsManagerSource(this.client);
  }

  /** Stores `secretString` as the new current version of `secretId`; returns its VersionId. */
  put(secretId: string, secretString: string): string {
    const versionId = randomUUID();
    this.secrets.set(secretId, { secretString, versionId, createdAt: this.now() });
    return versionId;
  }

  private answer(request: { headers: Record<string, string>; body?: unknown }) {
    const target = request.headers['x-amz-target'] ?? request.headers['X-Amz-Target'];
    if (target !== 'secretsmanager.GetSecretValue')
      throw new Error(`FakeSecretsManager: ${target} not modelled`);
    const raw =
      request.body instanceof Uint8Array ? new TextDecoder().decode(request.body) : String(request.body);
    const { SecretId } = JSON.parse(raw) as { SecretId: string };
    const version = this.secrets.get(SecretId);
    this.reads.set(SecretId, (this.reads.get(SecretId) ?? 0) + 1);
    const respond = (statusCode: number, body: unknown) => ({
      statusCode,
      headers: { 'content-type': 'application/x-amz-json-1.1' },
      body: new TextEncoder().encode(JSON.stringify(body)),
    });
    if (!version) {
      return respond(400, {
        __type: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
      });
    }
    const name = SecretId.startsWith('arn:')
      ? SecretId.split(':secret:')[1]!.replace(/-\w{6}$/, '')
      : SecretId;
    return respond(200, {
      ARN: SecretId.startsWith('arn:')
        ? SecretId
        : `arn:aws:secretsmanager:us-west-2:123456789012:secret:${SecretId}-a1b2c3`,
      CreatedDate: version.createdAt / 1000,
      Name: name,
      SecretString: version.secretString,
      VersionId: version.versionId,
      VersionStages: ['AWSCURRENT'],
    });
  }
}
