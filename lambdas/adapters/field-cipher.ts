/**
 * The `FieldCipher` port (lambdas/domain/ports.ts) as envelope encryption: AES-256-GCM with a
 * data key, the data key encrypted under a key-encryption key and stored with the value
 * (`v1.<encrypted data key>.<iv>.<ciphertext+tag>`, base64url). The record, field and purpose
 * are the AES-GCM additional data; the purpose is also the KMS encryption context, so a key
 * grant can allow decrypting one purpose only (the sync functions open the sync state, only the
 * conflict resolver opens conflicts).
 *
 * Data keys come from a `DataKeySource`: `KmsDataKeys` (a customer-managed KMS key: the Lambda
 * functions) or `LocalDataKeys` (a key held in memory: tests and the local rehearsal, where no
 * KMS is reachable). A generated data key is reused for a while (as the AWS Encryption SDK's
 * caching does) so a busy sync calls KMS about once per purpose every few minutes; decrypted
 * data keys are cached likewise.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { FieldCipher, SealContext } from '../domain/ports.js';

/** A data key: its plaintext (32 bytes) and its encrypted form (stored with each value). */
export interface DataKey {
  readonly plaintext: Uint8Array;
  readonly encrypted: Uint8Array;
}

/** Where data keys come from (a key-encryption key: KMS, or a local key). */
export interface DataKeySource {
  generate(purpose: SealContext['purpose']): Promise<DataKey>;
  /** @throws when the key is not for `purpose` or may not be used */
  decrypt(encrypted: Uint8Array, purpose: SealContext['purpose']): Promise<Uint8Array>;
}

/** A sealed value that is malformed or does not open for its context. */
export class SealedValueError extends Error {
  constructor(context: SealContext, reason: string) {
    super(`${context.entity}.${context.field} (${context.purpose}): ${reason}`);
    this.name = 'SealedValueError';
  }
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
const unb64 = (s: string) => Buffer.from(s, 'base64url');
const aadOf = (c: SealContext) => Buffer.from(JSON.stringify([c.purpose, c.entity, c.key, c.field]), 'utf8');

export interface EnvelopeCipherOptions {
  /** How long one generated data key encrypts new values. @default 300000 (5 min) */
  readonly dataKeyMaxAgeMs?: number;
  /** How many values one generated data key encrypts at most. @default 10000 */
  readonly dataKeyMaxUses?: number;
  /** Decrypted data keys kept (by encrypted form), each for `dataKeyMaxAgeMs`. @default 256 */
  readonly cachedKeys?: number;
  readonly now?: () => number;
}

/** AES-256-GCM field encryption with data keys from a `DataKeySource`. */
export class EnvelopeCipher implements FieldCipher {
  private readonly current = new Map<string, { key: DataKey; at: number; uses: number }>();
  private readonly opened = new Map<string, { key: Uint8Array; at: number }>();
  private readonly maxAge: number;
  private readonly maxUses: number;
  private readonly cachedKeys: number;
  private readonly now: () => number;

  constructor(
    private readonly keys: DataKeySource,
    options: EnvelopeCipherOptions = {},
  ) {
    this.maxAge = options.dataKeyMaxAgeMs ?? 300_000;
    this.maxUses = options.dataKeyMaxUses ?? 10_000;
    this.cachedKeys = options.cachedKeys ?? 256;
    this.now = options.now ?? Date.now;
  }

  async seal(plaintext: string, context: SealContext): Promise<string> {
    const key = await this.dataKeyFor(context.purpose);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.plaintext, iv);
    cipher.setAAD(aadOf(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `v1.${b64(key.encrypted)}.${b64(iv)}.${b64(body)}`;
  }

  async open(sealed: string, context: SealContext): Promise<string> {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== 'v1')
      throw new SealedValueError(context, 'not a sealed value (v1)');
    const [, encryptedKey, iv, body] = parts as [string, string, string, string];
    const key = await this.openDataKey(encryptedKey, context.purpose);
    const data = unb64(body);
    if (data.length < 16) throw new SealedValueError(context, 'the sealed value is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, unb64(iv));
      decipher.setAAD(aadOf(context));
      decipher.setAuthTag(data.subarray(data.length - 16));
      return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new SealedValueError(context, 'the value does not open for this record and field');
    }
  }

