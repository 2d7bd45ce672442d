/**
 * The Debezium stand-ins against recorded real events (test/contracts/debezium/):
 * - the translator accepts each recorded event and yields the right contract event;
 * - test/support/debezium.ts builds events of the same shape as the recorded ones.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DebeziumMapping, readDebeziumBody, translateDebezium } from '../../lambdas/domain/debezium.js';
import { ContractError } from '../../lambdas/domain/events.js';
import { defineMigration, type EntitySpec } from '../../lib/spec/schema.js';
import {
  DEBEZIUM_TOMBSTONE_BODY,
  DEBEZIUM_VERSION,
  debeziumValue,
  type MysqlTable,
} from '../support/debezium.js';

const contract = (name: string) =>
  JSON.parse(readFileSync(new URL(`../contracts/debezium/${name}`, import.meta.url), 'utf8'));
const docs = contract('mysql-docs-customers.json');
const allTypes = contract('mysql-all-types.json');
const sink = contract('server-sqs-sink.json');

type Fields = EntitySpec['fields'];
type FieldInput = { name: string; type: Fields[number]['type']; column: string; scale?: number };

/** A one-entity migration mapping `table` (the recorded events' tables are not Magento's). */
function mappingFor(table: string, key: string, fields: FieldInput[]): DebeziumMapping {
  const spec = defineMigration({
    name: 'contracts',
    description: 'recorded Debezium events',
    legacy: { kind: 'mysql', secretName: 'unused', database: 'inventory' },
    services: [
      {
        name: 'recorded',
        description: 'recorded',
        risk: 'low',
        serviceUrl: 'https://service.example.com',
        legacyUrl: 'https://legacy.example.com',
        routes: [{ method: 'GET', pathPrefix: '/recorded', access: 'read' }],
        entities: [
          {
            name: 'row',
            legacy: { table, key },
            target: { key: 'id' },
            policy: 'timestamp',
            consistency: 'strong',
            fields,
          },
        ],
      },
    ],
  });
  return new DebeziumMapping(spec);
}

const customers = mappingFor('customers', 'id', [
  { name: 'firstName', type: 'string', column: 'first_name' },
  { name: 'lastName', type: 'string', column: 'last_name' },
  { name: 'email', type: 'string', column: 'email' },
]);

/** all_types_table read into the spec's field types (canonical values). */
const typed = mappingFor('all_types_table', '_id', [
  { name: 'pt', type: 'decimal', scale: 1, column: 'pt' },
  { name: 'tinyint', type: 'integer', column: '_tinyint' },
  { name: 'smallintUnsigned', type: 'integer', column: '_smallint_unsigned' },
  { name: 'int', type: 'integer', column: '_int' },
  { name: 'intUnsigned', type: 'integer', column: '_int_unsigned' },
  { name: 'bigint', type: 'integer', column: '_bigint' },
  { name: 'numeric', type: 'decimal', scale: 3, column: '_numeric' },
  { name: 'fixed', type: 'decimal', scale: 3, column: '_fixed' },
  { name: 'decimal', type: 'decimal', scale: 0, column: '_decimal' },
  { name: 'bigDecimal', type: 'decimal', scale: 10, column: '_big_decimal' },
  { name: 'date', type: 'date', column: '_date' },
  { name: 'datetime', type: 'timestamp', column: '_datetime' },
  { name: 'datetime3', type: 'timestamp', column: '_datetime3' },
  { name: 'datetime6', type: 'timestamp', column: '_datetime6' },
  { name: 'timestamp', type: 'timestamp', column: '_timestamp' },
  { name: 'timestamp0', type: 'timestamp', column: '_timestamp0' },
  { name: 'char', type: 'string', column: '_char' },
  { name: 'varchar', type: 'string', column: '_varchar' },
  { name: 'year', type: 'integer', column: '_year' },
]);

