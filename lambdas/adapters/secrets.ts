/**
 * Secrets Manager behind a port, and a cache of one secret with an expiry.
 *
 * The legacy database's credentials are rotated (Secrets Manager rotation, or by hand); a
 * function that read them once per container would open no new connection after a rotation
 * until the container died. {@link CachedSecret} keeps the value for `maxAgeMs` and re-reads it
 * after that, and {@link CachedSecret.refresh} re-reads it at once (the MySQL pool does so on an
 * access-denied error, lambdas/adapters/mysql-rotating-pool.ts).
 *
 * Why not Powertools Parameters' `SecretsProvider`: what the pool needs beyond a `maxAge` is a
 * forced re-read that concurrent callers share (one GetSecretValue for a burst of failed
 * connections) and the version id, to rebuild the pool only when the secret really changed.
 * That is these 60 lines over the Secrets Manager client the functions bundle already, instead
 * of a further dependency wrapped in the same code.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** One version of a secret as the functions use it. */
export interface SecretValue {
  readonly secretString: string;
  /** Secrets Manager's `VersionId`: a new value has a new id. */
  readonly versionId: string;
}

/** Where secrets are read from (port): Secrets Manager, or a stand-in in the tests. */
export interface SecretSource {
  /** The `AWSCURRENT` version of `secretId`. */
  get(secretId: string): Promise<SecretValue>;
}

/** A secret Cutover reads has no `SecretString` (a binary secret): it cannot be used. */
export class SecretFormatError extends Error {
  constructor(secretId: string) {
    super(`secret ${secretId} has no SecretString (a binary secret?): expected a JSON string`);
    this.name = 'SecretFormatError';
  }
}

/** {@link SecretSource} on Secrets Manager (`secretsmanager:GetSecretValue`, `kms:Decrypt` of its key). */
export class SecretsManagerSource implements SecretSource {
  constructor(private readonly client: Pick<SecretsManagerClient, 'send'> = new SecretsManagerClient({})) {}

  async get(secretId: string): Promise<SecretValue> {
    const res = await this.client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (res.SecretString === undefined) throw new SecretFormatError(secretId);
    return { secretString: res.SecretString, versionId: res.VersionId ?? '' };
  }
}

export interface CachedSecretOptions {
  /** How long a read value is used before it is read again. @default 300_000 (5 minutes) */
  readonly maxAgeMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * One secret, read at most once per `maxAgeMs` (and at once on {@link refresh}). Concurrent
 * callers share one read; a failed read is not kept (the next call reads again).
 */
export class CachedSecret {
  private value?: { readonly at: number; readonly secret: SecretValue };
  private reading?: Promise<SecretValue>;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly source: SecretSource,
    readonly secretId: string,
    options: CachedSecretOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 300_000;
    this.now = options.now ?? Date.now;
  }

  /** The value, read again when older than `maxAgeMs`. */
  get(): Promise<SecretValue> {
    if (this.value && this.now() - this.value.at < this.maxAgeMs) return Promise.resolve(this.value.secret);
    return this.refresh();
  }

  /** Reads the secret now (shared with a read already in flight). */
  refresh(): Promise<SecretValue> {
    this.reading ??= this.source.get(this.secretId).then(
      (secret) => {
        this.value = { at: this.now(), secret };
        this.reading = undefined;
        return secret;
      },
      (error: unknown) => {
        this.reading = undefined;
        throw error;
      },
    );
    return this.reading;
  }
}
