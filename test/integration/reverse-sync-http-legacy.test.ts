/**
 * The reverse sync of the menu migration, whose legacy side is a REST API (a loopback stand-in of
 * the Restaurant Service): `menu_item` is `eventual`, so its events take the batched path, and an
 * HTTP legacy store has no set-based writes (no `Runtime.legacyBatch`): the handler applies them
 * one by one, each a conditional PATCH (If-Match on the version read).
 */
import '../support/quiet-powertools.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { legacyDetailType, serviceDetailType, toBusEntry } from '../../lambdas/domain/events.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import { closeRuntime, configureRuntime, runtime } from '../../lambdas/handlers/runtime.js';
import { InMemoryPublisher } from '../support/in-memory-publisher.js';
import {
  canonicalData,
  type MenuLegacyServer,
  menuItems,
  startMenuLegacyServer,
} from '../support/menu-legacy-server.js';
import { changeEvent, invokeSqs, setupMenuEnv, sqsEvent, TEST_CIPHER } from '../support/sync-env.js';

const ITEMS = menuItems(3);
const TOKEN = 'menu-reverse-token';

describe('Function: reverse-sync (menu migration, HTTP legacy side)', () => {
  let server: MenuLegacyServer;

  beforeAll(async () => {
    server = await startMenuLegacyServer(ITEMS, { token: TOKEN });
    await setupMenuEnv('t-menu-reverse', server.baseUrl, TOKEN);
    await configureRuntime({ cipher: TEST_CIPHER, publisher: new InMemoryPublisher() });
  }, 120_000);
  afterAll(async () => {
    await closeRuntime();
    await server?.close();
  });

  it('applies a batch of service changes one by one with conditional PATCHes (no set-based writes over HTTP)', async () => {
    expect((await runtime()).legacyBatch).toBeUndefined();
    // The items come over from the legacy side first (as the backfill brings them).
    const seeded = ITEMS.map((i) =>
      toBusEntry(
        changeEvent({
          entity: 'menu_item',
          key: i.id,
          origin: 'legacy',
          data: canonicalData(i),
          changedAt: '2026-11-20T08:00:00.000Z',
        }),
        legacyDetailType('menu_item'),
      ),
    );
    expect((await invokeSqs(forward, sqsEvent(seeded))).failedIndexes).toEqual([]);
    // Then the service changes two prices (one SQS batch).
    const changed = ITEMS.slice(0, 2).map((i, n) =>
      toBusEntry(
        changeEvent({ entity: 'menu_item', key: i.id, origin: 'service', data: { price: `9.9${n}` } }),
        serviceDetailType('menu_item'),
      ),
    );
    server.seen.length = 0;
    expect((await invokeSqs(reverse, sqsEvent(changed))).failedIndexes).toEqual([]);
    expect(ITEMS.map((i) => [server.items.get(i.id)!['price'], server.items.get(i.id)!['version']])).toEqual([
      ['9.90', 2],
      ['9.91', 2],
      [server.items.get(ITEMS[2]!.id)!['price'], 1],
    ]);
    expect(
      server.seen
        .filter((r) => r.method === 'PATCH')
        .map((r) => r.path)
        .sort(),
    ).toEqual(
      ITEMS.slice(0, 2)
        .map((i) => `/api/v1/menu-items/${encodeURIComponent(i.id)}`)
        .sort(),
    );
  }, 60_000);
});
