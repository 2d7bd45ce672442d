import { describe, expect, it } from 'vitest';
import {
  ContractError,
  parseBusEvent,
  parseChangeEvent,
  parseIsoTimestamp,
  toBusEntry,
} from '../../lambdas/domain/events.js';

const good = () => ({
  schemaVersion: 1,
  eventId: 'e-1',
  entity: 'customer',
  key: '42',
  op: 'upsert',
  changedAt: '2026-11-22T10:00:00.123Z',
  origin: 'legacy',
  data: { email: 'a@example.com' },
});

function reasons(detail: unknown): string[] {
  try {
    parseChangeEvent(detail);
  } catch (e) {
    expect(e).toBeInstanceOf(ContractError);
    return [...(e as ContractError).reasons];
  }
  throw new Error('accepted');
}

describe('Function: parseChangeEvent', () => {
  it('accepts the contract of DESIGN.md', () => {
    expect(parseChangeEvent(good())).toMatchObject({ entity: 'customer', key: '42', op: 'upsert' });
    expect(parseChangeEvent({ ...good(), op: 'delete', data: {} }).op).toBe('delete');
    expect(parseChangeEvent({ ...good(), data: {}, deltas: { timesUsed: 1 } }).deltas).toEqual({
      timesUsed: 1,
    });
  });

  it.each<[string, (d: any) => unknown, RegExp]>([
    ['not an object', () => 'hello', /expected object/i],
    ['null', () => null, /expected object/i],
    ['a wrong schema version', (d) => ({ ...d, schemaVersion: 2 }), /schemaVersion must be 1/],
    ['a missing eventId', ({ eventId: _e, ...d }) => d, /eventId/],
    ['an empty key', (d) => ({ ...d, key: '' }), /key must not be empty/],
    ['a numeric key', (d) => ({ ...d, key: 42 }), /key/],
    ['an unknown op', (d) => ({ ...d, op: 'merge' }), /op/],
    [
      'a timestamp without zone',
      (d) => ({ ...d, changedAt: '2026-11-22 10:00:00' }),
      /changedAt must be an ISO-8601 timestamp/,
    ],
    [
      'an impossible date',
      (d) => ({ ...d, changedAt: '2026-13-45T10:00:00Z' }),
      /changedAt is not a valid date/,
    ],
    [
      'a day the month does not have (Date.parse reads 2026-02-30 as March 2)',
      (d) => ({ ...d, changedAt: '2026-02-30T10:00:00Z' }),
      /changedAt is not a valid date/,
    ],
    [
      'February 29 of a common year',
      (d) => ({ ...d, changedAt: '2025-02-29T10:00:00Z' }),
      /not a valid date/,
    ],
    ['hour 24', (d) => ({ ...d, changedAt: '2026-11-22T24:00:00Z' }), /changedAt is not a valid date/],
    ['second 60', (d) => ({ ...d, changedAt: '2026-11-22T10:00:60Z' }), /changedAt is not a valid date/],
    ['an offset of 24 hours', (d) => ({ ...d, changedAt: '2026-11-22T10:00:00+24:00' }), /not a valid date/],
    ['an unknown origin', (d) => ({ ...d, origin: 'kafka' }), /origin/],
    ['an object as a field value', (d) => ({ ...d, data: { email: { nested: true } } }), /data\.email/],
    [
      'a non-finite delta',
      (d) => ({ ...d, deltas: { timesUsed: Number.POSITIVE_INFINITY } }),
      /deltas\.timesUsed/,
    ],
    ['an upsert with nothing in it', (d) => ({ ...d, data: {} }), /an upsert must carry data or deltas/],
    ['an unknown top-level property', (d) => ({ ...d, extra: 1 }), /extra|unrecognized/i],
    [
      'an entity name with capitals',
      (d) => ({ ...d, entity: 'Customer' }),
      /entity must be a lower snake_case/,
    ],
  ])('rejects %s with a reason', (_what, make, reason) => {
    expect(reasons(make(good())).join('; ')).toMatch(reason);
  });
});

describe('Function: parseBusEvent', () => {
  const envelope = (detailType: string, detail: unknown) =>
    JSON.stringify({ 'detail-type': detailType, source: 'cutover.legacy', detail });

  it('reads an SQS body as EventBridge delivers it', () => {
    const { detailType, event } = parseBusEvent(envelope('migration.customer.changed', good()));
    expect(detailType).toBe('migration.customer.changed');
    expect(event.key).toBe('42');
  });

  it('rejects a body that is not JSON, a missing detail-type, and a detail-type that disagrees', () => {
    expect(() => parseBusEvent('{oops')).toThrowError(/not JSON/);
    expect(() => parseBusEvent(JSON.stringify({ source: 's', detail: good() }))).toThrowError(/detail-type/);
    expect(() => parseBusEvent(envelope('migration.order.changed', good()))).toThrowError(
      /does not match a legacy customer change/,
    );
    expect(() => parseBusEvent(envelope('order.placed', { ...good(), origin: 'service' }))).toThrowError(
      /not a customer service event/,
    );
  });

  it('round-trips through a PutEvents entry', () => {
    const entry = toBusEntry(parseChangeEvent(good()));
    expect(entry).toMatchObject({ Source: 'cutover.legacy', DetailType: 'migration.customer.changed' });
    expect(
      parseBusEvent({
        'detail-type': entry.DetailType,
        source: entry.Source,
        detail: JSON.parse(entry.Detail),
      }).event,
    ).toEqual(parseChangeEvent(good()));
  });

  it('reads a valid timestamp to the millisecond, in any zone, leap days included', () => {
    expect(parseIsoTimestamp('2024-02-29T23:59:59.999+02:00')).toBe(Date.parse('2024-02-29T21:59:59.999Z'));
    expect(parseIsoTimestamp('2026-11-22T10:00:00.123456789-05:30')).toBe(
      Date.parse('2026-11-22T15:30:00.123Z'),
    );
    expect(parseIsoTimestamp('0099-01-01T00:00:00Z')).toBe(Date.parse('0099-01-01T00:00:00Z'));
    expect(parseIsoTimestamp('2026-02-30T00:00:00Z')).toBeUndefined();
    expect(parseIsoTimestamp('2026-11-22 10:00:00Z')).toBeUndefined();
  });
});
