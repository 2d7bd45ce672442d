/**
 * The rehearsal's account of rows that stayed different (lib/rehearse/divergence.ts): keys,
 * field names and the sync state's stamps — never a value (names and e-mails are personal data).
 */
import { describe, expect, it } from 'vitest';
import type { ConsistencyReport } from '../../lambdas/domain/consistency.js';
import { divergentRowMarkdown, divergentRows } from '../../lib/rehearse/divergence.js';
import type { RehearsalReport } from '../../lib/rehearse/rehearsal.js';
import { reportMarkdown } from '../../lib/rehearse/report.js';
import { magento } from '../../migrations/index.js';
import { MemoryLegacyStore, MemorySyncTables } from '../support/memory-stores.js';

const T0 = Date.parse('2026-11-30T21:00:00Z');
const SECRET = ['Ada', 'Grace', 'ada@example.com'];

function diverged() {
  const legacy = new MemoryLegacyStore();
  const tables = new MemorySyncTables();
  const key = legacy.insertOwn(
    { email: 'ada@example.com', firstName: 'Ada', lastName: 'L', websiteId: 1, groupId: 1, isActive: 1 },
    T0,
  );
  tables.serviceWrite(
    key,
    { email: 'ada@example.com', firstName: 'Grace', lastName: 'L', websiteId: 1, groupId: 1, isActive: 1 },
    T0 + 1500,
  );
  tables.states.set(key, {
    revision: 7,
    state: {
      bornOn: 'legacy',
      fields: {
        firstName: {
          value: 'Grace',
          // Same Magento second as the service change: the tie goes to the service (tieBreak).
          seen: {
            legacy: { at: T0 + 1000, origin: 'legacy', seq: T0 + 1900 },
            service: { at: T0 + 1500, origin: 'service', seq: 3 },
          },
          lost: { legacy: 'Ada' },
        },
      },
    },
  });
  const report: ConsistencyReport = {
    entity: 'customer',
    legacyCount: 1,
    serviceCount: 1,
    chunks: 1,
    chunksDiffering: 1,
    mismatches: [
      { legacyKey: key, serviceKey: key, kind: 'different', fields: ['firstName'] },
      { legacyKey: '99', kind: 'missing-in-service' },
    ],
    mismatchesTotal: 2,
    durationMs: 1,
    repaired: 0,
  };
  return { deps: { spec: magento, state: tables, legacy, service: tables }, report, key };
}

describe('rehearsal divergence: the differing rows, by key and field name', () => {
  it('names entity, keys, fields and the sync state as stamps (revision, seen per side, last side, losing side)', async () => {
    const { deps, report, key } = diverged();
    const rows = await divergentRows(deps, [report]);
    expect(rows[0]).toEqual({
      entity: 'customer',
      legacyKey: key,
      serviceKey: key,
      kind: 'different',
      fields: ['firstName'],
      state: {
        revision: 7,
        bornOn: 'legacy',
        fields: {
          firstName: {
            seen: {
              legacy: { at: T0 + 1000, origin: 'legacy', seq: T0 + 1900 },
              service: { at: T0 + 1500, origin: 'service', seq: 3 },
            },
            seenLast: 'service',
            losing: ['legacy'],
            agreed: true,
          },
        },
      },
      sides: { legacyChangedAt: T0, serviceChangedAt: T0 + 1500, serviceVersion: 1 },
    });
    // A row with no state and no service record is still listed, by its key.
    expect(rows[1]).toMatchObject({ legacyKey: '99', kind: 'missing-in-service', fields: [] });
    expect(rows[1]!.state).toBeUndefined();
  });

  it('holds no value of the row, in the JSON or the Markdown', async () => {
    const { deps, report } = diverged();
    const rows = await divergentRows(deps, [report]);
    const md = rows.map(divergentRowMarkdown).join('\n');
    for (const text of [JSON.stringify(rows), md]) for (const v of SECRET) expect(text).not.toContain(v);
    expect(md).toContain('firstName');
    expect(md).toContain('last service');
    expect(md).toContain('losing on legacy');
  });

  it('the report Markdown lists the differing rows under divergence', async () => {
    const { deps, report, key } = diverged();
    const differing = await divergentRows(deps, [report]);
    const r = {
      migration: 'magento',
      service: 'customer',
      env: 'dev',
      ok: false,
      settings: { rate: 100, durationMs: 30_000, datasetRows: 200, timeScale: 60, faults: [] },
      assembly: { directory: '.cutover/assembly-dev', mappings: [], queues: [] },
      phases: [],
      events: {
        offered: 0,
        applied: 0,
        failed: 0,
        dlq: 0,
        byDirection: {},
        unmatched: 0,
        unmatchedSamples: [],
      },
      edits: {},
      entities: { traffic: ['customer'], skipped: [] },
      lag: { p50Ms: null, p99Ms: null, byDirection: {} },
      conflicts: { byPolicy: {}, byWinner: {} },
      rollbacks: [],
      divergence: { rows: 2, parked: 0, consistent: false, firstCheckRows: 2, differing },
    } as unknown as RehearsalReport;
    const md = reportMarkdown(r);
    expect(md).toContain('| entity | legacy key | service key | kind | fields | sync state | last changes |');
    expect(md).toContain(`| customer | ${key} | ${key} | different | firstName | rev 7, born on legacy;`);
    for (const v of SECRET) expect(md).not.toContain(v);
  });
});
