/**
 * DynamoDB table definitions derived from a migration spec: the single source of truth used
 * by the CDK stacks (lib/) and by the local test harness (test/support) to create the same
 * tables in DynamoDB Local.
 */
import type { EntitySpec, MigrationSpec } from './schema.js';

export type KeyType = 'S' | 'N';

export interface TableDefinition {
  /** Stable PascalCase construct id. Renaming it replaces the table in production. */
  readonly id: string;
  /** Short logical name; the physical name is `cutover-<stage>-<migration>-<logicalName>`. */
  readonly logicalName: string;
  readonly partitionKey: { readonly name: string; readonly type: KeyType };
  readonly sortKey?: { readonly name: string; readonly type: KeyType };
  /** Stream view for change capture (service tables). */
  readonly stream?: 'NEW_AND_OLD_IMAGES';
  readonly ttlAttribute?: string;
  /** An existing table to import instead of creating one. */
  readonly importName?: string;
  /** The entity a service table holds. */
  readonly entity?: string;
}

function pascal(s: string): string {
  return s
    .split(/[_\-\s]+/)
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

/** The service-side table of one entity (stream on, for service-side change capture). */
export function serviceTable(entity: EntitySpec): TableDefinition {
  return {
    id: `${pascal(entity.name)}Table`,
    logicalName: entity.name.replace(/_/g, '-'),
    partitionKey: { name: entity.target.key, type: entity.target.keyType === 'number' ? 'N' : 'S' },
    stream: 'NEW_AND_OLD_IMAGES',
    ...(entity.target.tableName ? { importName: entity.target.tableName } : {}),
    entity: entity.name,
  };
}

/**
 * The sync table: per record sync state (`state#<entity>#<serviceKey>`), the key map
 * (`key#<entity>#s#<serviceKey>` and `key#<entity>#l#<legacyKey>`), applied counter events
 * (`applied#<eventId>`, expiring), poller watermarks (`watermark#<entity>`), snapshots
 * (`snapshot#<entity>#<chunk>`) and leases (`lease#poller#<service>`, with its `#handoff`).
 */
export const SYNC_TABLE: TableDefinition = {
  id: 'SyncStateTable',
  logicalName: 'sync-state',
  partitionKey: { name: 'pk', type: 'S' },
  ttlAttribute: 'expiresAt',
};

/** Conflicts parked by the `admin` policy, one item per conflict, resolved by an operator. */
export const CONFLICTS_TABLE: TableDefinition = {
  id: 'ConflictsTable',
  logicalName: 'conflicts',
  partitionKey: { name: 'conflictId', type: 'S' },
};

export function serviceTables(spec: MigrationSpec): TableDefinition[] {
  return spec.services.flatMap((s) => s.entities.map(serviceTable));
}

export function syncTables(): TableDefinition[] {
  return [SYNC_TABLE, CONFLICTS_TABLE];
}

/** Physical table name for a stage. */
export function physicalTableName(stage: string, spec: MigrationSpec, def: TableDefinition): string {
  return def.importName ?? `cutover-${stage}-${spec.name}-${def.logicalName}`;
}

/*
 * The echo markers: what the sync writes on every service-table item it writes, so that change
 * capture knows the sync's own writes and does not send them back (lambdas/domain/capture.ts
 * reads them, lambdas/adapters/dynamodb-service.ts writes them). Defined here only.
 */

/** Attribute the sync sets on every service-table write, to {@link SYNC_WRITER_VALUE}. */
export const SYNC_WRITER_ATTRIBUTE = '_writer';
/** The value of {@link SYNC_WRITER_ATTRIBUTE} on a write by the sync. */
export const SYNC_WRITER_VALUE = 'cutover-sync';
/**
 * Attribute holding the version the sync wrote: an image whose version is still that one is the
 * sync's write (the service does not clear `_writer`, but always bumps the version).
 */
export const SYNCED_VERSION_ATTRIBUTE = '_syncedVersion';
