/**
 * The one DynamoDB unmarshaller (lambdas/adapters/dynamodb-values.ts): a stream record's image,
 * a raw item of the consistency scan and the document client's reads give the same plain values,
 * and no number loses digits. The attribute values are the API reference's examples
 * (test/contracts/dynamodb-streams/attribute-values.doc.json) in the recorded stream record of
 * the Streams tutorial (stream-record-tutorial.doc.json), plus numbers a double cannot hold.
 */
import { readFileSync } from 'node:fs';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { nativeItem } from '../../lambdas/adapters/dynamodb-service.js';
import { type RawStreamRecord, toServiceStreamRecord } from '../../lambdas/adapters/dynamodb-stream.js';
import { numberOf, UNMARSHALL_OPTIONS } from '../../lambdas/adapters/dynamodb-values.js';

const contract = <T>(file: string): { source: string; payload: T } =>
  JSON.parse(readFileSync(new URL(`../contracts/dynamodb-streams/${file}`, import.meta.url), 'utf8'));

const examples = contract<Record<string, Record<string, unknown>>>('attribute-values.doc.json');
const tutorial = contract<RawStreamRecord & { dynamodb: Record<string, unknown> }>(
  'stream-record-tutorial.doc.json',
);

/** The tutorial's record with the reference's examples (and big numbers) in its new image. */
function recordWith(extra: Record<string, Record<string, unknown>>): RawStreamRecord {
  const r = tutorial.payload;
  return {
    ...r,
    dynamodb: {
      ...r.dynamodb,
      NewImage: { ...(r.dynamodb['NewImage'] as Record<string, Record<string, unknown>>), ...extra },
    },
  };
}

const BIG = '12345678901234567890';
const image = {
  ...examples.payload,
  big: { N: BIG },
  bigNegative: { N: `-${BIG}` },
  beyondSafe: { N: '9007199254740993' },
  longDecimal: { N: '0.1000000000000000055511151231257827' },
  trailingZeros: { N: '19.990000' },
  bigSet: { NS: [BIG, '7'] },
  nested: { M: { list: { L: [{ N: BIG }, { NULL: true }] } } },
};

describe('Contract: DynamoDB attribute values (test/contracts/dynamodb-streams/attribute-values.doc.json)', () => {
  it('names its source and holds one example of every type', () => {
    expect(examples.source).toMatch(
      /^https:\/\/docs\.aws\.amazon\.com\/amazondynamodb\/.*API_AttributeValue/,
    );
    expect(Object.keys(examples.payload).sort()).toEqual(
      ['B', 'BOOL', 'BS', 'L', 'M', 'N', 'NS', 'NULL', 'S', 'SS'].sort(),
    );
    for (const [type, av] of Object.entries(examples.payload)) expect(Object.keys(av)).toEqual([type]);
  });
});

describe('Function: the one DynamoDB unmarshaller (dynamodb-values.ts)', () => {
  it('reads a stream image of every type; a number a double cannot hold stays its decimal string', () => {
    const { newImage } = toServiceStreamRecord(recordWith(image));
    expect(newImage).toEqual({
      Timestamp: '2016-11-18:12:09:36',
      Message: 'This is a bark from the Woofer social network',
      Username: 'John Doe',
      B: 'dGhpcyB0ZXh0IGlzIGJhc2U2NC1lbmNvZGVk',
      BOOL: true,
      BS: new Set(['U3Vubnk=', 'UmFpbnk=', 'U25vd3k=']),
      L: ['Cookies', 'Coffee', Number('3.14159')], // the reference's number, not π
      M: { Name: 'Joe', Age: 35 },
      N: 123.45,
      NS: new Set([42.2, -19, 7.5, 3.14]),
      NULL: null,
      S: 'Hello',
      SS: new Set(['Giraffe', 'Hippo', 'Zebra']),
      big: BIG,
      bigNegative: `-${BIG}`,
      beyondSafe: '9007199254740993',
      longDecimal: '0.1000000000000000055511151231257827',
      trailingZeros: 19.99,
      bigSet: new Set([BIG, 7]),
      nested: { list: [BIG, null] },
    });
  });

  it('gives the scan (raw items) and the document client (its unmarshall options) the same values as the stream', () => {
    const { newImage } = toServiceStreamRecord(recordWith(image));
    const raw = recordWith(image).dynamodb!.NewImage as unknown as Record<string, AttributeValue>;
    expect(nativeItem(raw)).toEqual(newImage);
    expect(unmarshall(raw, UNMARSHALL_OPTIONS)).toEqual(newImage);
  });

  it('keeps a number a number exactly when it reads back the same, within ±(2^53 − 1)', () => {
    expect(numberOf('7')).toBe(7);
    expect(numberOf('007')).toBe(7);
    expect(numberOf('-19')).toBe(-19);
    expect(numberOf('42.2')).toBe(42.2);
    expect(numberOf('1999e-2')).toBe(19.99);
    expect(numberOf('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
    expect(numberOf('-9007199254740991')).toBe(-Number.MAX_SAFE_INTEGER);
    expect(numberOf('9007199254740992')).toBe('9007199254740992');
    expect(numberOf('1.5e20')).toBe('1.5e20');
    expect(numberOf('1e400')).toBe('1e400');
    expect(numberOf('0.30000000000000004441')).toBe('0.30000000000000004441');
    expect(numberOf(BIG)).toBe(BIG);
  });

  it('fails on an attribute value of no known type, naming what it got', () => {
    expect(() => toServiceStreamRecord(recordWith({ odd: { X: '1' } }))).toThrow(
      /unsupported attribute value type X/,
    );
  });
});
