/**
 * Preflight's checks: pure functions from the spec and the database's facts to findings, one
 * pass / warn / fail line each (like AWS DMS's premigration assessment). Nothing here talks to a
 * database; mysql-reader.ts reads the facts.
 */
import { INBOX_TABLE } from '../../lambdas/adapters/mysql-legacy.js';
import type { EntitySpec, FieldSpec, MigrationSpec, MysqlEntityLegacy } from '../spec/schema.js';
import type { ColumnFact, DatabaseFacts, ExplainRow, FactsRequest } from './facts.js';
import { MEASURED_RATES } from './rates.js';

export type FindingStatus = 'pass' | 'warn' | 'fail';

export interface Finding {
  readonly status: FindingStatus;
  /** The check's id: `schema.column`, `capture.index`, `privileges`, … */
  readonly check: string;
  /** What it is about: `customer_entity.email` (entity customer), `server`, … */
  readonly subject: string;
  readonly message: string;
  /** Extra lines (an EXPLAIN, a list of foreign keys). */
  readonly detail?: readonly string[];
}

export interface PreflightOptions {
  /** Change capture by Debezium: binlog settings and replication privileges become failures. */
  readonly debezium?: boolean;
}

interface MysqlEntity {
  readonly entity: EntitySpec;
  readonly legacy: MysqlEntityLegacy;
  /** The table name with the spec's tablePrefix. */
  readonly table: string;
}

function mysqlEntities(spec: MigrationSpec): MysqlEntity[] {
  if (spec.legacy.kind !== 'mysql') return [];
  const prefix = spec.legacy.tablePrefix;
  return spec.services.flatMap((s) =>
    s.entities.flatMap((e) =>
      'table' in e.legacy ? [{ entity: e, legacy: e.legacy, table: `${prefix}${e.legacy.table}` }] : [],
    ),
  );
}

function eavValueTable(m: MysqlEntity, f: FieldSpec): string {
  return `${m.table}_${f.eav!.backendType}`;
}

/** What the reader must read for this spec. */
export function factsRequest(spec: MigrationSpec): FactsRequest {
  const entities = mysqlEntities(spec);
  const prefix = spec.legacy.kind === 'mysql' ? spec.legacy.tablePrefix : '';
  const eav = entities.flatMap((m) =>
    m.entity.fields
      .filter((f) => f.eav)
      .map((f) => ({
        entityTypeCode: m.legacy.eavEntityType ?? '',
        attributeCode: f.eav!.attributeCode,
        valueTable: eavValueTable(m, f),
      })),
  );
  return {
    tables: [
      ...entities.map((m) => m.table),
      ...eav.map((a) => a.valueTable),
      ...(eav.length ? [`${prefix}eav_attribute`, `${prefix}eav_entity_type`] : []),
      `${prefix}${INBOX_TABLE}`,
    ],
    eavAttributes: eav,
    pollerScans: entities.flatMap((m) =>
      m.legacy.updatedAt ? [{ table: m.table, updatedAt: m.legacy.updatedAt, key: m.legacy.key }] : [],
    ),
  };
}

const STRING_TYPES = ['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum'];
const INTEGER_TYPES = ['tinyint', 'smallint', 'mediumint', 'int', 'bigint'];

