import { describe, expect, it } from 'vitest';
import { DebeziumMapping, readDebeziumBody, translateDebezium } from '../../lambdas/domain/debezium.js';
import {
  type ConnectSchema,
  DebeziumValueError,
  decodeConnectValue,
} from '../../lambdas/domain/debezium-values.js';
import { ContractError } from '../../lambdas/domain/events.js';
import { magento } from '../../migrations/index.js';
import {
  type DebeziumChange,
  type DebeziumOptions,
  debeziumValue,
  type MysqlTable,
  magentoTable,
  withCustomerTemporalFields,
} from '../support/debezium.js';

const attributes: Record<number, string> = { 73: 'name', 77: 'price', 97: 'status' };
const mapping = new DebeziumMapping(magento, (id) => attributes[id]);

const customerEntity = magentoTable('customer_entity');
const productDecimal = magentoTable('catalog_product_entity_decimal');
const stockItem = magentoTable('cataloginventory_stock_item');
const salesOrder = magentoTable('sales_order');
const coupon = magentoTable('salesrule_coupon');

const customer = {
  entity_id: 42,
  email: 'a@example.com',
  firstname: 'Ada',
  lastname: 'L',
  website_id: 1,
  group_id: 1,
  store_id: 1,
  is_active: 1,
  created_at: '2026-11-22T09:00:00Z',
  updated_at: '2026-11-22T10:00:00Z',
};
const at = { tsMs: 1_795_000_000_500, sourceTsMs: 1_795_000_000_000, file: 'binlog.000003', pos: 1234 };

/** A change event value as Debezium Server's SQS sink carries it (schemas on unless told). */
const event = (table: MysqlTable, change: Partial<DebeziumChange>, options?: DebeziumOptions) =>
  debeziumValue(table, { op: 'c', ...at, ...change }, options);

/** The reason a translation is rejected with. */
function reason(input: unknown, m = mapping): string {
  try {
    translateDebezium(input, m);
  } catch (e) {
    expect(e).toBeInstanceOf(ContractError);
    return (e as ContractError).message;
  }
  throw new Error('expected a ContractError');
}

