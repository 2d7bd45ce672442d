/**
 * The legacy database secret's cache and the pool that follows it (lambdas/adapters/secrets.ts,
 * mysql-rotating-pool.ts), over the Secrets Manager stand-in: read at most once per max age,
 * re-read at once on access denied (one read for a burst of refusals), the pool rebuilt only for a
 * new version, a replaced pool ended only when its last connection is released. The pools are
 * recording stand-ins here; test/integration/mysql-secret-rotation.test.ts runs the real ones.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { RotatingPool } from '../../lambdas/adapters/mysql-rotating-pool.js';
import { CachedSecret } from '../../lambdas/adapters/secrets.js';
import { FakeSecretsManager } from '../support/fake-secrets-manager.js';

const ID = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:db-a1b2c3';
const accessDenied = () =>
  Object.assign(new Error("Access denied for user 'sync'@'10.0.0.1' (using password: YES)"), {
    code: 'ER_ACCESS_DENIED_ERROR',
    errno: 1045,
  });

/** A pool stand-in that accepts only `password` of the server's current one. */
function fakePools(server: { password: string }) {
  const made: { password: string; ended: boolean }[] = [];
  const createPool = (o: { password?: string }) => {
    const rec = { password: o.password ?? '', ended: false };
    made.push(rec);
    const check = () => {
      if (rec.ended) throw new Error('pool ended');
      if (rec.password !== server.password) throw accessDenied();
    };
    return {
      query: async () => {
        check();
        return [[{ ok: 1 }], []];
      },
      getConnection: async () => {
        check();
        return { release() {} } as unknown as PoolConnection;
      },
      end: async () => {
        rec.ended = true;
      },
    } as unknown as Pool;
  };
  return { made, createPool };
}

describe('CachedSecret', () => {
  it('reads once per max age, again after it, and at once on refresh', async () => {
    const sm = new FakeSecretsManager();
    sm.put(ID, 'one');
    let now = 0;
    const cached = new CachedSecret(sm.source, ID, { maxAgeMs: 1000, now: () => now });
    expect((await cached.get()).secretString).toBe('one');
    sm.put(ID, 'two');
    now = 999;
    expect((await cached.get()).secretString).toBe('one');
    expect(sm.reads.get(ID)).toBe(1);
    now = 1000;
    expect((await cached.get()).secretString).toBe('two');
    expect(sm.reads.get(ID)).toBe(2);
    sm.put(ID, 'three');
    expect((await cached.refresh()).secretString).toBe('three');
  });

  it('concurrent refreshes share one read; a failed read is not kept', async () => {
    const sm = new FakeSecretsManager();
    const cached = new CachedSecret(sm.source, ID);
    await expect(cached.get()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    sm.put(ID, 'one');
    await Promise.all([cached.refresh(), cached.refresh(), cached.get()]);
    expect(sm.reads.get(ID)).toBe(2);
  });
});

describe('RotatingPool', () => {
  const setup = (maxAgeMs = 300_000) => {
    const sm = new FakeSecretsManager();
    sm.put(ID, JSON.stringify({ password: 'p1' }));
    const server = { password: 'p1' };
    const pools = fakePools(server);
    let now = 0;
    const pool = new RotatingPool({
      secret: new CachedSecret(sm.source, ID, { maxAgeMs, now: () => now }),
      optionsOf: (s) => ({ password: String(JSON.parse(s).password) }),
      createPool: pools.createPool,
    });
    return { sm, server, pools, pool, tick: (ms: number) => (now += ms) };
  };
  const rotate = (t: ReturnType<typeof setup>, password: string) => {
    t.server.password = password;
    t.sm.put(ID, JSON.stringify({ password }));
  };

  it('access denied after a rotation: one re-read for a burst, one new pool, every call retried once and served', async () => {
    const t = setup();
    await t.pool.query('SELECT 1');
    rotate(t, 'p2');
    const results = await Promise.all(Array.from({ length: 5 }, () => t.pool.query('SELECT 1')));
    expect(results).toHaveLength(5);
    expect(t.pools.made.map((p) => p.password)).toEqual(['p1', 'p2']);
    expect(t.pools.made[0]!.ended).toBe(true);
    expect(t.sm.reads.get(ID)).toBe(2);
  });

  it('a wrong password in the secret itself fails the call after one retry (no loop)', async () => {
    const t = setup();
    await t.pool.query('SELECT 1');
    t.server.password = 'p-elsewhere';
    await expect(t.pool.query('SELECT 1')).rejects.toMatchObject({ errno: 1045 });
    expect(t.sm.reads.get(ID)).toBe(2);
    expect(t.pools.made).toHaveLength(1);
  });

  it('a new version found after the max age replaces the pool; the old one ends when its connection is released', async () => {
    const t = setup(1000);
    const held = await t.pool.getConnection();
    // Alternating users: the old credentials still work, the secret has new ones.
    t.sm.put(ID, JSON.stringify({ password: 'p1' }));
    t.tick(1000);
    await t.pool.query('SELECT 1');
    expect(t.pools.made).toHaveLength(2);
    expect(t.pools.made[0]!.ended).toBe(false);
    held.release();
    expect(t.pools.made[0]!.ended).toBe(true);
    held.release();
    await t.pool.end();
    expect(t.pools.made[1]!.ended).toBe(true);
  });
});
