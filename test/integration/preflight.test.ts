/**
 * `cutover preflight` on real MariaDB with the Magento fixture (lib/local/magento-fixture.sql,
 * Magento 2.4's db_schema.xml) and on DynamoDB Local: the bundled spec passes; each broken
 * variant (a database change, a spec typo, a restricted user) gives its finding. Server variables
 * that cannot be changed safely on the shared test server (binlog_format is global) are taken
 * from the real server and overridden in the facts for that one case.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { preflight } from '../../lib/cli/preflight-command.js';
import {
  type DatabaseFacts,
  type FactsReader,
  type Finding,
  MysqlFactsReader,
  runPreflight,
} from '../../lib/preflight/index.js';
import { defineMigration, type MigrationSpec } from '../../lib/spec/schema.js';
import magento from '../../migrations/magento.js';
import { createMagentoDatabase, createServiceTables, dynamoClient } from '../support/databases.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const failures = (findings: readonly Finding[]) => findings.filter((f) => f.status === 'fail');
const find = (findings: readonly Finding[], check: string, subject: string) =>
  findings.find((f) => f.check === check && f.subject.startsWith(subject));

/** The bundled spec with one change. */
function variant(mutate: (spec: any) => void): MigrationSpec {
  const input = structuredClone(magento) as any;
  mutate(input);
  return defineMigration(input);
}

async function database(name: string, ...ddl: string[]): Promise<string> {
  const url = await createMagentoDatabase(inject('mysqlUrl'), name);
  const conn = await mysql.createConnection({ uri: url });
  try {
    for (const s of ddl) await conn.query(s);
  } finally {
    await conn.end();
  }
  return url;
}

async function run(url: string, spec: MigrationSpec = magento, options = {}) {
  const reader = await MysqlFactsReader.connect(url);
  try {
    return (await runPreflight(spec, reader, options)).findings;
  } finally {
    await reader.close();
  }
}

describe('preflight on the Magento fixture', () => {
  let url: string;
  beforeAll(async () => {
    url = await database('cutover_preflight_ok');
  });

  it('passes the bundled spec: no failure, every table, column, key and attribute checked', async () => {
    const findings = await run(url);
    expect(failures(findings)).toEqual([]);
    expect(find(findings, 'schema.column', 'customer_entity.email')?.status).toBe('pass');
    expect(find(findings, 'schema.column', 'sales_order.customer_id')?.message).toContain(
      'holds customer_entity.entity_id values',
    );
    expect(find(findings, 'schema.key', 'cataloginventory_stock_item.product_id')?.message).toContain(
      'unique key CATALOGINVENTORY_STOCK_ITEM_PRODUCT_ID_STOCK_ID',
    );
    expect(find(findings, 'schema.eav', 'catalog_product.price')?.status).toBe('pass');
    expect(find(findings, 'capture.index', 'sales_order.updated_at')).toMatchObject({
      status: 'pass',
      detail: [expect.stringContaining('key=SALES_ORDER_UPDATED_AT')],
    });
    expect(find(findings, 'schema.foreign-keys', 'salesrule_coupon')?.detail).toEqual([
      expect.stringMatching(/^rule_id → salesrule\.rule_id: field ruleId, required on create/),
    ]);
    expect(find(findings, 'capture.snapshot', 'salesrule_coupon')?.status).toBe('pass');
    expect(find(findings, 'size', 'customer_entity')?.message).toMatch(/backfill ≈.* full validation ≈/);
    expect(find(findings, 'server.version', 'server')?.message).toMatch(/^MariaDB 1\d\./);
    expect(find(findings, 'privileges.inbox', 'cutover_applied_event')?.status).toBe('pass');
  });

  it('reports through the CLI entry as text and JSON, exit code 0', async () => {
    const out: string[] = [];
    const report = await preflight([magento], { migration: 'magento', env: 'dev', databaseUrl: url }, (t) =>
      out.push(t),
    );
    expect(report.exitCode).toBe(0);
    expect(out[0]).toMatch(/^Preflight of migration "magento"\nPASS {2}server\.version/);
    expect(out[0]).toMatch(/\n\d+ passed, \d+ warnings, 0 failed$/);
    const json: string[] = [];
    await preflight([magento], { migration: 'magento', env: 'dev', databaseUrl: url, json: true }, (t) =>
      json.push(t),
    );
    expect(JSON.parse(json[0]!)).toMatchObject({ migration: 'magento', exitCode: 0 });
  });
});