/** Whether a column can hold a field of the spec's type, and what to say about it. */
export function columnCompatibility(
  field: FieldSpec,
  c: ColumnFact,
): { status: FindingStatus; message: string } {
  const described = `${c.columnType}${c.nullable ? ' NULL' : ' NOT NULL'}`;
  switch (field.type) {
    case 'string': {
      if (!STRING_TYPES.includes(c.dataType))
        return { status: 'fail', message: `${described} cannot hold a string` };
      const charset = c.charset ?? '?';
      if (!/^utf8/.test(charset)) {
        return {
          status: 'warn',
          message: `${described}, charset ${charset}: characters outside it are refused`,
        };
      }
      const note = charset === 'utf8mb3' ? ' (utf8mb3: 4-byte characters such as emoji are refused)' : '';
      return {
        status: 'pass',
        message: `${described}, charset ${charset}${note}; values longer than ${c.charMaxLength} characters are refused`,
      };
    }
    case 'integer':
    case 'boolean': {
      if (!INTEGER_TYPES.includes(c.dataType) && c.dataType !== 'bit') {
        return { status: 'fail', message: `${described} cannot hold an ${field.type}` };
      }
      const unsigned = c.columnType.includes('unsigned');
      return {
        status: 'pass',
        message: `${described}${unsigned ? ': negative values from the service are refused' : ''}`,
      };
    }
    case 'decimal': {
      if (c.dataType !== 'decimal') {
        return INTEGER_TYPES.includes(c.dataType) || c.dataType === 'float' || c.dataType === 'double'
          ? {
              status: 'warn',
              message: `${described} is not DECIMAL: values are compared at scale ${field.scale}`,
            }
          : { status: 'fail', message: `${described} cannot hold a decimal` };
      }
      const scale = c.numericScale ?? 0;
      if (scale < field.scale!) {
        return {
          status: 'fail',
          message: `${described} keeps ${scale} decimals but the spec's scale is ${field.scale}: service values would be rounded and never compare equal`,
        };
      }
      if (scale > field.scale!) {
        return {
          status: 'warn',
          message: `${described} keeps ${scale} decimals; the spec compares at scale ${field.scale}: set scale: ${scale}`,
        };
      }
      return { status: 'pass', message: `${described}, scale ${scale} as the spec` };
    }
    case 'timestamp':
      return ['timestamp', 'datetime'].includes(c.dataType)
        ? { status: 'pass', message: described }
        : { status: 'fail', message: `${described} cannot hold a timestamp` };
    case 'date':
      return c.dataType === 'date'
        ? { status: 'pass', message: described }
        : { status: 'fail', message: `${described} cannot hold a date` };
  }
}

/** The column's default, if it has one (MariaDB reports an explicit NULL default as `NULL`). */
function hasDefault(c: ColumnFact): boolean {
  return c.default !== null && !(c.default === 'NULL' && !c.nullable);
}

function isAutoIncrement(c: ColumnFact): boolean {
  return c.extra.includes('auto_increment');
}

/** Milliseconds one tick of a TIMESTAMP/DATETIME(p) column spans. */
function tickMs(precision: number): number {
  return 10 ** (3 - Math.min(precision, 3));
}

function explainLines(rows: readonly ExplainRow[]): string[] {
  return rows.map(
    (r) =>
      `EXPLAIN: table=${r.table} type=${r.type} key=${r.key ?? 'NULL'} rows=${r.rows ?? '?'} extra=${r.extra ?? ''}`,
  );
}

function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The legacy key column of a referenced entity (`customer` → customer_entity.entity_id). */
function referencedKeyColumn(
  spec: MigrationSpec,
  entity: string,
  facts: DatabaseFacts,
): { where: string; column: ColumnFact | undefined } | undefined {
  const m = mysqlEntities(spec).find((x) => x.entity.name === entity);
  if (!m) return undefined;
  return {
    where: `${m.table}.${m.legacy.key}`,
    column: facts.tables[m.table]?.columns.find((c) => c.name === m.legacy.key),
  };
}

/** Whether two columns hold the same kind of value (integers, strings, decimals). */
function sameFamily(a: ColumnFact, b: ColumnFact): boolean {
  const family = (c: ColumnFact) =>
    INTEGER_TYPES.includes(c.dataType)
      ? 'integer'
      : STRING_TYPES.includes(c.dataType)
        ? 'string'
        : c.dataType;
  return family(a) === family(b);
}

