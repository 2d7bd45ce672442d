import { describe, expect, it } from 'vitest';
import { toServiceStreamRecord } from '../../lambdas/adapters/dynamodb-stream.js';
import {
  captureServiceChange,
  isSyncWrite,
  serviceDetailTypeOf,
  versionViolation,
} from '../../lambdas/domain/capture.js';
import magento from '../../migrations/magento.js';

const customer = magento.services[0]!.entities[0]!;
const coupon = magento.services[2]!.entities[1]!;
const order = magento.services[2]!.entities[0]!;
const base = { tableName: 'cutover-dev-magento-customer', approximateAt: Date.parse('2026-11-22T10:00:00Z') };

describe('Function: captureServiceChange', () => {
  it('sends only the fields that changed, with the item version as sequence and a deterministic id', () => {
    const oldImage = {
      customerId: 'c1',
      email: 'a@example.com',
      lastName: 'A',
      version: 3,
      updatedAt: '2026-11-22T09:00:00.000Z',
    };
    const newImage = { ...oldImage, lastName: 'B', version: 4, updatedAt: '2026-11-22T10:00:00.250Z' };
    const e = captureServiceChange(customer, {
      ...base,
      eventName: 'MODIFY',
      keys: { customerId: 'c1' },
      oldImage,
      newImage,
    });
    expect(e).toMatchObject({
      eventId: 'ddb:cutover-dev-magento-customer:c1:4',
      key: 'c1',
      op: 'upsert',
      origin: 'service',
      data: { lastName: 'B' },
      sequence: 4,
      changedAt: '2026-11-22T10:00:00.250Z',
    });
  });

  it('sends counters as deltas, never as absolute values', () => {
    const e = captureServiceChange(coupon, {
      ...base,
      eventName: 'MODIFY',
      keys: { couponId: '7' },
      oldImage: { couponId: '7', code: 'X', timesUsed: 5, version: 1 },
      newImage: { couponId: '7', code: 'X', timesUsed: 8, version: 2 },
    });
    expect(e?.data).toEqual({});
    expect(e?.deltas).toEqual({ timesUsed: 3 });
  });

  it('drops exactly the writes made by the sync, and captures the service write after one', () => {
    const synced = {
      customerId: 'c1',
      lastName: 'S',
      version: 5,
      _writer: 'cutover-sync',
      _syncedVersion: 5,
    };
    expect(isSyncWrite(customer, synced)).toBe(true);
    expect(
      captureServiceChange(customer, {
        ...base,
        eventName: 'MODIFY',
        keys: { customerId: 'c1' },
        oldImage: { ...synced, version: 4, lastName: 'R' },
        newImage: synced,
      }),
    ).toBeNull();
    // The service's own write keeps the stale _writer but bumps the version.
    const own = { ...synced, lastName: 'Own', version: 6 };
    expect(isSyncWrite(customer, own)).toBe(false);
    expect(
      captureServiceChange(customer, {
        ...base,
        eventName: 'MODIFY',
        keys: { customerId: 'c1' },
        oldImage: synced,
        newImage: own,
      })?.data,
    ).toEqual({ lastName: 'Own' });
  });

  it('a service write that did not bump the version is not an echo: captured with an id and a time of its own, reported', () => {
    const synced = {
      customerId: 'c1',
      lastName: 'S',
      version: 5,
      updatedAt: '2026-11-22T09:00:00.000Z',
      _writer: 'cutover-sync',
      _syncedVersion: 5,
    };
    // The service overwrote lastName and left version (and updatedAt, _writer) as the sync wrote them.
    const noBump = { ...synced, lastName: 'Lost?' };
    expect(isSyncWrite(customer, noBump)).toBe(true); // what the echo check alone concludes
    const record = {
      ...base,
      eventName: 'MODIFY' as const,
      keys: { customerId: 'c1' },
      oldImage: synced,
      newImage: noBump,
    };
    expect(versionViolation(customer, record)).toBe('version-not-bumped');
    const e = captureServiceChange(customer, record);
    expect(e).toMatchObject({
      data: { lastName: 'Lost?' },
      sequence: 5,
      changedAt: '2026-11-22T10:00:00.000Z',
    });
    expect(e?.eventId).toMatch(/^ddb:cutover-dev-magento-customer:c1:5:version-not-bumped:[0-9a-f]{13}$/);
    // Another such write with other values is another event; the same record again is the same event.
    const again = captureServiceChange(customer, {
      ...record,
      oldImage: noBump,
      newImage: { ...noBump, lastName: 'Again' },
    });
    expect(again?.eventId).not.toBe(e?.eventId);
    expect(captureServiceChange(customer, record)?.eventId).toBe(e?.eventId);
    // A non-bumping write that changed no mapped field loses nothing: no event.
    expect(captureServiceChange(customer, { ...record, newImage: { ...synced, unrelated: 1 } })).toBeNull();
  });

  it('the sync write itself (version + 1) is no violation and stays an echo; an image without a version is one', () => {
    const old = { customerId: 'c1', lastName: 'R', version: 4 };
    const synced = { ...old, lastName: 'S', version: 5, _writer: 'cutover-sync', _syncedVersion: 5 };
    const echo = {
      ...base,
      eventName: 'MODIFY' as const,
      keys: { customerId: 'c1' },
      oldImage: old,
      newImage: synced,
    };
    expect(versionViolation(customer, echo)).toBeUndefined();
    expect(captureServiceChange(customer, echo)).toBeNull();
    const unversioned = {
      ...base,
      eventName: 'INSERT' as const,
      keys: { customerId: 'c2' },
      newImage: { customerId: 'c2', lastName: 'N' },
    };
    expect(versionViolation(customer, unversioned)).toBe('version-missing');
    expect(captureServiceChange(customer, unversioned)?.data).toEqual({ lastName: 'N' });
  });

  it('turns REMOVE into a delete and names the detail type from the spec', () => {
    const e = captureServiceChange(customer, {
      ...base,
      eventName: 'REMOVE',
      keys: { customerId: 'c9' },
      oldImage: { customerId: 'c9', version: 2 },
    });
    expect(e).toMatchObject({
      op: 'delete',
      key: 'c9',
      eventId: 'ddb:cutover-dev-magento-customer:c9:3:delete',
    });
    expect(serviceDetailTypeOf(customer)).toBe('customer.updated');
    expect(serviceDetailTypeOf(order)).toBe('order.updated');
    expect(serviceDetailTypeOf(coupon)).toBe('coupon.used');
  });

  it('carries a decimal as the service holds it when rounding to the field scale would change it', () => {
    const change = (grandTotal: unknown) =>
      captureServiceChange(order, {
        ...base,
        eventName: 'MODIFY',
        keys: { orderId: '9' },
        oldImage: { orderId: '9', grandTotal: '10.0000', version: 1 },
        newImage: { orderId: '9', grandTotal, version: 2 },
      })?.data['grandTotal'];
    // More digits than the scale (4): left for the reverse sync to check against the column.
    expect(change('12.34567')).toBe('12.34567');
    expect(change(12.34567)).toBe('12.34567');
    // Nothing lost by rounding: canonical.
    expect(change('12.5')).toBe('12.5000');
    expect(change('12.50000000')).toBe('12.5000');
  });

  it('returns null when no mapped field changed', () => {
    const img = { customerId: 'c1', lastName: 'A', version: 2, unrelated: 1 };
    expect(
      captureServiceChange(customer, {
        ...base,
        eventName: 'MODIFY',
        keys: { customerId: 'c1' },
        oldImage: { ...img, unrelated: 0, version: 1 },
        newImage: img,
      }),
    ).toBeNull();
  });
});

describe('Function: toServiceStreamRecord', () => {
  it('unmarshals DynamoDB JSON, keeping decimal strings exact and reading the table from the ARN', () => {
    const r = toServiceStreamRecord({
      eventName: 'INSERT',
      eventSourceARN:
        'arn:aws:dynamodb:eu-west-1:123456789012:table/cutover-dev-magento-stock/stream/2026-01-01T00:00:00.000',
      dynamodb: {
        Keys: { productId: { S: '42' } },
        NewImage: {
          productId: { S: '42' },
          qty: { S: '5.0000' },
          isInStock: { N: '1' },
          big: { N: '12345678901234567890' },
          n: { NULL: true },
        },
        ApproximateCreationDateTime: 1_800_000_000,
      },
    });
    expect(r.tableName).toBe('cutover-dev-magento-stock');
    expect(r.newImage).toEqual({
      productId: '42',
      qty: '5.0000',
      isInStock: 1,
      big: '12345678901234567890',
      n: null,
    });
    expect(r.approximateAt).toBe(1_800_000_000_000);
  });
});