describe('npx cutover preflight (bin/cutover.ts)', () => {
  const cli = (...args: string[]) =>
    spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['bin/cutover.ts', 'preflight', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
    });

  it('exits 0 on the fixture and 1 on a failing check, one line per check', async () => {
    const ok = cli(
      '--migration',
      'magento',
      '--database-url',
      await database('cutover_preflight_cli_ok'),
      '--json',
    );
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ migration: 'magento', exitCode: 0, counts: { fail: 0 } });
    const bad = cli(
      '--migration',
      'magento',
      '--database-url',
      await database('cutover_preflight_cli_bad', 'ALTER TABLE sales_order DROP COLUMN customer_email'),
    );
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(
      'FAIL  schema.column              sales_order.customer_email (entity order): column customer_email (field customerEmail) does not exist in sales_order',
    );
    expect(bad.stdout).toMatch(/\n\d+ passed, \d+ warnings, 1 failed\n$/);
  }, 120_000);
});

describe('preflight: each broken variant gives its finding', () => {
  it('a mistyped column (emial) and table (sales_ordr) fail, and exit code 1', async () => {
    const url = await database('cutover_preflight_typo');
    const spec = variant((s) => {
      s.services[0].entities[0].fields[0].column = 'emial';
      s.services[2].entities[0].legacy.table = 'sales_ordr';
    });
    const findings = await run(url, spec);
    expect(failures(findings).map((f) => [f.check, f.subject, f.message])).toEqual([
      [
        'schema.column',
        'customer_entity.emial (entity customer)',
        'column emial (field email) does not exist in customer_entity',
      ],
      [
        'schema.table',
        'sales_ordr (entity order)',
        'table sales_ordr does not exist in cutover_preflight_typo',
      ],
    ]);
    const report = await preflight([spec], { migration: 'magento', env: 'dev', databaseUrl: url }, () => {});
    expect(report.exitCode).toBe(1);
  });

  it('a missing index on updated_at: the keyset scan is a full scan (EXPLAIN shown)', async () => {
    const url = await database('cutover_preflight_index', 'DROP INDEX SALES_ORDER_UPDATED_AT ON sales_order');
    const f = find(await run(url), 'capture.index', 'sales_order.updated_at');
    expect(f?.status).toBe('warn');
    expect(f?.message).toContain(
      'CREATE INDEX CUTOVER_SALES_ORDER_UPDATED_AT ON sales_order (updated_at, entity_id)',
    );
    expect(f?.detail).toEqual([expect.stringContaining('type=ALL key=NULL')]);
  });

  it('a mistyped decimal (scale 2 against the spec’s 4) fails', async () => {
    const url = await database(
      'cutover_preflight_decimal',
      'ALTER TABLE sales_order MODIFY grand_total decimal(12,2) NULL',
    );
    expect(find(await run(url), 'schema.column', 'sales_order.grand_total')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining("keeps 2 decimals but the spec's scale is 4"),
    });
  });

  it('DATETIME(6) against a 1 s spec, and ON UPDATE missing', async () => {
    const url = await database(
      'cutover_preflight_datetime',
      'ALTER TABLE customer_entity MODIFY updated_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)',
      'ALTER TABLE catalog_product_entity MODIFY updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP',
    );
    const findings = await run(url);
    expect(find(findings, 'capture.precision', 'customer_entity.updated_at')).toMatchObject({
      status: 'warn',
      message: expect.stringContaining(
        'datetime(6) keeps 1 ms (compared at most in ms) ticks but legacy.timestampPrecisionMs is 1000',
      ),
    });
    // And the other way round: a spec claiming 1 ms on a whole-second column.
    const fine = variant((s) => (s.legacy.timestampPrecisionMs = 1));
    expect(find(await run(url, fine), 'capture.precision', 'sales_order.updated_at')?.status).toBe('fail');
    expect(find(findings, 'capture.updated-at', 'catalog_product_entity.updated_at')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('without ON UPDATE CURRENT_TIMESTAMP'),
    });
  });

  it('a NOT NULL column without default that the spec does not fill fails', async () => {
    const url = await database(
      'cutover_preflight_notnull',
      'ALTER TABLE customer_entity ADD loyalty_tier varchar(16) NOT NULL',
    );
    expect(find(await run(url), 'schema.insert', 'customer_entity.loyalty_tier')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('NOT NULL without a default and the spec does not fill it'),
    });
  });

  it('an EAV attribute with another backend type, or missing, fails', async () => {
    const url = await database(
      'cutover_preflight_eav',
      "UPDATE eav_attribute SET backend_type = 'varchar' WHERE attribute_code = 'status'",
      "DELETE FROM eav_attribute WHERE attribute_code = 'name'",
    );
    const findings = await run(url);
    expect(find(findings, 'schema.eav', 'catalog_product.status')?.message).toBe(
      'backend type is varchar, the spec says int (field status)',
    );
    expect(find(findings, 'schema.eav', 'catalog_product.name')?.status).toBe('fail');
  });

  it('a STATEMENT binlog fails when Debezium captures (real facts, binlog_format overridden)', async () => {
    const url = await database('cutover_preflight_binlog');
    const real = await MysqlFactsReader.connect(url);
    const statement: FactsReader = {
      read: async (r) => {
        const facts: DatabaseFacts = await real.read(r);
        return { ...facts, variables: { ...facts.variables, binlog_format: 'STATEMENT', log_bin: 'ON' } };
      },
    };
    try {
      const debezium = (await runPreflight(magento, statement, { debezium: true })).findings;
      expect(find(debezium, 'debezium.binlog_format', 'server')).toMatchObject({
        status: 'fail',
        message:
          'binlog_format=STATEMENT, Debezium needs ROW: STATEMENT and MIXED binlogs do not carry the changed rows',
      });
      const poller = (await runPreflight(magento, statement)).findings;
      expect(find(poller, 'debezium.binlog_format', 'server')?.status).toBe('warn');
    } finally {
      await real.close();
    }
  });

  describe('a sync user without the privileges it needs', () => {
    const user = 'cutover_preflight_ro';
    let root: mysql.Connection;
    let url: string;
    beforeAll(async () => {
      const dbUrl = await database('cutover_preflight_grants');
      root = await mysql.createConnection({ uri: inject('mysqlUrl') });
      await root.query(`DROP USER IF EXISTS '${user}'@'%'`);
      await root.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'preflight'`);
      await root.query(`GRANT SELECT ON cutover_preflight_grants.* TO '${user}'@'%'`);
      await root.query(`GRANT INSERT, UPDATE ON cutover_preflight_grants.customer_entity TO '${user}'@'%'`);
      const u = new URL(dbUrl);
      u.username = user;
      u.password = 'preflight';
      url = u.toString();
    });
    afterAll(async () => {
      await root?.query(`DROP USER IF EXISTS '${user}'@'%'`);
      await root?.end();
    });

    it('names each table and privilege missing, the inbox and replication', async () => {
      const findings = await run(url, magento, { debezium: true });
      expect(find(findings, 'privileges.table', 'customer_entity')?.status).toBe('pass');
      expect(find(findings, 'privileges.table', 'sales_order')?.message).toBe(
        "the sync's user lacks INSERT, UPDATE on cutover_preflight_grants.sales_order",
      );
      expect(find(findings, 'privileges.inbox', 'cutover_applied_event')?.message).toBe(
        "the inbox table exists; the sync's user lacks INSERT on it",
      );
      expect(find(findings, 'privileges.replication', 'server')).toMatchObject({
        status: 'fail',
        message: 'the user lacks REPLICATION SLAVE, REPLICATION CLIENT on *.*',
      });
    });
  });
});

describe('preflight: the service side on DynamoDB Local', () => {
  it('tables with the spec key and NEW_AND_OLD_IMAGES streams pass; a missing table fails', async () => {
    const url = await database('cutover_preflight_dynamo');
    const endpoint = inject('dynamoEndpoint');
    await createServiceTables(endpoint, magento, 'pfok');
    const ok = await preflight(
      [magento],
      {
        migration: 'magento',
        env: 'pfok',
        databaseUrl: url,
        dynamoEndpoint: endpoint,
        dynamo: dynamoClient(endpoint),
      },
      () => {},
    );
    const service = ok.findings.filter((f) => f.check.startsWith('service.'));
    expect(service.filter((f) => f.status !== 'pass')).toEqual([]);
    expect(service.filter((f) => f.check === 'service.stream')).toHaveLength(5);
    const missing = await preflight(
      [magento],
      {
        migration: 'magento',
        env: 'pfnone',
        databaseUrl: url,
        dynamoEndpoint: endpoint,
        dynamo: dynamoClient(endpoint),
      },
      () => {},
    );
    expect(find(missing.findings, 'service.table', 'cutover-pfnone-magento-customer')?.status).toBe('fail');
    expect(missing.exitCode).toBe(1);
    // An item the sync did not write (no version) fails the sample.
    await dynamoClient(endpoint).send(
      new PutItemCommand({ TableName: 'cutover-pfok-magento-customer', Item: { customerId: { S: 'c-1' } } }),
    );
    const unversioned = await preflight(
      [magento],
      {
        migration: 'magento',
        env: 'pfok',
        databaseUrl: url,
        dynamoEndpoint: endpoint,
        dynamo: dynamoClient(endpoint),
      },
      () => {},
    );
    expect(find(unversioned.findings, 'service.version', 'cutover-pfok-magento-customer')).toMatchObject({
      status: 'fail',
      message: "a sampled item has no numeric version: the sync's compare-and-set needs it on every item",
    });
  });
});