/** Checks one entity's table, columns, key, capture and EAV attributes. */
function entityFindings(spec: MigrationSpec, m: MysqlEntity, facts: DatabaseFacts): Finding[] {
  const out: Finding[] = [];
  const e = m.entity;
  const at = (what: string) => `${what} (entity ${e.name})`;
  const t = facts.tables[m.table];
  if (!t) {
    return [
      {
        status: 'fail',
        check: 'schema.table',
        subject: at(m.table),
        message: `table ${m.table} does not exist in ${facts.database}`,
      },
    ];
  }
  out.push({
    status: 'pass',
    check: 'schema.table',
    subject: at(m.table),
    message: `≈${t.rowEstimate} rows`,
  });
  const column = (name: string) => t.columns.find((c) => c.name === name);

  // The key: a primary or unique index on it (with the entity's fixed `where` columns).
  const key = column(m.legacy.key);
  if (!key) {
    out.push({
      status: 'fail',
      check: 'schema.key',
      subject: at(`${m.table}.${m.legacy.key}`),
      message: 'key column does not exist',
    });
  } else {
    const allowed = new Set([m.legacy.key, ...Object.keys(m.legacy.where ?? {})]);
    const idx = t.indexes.find(
      (i) => i.unique && i.columns.includes(m.legacy.key) && i.columns.every((c) => allowed.has(c)),
    );
    out.push(
      idx
        ? {
            status: 'pass',
            check: 'schema.key',
            subject: at(`${m.table}.${m.legacy.key}`),
            message: `${idx.name === 'PRIMARY' ? 'primary key' : `unique key ${idx.name}`} (${idx.columns.join(', ')})`,
          }
        : {
            status: 'fail',
            check: 'schema.key',
            subject: at(`${m.table}.${m.legacy.key}`),
            message: 'not a primary or unique key: two rows could share a key',
          },
    );
  }

  // Mapped columns.
  for (const f of e.fields) {
    if (!f.column) continue;
    const subject = at(`${m.table}.${f.column}`);
    const c = column(f.column);
    if (!c) {
      out.push({
        status: 'fail',
        check: 'schema.column',
        subject,
        message: `column ${f.column} (field ${f.name}) does not exist in ${m.table}`,
      });
      continue;
    }
    const ref = f.references ? referencedKeyColumn(spec, f.references.entity, facts) : undefined;
    if (ref) {
      // The column holds the referenced record's legacy key (translated through its key map).
      const same = ref.column ? sameFamily(ref.column, c) : false;
      out.push({
        status: same ? 'pass' : 'fail',
        check: 'schema.column',
        subject,
        message: same
          ? `field ${f.name} references ${f.references!.entity}: ${c.columnType} holds ${ref.where} values (translated through the key map)`
          : `field ${f.name} references ${f.references!.entity}: ${c.columnType} cannot hold ${ref.where} (${ref.column?.columnType ?? 'missing'})`,
      });
      continue;
    }
    const compat = columnCompatibility(f, c);
    out.push({
      status: compat.status,
      check: 'schema.column',
      subject,
      message: `field ${f.name} (${f.type}): ${compat.message}`,
    });
  }

  // NOT NULL columns a create must fill.
  const creates = e.create?.legacy ?? true;
  if (creates) {
    const fieldByColumn = new Map(e.fields.filter((f) => f.column).map((f) => [f.column!, f]));
    const filled = new Set([
      ...Object.keys(m.legacy.insertDefaults ?? {}),
      ...Object.keys(m.legacy.where ?? {}),
      ...(m.legacy.keyReferences ? [m.legacy.key] : []),
    ]);
    for (const c of t.columns) {
      if (c.nullable || hasDefault(c) || isAutoIncrement(c) || filled.has(c.name)) continue;
      const subject = at(`${m.table}.${c.name}`);
      const f = fieldByColumn.get(c.name);
      if (!f) {
        out.push({
          status: 'fail',
          check: 'schema.insert',
          subject,
          message: `NOT NULL without a default and the spec does not fill it: a record created in the service cannot be inserted; map it to a field, set legacy.insertDefaults.${c.name}, or refuse such creates (create.legacy: false)`,
        });
      } else if (f.nullable && !(e.create?.legacyRequires ?? []).includes(f.name)) {
        out.push({
          status: 'warn',
          check: 'schema.insert',
          subject,
          message: `NOT NULL without a default, filled by field ${f.name}, which the spec lets be absent: declare nullable: false or list it in create.legacyRequires`,
        });
      }
    }
  }

  // Foreign keys the sync's inserts and updates must satisfy.
  if (t.foreignKeys.length) {
    const detail = t.foreignKeys.map((fk) => {
      const target = `${fk.referencedTable}.${fk.referencedColumn}`;
      const f = e.fields.find((x) => x.column === fk.column);
      const fixed = m.legacy.insertDefaults?.[fk.column] ?? m.legacy.where?.[fk.column];
      if (fk.column === m.legacy.key && m.legacy.keyReferences) {
        return `${fk.column} → ${target}: the key references ${m.legacy.keyReferences} (translated through its key map; waits until it exists)`;
      }
      if (f?.references)
        return `${fk.column} → ${target}: field ${f.name} references ${f.references.entity} (translated through its key map; waits until it exists)`;
      if (f && e.create?.legacyRequires.includes(f.name))
        return `${fk.column} → ${target}: field ${f.name}, required on create (${e.create.reason})`;
      if (f)
        return `${fk.column} → ${target}: field ${f.name} is copied as is: the service must send an existing ${target}`;
      if (fixed !== undefined)
        return `${fk.column} → ${target}: fixed to ${JSON.stringify(fixed)} by the spec (must exist)`;
      return `${fk.column} → ${target}: not written by the sync`;
    });
    out.push({
      status: 'pass',
      check: 'schema.foreign-keys',
      subject: at(m.table),
      message: `${t.foreignKeys.length} foreign ${t.foreignKeys.length === 1 ? 'key' : 'keys'}, satisfied as listed`,
      detail,
    });
  }

  // Change capture by the poller.
  const updatedAt = m.legacy.updatedAt;
  if (updatedAt) {
    const subject = at(`${m.table}.${updatedAt}`);
    const c = column(updatedAt);
    if (!c) {
      out.push({
        status: 'fail',
        check: 'capture.updated-at',
        subject,
        message: `column ${updatedAt} does not exist`,
      });
    } else {
      const onUpdate = c.extra.includes('on update current_timestamp');
      out.push(
        onUpdate
          ? {
              status: 'pass',
              check: 'capture.updated-at',
              subject,
              message: `${c.columnType} ON UPDATE CURRENT_TIMESTAMP`,
            }
          : {
              status: 'fail',
              check: 'capture.updated-at',
              subject,
              message: `${c.columnType} without ON UPDATE CURRENT_TIMESTAMP: a change that does not set it by hand is never polled`,
            },
      );
      const precision = c.datetimePrecision ?? 0;
      const specMs = spec.legacy.timestampPrecisionMs;
      const columnMs = tickMs(precision);
      out.push(
        columnMs === specMs
          ? {
              status: 'pass',
              check: 'capture.precision',
              subject,
              message: `${c.columnType}: ${columnMs} ms ticks, as legacy.timestampPrecisionMs`,
            }
          : columnMs > specMs
            ? {
                status: 'fail',
                check: 'capture.precision',
                subject,
                message: `${c.columnType} keeps ${columnMs} ms ticks but legacy.timestampPrecisionMs is ${specMs}: changes within one tick would be ordered by a precision the column does not have; set timestampPrecisionMs: ${columnMs}`,
              }
            : {
                status: 'warn',
                check: 'capture.precision',
                subject,
                message: `${c.columnType} keeps ${precision > 3 ? '1 ms (compared at most in ms)' : `${columnMs} ms`} ticks but legacy.timestampPrecisionMs is ${specMs}: changes within ${specMs} ms are ties broken by tieBreak; set timestampPrecisionMs: ${columnMs}`,
              },
      );
      const explain = facts.pollerExplain[m.table] ?? [];
      const usesIndex = explain.some((r) => r.key !== null && r.type !== 'ALL');
      const idx = t.indexes.find((i) => i.columns[0] === updatedAt);
      out.push(
        usesIndex && idx
          ? {
              status: 'pass',
              check: 'capture.index',
              subject,
              message: `the keyset scan uses index ${idx.name} (${idx.columns.join(', ')})`,
              detail: explainLines(explain),
            }
          : {
              status: 'warn',
              check: 'capture.index',
              subject,
              message: `no index starts with ${updatedAt}: every poll scans the table (≈${t.rowEstimate} rows); add one: CREATE INDEX CUTOVER_${m.table.toUpperCase()}_UPDATED_AT ON ${m.table} (${updatedAt}, ${m.legacy.key})`,
              detail: explainLines(explain),
            },
      );
    }
  } else {
    out.push({
      status: 'pass',
      check: 'capture.snapshot',
      subject: at(m.table),
      message: `no updatedAt: the poller compares per-row checksums, reading ≈${t.rowEstimate} rows per poll`,
    });
  }

  // EAV attributes.
  for (const f of e.fields) {
    if (!f.eav) continue;
    const typeCode = m.legacy.eavEntityType ?? '';
    const subject = at(`${typeCode}.${f.eav.attributeCode}`);
    const a = facts.eavAttributes.find(
      (x) => x.entityTypeCode === typeCode && x.attributeCode === f.eav!.attributeCode,
    );
    if (!a) {
      out.push({
        status: 'fail',
        check: 'schema.eav',
        subject,
        message: `EAV attribute ${f.eav.attributeCode} of entity type ${typeCode} does not exist (field ${f.name})`,
      });
      continue;
    }
    if (a.backendType !== f.eav.backendType) {
      out.push({
        status: 'fail',
        check: 'schema.eav',
        subject,
        message: `backend type is ${a.backendType}, the spec says ${f.eav.backendType} (field ${f.name})`,
      });
      continue;
    }
    const vt = facts.tables[eavValueTable(m, f)];
    const value = vt?.columns.find((c) => c.name === 'value');
    if (!value) {
      out.push({
        status: 'fail',
        check: 'schema.eav',
        subject,
        message: `value table ${eavValueTable(m, f)} (with a value column) does not exist`,
      });
      continue;
    }
    const compat = columnCompatibility(f, value);
    // An empty catalog has no values yet; rows without a store-0 value are read as null.
    const noDefaults = a.store0Rows === 0 && t.rowEstimate > 0;
    out.push({
      status: compat.status === 'pass' && noDefaults ? 'warn' : compat.status,
      check: 'schema.eav',
      subject,
      message: `${a.backendType} in ${vt!.name}, ${a.store0Rows} store-0 values${noDefaults ? ' (the sync reads store 0: its rows read as null)' : ''}; value ${compat.message}`,
    });
  }

  // Size.
  const rate =
    e.consistency === 'strong'
      ? MEASURED_RATES.forwardSingleRecordPerSecond
      : MEASURED_RATES.forwardBatchedPerSecond;
  out.push({
    status: 'pass',
    check: 'size',
    subject: at(m.table),
    message: `≈${t.rowEstimate} rows: backfill ≈${formatDuration(t.rowEstimate / rate)} at ${rate} records/s, full validation ≈${formatDuration(t.rowEstimate / MEASURED_RATES.consistencyCheckRowsPerSecond)} (rates: BENCHMARKS.md)`,
  });
  return out;
}

