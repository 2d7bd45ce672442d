/**
 * The service side of the data-plane functions' wiring: the spec, the DynamoDB stores and the
 * bus publisher, built once per Lambda container from the environment (lib/spec/runtime.ts) and
 * reused across invocations. Functions that also reach the legacy side use `runtime.ts`, which
 * adds the legacy store; a function that does not (forward sync) never loads its adapters.
 *
 * `configureRuntime` replaces parts (the tests and the local rehearsal inject an in-memory
 * EventPublisher: no AWS is reachable there); everything not replaced is built from the env.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { hasPersonalData } from '../../lib/spec/lookup.js';
import { functionEnv, RUNTIME_ENV, requiredEnv, serviceTablesFromEnv } from '../../lib/spec/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { DynamoServiceStore, documentClient } from '../adapters/dynamodb-service.js';
import { DynamoConflictStore, DynamoSyncStateStore } from '../adapters/dynamodb-sync-state.js';
import { EventBridgePublisher } from '../adapters/eventbridge-publisher.js';
import { EnvelopeCipher, KmsDataKeys } from '../adapters/field-cipher.js';
import type { SecretSource } from '../adapters/secrets.js';
import { systemAmbient } from '../adapters/system-clock.js';
import { PersonalDataSealer } from '../domain/personal-data.js';
import type {
  Ambient,
  ConflictStore,
  EavAttributeSource,
  EventPublisher,
  FieldCipher,
  LegacyBatchWriter,
  LegacyStore,
  LegacyValidationSource,
  SyncStateStore,
} from '../domain/ports.js';
import { specFromEnv } from './bundled-spec.js';

/** What the service-side functions share. */
export interface ServiceRuntime extends Ambient {
  readonly spec: MigrationSpec;
  readonly service: DynamoServiceStore;
  readonly state: SyncStateStore;
  readonly conflicts: ConflictStore;
  readonly publisher: EventPublisher;
  /** entity -> service table name */
  readonly serviceTables: Readonly<Record<string, string>>;
  readonly dynamo: DynamoDBDocumentClient;
}

/** What the functions that also reach the legacy side share (`runtime.ts`). */
export interface Runtime extends ServiceRuntime {
  readonly legacy: LegacyStore;
  /** The legacy store's set-based writes, where it has them (MySQL): the reverse sync's batched path. */
  readonly legacyBatch?: LegacyBatchWriter;
  /** How full validation reads the legacy side (SQL checksums of key ranges, or the listing). */
  readonly legacySource: LegacyValidationSource;
  /**
   * The legacy store's EAV attribute ids, where it has them (MySQL): how the Debezium intake maps
   * EAV value-table changes to fields. Without it, EAV value changes map to no field.
   */
  readonly legacyEav?: EavAttributeSource;
  /** Where the legacy database's secret is read. @default Secrets Manager */
  readonly secrets?: SecretSource;
  /**
   * Seals personal fields at rest (sync state, conflicts). @default - envelope encryption under
   * the KMS key `CUTOVER_PERSONAL_DATA_KEY_ARN` (tests and the rehearsal inject a local key)
   */
  readonly cipher?: FieldCipher;
}

let overrides: Partial<Runtime> = {};
let current: Promise<ServiceRuntime> | undefined;
let closers: (() => Promise<void>)[] = [];
const resets: (() => void)[] = [];

async function build(env: NodeJS.ProcessEnv): Promise<ServiceRuntime> {
  const spec = overrides.spec ?? specFromEnv(env);
  const endpoint = env[RUNTIME_ENV.dynamoEndpoint];
  const dynamo = overrides.dynamo ?? documentClient(endpoint ? { endpoint } : {});
  const syncTable = requiredEnv(RUNTIME_ENV.syncTable, env);
  const serviceTables = overrides.serviceTables ?? serviceTablesFromEnv(env);
  const sealer = personalDataSealer(spec, env);
  return {
    spec,
    dynamo,
    serviceTables,
    service:
      overrides.service ??
      new DynamoServiceStore({ client: dynamo, tables: serviceTables, syncTable, sealer }),
    state: overrides.state ?? new DynamoSyncStateStore(dynamo, syncTable, sealer),
    conflicts:
      overrides.conflicts ??
      new DynamoConflictStore(dynamo, requiredEnv(RUNTIME_ENV.conflictsTable, env), sealer),
    publisher:
      overrides.publisher ?? new EventBridgePublisher({ busName: requiredEnv(RUNTIME_ENV.busName, env) }),
    now: overrides.now ?? systemAmbient.now,
    monotonic: overrides.monotonic ?? systemAmbient.monotonic,
    sleep: overrides.sleep ?? systemAmbient.sleep,
    random: overrides.random ?? systemAmbient.random,
  };
}

/**
 * The sealer of the spec's personal fields, or none when it has none. Fails closed: a spec with
 * personal fields and no key is a configuration error, never a clear write.
 */
function personalDataSealer(spec: MigrationSpec, env: NodeJS.ProcessEnv): PersonalDataSealer | undefined {
  if (!hasPersonalData(spec)) return undefined;
  const cipher =
    overrides.cipher ?? new EnvelopeCipher(new KmsDataKeys(requiredEnv(RUNTIME_ENV.personalDataKey, env)));
  return new PersonalDataSealer(spec, cipher);
}

/** The service-side runtime of this container (built on first use). */
export function serviceRuntime(env: NodeJS.ProcessEnv = functionEnv()): Promise<ServiceRuntime> {
  if (!current) {
    current = build(env);
    // A failed build is retried on the next invocation.
    current.catch(() => {
      current = undefined;
    });
  }
  return current;
}

/** The parts replaced by {@link configureRuntime} (for `runtime.ts`). */
export function runtimeOverrides(): Partial<Runtime> {
  return overrides;
}

/**
 * Registers what a part built on top of this runtime needs when it is closed or replaced:
 * `close` (a pool to end) once per build, `reset` (a cache to drop) on every close.
 */
export function onRuntimeClose(part: { close?: () => Promise<void>; reset?: () => void }): void {
  if (part.close) closers.push(part.close);
  if (part.reset) resets.push(part.reset);
}

/** Replaces parts of the runtime (tests, local rehearsal) and drops the built one. */
export async function configureRuntime(parts: Partial<Runtime>): Promise<void> {
  await closeRuntime();
  overrides = parts;
}

/** Closes pools opened by the runtime and drops what was built. */
export async function closeRuntime(): Promise<void> {
  const c = closers;
  closers = [];
  current = undefined;
  for (const r of resets) r();
  await Promise.allSettled(c.map((f) => f()));
}
