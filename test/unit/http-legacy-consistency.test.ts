import { crc32 } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpLegacyStore, LegacyHttpError } from '../../lambdas/adapters/http-legacy.js';
import { checksumOf, recordHash } from '../../lambdas/domain/checksum.js';
import { chunkOfKey, HASH_BUCKETS, isHashBucket } from '../../lambdas/domain/chunks.js';
import menu from '../../migrations/menu.js';
import {
  canonicalData,
  type MenuItem,
  type MenuLegacyServer,
  menuItems,
  startMenuLegacyServer,
} from '../support/menu-legacy-server.js';

const entity = menu.services[0]!.entities[0]!;
const ITEMS = menuItems(300);
const TOKEN = 'test-token';

/** Per-chunk { count, checksum } computed from the canonical items with recordHash. */
function expectedChecksums(items: readonly MenuItem[], chunkSize: number, fields?: readonly string[]) {
  const chunks = new Map<number, number[]>();
  for (const item of items) {
    const chunk = chunkOfKey(item.id, chunkSize);
    chunks.set(chunk, [
      ...(chunks.get(chunk) ?? []),
      recordHash(entity, item.id, canonicalData(item), fields),
    ]);
  }
  return [...chunks]
    .sort(([a], [b]) => a - b)
    .map(([chunk, hashes]) => ({ chunk, count: hashes.length, checksum: checksumOf(hashes) }));
}

describe('Function: chunkOfKey', () => {
  it('keeps key-range chunks for unsigned integers and hashes other keys into fixed buckets', () => {
    expect(chunkOfKey('0', 1000)).toBe(0);
    expect(chunkOfKey('73541', 1000)).toBe(73);
    expect(chunkOfKey('007', 5)).toBe(1);
    expect(chunkOfKey(String(Number.MAX_SAFE_INTEGER), 1000)).toBe(
      Math.floor(Number.MAX_SAFE_INTEGER / 1000),
    );
    for (const key of ['mi-1', 'M-1', 'Crème', '', '1e3', '-5', ' 7', '9007199254740993', 'a|b']) {
      const chunk = chunkOfKey(key, 1000);
      expect(chunk).toBe(-1 - ((crc32(key) >>> 0) % HASH_BUCKETS));
      expect(isHashBucket(chunk)).toBe(true);
      // The bucket does not depend on the chunk size.
      expect(chunkOfKey(key, 7)).toBe(chunk);
    }
    expect(isHashBucket(chunkOfKey('42', 1))).toBe(false);
    // Spread: 300 string ids land in many buckets.
    expect(new Set(ITEMS.map((i) => chunkOfKey(i.id, 1000))).size).toBeGreaterThan(200);
  });
});

