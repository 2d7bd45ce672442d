/**
 * Wiring of the data-plane handlers: the spec, the adapters and the clients, built once per
 * Lambda container from the environment (lib/spec/runtime.ts) and reused across invocations.
 *
 * `configureRuntime` replaces parts (the tests and the local rehearsal inject an in-memory
 * EventPublisher: no AWS is reachable there); everything not replaced is built from the env.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import magento from '../../migrations/magento.js';
import menu from '../../migrations/menu.js';
import { DynamoServiceStore, documentClient } from '../adapters/dynamodb-service.js';
import { DynamoConflictStore, DynamoSyncStateStore } from '../adapters/dynamodb-sync-state.js';
import { EventBridgePublisher } from '../adapters/eventbridge-publisher.js';
import { EnvelopeCipher, KmsDataKeys } from '../adapters/field-cipher.js';
import { HttpLegacyStore, legacyTokenFromEnv } from '../adapters/http-legacy.js';
import { MysqlLegacyStore } from '../adapters/mysql-legacy.js';
import { legacyPoolFromEnv } from '../adapters/mysql-rotating-pool.js';
import type { SecretSource } from '../adapters/secrets.js';
import { hasPersonalData, PersonalDataSealer } from '../domain/personal-data.js';
import type {
  ConflictStore,
  EventPublisher,
  FieldCipher,
  LegacyStore,
  SyncStateStore,
} from '../domain/ports.js';

/** The specs bundled with the functions, by `CUTOVER_MIGRATION`. */
export const SPECS: Readonly<Record<string, MigrationSpec>> = { magento, menu };

export interface Runtime {
  readonly spec: MigrationSpec;
  readonly legacy: LegacyStore;
  readonly service: DynamoServiceStore;
  readonly state: SyncStateStore;
  readonly conflicts: ConflictStore;
  readonly publisher: EventPublisher;
  /** entity -> service table name */
  readonly serviceTables: Readonly<Record<string, string>>;
  readonly dynamo: DynamoDBDocumentClient;
  /** Clock. @default Date.now */
  readonly now?: () => number;
  /** Where the legacy database's secret is read. @default Secrets Manager */
  readonly secrets?: SecretSource;
  /**
   * Seals personal fields at rest (sync state, conflicts). @default - envelope encryption under
   * the KMS key `CUTOVER_PERSONAL_DATA_KEY_ARN` (tests and the rehearsal inject a local key)
   */
  readonly cipher?: FieldCipher;
}

let overrides: Partial<Runtime> = {};
let current: Promise<Runtime> | undefined;
let closers: (() => Promise<void>)[] = [];

export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new ConfigurationError(`environment variable ${name} is not set`);
  return v;
}

async function build(env: NodeJS.ProcessEnv): Promise<Runtime> {
  const name = required(env, RUNTIME_ENV.migration);
  const spec = overrides.spec ?? SPECS[name];
  if (!spec) throw new ConfigurationError(`${RUNTIME_ENV.migration}=${name} is not a bundled migration`);
  const endpoint = env[RUNTIME_ENV.dynamoEndpoint];
  const dynamo = overrides.dynamo ?? documentClient(endpoint ? { endpoint } : {});
  const syncTable = required(env, RUNTIME_ENV.syncTable);
  const serviceTables =
    overrides.serviceTables ??
    (JSON.parse(required(env, RUNTIME_ENV.serviceTables)) as Record<string, string>);
  let legacy = overrides.legacy;
  if (!legacy) {
    if (spec.legacy.kind === 'mysql') {
      const store = new MysqlLegacyStore({
        pool: await legacyPoolFromEnv(env, overrides.secrets),
        tablePrefix: spec.legacy.tablePrefix,
      });
      closers.push(() => store.end());
      legacy = store;
    } else {
      const token = await legacyTokenFromEnv(env);
      legacy = new HttpLegacyStore({
        baseUrl: env[RUNTIME_ENV.legacyEndpoint] || spec.legacy.baseUrl,
        timeoutMs: spec.legacy.timeoutMs,
        maxRetries: spec.legacy.maxRetries,
        ...(token ? { token } : {}),
      });
    }
  }
  const sealer = personalDataSealer(spec, env);
  return {
    spec,
    legacy,
    dynamo,
    serviceTables,
    service:
      overrides.service ??
      new DynamoServiceStore({ client: dynamo, tables: serviceTables, syncTable, sealer }),
    state: overrides.state ?? new DynamoSyncStateStore(dynamo, syncTable, sealer),
    conflicts:
      overrides.conflicts ??
      new DynamoConflictStore(dynamo, required(env, RUNTIME_ENV.conflictsTable), sealer),
    publisher:
      overrides.publisher ?? new EventBridgePublisher({ busName: required(env, RUNTIME_ENV.busName) }),
    ...(overrides.now ? { now: overrides.now } : {}),
  };
}

/**
 * The sealer of the spec's personal fields, or none when it has none. Fails closed: a spec with
 * personal fields and no key is a configuration error, never a clear write.
 */
function personalDataSealer(spec: MigrationSpec, env: NodeJS.ProcessEnv): PersonalDataSealer | undefined {
  if (!hasPersonalData(spec)) return undefined;
  const cipher =
    overrides.cipher ?? new EnvelopeCipher(new KmsDataKeys(required(env, RUNTIME_ENV.personalDataKey)));
  return new PersonalDataSealer(spec, cipher);
}

/** The runtime of this container (built on first use). */
export function runtime(env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  if (!current) {
    current = build(env);
    // A failed build (e.g. the database was unreachable) is retried on the next invocation.
    current.catch(() => {
      current = undefined;
    });
  }
  return current;
}

/** Replaces parts of the runtime (tests, local rehearsal) and drops the built one. */
export async function configureRuntime(parts: Partial<Runtime>): Promise<void> {
  await closeRuntime();
  overrides = parts;
}

/** Closes pools opened by the runtime. */
export async function closeRuntime(): Promise<void> {
  const c = closers;
  closers = [];
  current = undefined;
  await Promise.allSettled(c.map((f) => f()));
}
