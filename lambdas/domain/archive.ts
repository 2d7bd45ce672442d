/**
 * Phase 5's archive: the service's legacy tables exported as gzip NDJSON objects (one JSON row
 * per line, in key order) plus a manifest listing every object with its row count, size and
 * SHA-256, so a person can verify the archive before dropping anything. Cutover never drops.
 *
 * Rows are read by keyset pagination (`key > last key`, ordered by key) so a table of any size
 * streams in bounded memory and the export is repeatable. Pure apart from `node:zlib` and
 * `node:crypto`; storage and the legacy database sit behind the ports below.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { serviceByName } from '../../lib/spec/lookup.js';

/**
 * A legacy table to archive, the column it is paged by (unique, ordered) and the columns kept:
 * never `SELECT *`, so a column the spec does not name (a password hash, a reset token, a date
 * of birth) stays out of the archive.
 */
export interface ArchiveTable {
  readonly table: string;
  readonly key: string;
  readonly columns: readonly string[];
}

/**
 * Column names that hold credentials (Magento: `password_hash`, `rp_token`; others: `*_secret`,
 * `api_key`, `salt`, …). They are never archived, whatever a spec lists.
 */
const CREDENTIAL_COLUMN = /(^|_)(pass(word|wd)?|pwd|secret|token|api_?key|salt|otp|hash)(_|$)/i;

/** Whether a column holds credentials and so must never be archived. */
export function isCredentialColumn(column: string): boolean {
  return CREDENTIAL_COLUMN.test(column);
}

/** The value columns of a Magento EAV value table (`<entity table>_<backend type>`). */
export const EAV_VALUE_COLUMNS: readonly string[] = [
  'value_id',
  'attribute_id',
  'store_id',
  'entity_id',
  'value',
];

export type Row = Readonly<Record<string, unknown>>;

/** Reads a legacy table in key order. `after` is the last key of the previous page. */
export interface ArchiveSourcePort {
  readPage(table: ArchiveTable, after: unknown, limit: number): Promise<Row[]>;
  /**
   * The table's single-column primary key, if it has one. Keyset paging needs a unique key; the
   * spec's key is the entity's, which is not unique in every table (Magento's stock items hold
   * one row per product and stock).
   */
  primaryKey?(table: string): Promise<string | undefined>;
}

/** Object storage (S3) for the archive. */
export interface ArchiveStorePort {
  put(key: string, body: Uint8Array, contentType: string, contentEncoding?: string): Promise<void>;
}

export interface ArchiveFile {
  readonly key: string;
  readonly table: string;
  readonly rows: number;
  /** Size of the stored (gzipped) object. */
  readonly bytes: number;
  /** SHA-256 (hex) of the stored (gzipped) object. */
  readonly sha256: string;
  /** SHA-256 (hex) of the NDJSON before compression. */
  readonly ndjsonSha256: string;
  readonly firstKey: unknown;
  readonly lastKey: unknown;
}

export interface ArchiveManifest {
  readonly schemaVersion: 1;
  readonly migration: string;
  readonly service: string;
  readonly createdAt: string;
  readonly format: 'ndjson+gzip';
  readonly tables: ReadonlyArray<{
    readonly table: string;
    readonly key: string;
    readonly columns: readonly string[];
    readonly rows: number;
  }>;
  readonly files: readonly ArchiveFile[];
  /** Entities Cutover could not archive, and why (an HTTP legacy). */
  readonly notArchived: ReadonlyArray<{ readonly entity: string; readonly reason: string }>;
}

export interface ArchiveOptions {
  readonly migration: string;
  readonly service: string;
  /** Object key prefix, e.g. `magento/customer/2026-11-25T15-00-00Z`. */
  readonly prefix: string;
  readonly tables: readonly ArchiveTable[];
  /** @default 1000 */
  readonly pageSize?: number;
  /** Rows per object. @default 100000 */
  readonly rowsPerFile?: number;
  readonly now: () => number;
  readonly notArchived?: ReadonlyArray<{ readonly entity: string; readonly reason: string }>;
}

