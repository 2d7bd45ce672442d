/**
 * A hot row under the continuous poller, with the bundled spec's overlap (2 s), on real MariaDB
 * and DynamoDB Local: a Magento row saved again and again, more often than its second becomes
 * safe (overlap + 1 s), is published while it stays hot, each version once, within the lag
 * bound of a change; the watermark still never passes a second that is not over.
 *
 * Found by the rehearsal: with 12 rows edited ten times a second, every row was re-saved before
 * its second was safe, the keyset scan (which read only rows older than the horizon) read none
 * of them for 8.5 s, and the shadow gate saw no forward sync at all ("dual-write success: no
 * data in the bake window").
 */
import '../support/quiet-powertools.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoSyncStateStore } from '../../lambdas/adapters/dynamodb-sync-state.js';
import type { ChangeEvent } from '../../lambdas/domain/events.js';
import { pollerTiming } from '../../lambdas/domain/poller-loop.js';
import { pollerLagBoundSeconds } from '../../lib/spec/lookup.js';
import magento from '../../migrations/magento.js';
import { invokePoller } from '../support/poller.js';
import {
  entitySpec,
  insertLegacyCustomer,
  nextSecond,
  pollNow,
  type SyncEnv,
  setupSyncEnv,
} from '../support/sync-env.js';

const timing = pollerTiming(magento.sync);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Function: legacy-poller, a hot row (overlap 2 s)', () => {
  let env: SyncEnv;
  beforeAll(async () => {
    expect(magento.sync.pollerOverlapSeconds).toBe(2);
    env = await setupSyncEnv('poller-hot', { spec: magento });
  });
  afterAll(async () => {
    await env?.close();
  });

  const published = () =>
    env.publisher.log
      .map((l) => ({ at: l.at, event: JSON.parse(l.entry.Detail) as ChangeEvent }))
      .filter((p) => p.event.entity === 'customer');

  it('a row saved every 400 ms is published while it stays hot, each version once, within the lag bound; the watermark stays behind the safe horizon', async () => {
    const id = await insertLegacyCustomer(env, 'Hot', 'H0');
    await nextSecond();
    await pollNow(['customer']);
    const startedAt = Date.now();

    const run = invokePoller({ continuous: true, entities: ['customer'] }, timing.safetyMs + 9000);
    const commits: { last: string; at: number }[] = [];
    const state = new DynamoSyncStateStore(env.dynamo, env.tables.syncTable);
    const customer = entitySpec(env, 'customer');
    const watermarks: { at: number; horizon: number }[] = [];
    for (let i = 1; i <= 15; i++) {
      const last = `H${i}`;
      await env.db.query('UPDATE customer_entity SET lastname = ? WHERE entity_id = ?', [last, id]);
      commits.push({ last, at: Date.now() });
      await sleep(400);
      const wm = await state.getWatermark(customer);
      const now = Date.now();
      if (wm) watermarks.push({ at: wm.at, horizon: Math.floor(now / 1000) * 1000 - 2000 });
    }
    const hotUntil = Date.now();
    const response = await run;

    const mine = published().filter((p) => p.event.key === id && p.at >= startedAt);
    // Published while hot: before, nothing was read until the row had been quiet for 2-3 s.
    const whileHot = mine.filter((p) => p.at < hotUntil);
    // (about one per tick: 6 s of ticks; 3 leaves room for a loaded machine's late ticks)
    expect(whileHot.length).toBeGreaterThanOrEqual(3);
    // Each version once.
    const ids = mine.map((p) => p.event.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    // Within the lag bound, with a second's room for a loaded machine.
    const bound = pollerLagBoundSeconds(magento.sync) * 1000 + 1000;
    for (const p of whileHot) {
      const c = commits.find((x) => x.last === p.event.data['lastName'])!;
      expect(p.at - c.at).toBeLessThanOrEqual(bound);
    }
    // The last value got there too.
    expect(mine.at(-1)?.event.data['lastName']).toBe('H15');
    // The watermark never passed a second that was not over by the overlap.
    for (const w of watermarks) expect(w.at).toBeLessThan(w.horizon + 1000);
    expect(response.entities['customer']!.published).toBe(mine.length);
  }, 60_000);

  it('a young row published by one invocation is not published again by the next (the handoff in the lease)', async () => {
    const id = await insertLegacyCustomer(env, 'Young', 'Y0');
    await nextSecond();
    await pollNow(['customer']);
    await env.db.query('UPDATE customer_entity SET lastname = ? WHERE entity_id = ?', ['Y1', id]);
    const startedAt = Date.now();
    // Two one-pass invocations one after the other, both within the overlap: the row is young
    // (changed less than 2 s ago) at each, and unchanged.
    await pollNow(['customer']);
    await pollNow(['customer']);
    expect(Date.now() - startedAt).toBeLessThan(2000);
    const mine = published().filter((p) => p.event.key === id && p.at >= startedAt);
    expect(mine.map((p) => p.event.data['lastName'])).toEqual(['Y1']);
    // Once its second is safe, the next invocation passes over it and the watermark moves on.
    await sleep(3100);
    await pollNow(['customer']);
    expect(published().filter((p) => p.event.key === id && p.at >= startedAt)).toHaveLength(1);
    const wm = await new DynamoSyncStateStore(env.dynamo, env.tables.syncTable).getWatermark(
      entitySpec(env, 'customer'),
    );
    expect(wm?.key).toBe(id);
  }, 30_000);
});
