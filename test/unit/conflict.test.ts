/**
 * One named example per row of the seed's conflict-policy table (seed 000, section 2.2), plus
 * the cases the seed's resolver gets wrong: equal timestamps, duplicates, stale deliveries.
 */
import { describe, expect, it } from 'vitest';
import {
  ClockSkewError,
  type DecideInput,
  decide,
  EMPTY_SYNC_STATE,
  provenanceOf,
  type SyncState,
} from '../../lambdas/domain/conflict.js';
import type { ChangeEvent, FieldValue, Origin } from '../../lambdas/domain/events.js';
import { entityByName } from '../../lib/spec/schema.js';
import { magento } from '../../migrations/index.js';

const T0 = Date.parse('2026-11-22T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function agreed(values: Record<string, FieldValue>): SyncState {
  const fields: Record<string, { value: FieldValue; seen: object }> = { $exists: { value: true, seen: {} } };
  for (const [k, v] of Object.entries(values)) fields[k] = { value: v, seen: {} };
  return { fields } as SyncState;
}

function change(
  entity: string,
  origin: Origin,
  at: number,
  data: Record<string, FieldValue>,
  extra: Partial<ChangeEvent> = {},
): ChangeEvent {
  return {
    schemaVersion: 1,
    eventId: `${origin}-${at}-${JSON.stringify(data)}`,
    entity,
    key: '1',
    op: 'upsert',
    changedAt: iso(at),
    origin,
    data,
    ...extra,
  };
}

/** The receiving clock of these examples: an hour after T0, 5 min of skew allowed (the default). */
const CLOCK = { now: T0 + 3_600_000, maxClockSkewMs: 300_000 };

function run(
  entityName: string,
  input: Omit<DecideInput, 'entity' | 'precisionMs' | 'now' | 'maxClockSkewMs'> &
    Partial<Pick<DecideInput, 'now' | 'maxClockSkewMs'>>,
) {
  return decide({ entity: entityByName(magento, entityName).entity, precisionMs: 1000, ...CLOCK, ...input });
}

