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
 * `PATCH {path}/{id}`, `DELETE {path}/{id}`, for polling
 * `GET {path}?updatedAfter=&afterId=&updatedBefore=&limit=` ordered by (updatedAt, id), and for
 * the consistency check and the backfill the full listing `GET {path}?limit=&afterId=` (no
 * `updated*` parameters): the items with `id > afterId` in the API's id order, at most `limit`,
 * as `{ items: [...] }` or an array; an empty page ends the listing.
 *
 * The API computes no checksums, so `count`, `chunkChecksums` and `readChunk` page through the
 * listing and compute here, in JS, what the MySQL store computes in SQL: the row hashes of
 * checksum.ts (`recordHash`) over the canonical values (`normalizeValue`), summed per chunk,
 * with keys placed by `chunkOfKey` (string ids in hash buckets, see chunks.ts). Nothing is
 * cached: each call holds one page and what it computes (a chunk's rows, the chunks' sums), so
 * memory does not grow with the collection. Full validation (validation.ts) lists the collection
 * once per run through `listPage`, into parts.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { functionEnv, RUNTIME_ENV } from '../../lib/spec/runtime.js';
import type { EntitySpec, HttpEntityLegacy } from '../../lib/spec/schema.js';
import { addRowHash, EMPTY_CHECKSUM, recordHash } from '../domain/checksum.js';
import { chunkOfKey } from '../domain/chunks.js';
import type { FieldValue } from '../domain/events.js';
import type {
  CapturedRow,
  ChunkChecksum,
  LegacyListing,
  LegacyStore,
  LegacyWrite,
  LegacyWriteResult,
  Row,
  ScanCursor,
  StoredRecord,
} from '../domain/ports.js';
import { type ColumnLimits, normalizeValue } from '../domain/values.js';
import { backoff } from './system-clock.js';

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
  /** Items per page of the full listing (`limit`). @default 500 (at most 1000) */
  readonly pageSize?: number;
}

/** Page size bounds of the full listing. */
export const MAX_PAGE_SIZE = 1000;

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