/** JSON for a legacy row: dates as ISO-8601, binary as base64, bigints as strings. */
export function ndjsonLine(row: Row): string {
  return JSON.stringify(row, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return { $base64: Buffer.from(v).toString('base64') };
    return v;
  });
}

export const sha256Hex = (data: Uint8Array | string): string =>
  createHash('sha256').update(data).digest('hex');

/** Exports every table, then writes `<prefix>/manifest.json` last (its presence means complete). */
export async function archiveTables(
  source: ArchiveSourcePort,
  store: ArchiveStorePort,
  options: ArchiveOptions,
): Promise<{ manifestKey: string; manifest: ArchiveManifest }> {
  const pageSize = options.pageSize ?? 1000;
  const rowsPerFile = options.rowsPerFile ?? 100_000;
  const files: ArchiveFile[] = [];
  const tables: Array<{ table: string; key: string; columns: readonly string[]; rows: number }> = [];
  for (const declared of options.tables) {
    const key = (await source.primaryKey?.(declared.table)) ?? declared.key;
    const columns = [...new Set([key, ...declared.columns])].filter((c) => !isCredentialColumn(c));
    if (!columns.includes(key)) {
      throw new Error(`${declared.table}: the paging key "${key}" looks like a credential column`);
    }
    const t: ArchiveTable = { table: declared.table, key, columns };
    // Only the listed columns are written, whatever the source returns.
    const keep = (row: Row): Row => Object.fromEntries(columns.map((c) => [c, row[c]]));
    let after: unknown;
    let part = 0;
    let total = 0;
    let lines: string[] = [];
    let firstKey: unknown;
    let lastKey: unknown;
    const flush = async () => {
      if (lines.length === 0) return;
      const ndjson = `${lines.join('\n')}\n`;
      const body = gzipSync(Buffer.from(ndjson, 'utf8'));
      const key = `${options.prefix}/${t.table}/part-${String(part).padStart(5, '0')}.ndjson.gz`;
      await store.put(key, body, 'application/x-ndjson', 'gzip');
      files.push({
        key,
        table: t.table,
        rows: lines.length,
        bytes: body.byteLength,
        sha256: sha256Hex(body),
        ndjsonSha256: sha256Hex(ndjson),
        firstKey,
        lastKey,
      });
      part++;
      lines = [];
      firstKey = undefined;
    };
    for (;;) {
      const page = await source.readPage(t, after, pageSize);
      for (const row of page) {
        if (lines.length === 0) firstKey = row[t.key];
        lines.push(ndjsonLine(keep(row)));
        lastKey = row[t.key];
        total++;
        if (lines.length >= rowsPerFile) await flush();
      }
      if (page.length < pageSize) break;
      after = page[page.length - 1]![t.key];
    }
    await flush();
    tables.push({ table: t.table, key: t.key, columns: t.columns, rows: total });
  }
  const manifest: ArchiveManifest = {
    schemaVersion: 1,
    migration: options.migration,
    service: options.service,
    createdAt: new Date(options.now()).toISOString(),
    format: 'ndjson+gzip',
    tables,
    files,
    notArchived: options.notArchived ?? [],
  };
  const manifestKey = `${options.prefix}/manifest.json`;
  await store.put(manifestKey, Buffer.from(JSON.stringify(manifest, null, 2), 'utf8'), 'application/json');
  return { manifestKey, manifest };
}

/** The part of a migration spec the archive reads (a `MigrationSpec` satisfies it). */
export interface ArchiveSpec {
  readonly legacy: { readonly kind: 'mysql' | 'http'; readonly tablePrefix?: string };
  readonly services: ReadonlyArray<{
    readonly name: string;
    readonly entities: ReadonlyArray<{
      readonly name: string;
      readonly legacy: {
        readonly table?: string;
        readonly key: string;
        readonly path?: string;
        readonly updatedAt?: string;
        readonly where?: Readonly<Record<string, unknown>>;
        readonly archiveColumns?: readonly string[];
      };
      readonly fields: ReadonlyArray<{
        readonly column?: string;
        readonly eav?: { readonly backendType: string };
      }>;
    }>;
  }>;
}