describe('Function: decide — the seed’s policy table', () => {
  it('customer profile (timestamp): the newer edit wins on both sides; the older is pushed back over', () => {
    const base = { email: 'old@example.com', firstName: 'Ada' };
    // The service changed the email at 10:00:03.200; Magento changed it at 10:00:05.
    const d = run('customer', {
      target: 'service',
      record: { exists: true, data: { ...base, email: 'svc@example.com' }, changedAt: T0 + 3200, version: 4 },
      state: agreed(base),
      event: change('customer', 'legacy', T0 + 5000, { ...base, email: 'magento@example.com' }),
    });
    expect(d.outcome).toBe('apply');
    expect(d.patch).toEqual({ email: 'magento@example.com' });
    expect(d.conflicts).toEqual([{ field: 'email', policy: 'timestamp', winner: 'legacy' }]);

    // The other way round: the service's edit is newer, so it stays and goes back to Magento.
    const kept = run('customer', {
      target: 'service',
      record: { exists: true, data: { ...base, email: 'svc@example.com' }, changedAt: T0 + 7000, version: 4 },
      state: agreed(base),
      event: change('customer', 'legacy', T0 + 5000, { ...base, email: 'magento@example.com' }),
    });
    expect(kept.outcome).toBe('push-back');
    expect(kept.patch).toEqual({});
    expect(kept.pushBack).toMatchObject({
      origin: 'service',
      op: 'upsert',
      data: { email: 'svc@example.com' },
    });
    expect(kept.conflicts[0]!.winner).toBe('service');
  });

  it('customer profile: a change to another field is merged, not a conflict (no lost update)', () => {
    const base = { email: 'old@example.com', firstName: 'Ada' };
    // Magento changed the email; the service meanwhile changed only the first name.
    const d = run('customer', {
      target: 'service',
      record: { exists: true, data: { ...base, firstName: 'Grace' }, changedAt: T0 + 9000, version: 2 },
      state: agreed(base),
      event: change('customer', 'legacy', T0 + 5000, { ...base, email: 'new@example.com' }),
    });
    expect(d.patch).toEqual({ email: 'new@example.com' });
    expect(d.conflicts).toEqual([]);
  });

  it('order status (service-wins): the service’s status stands and is pushed to Magento, even if Magento’s is newer', () => {
    const base = { state: 'new', status: 'pending' };
    const d = run('order', {
      target: 'service',
      record: {
        exists: true,
        data: { state: 'processing', status: 'processing' },
        changedAt: T0,
        version: 3,
      },
      state: agreed(base),
      event: change('order', 'legacy', T0 + 60_000, { state: 'canceled', status: 'canceled' }),
    });
    expect(d.outcome).toBe('push-back');
    expect(d.pushBack!.data).toEqual({ state: 'processing', status: 'processing' });
    // Seen from the other side, the service's change is applied to Magento.
    const reverse = run('order', {
      target: 'legacy',
      record: { exists: true, data: { state: 'canceled', status: 'canceled' }, changedAt: T0 + 60_000 },
      state: d.state,
      event: change('order', 'service', T0, { state: 'processing', status: 'processing' }, { sequence: 3 }),
    });
    expect(reverse.patch).toEqual({ state: 'processing', status: 'processing' });
  });

  it('inventory (service-wins): real-time reservations in the service are not overwritten by Magento', () => {
    const d = run('stock', {
      target: 'service',
      record: { exists: true, data: { qty: '7.0000', isInStock: 1 }, changedAt: T0, version: 9 },
      state: agreed({ qty: '10.0000', isInStock: 1 }),
      event: change('stock', 'legacy', T0 + 1000, { qty: '12.0000', isInStock: 1 }),
    });
    expect(d.patch).toEqual({});
    expect(d.pushBack!.data).toEqual({ qty: '7.0000' });
    expect(d.conflicts).toEqual([{ field: 'qty', policy: 'service-wins', winner: 'service' }]);
  });

  it('product price (admin): both prices are parked for a person, nothing is written; the name still syncs', () => {
    const base = { sku: 'SKU-1', name: 'Mug', price: '10.000000', status: 1 };
    const d = run('product', {
      target: 'service',
      record: { exists: true, data: { ...base, price: '11.000000' }, changedAt: T0, version: 2 },
      state: agreed(base),
      event: change('product', 'legacy', T0 + 5000, { ...base, price: '12.000000', name: 'Big mug' }),
    });
    expect(d.patch).toEqual({ name: 'Big mug' });
    expect(d.parked).toHaveLength(1);
    expect(d.parked[0]).toMatchObject({
      field: 'price',
      legacy: { value: '12.000000' },
      service: { value: '11.000000' },
    });
    expect(d.conflicts).toEqual([{ field: 'price', policy: 'admin', winner: 'admin' }]);
    // The same conflict seen from Magento's side parks under the same id (parked once).
    const mirror = run('product', {
      target: 'legacy',
      record: { exists: true, data: { ...base, price: '12.000000', name: 'Big mug' }, changedAt: T0 + 5000 },
      state: d.state,
      event: change('product', 'service', T0, { price: '11.000000' }, { sequence: 2 }),
    });
    expect(mirror.parked.map((p) => p.conflictId)).toEqual(d.parked.map((p) => p.conflictId));
  });

  it('coupon usage (sum): increments from both sides add up; a redelivered delta is not applied twice', () => {
    const first = run('coupon', {
      target: 'service',
      record: { exists: true, data: { code: 'SAVE10', timesUsed: 5 }, changedAt: T0, version: 1 },
      state: agreed({ code: 'SAVE10', timesUsed: 4 }),
      event: change('coupon', 'legacy', T0 + 1000, {}, { deltas: { timesUsed: 2 } }),
    });
    expect(first.outcome).toBe('apply-delta');
    expect(first.deltas).toEqual({ timesUsed: 2 });
    const again = run('coupon', {
      target: 'service',
      record: { exists: true, data: { code: 'SAVE10', timesUsed: 7 }, changedAt: T0, version: 2 },
      state: first.state,
      event: change('coupon', 'legacy', T0 + 1000, {}, { deltas: { timesUsed: 2 } }),
      deltasApplied: true,
    });
    expect(again.deltas).toEqual({});
    expect(again.outcome).toBe('skip-duplicate');
    // An absolute value never overwrites a counter.
    const absolute = run('coupon', {
      target: 'service',
      record: { exists: true, data: { code: 'SAVE10', timesUsed: 7 }, changedAt: T0, version: 2 },
      state: first.state,
      event: change('coupon', 'legacy', T0 + 2000, { timesUsed: 3 }),
    });
    expect(absolute.patch).toEqual({});
    expect(absolute.fields['timesUsed']).toBe('counter-absolute-ignored');
  });
});

