import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MysqlEntityLegacy } from '../../lib/spec/schema.js';
import magento from '../../migrations/magento.js';
import { createMagentoDatabase } from '../support/databases.js';

/** test/contracts/magento/db_schema.json: Magento 2.4's db_schema.xml facts, with their sources. */
interface ColumnFact {
  readonly name: string;
  readonly type: string;
  readonly unsigned?: boolean;
  readonly length?: number;
  readonly precision?: number;
  readonly scale?: number;
  readonly nullable: boolean;
  readonly default?: string;
  readonly identity?: boolean;
  readonly onUpdate?: boolean;
}
interface TableFact {
  readonly source: string;
  readonly columns: readonly ColumnFact[];
  readonly primaryKey: readonly string[];
  readonly uniqueKeys: Readonly<Record<string, readonly string[]>>;
  readonly foreignKeys: readonly {
    readonly name: string;
    readonly column: string;
    readonly referenceTable: string;
    readonly referenceColumn: string;
    readonly onDelete: string;
  }[];
  readonly indexes: Readonly<Record<string, readonly string[]>>;
}
interface SchemaFacts {
  readonly sources: Readonly<Record<string, { repository: string; path: string; commit: string }>>;
  readonly tables: Readonly<Record<string, TableFact>>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const facts = JSON.parse(
  readFileSync(path.join(here, '../contracts/magento/db_schema.json'), 'utf8'),
) as SchemaFacts;

/** A column default as information_schema reports it, in the XML's terms. */
function reportedDefault(
  raw: string | null,
): { kind: 'none' } | { kind: 'null' } | { kind: 'value'; value: string } {
  if (raw === null) return { kind: 'none' };
  if (raw === 'NULL') return { kind: 'null' };
  if (/^current_timestamp(\(\))?$/i.test(raw)) return { kind: 'value', value: 'CURRENT_TIMESTAMP' };
  const quoted = /^'(.*)'$/s.exec(raw);
  return { kind: 'value', value: quoted ? quoted[1]!.replace(/''/g, "'") : raw };
}

describe('Magento fixture (lib/local/magento-fixture.sql) against db_schema.xml facts', () => {
  let conn: Connection;
  let db: string;
  beforeAll(async () => {
    const url = await createMagentoDatabase(inject('mysqlUrl'), 'cutover_fixture_schema');
    db = new URL(url).pathname.slice(1);
    conn = await mysql.createConnection({ uri: url });
  });
  afterAll(async () => {
    await conn?.end();
  });

  const query = async (sql: string, params: unknown[]) => (await conn.query<RowDataPacket[]>(sql, params))[0];

  it('names a source file and commit for every table, and covers every table the bundled spec uses and what those reference', () => {
    for (const [name, t] of Object.entries(facts.tables)) {
      const src = facts.sources[t.source];
      expect(src, `${name}.source`).toBeDefined();
      expect(src!.path).toMatch(/^app\/code\/Magento\/\w+\/etc\/db_schema\.xml$/);
      expect(src!.commit).toMatch(/^[0-9a-f]{40}$/);
    }
    const used = new Set<string>();
    for (const s of magento.services)
      for (const e of s.entities) {
        const legacy = e.legacy as MysqlEntityLegacy;
        used.add(legacy.table);
        if (legacy.eavEntityType) {
          used.add('eav_entity_type').add('eav_attribute');
          for (const f of e.fields) if (f.eav) used.add(`${legacy.table}_${f.eav.backendType}`);
        }
      }
    for (const t of used) expect(Object.keys(facts.tables), `spec table ${t}`).toContain(t);
    for (const [name, t] of Object.entries(facts.tables))
      for (const fk of t.foreignKeys)
        expect(Object.keys(facts.tables), `${name}.${fk.name} references`).toContain(fk.referenceTable);
  });

  for (const [table, fact] of Object.entries(facts.tables)) {
    it(`${table}: columns, types, nullability, defaults, keys and foreign keys as declared`, async () => {
      const columns = await query(
        `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE,
                IS_NULLABLE, COLUMN_DEFAULT, EXTRA
           FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
        [db, table],
      );
      expect(
        columns.map((c) => c['COLUMN_NAME']),
        `${table} columns`,
      ).toEqual(fact.columns.map((c) => c.name));
      for (const [i, c] of fact.columns.entries()) {
        const row = columns[i]!;
        const at = `${table}.${c.name}`;
        expect(row['DATA_TYPE'], `${at} type`).toBe(c.type);
        if (c.unsigned !== undefined)
          expect(/unsigned/.test(String(row['COLUMN_TYPE'])), `${at} unsigned`).toBe(c.unsigned);
        if (c.length !== undefined)
          expect(Number(row['CHARACTER_MAXIMUM_LENGTH']), `${at} length`).toBe(c.length);
        if (c.precision !== undefined) {
          expect(Number(row['NUMERIC_PRECISION']), `${at} precision`).toBe(c.precision);
          expect(Number(row['NUMERIC_SCALE']), `${at} scale`).toBe(c.scale);
        }
        expect(row['IS_NULLABLE'], `${at} nullable`).toBe(c.nullable ? 'YES' : 'NO');
        const extra = String(row['EXTRA']).toLowerCase();
        expect(extra.includes('auto_increment'), `${at} identity`).toBe(c.identity === true);
        expect(/on update current_timestamp/.test(extra), `${at} on update`).toBe(c.onUpdate === true);
        const reported = reportedDefault(row['COLUMN_DEFAULT'] as string | null);
        if (c.default === undefined) {
          // No default attribute: NULL for a nullable column, none at all for a NOT NULL one.
          if (c.nullable) expect(reported.kind, `${at} default`).not.toBe('value');
          else expect(reported, `${at} has no default`).toEqual({ kind: 'none' });
        } else if (['int', 'smallint', 'decimal'].includes(c.type)) {
          expect(reported.kind, `${at} default`).toBe('value');
          expect(Number((reported as { value: string }).value), `${at} default`).toBe(Number(c.default));
        } else {
          expect(reported, `${at} default`).toEqual({ kind: 'value', value: c.default });
        }
      }

      const stats = await query(
        `SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS
          WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
        [db, table],
      );
      const keys = (unique: boolean) => {
        const out: Record<string, string[]> = {};
        for (const s of stats) {
          const name = String(s['INDEX_NAME']);
          if (name === 'PRIMARY' || (Number(s['NON_UNIQUE']) === 0) !== unique) continue;
          const cols = out[name] ?? [];
          cols.push(String(s['COLUMN_NAME']));
          out[name] = cols;
        }
        return out;
      };
      expect(
        stats.filter((s) => s['INDEX_NAME'] === 'PRIMARY').map((s) => s['COLUMN_NAME']),
        `${table} primary key`,
      ).toEqual(fact.primaryKey);
      expect(keys(true), `${table} unique keys`).toEqual(fact.uniqueKeys);
      expect(keys(false), `${table} indexes`).toEqual(fact.indexes);

      const fks = await query(
        `SELECT r.CONSTRAINT_NAME, k.COLUMN_NAME, r.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE
           FROM information_schema.REFERENTIAL_CONSTRAINTS r
           JOIN information_schema.KEY_COLUMN_USAGE k
             ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME
            AND k.TABLE_NAME = r.TABLE_NAME
          WHERE r.CONSTRAINT_SCHEMA = ? AND r.TABLE_NAME = ? ORDER BY r.CONSTRAINT_NAME`,
        [db, table],
      );
      const byName = (a: { name: unknown }, b: { name: unknown }) =>
        String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0;
      expect(
        fks
          .map((f) => ({
            name: f['CONSTRAINT_NAME'],
            column: f['COLUMN_NAME'],
            referenceTable: f['REFERENCED_TABLE_NAME'],
            referenceColumn: f['REFERENCED_COLUMN_NAME'],
            onDelete: f['DELETE_RULE'],
          }))
          .sort(byName),
        `${table} foreign keys`,
      ).toEqual([...fact.foreignKeys].sort(byName));
    });
  }

  it('keeps the rules Magento relies on: a coupon needs an existing rule, stock an existing product', async () => {
    await expect(conn.query("INSERT INTO salesrule_coupon (code) VALUES ('NO-RULE')")).rejects.toMatchObject({
      code: expect.stringMatching(/ER_NO_DEFAULT_FOR_FIELD|ER_BAD_NULL_ERROR/),
    });
    await expect(
      conn.query("INSERT INTO salesrule_coupon (rule_id, code) VALUES (999, 'NO-SUCH-RULE')"),
    ).rejects.toMatchObject({ code: 'ER_NO_REFERENCED_ROW_2' });
    await expect(
      conn.query('INSERT INTO cataloginventory_stock_item (stock_id, qty) VALUES (1, 5)'),
    ).rejects.toMatchObject({ code: 'ER_NO_REFERENCED_ROW_2' });
  });
});
