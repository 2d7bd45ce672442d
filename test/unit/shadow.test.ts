import { describe, expect, it } from 'vitest';
import { compareAnswers, compareJson, maskPathForLog } from '../../lambdas/domain/shadow.js';

const json = (status: number, value: unknown) => ({
  status,
  contentType: 'application/json; charset=utf-8',
  body: Buffer.from(JSON.stringify(value)),
});

describe('Function: compareAnswers', () => {
  it('finds equal bodies equal whatever the key order', () => {
    const r = compareAnswers(json(200, { a: 1, b: { c: [1, 2] } }), json(200, { b: { c: [1, 2] }, a: 1 }));
    expect(r).toEqual({ equal: true, mismatches: [], truncated: false });
  });

  it('names each differing path and how it differs', () => {
    const legacy = { id: 1, name: 'A', price: '9.99', tags: ['x', 'y'], address: { city: 'Oslo' }, gone: 1 };
    const service = { id: 1, name: 'B', price: 9.99, tags: ['x'], address: { city: 'Oslo', zip: '0150' } };
    const r = compareAnswers(json(200, legacy), json(200, service));
    expect(r.equal).toBe(false);
    expect(r.mismatches).toEqual([
      { path: 'name', kind: 'changed' },
      { path: 'price', kind: 'type' },
      { path: 'tags[1]', kind: 'missing-in-service' },
      { path: 'address.zip', kind: 'extra-in-service' },
      { path: 'gone', kind: 'missing-in-service' },
    ]);
  });

  it('ignores key names at any depth and dotted paths with wildcards', () => {
    const legacy = {
      updatedAt: 1,
      items: [{ sku: 'a', lineId: 1, meta: { updatedAt: 5 } }],
      req: { id: 'x' },
    };
    const service = {
      updatedAt: 2,
      items: [{ sku: 'a', lineId: 9, meta: { updatedAt: 6 } }],
      req: { id: 'y' },
    };
    expect(compareJson(legacy, service, { ignore: ['updatedAt', 'items.*.lineId', 'req.id'] }).equal).toBe(
      true,
    );
    expect(compareJson(legacy, service, { ignore: ['updatedAt', 'items[*].lineId'] }).mismatches).toEqual([
      { path: 'req.id', kind: 'changed' },
    ]);
    // A dotted path is anchored at the root: it does not ignore the same key elsewhere.
    expect(
      compareJson({ a: { id: 1 }, id: 1 }, { a: { id: 2 }, id: 2 }, { ignore: ['a.id'] }).mismatches,
    ).toEqual([{ path: 'id', kind: 'changed' }]);
  });

  it('reports a status difference and compares non-JSON bodies byte for byte', () => {
    const text = (status: number, body: string) => ({ status, contentType: 'text/plain', body });
    expect(compareAnswers(text(200, 'ok'), text(200, 'ok')).equal).toBe(true);
    expect(compareAnswers(text(200, 'ok'), text(404, 'ok')).mismatches).toEqual([
      { path: '$status', kind: 'status' },
    ]);
    expect(compareAnswers(text(200, 'ok'), text(200, 'OK')).mismatches).toEqual([
      { path: '$body', kind: 'body' },
    ]);
    expect(compareAnswers(json(200, [1]), json(200, { a: 1 })).mismatches).toEqual([
      { path: '$', kind: 'type' },
    ]);
  });

  it('caps the list of mismatches and says so', () => {
    const a = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, i]));
    const b = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, -i - 1]));
    const r = compareJson(a, b, { maxMismatches: 50 });
    expect(r.mismatches).toHaveLength(50);
    expect(r.truncated).toBe(true);
  });
});

describe('Function: maskPathForLog', () => {
  it('masks segments that look like emails or long ids and keeps the rest', () => {
    expect(maskPathForLog('byEmail.jane@example.com.name')).toBe('byEmail.<email>.com.name');
    expect(maskPathForLog('customers.12345678[2].city')).toBe('customers.<id>[2].city');
    expect(maskPathForLog('items[3].sku')).toBe('items[3].sku');
  });
});