  private async dataKeyFor(purpose: SealContext['purpose']): Promise<DataKey> {
    const t = this.now();
    const c = this.current.get(purpose);
    if (c && t - c.at < this.maxAge && c.uses < this.maxUses) {
      c.uses++;
      return c.key;
    }
    // Not kept for opening: what a role may open is what its grant allows to decrypt (a sync
    // function seals conflicts but may not open them).
    const key = await this.keys.generate(purpose);
    this.current.set(purpose, { key, at: t, uses: 1 });
    return key;
  }

  private async openDataKey(encrypted: string, purpose: SealContext['purpose']): Promise<Uint8Array> {
    const id = `${purpose}:${encrypted}`;
    const t = this.now();
    const hit = this.opened.get(id);
    if (hit && t - hit.at < this.maxAge) return hit.key;
    const key = await this.keys.decrypt(unb64(encrypted), purpose);
    this.remember(id, key, t);
    return key;
  }

  private remember(id: string, key: Uint8Array, at: number): void {
    this.opened.delete(id);
    this.opened.set(id, { key, at });
    // Oldest first (insertion order): drop beyond the bound.
    while (this.opened.size > this.cachedKeys) this.opened.delete(this.opened.keys().next().value!);
  }
}

/** The KMS encryption context of a purpose (what the key grants' conditions name). */
export const encryptionContextOf = (purpose: SealContext['purpose']) => ({ 'cutover:purpose': purpose });

/** Data keys from a customer-managed KMS key (GenerateDataKey / Decrypt with the purpose as context). */
export class KmsDataKeys implements DataKeySource {
  constructor(
    private readonly keyId: string,
    private readonly client: Pick<KMSClient, 'send'> = new KMSClient({}),
  ) {}

  async generate(purpose: SealContext['purpose']): Promise<DataKey> {
    const res = await this.client.send(
      new GenerateDataKeyCommand({
        KeyId: this.keyId,
        KeySpec: 'AES_256',
        EncryptionContext: encryptionContextOf(purpose),
      }),
    );
    if (!res.Plaintext || !res.CiphertextBlob)
      throw new Error(`KMS GenerateDataKey returned no key (${this.keyId})`);
    return { plaintext: res.Plaintext, encrypted: res.CiphertextBlob };
  }

  async decrypt(encrypted: Uint8Array, purpose: SealContext['purpose']): Promise<Uint8Array> {
    const res = await this.client.send(
      new DecryptCommand({
        KeyId: this.keyId,
        CiphertextBlob: encrypted,
        EncryptionContext: encryptionContextOf(purpose),
      }),
    );
    if (!res.Plaintext) throw new Error(`KMS Decrypt returned no key (${this.keyId})`);
    return res.Plaintext;
  }
}

/**
 * Data keys wrapped with a key held in memory (AES-256-GCM, the purpose as additional data): for
 * the tests and the local rehearsal. `opens` limits the purposes whose data keys it decrypts,
 * as a KMS grant does (a store built with `opens: ['sync-state']` cannot open conflicts).
 */
export class LocalDataKeys implements DataKeySource {
  private readonly opens: ReadonlySet<SealContext['purpose']>;

  constructor(
    private readonly masterKey: Uint8Array = randomBytes(32),
    opens: readonly SealContext['purpose'][] = ['sync-state', 'conflicts'],
  ) {
    this.opens = new Set(opens);
  }

  /** The same key, allowed to decrypt only `opens` (another role's view of it). */
  withGrant(opens: readonly SealContext['purpose'][]): LocalDataKeys {
    return new LocalDataKeys(this.masterKey, opens);
  }

  async generate(purpose: SealContext['purpose']): Promise<DataKey> {
    const plaintext = randomBytes(32);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.masterKey, iv);
    c.setAAD(Buffer.from(purpose, 'utf8'));
    const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    return { plaintext, encrypted: Buffer.concat([iv, body]) };
  }

  async decrypt(encrypted: Uint8Array, purpose: SealContext['purpose']): Promise<Uint8Array> {
    if (!this.opens.has(purpose)) {
      throw new Error(`AccessDeniedException: this role may not decrypt ${purpose} data keys`);
    }
    const buf = Buffer.from(encrypted);
    const d = createDecipheriv('aes-256-gcm', this.masterKey, buf.subarray(0, 12));
    d.setAAD(Buffer.from(purpose, 'utf8'));
    d.setAuthTag(buf.subarray(buf.length - 16));
    return Buffer.concat([d.update(buf.subarray(12, buf.length - 16)), d.final()]);
  }
}