/**
 * The legacy tables of a service: each entity's table (paged by its key) with the columns the
 * spec maps (key, `updatedAt`, `where`, the fields' columns) plus the entity's
 * `archiveColumns`, and, for Magento EAV attributes, the `<table>_<backendType>` value tables
 * (paged by `value_id`, their value columns). Credential columns are never included. An HTTP
 * legacy has no tables Cutover can read in bulk: its entities are listed in `notArchived`.
 */
export function archiveTablesOf(
  spec: ArchiveSpec,
  service: string,
): { tables: ArchiveTable[]; notArchived: Array<{ entity: string; reason: string }> } {
  const s = serviceByName(spec, service);
  if (!s) throw new Error(`no service "${service}"`);
  const tables: ArchiveTable[] = [];
  const notArchived: Array<{ entity: string; reason: string }> = [];
  const prefix = spec.legacy.tablePrefix ?? '';
  const add = (t: ArchiveTable) => {
    const columns = [...new Set(t.columns)].filter((c) => !isCredentialColumn(c));
    const existing = tables.find((x) => x.table === t.table);
    if (existing) {
      // Two entities on one table (Magento's stock per product): the union of their columns.
      tables[tables.indexOf(existing)] = {
        ...existing,
        columns: [...new Set([...existing.columns, ...columns])],
      };
    } else tables.push({ ...t, columns });
  };
  for (const e of s.entities) {
    if (spec.legacy.kind !== 'mysql' || !e.legacy.table) {
      notArchived.push({
        entity: e.name,
        reason: `the legacy side is an HTTP API (${e.legacy.path ?? '?'}): archive it with the legacy service's own export`,
      });
      continue;
    }
    add({
      table: `${prefix}${e.legacy.table}`,
      key: e.legacy.key,
      columns: [
        e.legacy.key,
        ...(e.legacy.updatedAt ? [e.legacy.updatedAt] : []),
        ...Object.keys(e.legacy.where ?? {}),
        ...e.fields.flatMap((f) => (f.column ? [f.column] : [])),
        ...(e.legacy.archiveColumns ?? []),
      ],
    });
    for (const f of e.fields) {
      if (f.eav) {
        add({
          table: `${prefix}${e.legacy.table}_${f.eav.backendType}`,
          key: 'value_id',
          columns: EAV_VALUE_COLUMNS,
        });
      }
    }
  }
  return { tables, notArchived };
}

/**
 * Archives one service's legacy tables under `<migration>/<service>/<runId>/`. The run id (the
 * execution name) keeps a re-run from overwriting an earlier archive.
 */
export async function archiveService(
  spec: ArchiveSpec & { readonly name: string },
  service: string,
  ports: {
    readonly source: ArchiveSourcePort | undefined;
    readonly store: ArchiveStorePort;
    readonly now: () => number;
    readonly runId: string;
    readonly pageSize?: number;
    readonly rowsPerFile?: number;
  },
): Promise<{
  manifestKey: string;
  tables: ArchiveManifest['tables'];
  files: number;
  notArchived: ArchiveManifest['notArchived'];
}> {
  const { tables, notArchived } = archiveTablesOf(spec, service);
  if (tables.length && !ports.source) throw new Error('no legacy source to archive from');
  const noSource: ArchiveSourcePort = {
    readPage: async () => [],
  };
  const { manifestKey, manifest } = await archiveTables(ports.source ?? noSource, ports.store, {
    migration: spec.name,
    service,
    prefix: `${spec.name}/${service}/${ports.runId.replace(/[^A-Za-z0-9_.-]/g, '_')}`,
    tables,
    now: ports.now,
    notArchived,
    ...(ports.pageSize ? { pageSize: ports.pageSize } : {}),
    ...(ports.rowsPerFile ? { rowsPerFile: ports.rowsPerFile } : {}),
  });
  return { manifestKey, tables: manifest.tables, files: manifest.files.length, notArchived };
}
