import { describe, expect, it } from 'vitest';
import { HttpLegacyStore, LegacyHttpError } from '../../lambdas/adapters/http-legacy.js';
import menu from '../../migrations/menu.js';

const item = menu.services[0]!.entities[0]!;
const body = {
  id: 'm1',
  restaurantId: 'r1',
  name: 'Soup',
  price: '4.5',
  available: true,
  version: 7,
  updatedAt: '2026-11-22T10:00:00.000Z',
};

function fakeFetch(responses: (Response | Error)[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const f = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const next = responses.shift() ?? new Response(null, { status: 500 });
    if (next instanceof Error) throw next;
    return next;
  }) as unknown as typeof fetch;
  return { f, calls };
}
const json = (b: unknown, status = 200) =>
  new Response(JSON.stringify(b), { status, headers: { 'content-type': 'application/json' } });

describe('Function: HttpLegacyStore', () => {
  it('retries transient failures with a bound, then reads the resource in canonical form', async () => {
    const { f, calls } = fakeFetch([
      new Response(null, { status: 503 }),
      new TypeError('fetch failed'),
      json(body),
    ]);
    const store = new HttpLegacyStore({
      baseUrl: 'http://legacy.test/api/v1',
      timeoutMs: 100,
      maxRetries: 3,
      fetch: f,
      baseDelayMs: 1,
    });
    const rec = await store.read(item, 'm1');
    expect(calls.map((c) => c.url)).toEqual(Array(3).fill('http://legacy.test/api/v1/menu-items/m1'));
    expect(rec).toMatchObject({
      key: 'm1',
      exists: true,
      version: 7,
      data: { price: '4.50', available: true },
    });
    const { f: failing } = fakeFetch([]);
    await expect(
      new HttpLegacyStore({
        baseUrl: 'http://legacy.test',
        timeoutMs: 100,
        maxRetries: 2,
        fetch: failing,
        baseDelayMs: 1,
      }).read(item, 'm1'),
    ).rejects.toBeInstanceOf(LegacyHttpError);
  });

  it('writes conditionally with If-Match and reports a stale version as a conflict', async () => {
    const { f, calls } = fakeFetch([new Response(null, { status: 412 })]);
    const store = new HttpLegacyStore({
      baseUrl: 'http://legacy.test',
      timeoutMs: 100,
      maxRetries: 0,
      fetch: f,
    });
    const expected = { key: 'm1', exists: true, data: {}, version: 7 };
    const res = await store.write(item, {
      expected,
      patch: { name: 'Stew' },
      deltas: {},
      create: false,
      delete: false,
      eventId: 'e1',
    });
    expect(res.outcome).toBe('conflict');
    expect(calls[0]!.init.method).toBe('PATCH');
    expect((calls[0]!.init.headers as Record<string, string>)['if-match']).toBe('7');
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({ name: 'Stew' });
  });

  it('creates with an idempotency key and returns the new id', async () => {
    const { f, calls } = fakeFetch([json({ ...body, id: 'm2' }, 201)]);
    const store = new HttpLegacyStore({
      baseUrl: 'http://legacy.test',
      timeoutMs: 100,
      maxRetries: 0,
      fetch: f,
    });
    const res = await store.write(item, {
      expected: { key: 'svc-1', exists: false, data: {} },
      patch: { name: 'Soup', restaurantId: 'r1', price: '4.50' },
      deltas: {},
      create: true,
      delete: false,
      eventId: 'e2',
      createToken: 'create:menu_item:svc-1',
    });
    expect(res).toEqual({ outcome: 'written', key: 'm2' });
    expect((calls[0]!.init.headers as Record<string, string>)['idempotency-key']).toBe(
      'create:menu_item:svc-1',
    );
  });
});