/** Server version, time zone, connections and the binlog (for Debezium). */
function serverFindings(spec: MigrationSpec, facts: DatabaseFacts, options: PreflightOptions): Finding[] {
  const out: Finding[] = [];
  const v = facts.version;
  const maria = /mariadb/i.test(v);
  const [major = 0, minor = 0] = v.split(/[.-]/).map(Number);
  const supported = maria
    ? major > 10 || (major === 10 && minor >= 6)
    : (major === 8 && (minor === 0 || minor === 4)) || major > 8;
  out.push({
    status: supported ? 'pass' : 'fail',
    check: 'server.version',
    subject: 'server',
    message: `${maria ? 'MariaDB' : 'MySQL'} ${v}${supported ? '' : ': supported are MySQL 8.0 / 8.4 and MariaDB 10.6 or later'}`,
  });
  const tz = facts.variables['time_zone'] ?? '?';
  const system = facts.variables['system_time_zone'] ?? '?';
  const utc =
    ['+00:00', 'UTC', 'GMT'].includes(tz) || (tz === 'SYSTEM' && ['UTC', 'GMT', 'Etc/UTC'].includes(system));
  out.push({
    status: utc ? 'pass' : 'warn',
    check: 'server.time-zone',
    subject: 'server',
    message: utc
      ? `time_zone ${tz}${tz === 'SYSTEM' ? ` (${system})` : ''}`
      : `time_zone ${tz}${tz === 'SYSTEM' ? ` (${system})` : ''}: the sync reads TIMESTAMPs in the session's time zone; run its sessions in UTC or check that daylight-saving hours cannot reorder changes`,
  });
  const maxConnections = Number(facts.variables['max_connections'] ?? 0);
  // Reverse sync at its cap, plus the poller, the consistency check and a Debezium connector.
  const needed = spec.sync.reverseMaxConcurrency + 3;
  out.push({
    status: maxConnections >= needed * 2 ? 'pass' : maxConnections >= needed ? 'warn' : 'fail',
    check: 'server.connections',
    subject: 'server',
    message: `max_connections ${maxConnections}; Cutover opens up to ${needed} (reverse sync ${spec.sync.reverseMaxConcurrency}, poller, consistency check, Debezium) beside Magento's own`,
  });
  const bad: FindingStatus = options.debezium ? 'fail' : 'warn';
  const unless = options.debezium ? '' : ' (needed only for Debezium capture)';
  const variable = (name: string, want: string, why: string): Finding => {
    const value = facts.variables[name] ?? '(unset)';
    return value.toUpperCase() === want
      ? { status: 'pass', check: `debezium.${name}`, subject: 'server', message: `${name}=${value}` }
      : {
          status: bad,
          check: `debezium.${name}`,
          subject: 'server',
          message: `${name}=${value}, Debezium needs ${want}: ${why}${unless}`,
        };
  };
  out.push(variable('log_bin', 'ON', 'no binlog, nothing to capture'));
  out.push(variable('binlog_format', 'ROW', 'STATEMENT and MIXED binlogs do not carry the changed rows'));
  out.push(
    variable('binlog_row_image', 'FULL', 'a MINIMAL image lacks the unchanged columns the events carry'),
  );
  const expireSeconds =
    Number(facts.variables['binlog_expire_logs_seconds'] ?? 0) ||
    Number(facts.variables['expire_logs_days'] ?? 0) * 86_400;
  out.push({
    status: expireSeconds === 0 || expireSeconds >= 3 * 86_400 ? 'pass' : bad,
    check: 'debezium.binlog-retention',
    subject: 'server',
    message:
      expireSeconds === 0
        ? 'binlogs are kept until purged by hand'
        : `binlogs kept ${formatDuration(expireSeconds)}${expireSeconds >= 3 * 86_400 ? '' : `: a connector stopped longer than that must snapshot again; keep at least 3 days${unless}`}`,
  });
  const gtid =
    facts.variables['gtid_mode'] ??
    (maria ? `MariaDB GTIDs (gtid_strict_mode=${facts.variables['gtid_strict_mode'] ?? '?'})` : 'OFF');
  const gtidOk = maria || gtid.toUpperCase() === 'ON';
  out.push({
    status: gtidOk ? 'pass' : 'warn',
    check: 'debezium.gtid',
    subject: 'server',
    message: gtidOk
      ? `GTID: ${gtid}`
      : `gtid_mode=${gtid}: without GTIDs a connector cannot follow a failover to a replica`,
  });
  return out;
}