/** The same columns as text: the decoded values at their full precision. */
const asText = mappingFor('all_types_table', '_id', [
  { name: 'numeric', type: 'string', column: '_numeric' },
  { name: 'fixed', type: 'string', column: '_fixed' },
  { name: 'bigintUnsigned', type: 'string', column: '_bigint_unsigned' },
  { name: 'date', type: 'string', column: '_date' },
  { name: 'datetime6', type: 'string', column: '_datetime6' },
  { name: 'timestamp', type: 'string', column: '_timestamp' },
  { name: 'time', type: 'string', column: '_time' },
  { name: 'json', type: 'string', column: '_json' },
  { name: 'enumeration', type: 'string', column: '_enum' },
]);

describe('Debezium contract: the documented MySQL change events (mysql.adoc)', () => {
  it('a create (with its schema) becomes a legacy upsert of the row', () => {
    const e = translateDebezium(docs.create, customers)!;
    expect(e).toMatchObject({
      entity: 'row',
      key: '1004',
      op: 'upsert',
      origin: 'legacy',
      // source.ts_ms is 0 in the example: the envelope's ts_ms stands in.
      changedAt: new Date(1465491411815).toISOString(),
      sequence: 1465491411815,
    });
    expect(e.data).toEqual({ firstName: 'Anne', lastName: 'Kretchmar', email: 'annek@noanswer.org' });
  });

  it('an update carries only the changed column, with the schema of the table or without', () => {
    for (const value of [{ schema: docs.create.schema, payload: docs.update.payload }, docs.update.payload]) {
      const e = translateDebezium(value, customers)!;
      expect(e).toMatchObject({
        key: '1004',
        op: 'upsert',
        changedAt: new Date(1465581029100).toISOString(),
      });
      expect(e.data).toEqual({ firstName: 'Anne Marie' });
    }
  });

  it('a delete becomes a delete of the key from the before image', () => {
    const e = translateDebezium({ schema: docs.create.schema, payload: docs.delete.payload }, customers)!;
    expect(e).toMatchObject({ key: '1004', op: 'delete', data: {} });
  });

  it("the tombstone after it (a null value; Debezium Server's SQS sink sends an empty body) is recognised", () => {
    expect(docs.tombstone.value).toBeNull();
    expect(sink.bodies.tombstone).toBe('');
    expect(DEBEZIUM_TOMBSTONE_BODY).toBe(sink.bodies.tombstone);
    expect(readDebeziumBody(sink.bodies.tombstone)).toEqual({ tombstone: true });
    expect(readDebeziumBody(JSON.stringify(docs.tombstone.value))).toEqual({ tombstone: true });
    expect(readDebeziumBody(JSON.stringify(docs.create))).toEqual({ tombstone: false, value: docs.create });
  });
});

