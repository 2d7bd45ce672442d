/**
 * Environment variables through which the stacks configure the Lambdas. One list, used by the
 * constructs that set them and the handlers that read them.
 */
export const RUNTIME_ENV = {
  /** Name of the bundled migration spec (`magento`, `menu`). */
  migration: 'CUTOVER_MIGRATION',
  /** Stage: dev | staging | prod. */
  stage: 'CUTOVER_STAGE',
  /** The service a function acts for (rollout, rollback, per-service sync). */
  service: 'CUTOVER_SERVICE',
  /** Name of the platform EventBridge bus. */
  busName: 'CUTOVER_BUS_NAME',
  /**
   * URL of the dead-letter queue of the SQS queue a sync function consumes: a record the
   * contract rejects is sent there at its first delivery (lambdas/handlers/sqs-batch.ts).
   */
  deadLetterQueueUrl: 'CUTOVER_DLQ_URL',
  /**
   * Prefix of the variables (`…<ENTITY>`) holding the DLQ URL of each entity's change capture: a
   * stream record the capture cannot translate is sent there with its reason.
   */
  captureDeadLetterQueueUrlPrefix: 'CUTOVER_CAPTURE_DLQ_URL_',
  syncTable: 'CUTOVER_SYNC_TABLE',
  conflictsTable: 'CUTOVER_CONFLICTS_TABLE',
  /** JSON object: entity name -> service table name. */
  serviceTables: 'CUTOVER_SERVICE_TABLES',
  /**
   * ARN of the customer-managed KMS key that seals personal (`pii`) fields in the sync state and
   * the conflicts table (lambdas/adapters/field-cipher.ts). Required when the spec has any.
   */
  personalDataKey: 'CUTOVER_PERSONAL_DATA_KEY_ARN',
  /** ARN of the Secrets Manager secret with the legacy database credentials. */
  legacySecretArn: 'CUTOVER_LEGACY_SECRET_ARN',
  /** Host override, e.g. an RDS Proxy endpoint. */
  legacyEndpoint: 'CUTOVER_LEGACY_ENDPOINT',
  /**
   * PEM of the CA that signed the legacy database's TLS certificate. Absent: the Amazon RDS CA
   * bundle (RDS, Aurora, RDS Proxy). Connections to the legacy database always use TLS.
   */
  legacyCa: 'CUTOVER_LEGACY_CA',
  /** Connections per container in the legacy MySQL pool (reverse sync: keep it small). Default 4. */
  mysqlPoolSize: 'CUTOVER_MYSQL_POOL_SIZE',
  /** Local runs only: the HTTP legacy API token (on AWS it is the secret CUTOVER_LEGACY_SECRET_ARN). */
  legacyToken: 'CUTOVER_LEGACY_TOKEN',
  /** Local runs only: mysql://user:pass@host:port/db instead of a secret. */
  mysqlUrl: 'CUTOVER_MYSQL_URL',
  /** Local runs only: DynamoDB endpoint (DynamoDB Local). */
  dynamoEndpoint: 'CUTOVER_DYNAMODB_ENDPOINT',
  appConfigApplicationId: 'CUTOVER_APPCONFIG_APPLICATION_ID',
  appConfigEnvironmentId: 'CUTOVER_APPCONFIG_ENVIRONMENT_ID',
  appConfigProfileId: 'CUTOVER_APPCONFIG_PROFILE_ID',
  /** Deployment strategy ids: gradual (rollouts) and all-at-once zero-bake (rollbacks). */
  rolloutStrategyId: 'CUTOVER_ROLLOUT_STRATEGY_ID',
  rollbackStrategyId: 'CUTOVER_ROLLBACK_STRATEGY_ID',
  archiveBucket: 'CUTOVER_ARCHIVE_BUCKET',
  /** Full validation's bucket: work lists, partial results, reports. */
  validationBucket: 'CUTOVER_VALIDATION_BUCKET',
  /**
   * Gateway: JSON `{ "<service>": { "serviceUrl"?, "legacyUrl"? }, … }` replacing the spec's
   * upstream URLs for this stage. @default - the spec's URLs
   */
  gatewayUpstreams: 'CUTOVER_GATEWAY_UPSTREAMS',
  /** Gateway: upstream for unrouted paths. @default - the spec's gateway.fallbackUrl */
  gatewayFallbackUrl: 'CUTOVER_GATEWAY_FALLBACK_URL',
  /** Gateway: how long a response waits for shadow reads in flight (ms). @default 20 */
  gatewayShadowGraceMs: 'CUTOVER_GATEWAY_SHADOW_GRACE_MS',
  /** Metrics namespace. */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;

export const METRICS_NAMESPACE = 'Cutover';

/** The variable holding the DLQ URL of `entity`'s change capture (`CUTOVER_CAPTURE_DLQ_URL_<ENTITY>`). */
export function captureDeadLetterVariable(entity: string): string {
  return `${RUNTIME_ENV.captureDeadLetterQueueUrlPrefix}${entity.toUpperCase()}`;
}

/** A function's configuration (its environment, its bundled spec) is missing or wrong. */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

/**
 * The functions' environment: the one place their code reads `process.env` (the import-boundaries
 * test holds it so). Each `…FromEnv` takes the environment as a parameter defaulting to this, so
 * a test passes its own.
 */
export function functionEnv(): NodeJS.ProcessEnv {
  return process.env;
}

/**
 * A required variable of the functions' environment: the value of `name`.
 * @throws ConfigurationError naming the variable when it is unset or empty
 */
export function requiredEnv(name: string, env: NodeJS.ProcessEnv = functionEnv()): string {
  const v = env[name];
  if (!v) throw new ConfigurationError(`environment variable ${name} is not set`);
  return v;
}

/** The namespace the functions emit metrics to: `POWERTOOLS_METRICS_NAMESPACE`, else {@link METRICS_NAMESPACE}. */
export function metricsNamespaceFromEnv(env: NodeJS.ProcessEnv = functionEnv()): string {
  return env[RUNTIME_ENV.metricsNamespace] ?? METRICS_NAMESPACE;
}

/** `CUTOVER_SERVICE_TABLES`: entity name -> service table name. */
export function serviceTablesFromEnv(env: NodeJS.ProcessEnv = functionEnv()): Record<string, string> {
  return JSON.parse(requiredEnv(RUNTIME_ENV.serviceTables, env)) as Record<string, string>;
}