/** The privileges one grant gives on a scope. */
interface Grant {
  readonly privileges: readonly string[];
  readonly database: string;
  readonly table: string;
}

/** Parses `GRANT SELECT, INSERT ON `db`.* TO …` lines (column grants and roles are ignored). */
export function parseGrants(lines: readonly string[]): Grant[] {
  const out: Grant[] = [];
  for (const line of lines) {
    const m = /^GRANT (.+?) ON (\S+)\.(\S+) TO /i.exec(line);
    if (!m || m[1]!.includes('(')) continue;
    const unquote = (s: string) => s.replace(/^`|`$/g, '').replace(/\\_/g, '_');
    out.push({
      privileges: m[1]!.split(',').map((p) => p.trim().toUpperCase()),
      database: unquote(m[2]!),
      table: unquote(m[3]!),
    });
  }
  return out;
}

function granted(grants: readonly Grant[], privilege: string, database: string, table = '*'): boolean {
  return grants.some(
    (g) =>
      (g.database === '*' || g.database === database) &&
      (g.table === '*' || g.table === table) &&
      (g.privileges.includes(privilege) ||
        g.privileges.includes('ALL PRIVILEGES') ||
        g.privileges.includes('ALL')),
  );
}

function privilegeFindings(spec: MigrationSpec, facts: DatabaseFacts, options: PreflightOptions): Finding[] {
  const grants = parseGrants(facts.grants);
  const db = facts.database;
  const out: Finding[] = [];
  const request = factsRequest(spec);
  const inbox = request.tables[request.tables.length - 1]!;
  const written = new Set([
    ...mysqlEntities(spec).map((m) => m.table),
    ...request.eavAttributes.map((a) => a.valueTable),
  ]);
  for (const table of new Set(request.tables.filter((t) => t !== inbox))) {
    const needed = written.has(table) ? ['SELECT', 'INSERT', 'UPDATE'] : ['SELECT'];
    const missing = needed.filter((p) => !granted(grants, p, db, table));
    out.push({
      status: missing.length ? 'fail' : 'pass',
      check: 'privileges.table',
      subject: table,
      message: missing.length
        ? `the sync's user lacks ${missing.join(', ')} on ${db}.${table}`
        : `${needed.join(', ')} granted`,
    });
  }
  if (facts.tables[inbox]) {
    const missing = ['SELECT', 'INSERT'].filter((p) => !granted(grants, p, db, inbox));
    out.push({
      status: missing.length ? 'fail' : 'pass',
      check: 'privileges.inbox',
      subject: inbox,
      message: missing.length
        ? `the inbox table exists; the sync's user lacks ${missing.join(', ')} on it`
        : 'the inbox table exists; SELECT, INSERT granted',
    });
  } else {
    const create = granted(grants, 'CREATE', db);
    out.push({
      status: create ? 'pass' : 'fail',
      check: 'privileges.inbox',
      subject: inbox,
      message: create
        ? `the inbox table does not exist yet; the sync creates it (CREATE granted on ${db})`
        : `the inbox table does not exist and the sync's user may not create it: create it with the DDL in docs/sync.md, or grant CREATE on ${db}.*`,
    });
  }
  const replication = ['REPLICATION SLAVE', 'REPLICATION CLIENT'].map((p) => ({
    p,
    ok: granted(grants, p, '*') || (p === 'REPLICATION CLIENT' && granted(grants, 'BINLOG MONITOR', '*')),
  }));
  const lacking = replication.filter((r) => !r.ok).map((r) => r.p);
  out.push({
    status: lacking.length === 0 ? 'pass' : options.debezium ? 'fail' : 'warn',
    check: 'privileges.replication',
    subject: 'server',
    message: lacking.length
      ? `the user lacks ${lacking.join(', ')} on *.*${options.debezium ? '' : ' (needed only for Debezium capture)'}`
      : 'REPLICATION SLAVE, REPLICATION CLIENT granted',
  });
  return out;
}

/** Every check on the legacy database, in report order. */
export function legacyFindings(
  spec: MigrationSpec,
  facts: DatabaseFacts,
  options: PreflightOptions = {},
): Finding[] {
  return [
    ...serverFindings(spec, facts, options),
    ...mysqlEntities(spec).flatMap((m) => entityFindings(spec, m, facts)),
    ...privilegeFindings(spec, facts, options),
  ];
}