describe('Function: decide — what the seed’s resolver gets wrong', () => {
  const base = { email: 'old@example.com' };
  it('equal timestamps with different content are not skipped: the tie is broken, both sides converge', () => {
    // Magento's updated_at (10:00:05) and the service's 10:00:05.400 fall in one second.
    const d = run('customer', {
      target: 'service',
      record: { exists: true, data: { email: 'svc@example.com' }, changedAt: T0 + 5400, version: 2 },
      state: agreed(base),
      event: change('customer', 'legacy', T0 + 5000, { email: 'magento@example.com' }),
    });
    expect(d.conflicts).toEqual([{ field: 'email', policy: 'timestamp', winner: 'service' }]);
    expect(d.pushBack!.data).toEqual({ email: 'svc@example.com' });
  });

  it('a duplicate is a no-op and an older change delivered late is stale', () => {
    const applied = run('customer', {
      target: 'service',
      record: { exists: true, data: base, changedAt: T0, version: 1 },
      state: agreed(base),
      event: change('customer', 'legacy', T0 + 5000, { email: 'b@example.com' }, { sequence: 2 }),
    });
    const record = { exists: true, data: { email: 'b@example.com' }, changedAt: T0, version: 2 };
    expect(
      run('customer', {
        target: 'service',
        record,
        state: applied.state,
        event: change('customer', 'legacy', T0 + 5000, { email: 'b@example.com' }, { sequence: 2 }),
      }).outcome,
    ).toBe('skip-duplicate');
    const late = run('customer', {
      target: 'service',
      record,
      state: applied.state,
      event: change('customer', 'legacy', T0 + 4000, { email: 'a@example.com' }, { sequence: 1 }),
    });
    expect(late.outcome).toBe('skip-stale');
    expect(late.patch).toEqual({});
  });

  it('a record that exists on one side only is created on the other', () => {
    const d = run('customer', {
      target: 'legacy',
      record: { exists: false, data: {} },
      state: EMPTY_SYNC_STATE,
      event: change('customer', 'service', T0, {
        email: 'new@example.com',
        firstName: 'N',
        groupId: 1,
        isActive: 1,
      }),
    });
    expect(d.create).toBe(true);
    expect(d.patch).toMatchObject({ email: 'new@example.com' });
  });

  it('a delete conflicting with an unsynced edit is resolved by time, and the kept record is pushed back whole', () => {
    const d = run('customer', {
      target: 'service',
      record: { exists: true, data: { email: 'edited@example.com' }, changedAt: T0 + 9000, version: 3 },
      state: agreed(base),
      event: { ...change('customer', 'legacy', T0 + 5000, {}), op: 'delete' },
    });
    expect(d.delete).toBe(false);
    expect(d.pushBack).toMatchObject({ op: 'upsert', data: { email: 'edited@example.com' } });
  });

  it('rejects a misrouted event, an unknown field and a delta on a non-counter', () => {
    const record = { exists: true, data: base, changedAt: T0 };
    expect(() =>
      run('customer', {
        target: 'legacy',
        record,
        state: agreed(base),
        event: change('customer', 'legacy', T0, { email: 'x' }),
      }),
    ).toThrowError(/misrouted/);
    expect(() =>
      run('customer', {
        target: 'service',
        record,
        state: agreed(base),
        event: change('customer', 'legacy', T0, { password_hash: 'x' }),
      }),
    ).toThrowError(/password_hash is not a field/);
    expect(() =>
      run('customer', {
        target: 'service',
        record,
        state: agreed(base),
        event: change('customer', 'legacy', T0, {}, { deltas: { groupId: 1 } }),
      }),
    ).toThrowError(/not a counter/);
  });
});

describe('Function: decide — legacy changes in the second of a sync write', () => {
  it('a Magento edit made after a reverse-sync write in the same second is not taken for stale', () => {
    const base = { email: 'old@example.com', firstName: 'Ada' };
    // 10:00:05.200 Magento changes the first name (updated_at = 10:00:05).
    // 10:00:05.600 the reverse sync writes the service's email (updated_at stays 10:00:05).
    const write = run('customer', {
      target: 'legacy',
      record: {
        exists: true,
        data: { ...base, firstName: 'Grace' },
        changedAt: T0 + 5000,
        version: T0 + 5600,
      },
      state: agreed(base),
      event: change('customer', 'service', T0 + 4000, { email: 'svc@example.com' }, { sequence: 2 }),
    });
    expect(write.patch).toEqual({ email: 'svc@example.com' });
    // 10:00:05.800 a person changes the email again in Magento; the poller reads it at 05.900.
    // The poller's read of Magento at `readAt`, applied to the service after the sync write.
    const magentoRead = (email: string, readAt: number) =>
      run('customer', {
        target: 'service',
        record: {
          exists: true,
          data: { ...base, email: 'svc@example.com' },
          changedAt: T0 + 4000,
          version: 3,
        },
        state: write.state,
        event: change(
          'customer',
          'legacy',
          T0 + 5000,
          { ...base, firstName: 'Grace', email },
          { sequence: readAt },
        ),
      });
    const later = magentoRead('magento@example.com', T0 + 5900);
    expect(later.patch).toMatchObject({ email: 'magento@example.com' });
    // A read of Magento from before the sync write (05.300) is older than it: stale.
    const earlier = magentoRead('old@example.com', T0 + 5300);
    expect(earlier.patch).not.toHaveProperty('email');
  });
});

