/**
 * The consistency check's service side without databases: the scan's `{ key, text }` per raw
 * item must hash exactly like `recordHash` over the record `fromItem` reads (the SQL side builds
 * the same text), and the row diff re-reads only the service records that differ.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { fromItem, nativeItem, scanText } from '../../lambdas/adapters/dynamodb-service.js';
import { systemAmbient } from '../../lambdas/adapters/system-clock.js';
import { checksumOf, hashRowText, recordHash, rowHash } from '../../lambdas/domain/checksum.js';
import { chunkOfKey } from '../../lambdas/domain/chunks.js';
import { checkConsistency, RepairAfterCutoverError, settleRows } from '../../lambdas/domain/consistency.js';
import type {
  ChunkChecksum,
  LegacyStore,
  ScannedRow,
  ServiceStore,
  StoredRecord,
  SyncStateStore,
} from '../../lambdas/domain/ports.js';
import type { EntitySpec, FieldSpec } from '../../lib/spec/schema.js';
import magento from '../../migrations/magento.js';
import { InMemoryPublisher } from '../support/in-memory-publisher.js';

const customer = magento.services[0]!.entities[0]!;

const field = (name: string, type: FieldSpec['type'], extra: Partial<FieldSpec> = {}): FieldSpec => ({
  name,
  type,
  nullable: true,
  pii: false,
  ...extra,
});

/** Every field type, for the scan's text. */
const mixed: EntitySpec = {
  ...customer,
  fields: [
    field('s', 'string'),
    field('i', 'integer', { nullable: false }),
    field('d', 'decimal', { scale: 4 }),
    field('b', 'boolean'),
    field('t', 'timestamp'),
    field('dt', 'date'),
  ],
};

/** The text the scan must give: canonical values of the record `fromItem` reads. */
function expected(entity: EntitySpec, raw: Record<string, AttributeValue>): { key: string; hash: number } {
  const it = nativeItem(raw);
  const key = String(it[entity.target.key]);
  return { key, hash: recordHash(entity, key, fromItem(entity, it, key).data) };
}

