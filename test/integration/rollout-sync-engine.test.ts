/**
 * The synthesized customer rollout, executed locally, with phase 1 and the consistency gates
 * on the real sync engine: the Distributed Map copies key-range chunks of `customer_entity`
 * (MariaDB) into the service table (DynamoDB Local) through the forward-sync rules, the
 * chunk-checksum consistency check validates, and phase 5 archives the real table.
 * AppConfig and CloudWatch stay stateful fakes (test/support/rollout-harness.ts).
 */
import '../support/quiet-powertools.js';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlArchiveSource } from '../../lambdas/adapters/mysql-archive-source.js';
import { createMysqlPool } from '../../lambdas/adapters/mysql-legacy.js';
import type { ArchiveManifest } from '../../lambdas/domain/archive.js';
import { SyncEngineBackfill, SyncEngineConsistencyCheck } from '../../lambdas/domain/rollout-sync.js';
import { SyncEngineValidation } from '../../lambdas/domain/validation.js';
import { runtime } from '../../lambdas/handlers/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import magento from '../../migrations/magento.js';
import { insertCustomers } from '../support/bulk.js';
import { MemoryObjectStore } from '../support/memory-objects.js';
import { RolloutWorld, type SynthesizedRollout, synthesizeRollouts } from '../support/rollout-harness.js';
import { type SyncEnv, setupSyncEnv } from '../support/sync-env.js';

const CUSTOMERS = 300;
const CHUNK = 100;

let env: SyncEnv;
let spec: MigrationSpec;
let machines: Record<string, SynthesizedRollout>;
let archivePool: Pool;

beforeAll(async () => {
  env = await setupSyncEnv('rollout-engine');
  await insertCustomers(env.db, 1, CUSTOMERS + 1);
  spec = structuredClone(magento);
  for (const s of spec.services) s.rollout.backfillChunkSize = CHUNK;
  machines = synthesizeRollouts(spec);
  archivePool = createMysqlPool({ uri: env.mysqlUrl, connectionLimit: 2 });
}, 180_000);

afterAll(async () => {
  await archivePool?.end();
  await env?.close();
});

async function world(): Promise<RolloutWorld> {
  const rt = await runtime();
  const objects = new MemoryObjectStore();
  return new RolloutWorld(spec, machines, {
    ports: {
      backfill: new SyncEngineBackfill(rt),
      consistency: new SyncEngineConsistencyCheck(rt),
      archiveSource: new MysqlArchiveSource(archivePool),
      validation: new SyncEngineValidation({ ...rt, store: objects }),
    },
    objects,
  });
}

async function serviceItems(): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const res = await env.dynamo.send(
      new ScanCommand({
        TableName: env.tables.serviceTables['customer']!,
        Select: 'COUNT',
        ExclusiveStartKey: start,
      }),
    );
    count += res.Count ?? 0;
    start = res.LastEvaluatedKey;
  } while (start);
  return count;
}

describe('Rollout on the sync engine (MariaDB + DynamoDB Local)', () => {
  it('backfills customer_entity chunk by chunk, validates with zero mismatches, cuts over and archives the table', async () => {
    // Credentials and personal columns the spec does not map must stay out of the archive.
    await env.db.query(
      "UPDATE customer_entity SET password_hash = 'hash-of-secret', rp_token = 'reset-token', dob = '1990-01-02', taxvat = 'DE123' WHERE entity_id = 1",
    );
    const w = await world();
    const out = await w.run('customer');

    expect(out.status, out.cause).toBe('SUCCEEDED');
    const backfill = out.output!['backfill'] as { chunks: Array<{ from: string; to: string }>; keys: number };
    expect(backfill.chunks.map((c) => `${c.from}-${c.to}`)).toEqual([
      '0-99',
      '100-199',
      '200-299',
      '300-399',
    ]);
    expect(backfill.keys).toBe(CUSTOMERS);
    expect(w.trace.filter((t) => t === 'customer:BackfillChunk')).toHaveLength(4);
    expect(await serviceItems()).toBe(CUSTOMERS);
    expect(out.output!['validation']).toMatchObject({
      entities: [
        expect.objectContaining({
          entity: 'customer',
          legacyCount: CUSTOMERS,
          serviceCount: CUSTOMERS,
          mismatches: 0,
        }),
      ],
    });

    // The archive: one object, its SHA-256 in the manifest, the rows as MariaDB holds them.
    const manifestKey = (out.output!['archive'] as { manifestKey: string }).manifestKey;
    const manifest = JSON.parse(
      Buffer.from(w.store.objects.get(manifestKey)!.body).toString(),
    ) as ArchiveManifest;
    expect(manifest.tables).toEqual([
      { table: 'customer_entity', key: 'entity_id', columns: expect.any(Array), rows: CUSTOMERS },
    ]);
    const file = manifest.files[0]!;
    const body = w.store.objects.get(file.key)!.body;
    expect(createHash('sha256').update(body).digest('hex')).toBe(file.sha256);
    const ndjson = gunzipSync(body).toString();
    const first = JSON.parse(ndjson.split('\n')[0]!) as Record<string, unknown>;
    const [rows] = await env.db.query<RowDataPacket[]>('SELECT * FROM customer_entity WHERE entity_id = 1');
    const legacy = JSON.parse(JSON.stringify(rows[0])) as Record<string, unknown>;
    expect(legacy['password_hash']).toBe('hash-of-secret');
    expect(first).toEqual(Object.fromEntries(manifest.tables[0]!.columns.map((c) => [c, legacy[c]])));
    for (const banned of ['password_hash', 'rp_token', 'dob', 'taxvat']) {
      expect(Object.keys(first)).not.toContain(banned);
    }
    for (const secret of ['hash-of-secret', 'reset-token', '1990-01-02', 'DE123']) {
      expect(ndjson).not.toContain(secret);
    }
    expect(first).toMatchObject({ entity_id: 1, email: legacy['email'] });
  });

  it('a service record without a legacy row fails phase 1 and names the mismatch', async () => {
    await env.dynamo.send(
      new PutCommand({
        TableName: env.tables.serviceTables['customer']!,
        Item: {
          customerId: 'cus-orphan',
          email: 'orphan@example.com',
          version: 1,
          updatedAt: new Date().toISOString(),
        },
      }),
    );
    const w = await world();
    const out = await w.run('customer');

    expect(out.status).toBe('FAILED');
    expect(out.error).toBe('ValidationFailedError');
    expect(out.cause).toMatch(/customer: \d+ legacy records but \d+ service records/);
    expect(out.cause).toContain('1 mismatched records');
    expect(w.trace).not.toContain('customer:ShadowSetFlags');
  });
});
