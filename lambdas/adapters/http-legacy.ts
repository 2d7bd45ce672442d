/**
 * A legacy service's REST API as the legacy store (the menu migration: Restaurant Service).
 *
 * Every request has a timeout; transient failures (network errors, timeouts, 429, 5xx) are
 * retried a bounded number of times with full-jitter backoff. Writes are conditional where the
 * API allows: `If-Match: <version>` from the entity's `versionProperty` (412 -> the caller
 * re-reads and re-decides), and creates carry an `Idempotency-Key` (the create token) so that a
 * retried POST does not create a second resource.
 *
 * Assumed API shape (documented in docs/sync.md): `GET {path}/{id}`, `POST {path}`,
 * `PATCH {path}/{id}`, `DELETE {path}/{id}`, and for polling
 * `GET {path}?updatedAfter=&afterId=&updatedBefore=&limit=` ordered by (updatedAt, id).
 * Chunk checksums are not available over HTTP: the consistency check of an HTTP legacy side
 * compares rows read through the poller's listing instead (not implemented here).
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import type { EntitySpec, HttpEntityLegacy } from '../../lib/spec/schema.js';
import type { FieldValue } from '../domain/events.js';
import type {
  CapturedRow,
  ChunkChecksum,
  LegacyStore,
  LegacyWrite,
  LegacyWriteResult,
  Row,
  ScanCursor,
  StoredRecord,
} from '../domain/ports.js';
import { normalizeValue } from '../domain/values.js';

export class LegacyHttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LegacyHttpError';
  }
}

export interface HttpLegacyStoreOptions {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** Bearer token. @default - no Authorization header */
  readonly token?: string;
  /** @default global fetch */
  readonly fetch?: typeof fetch;
  /** @default 100 */
  readonly baseDelayMs?: number;
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

export class HttpLegacyStore implements LegacyStore {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: HttpLegacyStoreOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  private legacy(entity: EntitySpec): HttpEntityLegacy {
    const l = entity.legacy as HttpEntityLegacy;
    if (!('path' in l)) throw new Error(`${entity.name} has no http legacy mapping`);
    return l;
  }

  private url(path: string, query?: Record<string, string>): string {
    const u = new URL(this.options.baseUrl.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) u.searchParams.set(k, v);
    return u.toString();
  }