describe('Function: scanText (the consistency scan reads raw items to key and canonical text)', () => {
  const values: Record<string, AttributeValue[]> = {
    s: [
      { S: 'x' },
      { S: '' },
      { S: 'a|b' },
      { S: 'Crème' },
      { N: '42' },
      { N: '1.50' },
      { N: '-0' },
      { N: '12345678901234567890' },
    ],
    i: [
      { N: '7' },
      { N: '007' },
      { N: '-3' },
      { N: '1.5' },
      { S: '12' },
      { S: 'abc' },
      { BOOL: true },
      { N: '12345678901234567890' },
      { N: '1.5e20' },
    ],
    d: [
      { S: '19.99' },
      { N: '19.99' },
      { S: '1.23456' },
      { S: 'n/a' },
      { N: '0' },
      { N: '0.1000000000000000055511151231257827' },
    ],
    b: [{ BOOL: true }, { BOOL: false }, { N: '1' }, { S: 'false' }, { N: '2' }],
    t: [{ S: '2026-11-01T00:00:00Z' }, { S: 'not a time' }, { N: '0' }],
    dt: [{ S: '2026-11-01T10:00:00Z' }, { S: '11/01/2026' }],
  };
  const absentOrNull: (AttributeValue | undefined)[] = [undefined, { NULL: true }];

  it('hashes every attribute form exactly like recordHash over fromItem(nativeItem(item))', () => {
    const toRow = scanText(mixed);
    const keys: AttributeValue[] = [{ S: 'k-1' }, { N: '123' }];
    let n = 0;
    for (const name of Object.keys(values)) {
      for (const av of [...values[name]!, ...absentOrNull]) {
        for (const key of keys) {
          const raw: Record<string, AttributeValue> = { customerId: key, s: { S: 'base' } };
          if (av) raw[name] = av;
          const row = toRow(raw);
          const want = expected(mixed, raw);
          expect(row.key).toBe(want.key);
          expect(hashOf(row), `${name} = ${JSON.stringify(av)}`).toBe(want.hash);
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(60);
  });

  it('gives the text the SQL side builds for a customer item', () => {
    const row = scanText(customer)({
      customerId: { S: '42' },
      email: { S: 'a@example.com' },
      firstName: { S: 'Ann' },
      lastName: { NULL: true },
      websiteId: { N: '1' },
      groupId: { N: '1' },
      isActive: { N: '1' },
    });
    expect(row).toEqual({ key: '42', text: '|a@example.com|Ann|\\N|1|1|1' });
    expect(hashOf(row)).toBe(rowHash('42', ['a@example.com', 'Ann', null, 1, 1, 1]));
  });

  it('keeps a number a double cannot hold as its decimal string (dynamodb-values.ts), not a rounded number', () => {
    const row = scanText(mixed)({ customerId: { S: 'k' }, i: { N: '12345678901234567890' } });
    expect(row.text.split('|')[2]).toBe('12345678901234567890');
  });
});

/** rowHash(key, values) hashes `key|v1|…`; the scan's text is the `|v1|…` part. */
function hashOf(row: ScannedRow): number {
  return hashRowText(row.key + row.text);
}

// --- the check over in-memory stores ---------------------------------------------------------

type Data = Record<string, string | number | null>;

const data = (id: number, over: Partial<Data> = {}): Data => ({
  email: `c${id}@example.com`,
  firstName: `F${id}`,
  lastName: `L${id}`,
  websiteId: 1,
  groupId: 1,
  isActive: 1,
  ...over,
});

function legacyStore(rows: Map<string, Data>, chunkSize: number): LegacyStore {
  const records = () => [...rows].map(([key, d]): StoredRecord => ({ key, exists: true, data: { ...d } }));
  return {
    async count() {
      return rows.size;
    },
    async chunkChecksums(entity) {
      const hashes = new Map<number, number[]>();
      for (const r of records()) {
        const chunk = chunkOfKey(r.key, chunkSize);
        hashes.set(chunk, [...(hashes.get(chunk) ?? []), recordHash(entity, r.key, r.data)]);
      }
      return [...hashes].map(
        ([chunk, hs]): ChunkChecksum => ({ chunk, count: hs.length, checksum: checksumOf(hs) }),
      );
    },
    async readChunk(_entity, chunk) {
      return records()
        .filter((r) => chunkOfKey(r.key, chunkSize) === chunk)
        .sort((a, b) => Number(a.key) - Number(b.key));
    },
  } as Partial<LegacyStore> as LegacyStore;
}

/** A service store whose scan reads `items` through scanText; reads see `current` (default: items). */
function serviceStore(
  items: Map<string, Data>,
  current: Map<string, Data> = items,
): ServiceStore & { reads: string[][] } {
  const av = (v: string | number | null): AttributeValue =>
    v === null ? { NULL: true } : typeof v === 'number' ? { N: String(v) } : { S: v };
  const reads: string[][] = [];
  const read = (key: string): StoredRecord => {
    const d = current.get(key);
    return d ? fromItem(customer, { customerId: key, ...d }, key) : { key, exists: false, data: {} };
  };
  return {
    reads,
    async *scan(entity) {
      const toRow = scanText(entity);
      const all = [...items].map(([key, d]) =>
        toRow({
          customerId: { S: key },
          ...Object.fromEntries(Object.entries(d).map(([k, v]) => [k, av(v)])),
        }),
      );
      for (let i = 0; i < all.length; i += 7) yield all.slice(i, i + 7);
    },
    async read(_entity, key) {
      return read(key);
    },
    async readMany(_entity, keys) {
      reads.push([...keys]);
      return new Map(keys.filter((k) => current.has(k)).map((k) => [k, read(k)]));
    },
  } as Partial<ServiceStore> as ServiceStore & { reads: string[][] };
}

function stateStore(keyMap: Map<string, string>): SyncStateStore & { resets: string[]; lookups: string[][] } {
  const resets: string[] = [];
  const lookups: string[][] = [];
  return {
    resets,
    lookups,
    async legacyKeysOf(_e, serviceKeys) {
      lookups.push([...serviceKeys]);
      return new Map(serviceKeys.flatMap((k) => (keyMap.has(k) ? [[k, keyMap.get(k)!] as const] : [])));
    },
    async serviceKeyOf(_e, legacyKey) {
      return [...keyMap].find(([, l]) => l === legacyKey)?.[0];
    },
    async serviceKeysOf(_e, legacyKeys) {
      const byLegacy = new Map([...keyMap].map(([s, l]) => [l, s] as const));
      return new Map(legacyKeys.flatMap((l) => (byLegacy.has(l) ? [[l, byLegacy.get(l)!] as const] : [])));
    },
    async get() {
      return { state: { fields: {} }, revision: 0 };
    },
    async put() {
      return true;
    },
    async reset(_e, key) {
      resets.push(key);
    },
  } as Partial<SyncStateStore> as SyncStateStore & { resets: string[]; lookups: string[][] };
}

describe('Function: checkConsistency (in-memory stores)', () => {
  const spec = magento;
  const chunkSize = 10;

  it('lists differing fields from the records read again, with mapped service keys and all kinds', async () => {
    const legacy = new Map<string, Data>();
    for (let id = 1; id <= 100; id++) legacy.set(String(id), data(id));
    const service = new Map<string, Data>();
    for (let id = 1; id <= 100; id++) {
      if (id === 55) continue; // missing in service
      // 30 and 60 live under service-born keys mapped to them; 60's is numeric (a service's own
      // number, not a Magento id: Magento gave the record its id 60).
      service.set(
        id === 30 ? 'svc-30' : id === 60 ? '3000000060' : String(id),
        data(id, id === 42 ? { lastName: 'X', groupId: 2 } : {}),
      );
    }
    service.set('777', data(777)); // missing in legacy
    const svc = serviceStore(service);
    const publisher = new InMemoryPublisher();
    const state = stateStore(
      new Map([
        ['svc-30', '30'],
        ['3000000060', '60'],
      ]),
    );
    const deps = {
      now: systemAmbient.now,
      spec,
      legacy: legacyStore(legacy, chunkSize),
      service: svc,
      state,
      publisher,
    };
    const report = await checkConsistency(deps, customer, { chunkSize });
    expect(report).toMatchObject({
      legacyCount: 100,
      serviceCount: 100,
      chunks: 12,
      chunksDiffering: 3,
      mismatchesTotal: 3,
      repaired: 0,
    });
    expect(report.mismatches).toEqual([
      { legacyKey: '42', serviceKey: '42', kind: 'different', fields: ['lastName', 'groupId'] },
      { legacyKey: '55', kind: 'missing-in-service' },
      { legacyKey: '777', serviceKey: '777', kind: 'missing-in-legacy' },
    ]);
    // Read again: the two records found under their own keys in chunks that differ, to place
    // them under their mapped keys, and the one record that differs.
    expect(svc.reads.map((r) => [...r].sort())).toEqual([['3000000060', 'svc-30'], ['42']]);

    // A mapped key that differs is reported and read under its service key.
    service.set('svc-30', data(30, { email: 'other@example.com' }));
    const again = await checkConsistency(deps, customer, { chunkSize, repair: true });
    expect(again.mismatches[0]).toEqual({
      legacyKey: '30',
      serviceKey: 'svc-30',
      kind: 'different',
      fields: ['email'],
    });
    expect(again.mismatchesTotal).toBe(4);
    expect(again.repaired).toBe(3);
    // In each of the two checks the key map was read only for the rows of chunks that differed
    // with every row under its own key (a key's shape says nothing: 3000000060 is looked up too),
    // not for the rows of the chunks that agreed.
    for (const asked of state.lookups.slice(0, 2)) {
      expect(asked).toEqual(expect.arrayContaining(['svc-30', '3000000060', '42', '777']));
      expect(asked.length).toBeLessThan(50); // the rows of a handful of chunks of 10
    }
    expect(publisher.changeEvents().map((e) => e.event.key)).toEqual(['30', '42', '55']);
  });

  it("repair refuses to make legacy win once the service's writes are cut over (write mode primary)", async () => {
    const legacy = new Map<string, Data>();
    for (let id = 1; id <= 20; id++) legacy.set(String(id), data(id));
    const service = new Map(legacy);
    service.set('7', data(7, { lastName: 'Newer in the service' }));
    const publisher = new InMemoryPublisher();
    const asked: string[] = [];
    let mode: 'legacy' | 'shadow' | 'primary' = 'primary';
    const deps = {
      now: systemAmbient.now,
      spec,
      legacy: legacyStore(legacy, chunkSize),
      service: serviceStore(service),
      state: stateStore(new Map()),
      publisher,
      writeModeOf: async (s: string) => {
        asked.push(s);
        return mode;
      },
    };
    const refused = await checkConsistency(deps, customer, { chunkSize, repair: true }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(RepairAfterCutoverError);
    expect(String(refused)).toContain(
      'repair of customer refused: customer writes are cut over (write mode primary)',
    );
    expect(asked).toEqual(['customer']);
    // Full validation's compare settles rows through the same guard.
    await expect(
      settleRows(
        deps,
        customer,
        [{ kind: 'missing-in-service', legacy: { key: '7', exists: true, data: data(7) } }],
        {
          repair: true,
        },
      ),
    ).rejects.toThrow(RepairAfterCutoverError);
    expect(publisher.changeEvents()).toEqual([]);

    // A check without repair still reports; before the cutover the repair runs.
    expect((await checkConsistency(deps, customer, { chunkSize })).mismatchesTotal).toBe(1);
    mode = 'shadow';
    expect((await checkConsistency(deps, customer, { chunkSize, repair: true })).repaired).toBe(1);
    expect(publisher.changeEvents().map((e) => e.event.key)).toEqual(['7']);
  });

  it('settles a differing row on the record as it is now: synced since the scan, or deleted', async () => {
    const legacy = new Map<string, Data>();
    for (let id = 1; id <= 20; id++) legacy.set(String(id), data(id));
    const scanned = new Map(legacy);
    scanned.set('3', data(3, { email: 'stale@example.com' }));
    scanned.set('4', data(4, { email: 'stale@example.com' }));
    scanned.set('15', data(15, { isActive: 0 }));
    // Now: 3 was synced since the scan, 4 was deleted, 15 still differs.
    const now = new Map(legacy);
    now.delete('4');
    now.set('15', data(15, { isActive: 0 }));
    const deps = {
      now: systemAmbient.now,
      spec,
      legacy: legacyStore(legacy, chunkSize),
      service: serviceStore(scanned, now),
      state: stateStore(new Map()),
      publisher: new InMemoryPublisher(),
    };
    const report = await checkConsistency(deps, customer, { chunkSize });
    expect(report).toMatchObject({ chunksDiffering: 2, mismatchesTotal: 2 });
    expect(report.mismatches).toEqual([
      { legacyKey: '4', kind: 'missing-in-service' },
      { legacyKey: '15', serviceKey: '15', kind: 'different', fields: ['isActive'] },
    ]);
  });
});
