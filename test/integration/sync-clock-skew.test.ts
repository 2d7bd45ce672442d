import '../support/quiet-powertools.js';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClockSkewError } from '../../lambdas/domain/conflict.js';
import { applyToService } from '../../lambdas/domain/sync.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import { configureRuntime, runtime } from '../../lambdas/handlers/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import {
  changeEvent,
  entitySpec,
  getItem,
  invokeSqs,
  legacyEntry,
  legacyEvent,
  magentoForPolling,
  nextSecond,
  type SyncEnv,
  seededCustomer,
  serviceChange,
  setupSyncEnv,
  sqsEvent,
  TEST_CIPHER,
} from '../support/sync-env.js';

const HOUR = 3_600_000;

// Issue 12 (1): a change dated far ahead (a bad host clock, a year 9999) must not become that
// side's newest change, or every later real edit of its fields is skipped as stale.
describe('Function: sync (clocks ahead of the receiving sync)', () => {
  let env: SyncEnv;
  let spec: MigrationSpec;
  beforeAll(async () => {
    spec = magentoForPolling();
    env = await setupSyncEnv('clock-skew', { spec });
  });
  afterAll(async () => {
    await env?.close();
  });

  const failed = async (handler: unknown, entries: Parameters<typeof sqsEvent>[0]) =>
    (await invokeSqs(handler, sqsEvent(entries))).failedIndexes;
  const firstname = async (id: string) =>
    (
      await env.db.query<RowDataPacket[]>('SELECT firstname FROM customer_entity WHERE entity_id = ?', [id])
    )[0][0]!['firstname'];

  /** A legacy change of the customer's row as it is, dated `changedAt`, with `data` over it. */
  async function legacyChangeAt(id: string, changedAt: string, data: Record<string, string>) {
    const row = JSON.parse((await legacyEvent(env, 'customer', id)).Detail);
    return legacyEntry(
      changeEvent({
        entity: 'customer',
        key: id,
        origin: 'legacy',
        data: { ...row.data, ...data },
        changedAt,
        sequence: Date.now(),
      }),
    );
  }

  it('forward: a change dated 9999 is rejected with its reason, and a later real Magento edit still arrives', async () => {
    const id = await seededCustomer(env, 'Ada');
    const future = await legacyChangeAt(id, '9999-12-31T23:59:59Z', { firstName: 'Future' });
    expect(await failed(forward, [future])).toEqual([0]);
    expect((await getItem(env, 'customer', id))?.['firstName']).toBe('Ada');
    // The reason names the field and the limit (it goes with the record to the DLQ).
    const rt = await runtime();
    const error = await applyToService(rt, entitySpec(env, 'customer'), JSON.parse(future.Detail)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ClockSkewError);
    expect((error as Error).message).toMatch(
      /detail\.changedAt 9999-12-31T23:59:59Z is \d+ s ahead of the receiving clock \(at most 300 s is accepted/,
    );

    // A real edit afterwards is applied (accepted, the 9999 change would have made it stale).
    await env.db.query('UPDATE customer_entity SET firstname = ? WHERE entity_id = ?', ['Real', id]);
    await nextSecond();
    expect(await failed(forward, [await legacyEvent(env, 'customer', id)])).toEqual([]);
    expect((await getItem(env, 'customer', id))?.['firstName']).toBe('Real');
    // Redelivered, the bad change is rejected again and changes nothing.
    expect(await failed(forward, [future])).toEqual([0]);
    expect((await getItem(env, 'customer', id))?.['firstName']).toBe('Real');
  });

  it('reverse: a service host 3 h ahead is rejected; Magento edits still win over it, and its next real edit applies', async () => {
    const id = await seededCustomer(env, 'Grace');
    const ahead = await serviceChange(
      env,
      'customer',
      id,
      { firstName: 'Ahead' },
      new Date(Date.now() + 3 * HOUR),
    );
    expect(await failed(reverse, ahead)).toEqual([0]);
    expect(await firstname(id)).toBe('Grace');

    // Magento changes the same field. The service item still says it changed 3 h from now; that
    // time is unusable, so it cannot win the conflict: Magento's real edit does.
    await env.db.query('UPDATE customer_entity SET firstname = ? WHERE entity_id = ?', ['MagentoEdit', id]);
    await nextSecond();
    expect(await failed(forward, [await legacyEvent(env, 'customer', id)])).toEqual([]);
    expect((await getItem(env, 'customer', id))?.['firstName']).toBe('MagentoEdit');
    expect(env.publisher.take()).toEqual([]); // nothing pushed back to Magento

    // The service's clock is fixed: its next edit of that field reaches Magento.
    expect(await failed(reverse, await serviceChange(env, 'customer', id, { firstName: 'Later' }))).toEqual(
      [],
    );
    expect(await firstname(id)).toBe('Later');
  });

  it('one bad event in a batch fails alone; the good ones after it, of the same record too, are applied', async () => {
    const a = await seededCustomer(env, 'Alan');
    const b = await seededCustomer(env, 'Barbara');
    const bad = await legacyChangeAt(a, new Date(Date.now() + HOUR).toISOString(), { firstName: 'Bad' });
    await env.db.query('UPDATE customer_entity SET firstname = ? WHERE entity_id IN (?, ?)', ['Good', a, b]);
    await nextSecond();
    const res = await failed(forward, [
      bad,
      await legacyEvent(env, 'customer', a),
      await legacyEvent(env, 'customer', b),
    ]);
    expect(res).toEqual([0]);
    expect((await getItem(env, 'customer', a))?.['firstName']).toBe('Good');
    expect((await getItem(env, 'customer', b))?.['firstName']).toBe('Good');
  });

  it('an impossible date (2026-02-30, which Date.parse reads as March 2) is rejected, nothing written', async () => {
    const id = await seededCustomer(env, 'Edsger');
    const entry = await legacyChangeAt(id, '2026-02-30T10:00:00Z', { firstName: 'Leap' });
    expect(Date.parse('2026-02-30T10:00:00Z')).not.toBeNaN();
    expect(await failed(forward, [entry])).toEqual([0]);
    expect((await getItem(env, 'customer', id))?.['firstName']).toBe('Edsger');
  });

  it('the allowance is the spec’s sync.maxClockSkewSeconds, against the clock the runtime is given', async () => {
    const id = await seededCustomer(env, 'Barbara');
    const tenMinutesAhead = () =>
      legacyChangeAt(id, new Date(Date.now() + 10 * 60_000).toISOString(), { firstName: 'Soon' });
    // Default 300 s: rejected.
    expect(await failed(forward, [await tenMinutesAhead()])).toEqual([0]);
    try {
      // 900 s allowed: accepted.
      await configureRuntime({
        cipher: TEST_CIPHER,
        publisher: env.publisher,
        spec: { ...spec, sync: { ...spec.sync, maxClockSkewSeconds: 900 } },
      });
      expect(await failed(forward, [await tenMinutesAhead()])).toEqual([]);
      expect((await getItem(env, 'customer', id))?.['firstName']).toBe('Soon');
      // The receiving clock comes from the runtime: one an hour behind finds a change made now
      // too far ahead.
      await configureRuntime({
        cipher: TEST_CIPHER,
        publisher: env.publisher,
        spec,
        now: () => Date.now() - HOUR,
      });
      const now = await legacyChangeAt(id, new Date().toISOString(), { firstName: 'Now' });
      expect(await failed(forward, [now])).toEqual([0]);
    } finally {
      await configureRuntime({ cipher: TEST_CIPHER, publisher: env.publisher, spec });
    }
  });
});