export class HttpLegacyStore implements LegacyStore, LegacyListing {
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
  ): Promise<Response> {
    return (await this.send(method, url, init)).res;
  }

  /**
   * GET of a JSON document: reading and parsing the body is part of the attempt, so a body that
   * stalls past the timeout or breaks off is retried like a failed request. A response that is
   * not 2xx (and not retryable) is returned with no body read.
   */
  private async getJson(url: string): Promise<{ res: Response; body?: unknown }> {
    return this.send('GET', url, {}, (res) => res.json());
  }

  private async send(
    method: string,
    url: string,
    init: { body?: unknown; headers?: Record<string, string> },
    read?: (res: Response) => Promise<unknown>,
  ): Promise<{ res: Response; body?: unknown }> {
    const max = this.options.maxRetries;
    for (let attempt = 0; ; attempt++) {
      let res: Response | undefined;
      let error: unknown;
      let body: unknown;
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
        if (read && res.ok) body = await read(res);
      } catch (e) {
        error = e;
      }
      if (res && !error && !RETRYABLE.has(res.status)) return { res, body };
      // A response not used: release its connection.
      if (res && !res.bodyUsed) await res.body?.cancel().catch(() => {});
      if (attempt >= max) {
        throw new LegacyHttpError(
          `${method} ${new URL(url).pathname} failed after ${attempt + 1} attempts: ${this.failure(res, error)}`,
          res?.status,
          { cause: error },
        );
      }
      await backoff(attempt, { baseMs: this.options.baseDelayMs ?? 100 });
    }
  }

  /** What went wrong with the last attempt, without values from the response. */
  private failure(res: Response | undefined, error: unknown): string {
    const name = error instanceof Error ? error.name : '';
    if (name === 'TimeoutError' || name === 'AbortError')
      return `no complete response within ${this.options.timeoutMs} ms`;
    if (res && error) return `HTTP ${res.status} with an unreadable body (${name || 'error'})`;
    if (res) return `HTTP ${res.status}`;
    return error instanceof Error
      ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`
      : 'no response';
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

  /**
   * One page of the listing convention: `GET {path}?limit=&afterId=` (no `afterId` for the first
   * page), the items in the API's id order after `after`. `last` is the id to continue after,
   * absent once a page comes back empty.
   * @throws LegacyHttpError on a failed page (after the request's retries), a body of the wrong
   *   shape, an item without an id or with a value of the wrong type, or an id not after `after`
   *   (the server ignores `afterId`)
   */
  async listPage(
    entity: EntitySpec,
    options: { readonly after?: string; readonly limit: number },
  ): Promise<{ rows: CapturedRow[]; last?: string }> {
    const l = this.legacy(entity);
    const limit = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(options.limit)));
    const query: Record<string, string> = {
      limit: String(limit),
      ...(options.after !== undefined ? { afterId: options.after } : {}),
    };
    const { res, body } = await this.getJson(this.url(l.path, query));
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new LegacyHttpError(`GET ${l.path} (listing): HTTP ${res.status}`, res.status);
    }
    const items = Array.isArray(body) ? body : (body as { items?: unknown } | null)?.items;
    if (!Array.isArray(items))
      throw new LegacyHttpError(`GET ${l.path} (listing): the body is neither an array nor { items: [...] }`);
    const rows: CapturedRow[] = [];
    const seen = new Set<string>();
    for (const item of items as Record<string, unknown>[]) {
      const id = item?.[l.key];
      if ((typeof id !== 'string' && typeof id !== 'number') || id === '')
        throw new LegacyHttpError(`GET ${l.path} (listing): an item has no "${l.key}"`);
      const key = String(id);
      if (seen.has(key) || key === options.after)
        throw new LegacyHttpError(
          `GET ${l.path} (listing): id ${key} listed twice (does the API honour afterId, ordered by id?)`,
        );
      seen.add(key);
      try {
        rows.push(this.toRecord(entity, item));
      } catch (e) {
        // The message of a ValueError may quote the value: keep it out of ours (cause only).
        throw new LegacyHttpError(
          `GET ${l.path} (listing): item ${key} has a value of the wrong type`,
          undefined,
          {
            cause: e,
          },
        );
      }
    }
    return rows.length ? { rows, last: rows[rows.length - 1]!.key } : { rows };
  }

  /**
   * The whole collection, page by page (`pageSize` items), one page in memory at a time.
   * @throws LegacyHttpError as {@link listPage}, or when a page repeats an id of the page
   *   before it (the server ignores `afterId`)
   */
  async *pages(entity: EntitySpec): AsyncIterable<CapturedRow[]> {
    const limit = this.options.pageSize ?? 500;
    let after: string | undefined;
    let previous = new Set<string>();
    for (;;) {
      const page = await this.listPage(entity, { ...(after !== undefined ? { after } : {}), limit });
      if (page.last === undefined) return;
      if (page.rows.some((r) => previous.has(r.key)))
        throw new LegacyHttpError(
          `GET ${this.legacy(entity).path} (listing): id ${page.rows.find((r) => previous.has(r.key))!.key} listed twice (does the API honour afterId, ordered by id?)`,
        );
      previous = new Set(page.rows.map((r) => r.key));
      yield page.rows;
      after = page.last;
    }
  }

  /**
   * None: a REST API publishes no column definitions, and it checks what it accepts itself (a
   * value it refuses fails the write with its status).
   */
  async columnLimits(_entity: EntitySpec): Promise<ReadonlyMap<string, ColumnLimits>> {
    return new Map();
  }

  async count(entity: EntitySpec): Promise<number> {
    let n = 0;
    for await (const page of this.pages(entity)) n += page.length;
    return n;
  }

  /**
   * Per-chunk counts and checksums (checksum.ts: `recordHash` over `fields`, all fields by
   * default, summed), computed while paging through the listing (one page and the chunks' sums
   * in memory); chunks as `chunkOfKey` (hash buckets for string ids).
   */
  async chunkChecksums(
    entity: EntitySpec,
    options: {
      readonly chunkSize: number;
      readonly fields?: readonly string[];
      readonly chunks?: { readonly from: number; readonly to: number };
    },
  ): Promise<ChunkChecksum[]> {
    const size = chunkSizeOf(options.chunkSize);
    const chunks = new Map<number, { count: number; checksum: number }>();
    for await (const page of this.pages(entity)) {
      for (const r of page) {
        const chunk = chunkOfKey(r.key, size);
        if (options.chunks && (chunk < options.chunks.from || chunk >= options.chunks.to)) continue;
        const c = chunks.get(chunk) ?? { count: 0, checksum: EMPTY_CHECKSUM };
        c.count++;
        c.checksum = addRowHash(c.checksum, recordHash(entity, r.key, r.data, options.fields));
        chunks.set(chunk, c);
      }
    }
    return [...chunks]
      .sort(([a], [b]) => a - b)
      .map(([chunk, c]) => ({ chunk, count: c.count, checksum: c.checksum }));
  }

  /**
   * The listed rows whose key falls in `chunk`, in listing order (the listing is paged through;
   * only the chunk's rows are kept). No inbox over HTTP: counters are not synced through this
   * store, so `syncedDeltas` is empty when asked for.
   */
  async readChunk(
    entity: EntitySpec,
    chunk: number,
    options: { readonly chunkSize: number; readonly withSyncedDeltas?: boolean },
  ): Promise<CapturedRow[]> {
    const size = chunkSizeOf(options.chunkSize);
    const out: CapturedRow[] = [];
    for await (const page of this.pages(entity)) {
      for (const r of page)
        if (chunkOfKey(r.key, size) === chunk)
          out.push(options.withSyncedDeltas ? { ...r, syncedDeltas: {} } : r);
    }
    return out;
  }
}

function chunkSizeOf(size: number): number {
  if (!Number.isSafeInteger(size) || size < 1)
    throw new RangeError(`chunk size ${size} is not a positive integer`);
  return size;
}

/**
 * The API token: `CUTOVER_LEGACY_TOKEN` locally, else the Secrets Manager secret
 * `CUTOVER_LEGACY_SECRET_ARN` (a plain string, or JSON `{ "token": … }`); none when neither is set.
 */
export async function legacyTokenFromEnv(
  env: NodeJS.ProcessEnv = functionEnv(),
): Promise<string | undefined> {
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