describe('Function: HttpLegacyStore listing (count, chunkChecksums, readChunk)', () => {
  let server: MenuLegacyServer;
  const store = (o: Partial<ConstructorParameters<typeof HttpLegacyStore>[0]> = {}) =>
    new HttpLegacyStore({
      baseUrl: server.baseUrl,
      timeoutMs: 1000,
      maxRetries: 2,
      baseDelayMs: 1,
      token: TOKEN,
      pageSize: 40,
      ...o,
    });

  beforeAll(async () => {
    // The server caps pages at 64 items whatever `limit` asks for.
    server = await startMenuLegacyServer(ITEMS, { maxPageSize: 64, token: TOKEN });
  });
  afterEach(() => {
    server.fault(undefined);
    server.seen.length = 0;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('pages through the collection for count and checksums, equal to recordHash over the items', async () => {
    const s = store();
    expect(await s.count(entity)).toBe(300);
    // ceil(300 / 40) pages and the empty page that ends the listing.
    const pages = server.listings();
    expect(pages).toHaveLength(9);
    expect(pages.every((p) => p.query.get('limit') === '40' && p.authorization === `Bearer ${TOKEN}`)).toBe(
      true,
    );
    const sorted = ITEMS.map((i) => i.id).sort();
    expect(pages[0]!.query.has('afterId')).toBe(false);
    expect(pages.slice(1).map((p) => p.query.get('afterId'))).toEqual(
      [40, 80, 120, 160, 200, 240, 280, 300].map((n) => sorted[n - 1]),
    );
    expect(await s.chunkChecksums(entity, { chunkSize: 1000 })).toEqual(expectedChecksums(ITEMS, 1000));
    // The same checksums over a subset of the fields, and over a range of chunks only.
    expect(await s.chunkChecksums(entity, { chunkSize: 1000, fields: ['price', 'name'] })).toEqual(
      expectedChecksums(ITEMS, 1000, ['price', 'name']),
    );
    expect(await s.chunkChecksums(entity, { chunkSize: 1000, chunks: { from: -10, to: 0 } })).toEqual(
      expectedChecksums(ITEMS, 1000).filter((c) => c.chunk >= -10 && c.chunk < 0),
    );
    // Nothing is cached: every call lists again (memory does not grow with the collection).
    expect(server.listings()).toHaveLength(36);
  });

  it('follows a server that returns fewer items than asked for, until an empty page', async () => {
    const s = store({ pageSize: 100 }); // the server answers 64 at most
    expect(await s.count(entity)).toBe(300);
    expect(server.listings()).toHaveLength(Math.ceil(300 / 64) + 1);
  });

  it('reads a chunk: exactly the items whose key falls in it, in canonical form', async () => {
    const s = store();
    const sums = await s.chunkChecksums(entity, { chunkSize: 1000 });
    const numeric = sums.find((c) => c.chunk >= 0)!;
    const hashed = sums.filter((c) => isHashBucket(c.chunk)).sort((a, b) => b.count - a.count)[0]!;
    for (const c of [numeric, hashed]) {
      const rows = await s.readChunk(entity, c.chunk, { chunkSize: 1000 });
      const want = ITEMS.filter((i) => chunkOfKey(i.id, 1000) === c.chunk);
      expect(rows).toHaveLength(c.count);
      expect(rows.map((r) => r.key).sort()).toEqual(want.map((i) => i.id).sort());
      for (const r of rows) {
        const item = want.find((i) => i.id === r.key)!;
        expect(r.data).toEqual(canonicalData(item));
        expect(r).toMatchObject({ exists: true, version: 1 });
      }
      expect(checksumOf(rows.map((r) => recordHash(entity, r.key, r.data)))).toBe(c.checksum);
    }
    expect(await s.readChunk(entity, 5, { chunkSize: 1000 })).toEqual([]);
  });

  it('listPage: one page after an id and the id to continue after; an empty page ends the listing', async () => {
    const s = store();
    const sorted = ITEMS.map((i) => i.id).sort();
    const first = await s.listPage(entity, { limit: 50 });
    expect(first.rows.map((r) => r.key)).toEqual(sorted.slice(0, 50));
    expect(first.last).toBe(sorted[49]);
    const next = await s.listPage(entity, { after: first.last!, limit: 50 });
    expect(next.rows.map((r) => r.key)).toEqual(sorted.slice(50, 100));
    expect(await s.listPage(entity, { after: sorted[299]!, limit: 50 })).toEqual({ rows: [] });
    expect(server.listings().map((p) => p.query.get('afterId'))).toEqual([null, sorted[49], sorted[299]]);
  });

  it('a failing server gives a LegacyHttpError after the bounded retries; a failed listing is not kept', async () => {
    server.fault(() => 503);
    const s = store();
    const err = await s.count(entity).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LegacyHttpError);
    expect(err).toMatchObject({
      status: 503,
      message: 'GET /api/v1/menu-items failed after 3 attempts: HTTP 503',
    });
    expect(server.seen).toHaveLength(3);

    // Page 3 fails for good: the listing fails, and nothing partial is reused afterwards.
    server.seen.length = 0;
    server.fault((r) => (r.query.get('afterId') === ITEMS.map((i) => i.id).sort()[79] ? 500 : undefined));
    await expect(s.chunkChecksums(entity, { chunkSize: 1000 })).rejects.toMatchObject({
      name: 'LegacyHttpError',
      status: 500,
    });
    expect(server.listings()).toHaveLength(2 + 3);
    server.fault(undefined);
    expect(await s.count(entity)).toBe(300);

    // A client error is not retried.
    server.seen.length = 0;
    const denied = await store({ token: 'wrong' })
      .count(entity)
      .catch((e: unknown) => e);
    expect(denied).toMatchObject({ name: 'LegacyHttpError', status: 401 });
    expect(server.seen).toHaveLength(1);
  });

  it('a server that does not answer fails within timeout × attempts', async () => {
    server.fault(() => 'hang');
    const started = Date.now();
    const err = await store({ timeoutMs: 150, maxRetries: 1 })
      .count(entity)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LegacyHttpError);
    expect((err as Error).message).toBe(
      'GET /api/v1/menu-items failed after 2 attempts: no complete response within 150 ms',
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.seen).toHaveLength(2);
  });

  it('a server that ignores afterId is caught instead of listed forever', async () => {
    server.fault(() => 'ignore-after-id');
    await expect(store().count(entity)).rejects.toThrow(/listed twice \(does the API honour afterId/);
    expect(server.listings()).toHaveLength(2);
  });

  it('rejects a chunk size that is not a positive integer', async () => {
    await expect(store().chunkChecksums(entity, { chunkSize: 0 })).rejects.toBeInstanceOf(RangeError);
  });
});