describe('Function: decide — clocks and values the target cannot store', () => {
  const base = { email: 'old@example.com', firstName: 'Ada' };

  it('rejects a change dated more than the allowance ahead of the receiving clock, naming the field', () => {
    const input = {
      target: 'service' as const,
      record: { exists: true, data: base, changedAt: T0, version: 1 },
      state: agreed(base),
      event: change('customer', 'legacy', Date.parse('9999-12-31T23:59:59Z'), { ...base, firstName: 'F' }),
    };
    expect(() => run('customer', input)).toThrow(ClockSkewError);
    expect(() => run('customer', input)).toThrow(
      /detail\.changedAt 9999-12-31T23:59:59\.000Z is \d+ s ahead/,
    );
    // Within the allowance it is an ordinary change.
    const soon = run('customer', {
      ...input,
      event: change('customer', 'legacy', CLOCK.now + 299_000, { ...base, firstName: 'F' }),
    });
    expect(soon.patch).toEqual({ firstName: 'F' });
  });

  it('a target record dated beyond the allowance has no usable time: a real change wins over it', () => {
    const d = run('customer', {
      target: 'service',
      // The service wrote this on a host whose clock was a day ahead.
      record: {
        exists: true,
        data: { ...base, firstName: 'Ahead' },
        changedAt: CLOCK.now + 86_400_000,
        version: 2,
      },
      state: agreed(base),
      event: change('customer', 'legacy', T0 + 60_000, { ...base, firstName: 'Magento' }),
    });
    expect(d.patch).toEqual({ firstName: 'Magento' });
    expect(d.conflicts).toEqual([{ field: 'firstName', policy: 'timestamp', winner: 'legacy' }]);
    expect(d.state.fields['firstName']!.seen.service).toBeUndefined();
  });

  it('forgets a stamp beyond the allowance stored before the check existed (the field is no longer frozen)', () => {
    const frozen: SyncState = {
      fields: {
        $exists: { value: true, seen: {} },
        email: { value: base.email, seen: {} },
        firstName: {
          value: 'Ada',
          seen: { legacy: { at: Date.parse('9999-01-01T00:00:00Z'), origin: 'legacy', seq: 1 } },
        },
      },
    };
    const d = run('customer', {
      target: 'service',
      record: { exists: true, data: base, changedAt: T0, version: 1 },
      state: frozen,
      event: change('customer', 'legacy', T0 + 60_000, { ...base, firstName: 'Unfrozen' }),
    });
    expect(d.patch).toEqual({ firstName: 'Unfrozen' });
    expect(d.state.fields['firstName']!.seen.legacy?.at).toBe(T0 + 60_000);
  });

  it('parks a value the target cannot store, with both values and the reason; nothing is written', () => {
    const input = {
      target: 'legacy' as const,
      record: { exists: true, data: base, changedAt: T0 },
      state: agreed(base),
      event: change('customer', 'service', T0 + 2000, {
        firstName: 'Ada \u{1F600}',
        email: 'new@example.com',
      }),
      unstorable: { firstName: { reason: 'customer.firstName: no emoji here', value: 'Ada \u{1F600}' } },
    };
    const d = run('customer', input);
    expect(d.patch).toEqual({ email: 'new@example.com' });
    expect(d.fields['firstName']).toBe('park');
    expect(d.conflicts).toEqual([]);
    expect(d.parked).toEqual([
      expect.objectContaining({
        field: 'firstName',
        legacy: expect.objectContaining({ value: 'Ada' }),
        service: expect.objectContaining({ value: 'Ada \u{1F600}' }),
        reason: 'customer.firstName: no emoji here',
      }),
    ]);
    // The agreed value stays; the same change again is stale, a later one is parked anew.
    expect(d.state.fields['firstName']!.value).toBe('Ada');
    expect(run('customer', { ...input, state: d.state }).fields['firstName']).toBe('stale');
    const later = run('customer', {
      ...input,
      state: d.state,
      event: change('customer', 'service', T0 + 3000, { firstName: 'Ada L.' }),
      unstorable: {},
    });
    expect(later.patch).toEqual({ firstName: 'Ada L.' });
  });

  it('records provenance: carried through decisions; a state without it is legacy-born if it saw legacy changes', () => {
    const d = run('customer', {
      target: 'service',
      record: { exists: false, data: {} },
      state: { ...EMPTY_SYNC_STATE, bornOn: 'legacy' },
      event: change('customer', 'legacy', T0, base),
    });
    expect(d.state.bornOn).toBe('legacy');
    expect(provenanceOf({ fields: d.state.fields })).toBe('legacy');
    expect(provenanceOf(EMPTY_SYNC_STATE)).toBeUndefined();
    expect(provenanceOf({ fields: {}, bornOn: 'service' })).toBe('service');
  });
});
