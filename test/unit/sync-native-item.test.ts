import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { nativeItem } from '../../lambdas/adapters/dynamodb-service.js';

describe('nativeItem (the consistency scan reads items without the document client)', () => {
  it('gives what the document client gives, for every attribute type', () => {
    const item: Record<string, AttributeValue> = {
      customerId: { S: '42' },
      email: { S: 'a@example.com' },
      empty: { S: '' },
      websiteId: { N: '1' },
      price: { N: '19.990000' },
      negative: { N: '-7' },
      active: { BOOL: false },
      nothing: { NULL: true },
      map: { M: { a: { S: 'x' }, b: { N: '2' } } },
      list: { L: [{ S: 'x' }, { N: '3' }] },
      strings: { SS: ['a', 'b'] },
      numbers: { NS: ['1', '2'] },
      bytes: { B: new Uint8Array([1, 2]) },
    };
    expect(nativeItem(item)).toEqual(unmarshall(item));
  });

  it('converts numbers beyond the safe range as the document client does (BigInt, or its error)', () => {
    const big = { big: { N: '9007199254740993' }, huge: { N: '1e400' } };
    expect(nativeItem(big)).toEqual(unmarshall(big));
    const fraction = { f: { N: '1.5e20' } };
    expect(() => unmarshall(fraction)).toThrow();
    expect(() => nativeItem(fraction)).toThrow();
  });
});
