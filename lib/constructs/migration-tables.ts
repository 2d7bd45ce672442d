import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { hasPersonalData } from '../spec/lookup.js';
import { RUNTIME_ENV } from '../spec/runtime.js';
import type { MigrationSpec } from '../spec/schema.js';
import {
  CONFLICTS_TABLE,
  physicalTableName,
  SYNC_TABLE,
  serviceTables,
  syncTables,
  type TableDefinition,
} from '../spec/tables.js';
import { type CustomerManagedKeyProps, customerManagedKey, cutoverKey } from './encryption.js';

/** Encryption (`CustomerManagedKeyProps`): AWS-managed unless a customer-managed key is asked for. */
export interface MigrationTablesProps extends CustomerManagedKeyProps {
  readonly spec: MigrationSpec;
  readonly stage: string;
  /** Deletion protection and RETAIN (prod). @default false: tables are destroyed with the stack */
  readonly protect?: boolean;
  /** Stream ARNs of imported service tables, by table name. @default - none (no change capture) */
  readonly importedStreamArns?: Readonly<Record<string, string>>;
}

const keyType = (t: 'S' | 'N') => (t === 'N' ? dynamodb.AttributeType.NUMBER : dynamodb.AttributeType.STRING);

/**
 * The migration's DynamoDB tables, created from `lib/spec/tables.ts` (the same definitions the
 * test harness creates in DynamoDB Local): one service table per entity (stream on, for change
 * capture) unless the spec imports it by name, the sync-state table and the conflicts table.
 * On-demand, encrypted (AWS-managed key, or a customer-managed one: `CustomerManagedKeyProps`),
 * point-in-time recovery on. The grants include the key's use.
 */
export class MigrationTables extends Construct {
  /** Every table by definition id (`CustomerTable`, `SyncStateTable`, ...). */
  readonly tables: Readonly<Record<string, dynamodb.ITable>>;
  readonly definitions: readonly TableDefinition[];
  readonly syncTable: dynamodb.ITable;
  readonly conflictsTable: dynamodb.ITable;
  /**
   * The customer-managed key that seals the spec's personal (`pii`) fields in the sync state and
   * the conflicts table (lambdas/domain/personal-data.ts); absent when the spec has none. Its
   * data keys carry the purpose as encryption context (`cutover:purpose` = `sync-state` |
   * `conflicts`): the sync functions may open the sync state only, the conflict resolver both.
   */
  readonly personalDataKey?: kms.Key;
  private readonly byEntity: Record<string, dynamodb.ITable> = {};

  constructor(scope: Construct, id: string, props: MigrationTablesProps) {
    super(scope, id);
    const tables: Record<string, dynamodb.ITable> = {};
    const key = customerManagedKey(this, props);
    this.definitions = [...serviceTables(props.spec), ...syncTables()];
    for (const def of this.definitions) {
      const tableName = physicalTableName(props.stage, props.spec, def);
      let table: dynamodb.ITable;
      if (def.importName) {
        table = dynamodb.Table.fromTableAttributes(this, def.id, {
          tableName,
          tableStreamArn: props.importedStreamArns?.[tableName],
        });
      } else {
        table = new dynamodb.Table(this, def.id, {
          tableName,
          partitionKey: { name: def.partitionKey.name, type: keyType(def.partitionKey.type) },
          sortKey: def.sortKey && { name: def.sortKey.name, type: keyType(def.sortKey.type) },
          billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
          ...(key
            ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key }
            : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
          pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
          stream: def.stream ? dynamodb.StreamViewType.NEW_AND_OLD_IMAGES : undefined,
          timeToLiveAttribute: def.ttlAttribute,
          deletionProtection: props.protect ?? false,
          removalPolicy: props.protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        });
      }
      tables[def.id] = table;
      if (def.entity) this.byEntity[def.entity] = table;
    }
    this.tables = tables;
    this.syncTable = tables[SYNC_TABLE.id]!;
    this.conflictsTable = tables[CONFLICTS_TABLE.id]!;
    if (hasPersonalData(props.spec)) {
      this.personalDataKey = cutoverKey(this, 'PersonalDataKey', {
        description: `Seals the personal fields of ${props.spec.name} (${props.stage}) in the sync state and the conflicts table`,
      });
    }
  }

  /**
   * Use of the personal-data key: new data keys for `seals` (encrypting), and decrypting the data
   * keys of `opens` only (the condition names the encryption context of each purpose).
   */
  private grantPersonalData(
    grantee: iam.IGrantable,
    seals: readonly string[],
    opens: readonly string[],
  ): void {
    const key = this.personalDataKey;
    if (!key) return;
    const purpose = 'kms:EncryptionContext:cutover:purpose';
    if (seals.length) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['kms:GenerateDataKey'],
          resources: [key.keyArn],
          conditions: { StringEquals: { [purpose]: [...seals] } },
        }),
      );
    }
    if (opens.length) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [key.keyArn],
          conditions: { StringEquals: { [purpose]: [...opens] } },
        }),
      );
    }
  }

  /**
   * What the conflict resolver (lambdas/domain/conflict-resolution.ts) needs on the tables:
   * the sync functions' access plus opening parked conflicts — the only grant that may.
   */
  grantResolveConflicts(grantee: iam.IGrantable, entities: readonly string[]): void {
    this.syncTable.grantReadWriteData(grantee);
    this.conflictsTable.grantReadWriteData(grantee);
    for (const e of entities) this.serviceTable(e).grantReadWriteData(grantee);
    this.grantPersonalData(grantee, ['sync-state', 'conflicts'], ['sync-state', 'conflicts']);
  }

  /** The service table of an entity. */
  serviceTable(entity: string): dynamodb.ITable {
    const t = this.byEntity[entity];
    if (!t) throw new Error(`MigrationTables: no table for entity "${entity}"`);
    return t;
  }

  /** `CUTOVER_SYNC_TABLE`, `CUTOVER_CONFLICTS_TABLE`, `CUTOVER_SERVICE_TABLES` for the given entities. */
  runtimeEnvironment(entities: readonly string[]): Record<string, string> {
    return {
      [RUNTIME_ENV.syncTable]: this.syncTable.tableName,
      [RUNTIME_ENV.conflictsTable]: this.conflictsTable.tableName,
      ...(this.personalDataKey ? { [RUNTIME_ENV.personalDataKey]: this.personalDataKey.keyArn } : {}),
      [RUNTIME_ENV.serviceTables]: Stack.of(this).toJsonString(
        Object.fromEntries(entities.map((e) => [e, this.serviceTable(e).tableName])),
      ),
    };
  }

  /**
   * Read/write on the sync tables and the given entities' service tables (the sync functions):
   * they seal and open the sync state's personal fields, and seal parked conflicts but cannot
   * open them.
   */
  grantSync(grantee: iam.IGrantable, entities: readonly string[]): void {
    this.syncTable.grantReadWriteData(grantee);
    this.conflictsTable.grantReadWriteData(grantee);
    for (const e of entities) this.serviceTable(e).grantReadWriteData(grantee);
    this.grantPersonalData(grantee, ['sync-state', 'conflicts'], ['sync-state']);
  }

  /** Read on the given entities' service tables and the sync table (consistency checks). */
  grantRead(grantee: iam.IGrantable, entities: readonly string[]): void {
    this.syncTable.grantReadData(grantee);
    for (const e of entities) this.serviceTable(e).grantReadData(grantee);
    this.grantPersonalData(grantee, [], ['sync-state']);
  }
}
