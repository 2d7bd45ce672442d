/**
 * The Magento database as the legacy store, over a mysql2 pool: the class composing the pieces
 * in `mysql/` — connection (pool, TLS, secret), rows (row <-> record, EAV, the catalogue),
 * columns (column definitions and limits), writes (compare-and-set, the inbox) and scans (the
 * poller's keyset scan, chunk checksums).
 *
 * - Entity tables (`customer_entity`, `sales_order`, `salesrule_coupon`,
 *   `cataloginventory_stock_item` with its `where`), and products through
 *   `catalog_product_entity` plus the EAV value tables `catalog_product_entity_<backendType>` at
 *   `store_id` 0 (the default scope). Attribute ids are looked up once from `eav_attribute` by
 *   (entity type code, attribute code) and cached; they are never hard-coded.
 * - Table and column names come only from the spec (validated as plain identifiers there and
 *   quoted here); every value is a bound parameter.
 * - Every write is a compare-and-set in a transaction (mysql/writes.ts); counter deltas and
 *   creates are recorded in Cutover's inbox table (INBOX_TABLE_DDL) in the same transaction.
 */
import type { EntitySpec } from '../../lib/spec/schema.js';
import type {
  CapturedRow,
  ChunkChecksum,
  LegacyBatchWriter,
  LegacyKeyBounds,
  LegacyStore,
  LegacyWrite,
  LegacyWriteResult,
  Row,
  ScanCursor,
  StoredRecord,
} from '../domain/ports.js';
import type { ColumnLimits } from '../domain/values.js';
import type { LegacyPool } from './mysql/connection.js';
import { MagentoRows } from './mysql/rows.js';
import { MysqlScans } from './mysql/scans.js';
import { MysqlWrites } from './mysql/writes.js';

export {
  createMysqlPool,
  type LegacyPool,
  legacySecretId,
  legacyTls,
  type MysqlConnectionOptions,
  mysqlOptionsFromEnv,
  optionsFromSecret,
} from './mysql/connection.js';
export { ident } from './mysql/rows.js';
export { INBOX_TABLE, INBOX_TABLE_DDL, LegacyConstraintError, LegacyReferenceError } from './mysql/writes.js';

export interface MysqlLegacyStoreOptions {
  readonly pool: LegacyPool;
  /** Magento's table prefix. @default '' */
  readonly tablePrefix?: string;
}

export class MysqlLegacyStore implements LegacyStore, LegacyBatchWriter, LegacyKeyBounds {
  private readonly rows: MagentoRows;
  private readonly writes: MysqlWrites;
  private readonly scans: MysqlScans;

  constructor(options: MysqlLegacyStoreOptions) {
    this.rows = new MagentoRows(options.pool, options.tablePrefix ?? '');
    this.writes = new MysqlWrites(this.rows);
    this.scans = new MysqlScans(this.rows);
  }

  async end(): Promise<void> {
    await this.rows.pool.end();
  }

  /** attribute code -> attribute_id for the entity's EAV entity type (cached). */
  attributes(entity: EntitySpec): Promise<Map<string, number>> {
    return this.rows.attributes(entity);
  }

  /** attribute_id -> code, for the Debezium translator's EAV lookups. */
  attributeCodes(entity: EntitySpec): Promise<Map<number, string>> {
    return this.rows.attributeCodes(entity);
  }

  /** What each mapped field's column can hold (EAV fields: the value table's `value`). */
  columnLimits(entity: EntitySpec): Promise<ReadonlyMap<string, ColumnLimits>> {
    return this.rows.columnLimits(entity);
  }

  read(entity: EntitySpec, key: string): Promise<StoredRecord> {
    return this.rows.read(entity, key);
  }

  deltasApplied(entity: EntitySpec, eventId: string): Promise<boolean> {
    return this.writes.deltasApplied(entity, eventId);
  }

  write(entity: EntitySpec, w: LegacyWrite): Promise<LegacyWriteResult> {
    return this.writes.write(entity, w);
  }

  applyBatch(
    entity: EntitySpec,
    keys: readonly string[],
    plan: (records: ReadonlyMap<string, StoredRecord>) => ReadonlyMap<string, Row>,
  ): Promise<ReadonlyMap<string, StoredRecord>> {
    return this.writes.applyBatch(entity, keys, plan);
  }

  scanChanged(
    entity: EntitySpec,
    cursor: ScanCursor | undefined,
    options: { limit: number; before: number },
  ): Promise<CapturedRow[]> {
    return this.scans.scanChanged(entity, cursor, options);
  }

  /** Per chunk: the count and the checksum of checksum.ts, summed in SQL in one `GROUP BY`. */
  chunkChecksums(
    entity: EntitySpec,
    options: Parameters<MysqlScans['chunkChecksums']>[1],
  ): Promise<ChunkChecksum[]> {
    return this.scans.chunkChecksums(entity, options);
  }

  readChunk(
    entity: EntitySpec,
    chunk: number,
    options: { chunkSize: number; withSyncedDeltas?: boolean },
  ): Promise<CapturedRow[]> {
    return this.scans.readChunk(entity, chunk, options);
  }

  keyBounds(entity: EntitySpec): Promise<{ count: number; min?: number; max?: number }> {
    return this.scans.keyBounds(entity);
  }

  count(entity: EntitySpec): Promise<number> {
    return this.scans.count(entity);
  }
}