  /** One request with timeout and bounded, jittered retries of transient failures. */
  async request(
    method: string,
    url: string,
    init: { body?: unknown; headers?: Record<string, string> } = {},
  ) {
    const max = this.options.maxRetries;
    for (let attempt = 0; ; attempt++) {
      let res: Response | undefined;
      let error: unknown;
      try {
        res = await this.fetch(url, {
          method,
          headers: {
            accept: 'application/json',
            ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
            ...init.headers,
          },
          ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
      } catch (e) {
        error = e;
      }
      if (res && !RETRYABLE.has(res.status)) return res;
      if (attempt >= max) {
        throw new LegacyHttpError(
          `${method} ${new URL(url).pathname} failed after ${attempt + 1} attempts${res ? `: HTTP ${res.status}` : ''}`,
          res?.status,
          { cause: error },
        );
      }
      const cap = (this.options.baseDelayMs ?? 100) * 2 ** attempt;
      await new Promise((r) => setTimeout(r, Math.random() * cap));
    }
  }

  private toRecord(entity: EntitySpec, body: Record<string, unknown>): StoredRecord {
    const l = this.legacy(entity);
    const data: Row = {};
    for (const f of entity.fields) {
      const prop = f.property ?? f.name;
      if (prop in body) data[f.name] = normalizeValue({ ...f, nullable: true }, body[prop]);
    }
    const at = l.updatedAt ? body[l.updatedAt] : undefined;
    const version = l.versionProperty ? body[l.versionProperty] : undefined;
    return {
      key: String(body[l.key]),
      exists: true,
      data,
      ...(typeof at === 'string' && !Number.isNaN(Date.parse(at)) ? { changedAt: Date.parse(at) } : {}),
      ...(typeof version === 'number' ? { version } : {}),
    };
  }

  private body(entity: EntitySpec, patch: Row): Record<string, FieldValue> {
    const out: Record<string, FieldValue> = {};
    for (const f of entity.fields) if (f.name in patch) out[f.property ?? f.name] = patch[f.name]!;
    return out;
  }

  async read(entity: EntitySpec, key: string): Promise<StoredRecord> {
    const l = this.legacy(entity);
    const res = await this.request('GET', this.url(`${l.path}/${encodeURIComponent(key)}`));
    if (res.status === 404) return { key, exists: false, data: {} };
    if (!res.ok) throw new LegacyHttpError(`GET ${l.path}/{id}: HTTP ${res.status}`, res.status);
    return this.toRecord(entity, (await res.json()) as Record<string, unknown>);
  }

  async write(entity: EntitySpec, w: LegacyWrite): Promise<LegacyWriteResult> {
    const l = this.legacy(entity);
    if (Object.keys(w.deltas).length)
      throw new LegacyHttpError(`${entity.name}: counters are not supported over HTTP`);
    const ifMatch: Record<string, string> =
      l.versionProperty && w.expected.version !== undefined ? { 'if-match': String(w.expected.version) } : {};
    if (w.create) {
      const res = await this.request('POST', this.url(l.path), {
        body: this.body(entity, w.patch),
        headers: w.createToken ? { 'idempotency-key': w.createToken } : {},
      });
      if (res.status === 409) return { outcome: 'conflict' };
      if (!res.ok) throw new LegacyHttpError(`POST ${l.path}: HTTP ${res.status}`, res.status);
      const created = this.toRecord(entity, (await res.json()) as Record<string, unknown>);
      return { outcome: 'written', key: created.key };
    }
    const path = `${l.path}/${encodeURIComponent(w.expected.key)}`;
    const res = w.delete
      ? await this.request('DELETE', this.url(path), { headers: ifMatch })
      : await this.request('PATCH', this.url(path), { body: this.body(entity, w.patch), headers: ifMatch });
    if (res.status === 412 || res.status === 409 || res.status === 404)
      return { outcome: 'conflict', key: w.expected.key };
    if (!res.ok)
      throw new LegacyHttpError(
        `${w.delete ? 'DELETE' : 'PATCH'} ${l.path}/{id}: HTTP ${res.status}`,
        res.status,
      );
    return { outcome: 'written', key: w.expected.key };
  }

  async deltasApplied(): Promise<boolean> {
    return false;
  }

  async scanChanged(
    entity: EntitySpec,
    cursor: ScanCursor | undefined,
    options: { limit: number; before: number },
  ): Promise<CapturedRow[]> {
    const l = this.legacy(entity);
    const query: Record<string, string> = {
      updatedBefore: new Date(options.before).toISOString(),
      limit: String(options.limit),
      ...(cursor ? { updatedAfter: new Date(cursor.at).toISOString(), afterId: cursor.key } : {}),
    };
    const res = await this.request('GET', this.url(l.path, query));
    if (!res.ok) throw new LegacyHttpError(`GET ${l.path}: HTTP ${res.status}`, res.status);
    const body = (await res.json()) as { items?: Record<string, unknown>[] } | Record<string, unknown>[];
    const items = Array.isArray(body) ? body : (body.items ?? []);
    return items.map((i) => this.toRecord(entity, i));
  }

  async chunkChecksums(): Promise<ChunkChecksum[]> {
    throw new LegacyHttpError('chunk checksums are not available over HTTP');
  }

  async readChunk(): Promise<CapturedRow[]> {
    throw new LegacyHttpError('chunk reads are not available over HTTP');
  }

  async count(): Promise<number> {
    throw new LegacyHttpError('counts are not available over HTTP');
  }
}

/**
 * The API token: `CUTOVER_LEGACY_TOKEN` locally, else the Secrets Manager secret
 * `CUTOVER_LEGACY_SECRET_ARN` (a plain string, or JSON `{ "token": … }`); none when neither is set.
 */
export async function legacyTokenFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const local = env[RUNTIME_ENV.legacyToken];
  if (local) return local;
  const arn = env[RUNTIME_ENV.legacySecretArn];
  if (!arn) return undefined;
  const res = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn }));
  const raw = res.SecretString ?? '';
  try {
    const parsed = JSON.parse(raw) as { token?: string };
    return parsed.token ?? raw;
  } catch {
    return raw;
  }
}