describe('Debezium contract: a recorded MySQL event with every column type (precise decimals, adaptive time)', () => {
  it('decodes precise decimals exactly, at any precision, and every temporal type by its schema name', () => {
    const e = translateDebezium(allTypes.event, typed)!;
    expect(e).toMatchObject({ key: '1', op: 'upsert', changedAt: new Date(1706167086275).toISOString() });
    // Expected values: the SQL literals of the recorded row (contract .row.columns).
    expect(e.data).toEqual({
      pt: '1.1',
      tinyint: 1,
      smallintUnsigned: 2000,
      int: 1000000,
      intUnsigned: 2000000,
      bigint: 10000000000,
      numeric: '12345.110',
      fixed: '123456789876543212345678987654321.110',
      decimal: '11111',
      bigDecimal: '2222222222222222400000000000.0000000000', // see the contract's note
      date: '2023-03-23',
      datetime: '2023-03-23T14:30:05.000Z',
      datetime3: '2023-03-23T14:30:05.123Z',
      datetime6: '2023-03-23T14:30:05.123Z', // canonical timestamps carry milliseconds
      timestamp: '2023-03-23T22:00:10.123Z', // 15:00:10.123456 at UTC-7
      timestamp0: '2023-03-23T07:10:00.000Z',
      char: 'Paimon',
      varchar: 'Apache Paimon',
      year: 2023,
    });
  });

  it('keeps the full precision where the field is text (microseconds, a precise BIGINT UNSIGNED)', () => {
    expect(translateDebezium(allTypes.event, asText)!.data).toEqual({
      numeric: '12345.110',
      fixed: '123456789876543212345678987654321.110',
      bigintUnsigned: '20000000000',
      date: '2023-03-23',
      datetime6: '2023-03-23T14:30:05.123456Z',
      timestamp: '2023-03-23T22:00:10.123456Z',
      time: '10:13:23',
      json: '{"a": "b"}',
      enumeration: 'value1',
    });
  });

  it('rejects a logical type it does not decode (a POINT), naming the column and the type', () => {
    const point = mappingFor('all_types_table', '_id', [{ name: 'point', type: 'string', column: '_point' }]);
    expect(() => translateDebezium(allTypes.event, point)).toThrow(ContractError);
    expect(() => translateDebezium(allTypes.event, point)).toThrow(
      /envelope\.after\._point has the type io\.debezium\.data\.geometry\.Point, which Cutover does not decode/,
    );
  });

  it('without its schema the same payload is refused where only the schema could tell (precise decimals, µs)', () => {
    const bare = allTypes.event.payload;
    const numeric = mappingFor('all_types_table', '_id', [
      { name: 'numeric', type: 'decimal', scale: 3, column: '_numeric' },
    ]);
    expect(() => translateDebezium(bare, numeric)).toThrow(
      /envelope\.after\._numeric is not decimal text \("ALxfFg=="\).*debezium\.format\.value\.schemas\.enable=true.*decimal\.handling\.mode=string/,
    );
    const micros = mappingFor('all_types_table', '_id', [
      { name: 'datetime6', type: 'timestamp', column: '_datetime6' },
    ]);
    expect(() => translateDebezium(bare, micros)).toThrow(
      /envelope\.after\._datetime6 is a number whose unit .* only the schema says/,
    );
  });
});

/** all_types_table as DDL (the recorded row's types), the columns the builder encodes. */
const recordedTable: MysqlTable = {
  db: 'paimon_sync_table',
  table: 'all_types_table',
  columns: [
    ['_id', 'int', false],
    ['pt', 'decimal(2,1)'],
    ['_tinyint', 'tinyint'],
    ['_smallint_unsigned', 'smallint unsigned'],
    ['_int', 'int'],
    ['_int_unsigned', 'int unsigned'],
    ['_bigint', 'bigint'],
    ['_numeric', 'decimal(8,3)'],
    ['_fixed', 'decimal(40,3)'],
    ['_decimal', 'decimal(8)'],
    ['_big_decimal', 'decimal(38,10)'],
    ['_date', 'date'],
    ['_datetime', 'datetime'],
    ['_datetime3', 'datetime(3)'],
    ['_datetime6', 'datetime(6)'],
    ['_timestamp', 'timestamp(6)'],
    ['_timestamp0', 'timestamp'],
    ['_char', 'char(10)'],
    ['_varchar', 'varchar(20)'],
    ['_year', 'year'],
    ['_time', 'time'],
  ].map(([name, type, nullable]) => ({
    name: name as string,
    type: type as string,
    nullable: nullable !== false,
  })),
};

/** The recorded row's values as the database returns them (TIMESTAMPs as UTC instants). */
const recordedRow = {
  _id: 1,
  pt: '1.1',
  _tinyint: 1,
  _smallint_unsigned: 2000,
  _int: 1000000,
  _int_unsigned: 2000000,
  _bigint: 10000000000,
  _numeric: '12345.110',
  _fixed: '123456789876543212345678987654321.110',
  _decimal: '11111',
  _big_decimal: '2222222222222222400000000000.0000000000',
  _date: '2023-03-23',
  _datetime: '2023-03-23 14:30:05',
  _datetime3: '2023-03-23 14:30:05.123',
  _datetime6: '2023-03-23 14:30:05.123456',
  _timestamp: '2023-03-23T22:00:10.123456Z',
  _timestamp0: '2023-03-23T07:10:00Z',
  _char: 'Paimon',
  _varchar: 'Apache Paimon',
  _year: 2023,
  _time: '10:13:23',
};

