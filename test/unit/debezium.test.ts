import { describe, expect, it } from 'vitest';
import { DebeziumMapping, translateDebezium } from '../../lambdas/domain/debezium.js';
import { ContractError } from '../../lambdas/domain/events.js';
import { magento } from '../../migrations/index.js';

const attributes: Record<number, string> = { 73: 'name', 77: 'price', 97: 'status' };
const mapping = new DebeziumMapping(magento, (id) => attributes[id]);

const envelope = (over: object) => ({
  before: null,
  after: {
    entity_id: 42,
    email: 'a@example.com',
    firstname: 'Ada',
    lastname: 'L',
    website_id: 1,
    group_id: 1,
    is_active: 1,
    updated_at: '2026-11-22T10:00:00Z',
  },
  op: 'c',
  ts_ms: 1_795_000_000_500,
  source: {
    table: 'customer_entity',
    db: 'magento',
    ts_ms: 1_795_000_000_000,
    file: 'binlog.000003',
    pos: 1234,
    row: 0,
  },
  ...over,
});

describe('Function: translateDebezium', () => {
  it('turns an insert into a legacy upsert of the mapped fields', () => {
    const e = translateDebezium(envelope({}), mapping)!;
    expect(e).toMatchObject({
      entity: 'customer',
      key: '42',
      op: 'upsert',
      origin: 'legacy',
      changedAt: new Date(1_795_000_000_000).toISOString(),
    });
    expect(e.data).toEqual({
      email: 'a@example.com',
      firstName: 'Ada',
      lastName: 'L',
      websiteId: 1,
      groupId: 1,
      isActive: 1,
    });
    expect(e.sequence).toBe(1_795_000_000_500);
  });

  it('accepts the { schema, payload } wrapper of the JSON converter', () => {
    expect(translateDebezium({ schema: {}, payload: envelope({}) }, mapping)!.key).toBe('42');
  });

  it('carries only the columns an update changed', () => {
    const before = envelope({}).after;
    const e = translateDebezium(
      envelope({ op: 'u', before, after: { ...before, email: 'new@example.com' } }),
      mapping,
    )!;
    expect(e.data).toEqual({ email: 'new@example.com' });
  });

  it('translates a delete from the before image', () => {
    const e = translateDebezium(envelope({ op: 'd', before: envelope({}).after, after: null }), mapping)!;
    expect(e).toMatchObject({ op: 'delete', key: '42', data: {} });
  });

  it('turns a counter update into a delta, never an absolute value', () => {
    const row = { coupon_id: 7, rule_id: 1, code: 'SAVE10', times_used: 3 };
    const e = translateDebezium(
      envelope({
        op: 'u',
        before: row,
        after: { ...row, times_used: 5 },
        source: { table: 'salesrule_coupon', ts_ms: 1 },
      }),
      mapping,
    )!;
    expect(e).toMatchObject({ entity: 'coupon', key: '7', deltas: { timesUsed: 2 } });
    expect(e.data).toEqual({});
  });

  it('maps an EAV price change at store 0 to a product change with the decimal at its scale', () => {
    const e = translateDebezium(
      envelope({
        op: 'u',
        before: { value_id: 1, attribute_id: 77, store_id: 0, entity_id: 5, value: '10.000000' },
        after: { value_id: 1, attribute_id: 77, store_id: 0, entity_id: 5, value: '12.5' },
        source: { table: 'catalog_product_entity_decimal', ts_ms: 1_795_000_000_000 },
      }),
      mapping,
    )!;
    expect(e).toMatchObject({ entity: 'product', key: '5', data: { price: '12.500000' } });
  });

  it('ignores what the migration does not map: other tables, store-view overrides, other stocks', () => {
    expect(translateDebezium(envelope({ source: { table: 'quote' } }), mapping)).toBeNull();
    expect(
      translateDebezium(
        envelope({
          after: { value_id: 2, attribute_id: 77, store_id: 1, entity_id: 5, value: '1' },
          source: { table: 'catalog_product_entity_decimal' },
        }),
        mapping,
      ),
    ).toBeNull();
    expect(
      translateDebezium(
        envelope({
          after: { product_id: 5, stock_id: 2, qty: '1.0000', is_in_stock: 1 },
          source: { table: 'cataloginventory_stock_item' },
        }),
        mapping,
      ),
    ).toBeNull();
  });

  it.each<[string, object, RegExp]>([
    ['an unknown op', { op: 'x' }, /envelope\.op must be one of c, u, d, r/],
    ['a missing ts_ms', { ts_ms: undefined }, /envelope\.ts_ms/],
    ['a missing source table', { source: {} }, /envelope\.source\.table/],
    ['a create without an after image', { after: null }, /after is required/],
    [
      'a delete without a before image',
      { op: 'd', before: null, after: null },
      /before is required for a delete/,
    ],
    ['a row without its key', { after: { email: 'x@example.com' } }, /entity_id \(the key\) is missing/],
    [
      'a value of the wrong type',
      { after: { entity_id: 1, group_id: 'one' } },
      /group_id: groupId must be an integer/,
    ],
    [
      'a counter update without a before image',
      {
        op: 'u',
        before: null,
        after: { coupon_id: 1, times_used: 2 },
        source: { table: 'salesrule_coupon' },
      },
      /before\.times_used is needed/,
    ],
  ])('rejects %s with a reason', (_what, over, reason) => {
    let error: unknown;
    try {
      translateDebezium(envelope(over), mapping);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ContractError);
    expect((error as ContractError).message).toMatch(reason);
  });
});