describe('Function: translateDebezium', () => {
  it('turns an insert into a legacy upsert of the mapped fields, with the schema or without', () => {
    for (const schemas of [true, false]) {
      const e = translateDebezium(event(customerEntity, { after: customer }, { schemas }), mapping)!;
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
    }
  });

  it('carries only the columns an update changed', () => {
    const e = translateDebezium(
      event(customerEntity, { op: 'u', before: customer, after: { ...customer, email: 'new@example.com' } }),
      mapping,
    )!;
    expect(e.data).toEqual({ email: 'new@example.com' });
  });

  it('translates a delete from the before image', () => {
    const e = translateDebezium(event(customerEntity, { op: 'd', before: customer, after: null }), mapping)!;
    expect(e).toMatchObject({ op: 'delete', key: '42', data: {} });
  });

  it('turns a counter update into a delta, never an absolute value', () => {
    const row = { coupon_id: 7, rule_id: 1, code: 'SAVE10', times_used: 3 };
    const e = translateDebezium(
      event(coupon, { op: 'u', before: row, after: { ...row, times_used: 5 }, sourceTsMs: 1 }),
      mapping,
    )!;
    expect(e).toMatchObject({ entity: 'coupon', key: '7', deltas: { timesUsed: 2 } });
    expect(e.data).toEqual({});
  });

  it('maps an EAV price change at store 0 to a product change with the decimal at its scale', () => {
    for (const decimalHandling of ['precise', 'string', 'double'] as const) {
      const e = translateDebezium(
        event(
          productDecimal,
          {
            op: 'u',
            before: { value_id: 1, attribute_id: 77, store_id: 0, entity_id: 5, value: '10.000000' },
            after: { value_id: 1, attribute_id: 77, store_id: 0, entity_id: 5, value: '12.5' },
          },
          { decimalHandling },
        ),
        mapping,
      )!;
      expect(e).toMatchObject({ entity: 'product', key: '5', data: { price: '12.500000' } });
    }
  });

  it("decodes precise decimals exactly from the schema's scale: negative, large, every Magento amount", () => {
    const order = (grand_total: string) => ({ entity_id: 9, state: 'new', status: 'pending', grand_total });
    const cases: [string, string][] = [
      ['-1234.5678', '-1234.5678'],
      ['0', '0.0000'],
      ['-0.0001', '-0.0001'],
      ['9999999999999999.9999', '9999999999999999.9999'], // decimal(20,4) at its largest
      ['-9999999999999999.9999', '-9999999999999999.9999'],
    ];
    for (const [total, expected] of cases) {
      const value = event(salesOrder, { after: order(total) });
      expect(translateDebezium(value, mapping)!.data['grandTotal']).toBe(expected);
    }
    // decimal(20,6): 14 integer digits, 6 decimals, beyond a double's 15–17 significant digits.
    for (const price of ['99999999999999.999999', '-99999999999999.999999', '12345678901234.000001']) {
      const e = translateDebezium(
        event(productDecimal, {
          after: { value_id: 1, attribute_id: 77, store_id: 0, entity_id: 5, value: price },
        }),
        mapping,
      )!;
      expect(e.data['price']).toBe(price);
    }
    const qty = translateDebezium(
      event(stockItem, { after: { item_id: 1, product_id: 5, stock_id: 1, qty: '-3.5000', is_in_stock: 0 } }),
      mapping,
    )!;
    expect(qty.data).toEqual({ qty: '-3.5000', isInStock: 0 });
  });

  it('decodes a DATETIME(6), DATETIME and TIMESTAMP by their schema into the canonical timestamp', () => {
    // rp_token_created_at as DATETIME(6) and DATETIME, first_failure a TIMESTAMP, dob a DATE.
    const temporal = new DebeziumMapping(withCustomerTemporalFields(magento));
    const table = (rpTokenType: string): MysqlTable => ({
      ...customerEntity,
      columns: customerEntity.columns.map((c) =>
        c.name === 'rp_token_created_at' ? { ...c, type: rpTokenType } : c,
      ),
    });
    const after = {
      ...customer,
      rp_token_created_at: '2026-11-22 10:00:05.123456',
      first_failure: '2026-11-22T10:00:06Z',
      dob: '1990-02-03',
    };
    const micro = translateDebezium(event(table('datetime(6)'), { after }), temporal)!;
    expect(micro.data).toMatchObject({
      rpTokenCreatedAt: '2026-11-22T10:00:05.123Z',
      firstFailure: '2026-11-22T10:00:06.000Z',
      dob: '1990-02-03',
    });
    const milli = translateDebezium(event(table('datetime'), { after }), temporal)!;
    expect(milli.data['rpTokenCreatedAt']).toBe('2026-11-22T10:00:05.123Z');
    const connect = translateDebezium(
      event(table('datetime(6)'), { after }, { timePrecision: 'connect' }),
      temporal,
    )!;
    expect(connect.data).toMatchObject({ rpTokenCreatedAt: '2026-11-22T10:00:05.123Z', dob: '1990-02-03' });
    // Without the schema a number cannot say its unit: refused, naming the setting.
    expect(reason(event(table('datetime(6)'), { after }, { schemas: false }), temporal)).toMatch(
      /envelope\.after\.rp_token_created_at is a number whose unit .*debezium\.format\.value\.schemas\.enable=true/,
    );
  });

  it('ignores what the migration does not map: other tables, store-view overrides, other stocks', () => {
    expect(
      translateDebezium(event({ ...customerEntity, table: 'quote' }, { after: customer }), mapping),
    ).toBeNull();
    expect(
      translateDebezium(
        event(productDecimal, {
          after: { value_id: 2, attribute_id: 77, store_id: 1, entity_id: 5, value: '1' },
        }),
        mapping,
      ),
    ).toBeNull();
    expect(
      translateDebezium(
        event(stockItem, { after: { product_id: 5, stock_id: 2, qty: '1.0000', is_in_stock: 1 } }),
        mapping,
      ),
    ).toBeNull();
  });

  const bare = (change: Partial<DebeziumChange>, table = customerEntity) =>
    event(table, change, { schemas: false }) as Record<string, unknown>;
  it.each<[string, unknown, RegExp]>([
    ['an unknown op', { ...bare({ after: customer }), op: 'x' }, /envelope\.op must be one of c, u, d, r/],
    ['a missing ts_ms', { ...bare({ after: customer }), ts_ms: undefined }, /envelope\.ts_ms/],
    ['a missing source table', { ...bare({ after: customer }), source: {} }, /envelope\.source\.table/],
    ['a create without an after image', bare({ after: null }), /after is required/],
    [
      'a delete without a before image',
      bare({ op: 'd', before: null, after: null }),
      /before is required for a delete/,
    ],
    [
      'a row without its key',
      bare({ after: { email: 'x@example.com' } }),
      /entity_id \(the key\) is missing/,
    ],
    [
      'a value of the wrong type',
      { ...bare({ after: customer }), after: { ...customer, group_id: 'one' } },
      /group_id: groupId must be an integer/,
    ],
    [
      'a counter update without a before image',
      bare({ op: 'u', before: null, after: { coupon_id: 1, times_used: 2 } }, coupon),
      /before\.times_used is needed/,
    ],
    [
      'a precise decimal without its schema',
      bare({ after: { entity_id: 9, grand_total: '12.5' } }, salesOrder),
      /envelope\.after\.grand_total is not decimal text \("AehI"\).*schemas\.enable=true.*decimal\.handling\.mode=string/,
    ],
    [
      'a schema that is not a Connect struct',
      { schema: {}, payload: bare({ after: customer }) },
      /envelope schema must be a Kafka Connect struct/,
    ],
  ])('rejects %s with a reason', (_what, input, expected) => {
    expect(reason(input)).toMatch(expected);
  });

  it('refuses decimal text that could also be base64 when there is no schema', () => {
    // "1234" is valid base64 (bytes d7 6d f8) and plain decimal text alike.
    const value = event(salesOrder, { after: { entity_id: 9, grand_total: '1234' } }, { schemas: false });
    (value as { after: Record<string, unknown> }).after['grand_total'] = '1234';
    expect(reason(value)).toMatch(
      /"1234" could be a precise decimal's base64 or decimal\.handling\.mode=string text/,
    );
    // decimal.handling.mode=string and double work without the schema.
    for (const decimalHandling of ['string', 'double'] as const) {
      const plain = event(
        salesOrder,
        { after: { entity_id: 9, grand_total: '1234.5' } },
        { schemas: false, decimalHandling },
      );
      expect(translateDebezium(plain, mapping)!.data['grandTotal']).toBe('1234.5000');
    }
  });
});