type Schema = { field?: string; fields?: Schema[] } & Record<string, unknown>;
const member = (schema: Schema, field: string) => schema.fields!.find((f) => f.field === field)!;

describe('Debezium stand-in (test/support/debezium.ts) against the recorded events', () => {
  const recorded = allTypes.event as { schema: Schema; payload: Record<string, any> };
  const built = debeziumValue(
    recordedTable,
    { op: 'r', after: recordedRow, tsMs: 1706167086275, sourceTsMs: 0 },
    { serverName: 'mysql_binlog_source' },
  ) as { schema: Schema; payload: Record<string, any> };

  it('builds the envelope of the recorded event: the same fields, source block and names', () => {
    expect(Object.keys(built)).toEqual(Object.keys(recorded));
    expect(built.schema.fields!.map((f) => f.field)).toEqual(recorded.schema.fields!.map((f) => f.field));
    for (const field of ['source', 'op', 'ts_ms', 'transaction'])
      expect(member(built.schema, field)).toEqual(member(recorded.schema, field));
    expect(built.schema['name']).toBe(recorded.schema['name']);
    expect(built.schema['optional']).toBe(recorded.schema['optional']);
    expect(Object.keys(built.payload)).toEqual(Object.keys(recorded.payload));
    expect(Object.keys(built.payload['source'])).toEqual(Object.keys(recorded.payload['source']));
    expect(built.payload['source'].version).toBe(DEBEZIUM_VERSION);
    expect(recorded.payload['source'].version).toBe(DEBEZIUM_VERSION);
  });

  it('describes each column exactly as the recorded schema does (decimals, DATETIME(0/3/6), TIMESTAMP, …)', () => {
    for (const image of ['before', 'after']) {
      const { fields: builtColumns, ...builtStruct } = member(built.schema, image);
      const { fields: recordedColumns, ...recordedStruct } = member(recorded.schema, image);
      expect(builtStruct).toEqual(recordedStruct);
      for (const column of builtColumns!)
        expect({ column: column.field, schema: column }).toEqual({
          column: column.field,
          schema: member({ fields: recordedColumns! }, column.field!),
        });
    }
  });

  it("encodes each value as the recorded event does (precise decimals' bytes, µs, ZonedTimestamp text)", () => {
    for (const c of recordedTable.columns)
      expect({ column: c.name, value: built.payload['after'][c.name] }).toEqual({
        column: c.name,
        value: recorded.payload['after'][c.name],
      });
  });

  it('builds what the translator reads the same way as the recorded event', () => {
    expect(translateDebezium(built, typed)!.data).toEqual(translateDebezium(recorded, typed)!.data);
  });

  it("builds the documented customers table's value schema (mysql.adoc) column for column", () => {
    const table: MysqlTable = {
      db: 'inventory',
      table: 'customers',
      columns: [
        { name: 'id', type: 'int', nullable: false },
        { name: 'first_name', type: 'varchar(255)', nullable: false },
        { name: 'last_name', type: 'varchar(255)', nullable: false },
        { name: 'email', type: 'varchar(255)', nullable: false },
      ],
    };
    const value = debeziumValue(
      table,
      { op: 'c', after: docs.create.payload.after },
      { serverName: 'mysql-server-1' },
    ) as { schema: Schema; payload: Record<string, unknown> };
    for (const image of ['before', 'after'])
      expect(member(value.schema, image)).toEqual(member(docs.create.schema, image));
    expect(value.schema['name']).toBe(docs.create.schema.name);
    expect(value.payload['after']).toEqual(docs.create.payload.after);
    // Schemas off: the bare payload, as the documented update and delete payloads.
    const bare = debeziumValue(table, { op: 'd', before: docs.delete.payload.before }, { schemas: false });
    expect(Object.keys(bare).sort()).toEqual([...Object.keys(docs.delete.payload), 'transaction'].sort());
  });
});