describe('Function: readDebeziumBody', () => {
  it("recognises tombstones: the SQS sink's empty body, a JSON null, a null value with a null schema", () => {
    for (const body of ['', '  ', 'null', '{"schema":null,"payload":null}'])
      expect(readDebeziumBody(body)).toEqual({ tombstone: true });
  });

  it('reads a change event and refuses a body that is not JSON', () => {
    const value = event(customerEntity, { after: customer });
    expect(readDebeziumBody(JSON.stringify(value))).toEqual({ tombstone: false, value });
    expect(() => readDebeziumBody('{"before":')).toThrow(/body is not JSON/);
  });
});

describe('Function: decodeConnectValue', () => {
  const named = (name: string, type = 'int64', parameters?: Record<string, string>): ConnectSchema => ({
    type,
    name,
    ...(parameters ? { parameters } : {}),
  });
  const decimal = (scale: string) => named('org.apache.kafka.connect.data.Decimal', 'bytes', { scale });

  it.each<[string, ConnectSchema, unknown, unknown]>([
    // BigInteger.toByteArray() vectors (minimal two's complement), computed with Python's int.to_bytes.
    ['Decimal -1.00', decimal('2'), 'nA==', '-1.00'],
    ['Decimal -128', decimal('0'), 'gA==', '-128'],
    ['Decimal -129', decimal('0'), '/38=', '-129'],
    ['Decimal 255', decimal('0'), 'AP8=', '255'],
    ['Decimal 12.5 at scale 6', decimal('6'), 'AL68IA==', '12.500000'],
    ['Decimal 0.000012', decimal('6'), 'DA==', '0.000012'],
    ['Decimal decimal(20,6) max', decimal('6'), 'BWvHXi1jD///', '99999999999999.999999'],
    ['Decimal decimal(20,6) min', decimal('6'), '+pQ4odKc8AAB', '-99999999999999.999999'],
    ['Decimal beyond 2^64', decimal('4'), 'vRLtxPQn38WU', '-123456789012345678.9100'],
    ['Decimal negative scale', decimal('-2'), 'DA==', '1200'],
    [
      'VariableScaleDecimal',
      named('io.debezium.data.VariableScaleDecimal', 'struct'),
      { scale: 2, value: 'AJw=' },
      '1.56',
    ],
    [
      'VariableScaleDecimal negative',
      named('io.debezium.data.VariableScaleDecimal', 'struct'),
      { scale: 3, value: '7Sm8' },
      '-1234.500',
    ],
    ['Date', named('io.debezium.time.Date', 'int32'), 19439, '2023-03-23'],
    ['Date before 1970', named('io.debezium.time.Date', 'int32'), -1, '1969-12-31'],
    ['Time (ms)', named('io.debezium.time.Time', 'int32'), 36803123, '10:13:23.123'],
    ['MicroTime', named('io.debezium.time.MicroTime'), 36803000000, '10:13:23'],
    ['MicroTime fraction', named('io.debezium.time.MicroTime'), 36803000001, '10:13:23.000001'],
    ['NanoTime', named('io.debezium.time.NanoTime'), 36803000000001, '10:13:23.000000001'],
    ['Timestamp (ms)', named('io.debezium.time.Timestamp'), 1679581805123, '2023-03-23T14:30:05.123Z'],
    [
      'MicroTimestamp',
      named('io.debezium.time.MicroTimestamp'),
      1679581805123456,
      '2023-03-23T14:30:05.123456Z',
    ],
    [
      'MicroTimestamp before 1970',
      named('io.debezium.time.MicroTimestamp'),
      -1,
      '1969-12-31T23:59:59.999999Z',
    ],
    [
      'NanoTimestamp',
      named('io.debezium.time.NanoTimestamp'),
      1_000_000_001,
      '1970-01-01T00:00:01.000000001Z',
    ],
    [
      'ZonedTimestamp',
      named('io.debezium.time.ZonedTimestamp', 'string'),
      '2023-03-23T22:00:10.123456Z',
      '2023-03-23T22:00:10.123456Z',
    ],
    ['ZonedTime', named('io.debezium.time.ZonedTime', 'string'), '10:13:23.123Z', '10:13:23.123Z'],
    ['Year', named('io.debezium.time.Year', 'int32'), 2023, 2023],
    ['Connect Date', named('org.apache.kafka.connect.data.Date', 'int32'), 19439, '2023-03-23'],
    ['Connect Time (ms)', named('org.apache.kafka.connect.data.Time', 'int32'), 36803000, '10:13:23'],
    [
      'Connect Timestamp',
      named('org.apache.kafka.connect.data.Timestamp'),
      1679581805000,
      '2023-03-23T14:30:05Z',
    ],
    ['Enum', named('io.debezium.data.Enum', 'string'), 'value1', 'value1'],
    ['a literal type', { type: 'int32' }, 7, 7],
    ['null', named('io.debezium.time.MicroTimestamp'), null, null],
  ])('decodes %s', (_what, schema, value, expected) => {
    expect(decodeConnectValue(schema, value)).toEqual(expected);
  });

  it.each<[string, ConnectSchema, unknown, RegExp]>([
    [
      'an unknown temporal type',
      named('io.debezium.time.MicroDuration'),
      1,
      /io\.debezium\.time\.MicroDuration, which Cutover does not decode/,
    ],
    [
      'an unknown logical type',
      named('io.debezium.data.Bits', 'bytes'),
      'AQ==',
      /io\.debezium\.data\.Bits, which Cutover does not decode/,
    ],
    [
      'a Decimal without a scale',
      named('org.apache.kafka.connect.data.Decimal', 'bytes'),
      'AQ==',
      /has no scale/,
    ],
    ['a Decimal that is not base64', decimal('2'), '12.50', /must be the base64 bytes of a decimal/],
    [
      'a NanoTimestamp beyond 2^53',
      named('io.debezium.time.NanoTimestamp'),
      1679581805123456800, // what JSON.parse makes of a nanosecond timestamp: not exact
      /within JSON's exact range/,
    ],
    ['a MicroTime beyond a day', named('io.debezium.time.MicroTime'), 86_400_000_000, /not a time of day/],
    [
      'a MicroTimestamp that is text',
      named('io.debezium.time.MicroTimestamp'),
      '1679581805123456',
      /must be an integer/,
    ],
    [
      'a ZonedTimestamp without a zone',
      named('io.debezium.time.ZonedTimestamp', 'string'),
      '2023-03-23T22:00:10',
      /with a zone/,
    ],
  ])('rejects %s', (_what, schema, value, expected) => {
    expect(() => decodeConnectValue(schema, value)).toThrow(DebeziumValueError);
    expect(() => decodeConnectValue(schema, value)).toThrow(expected);
  });
});
